// Child process for the stale-lock test: takes the state lock, reports, then waits to be killed.
import { lockState } from '../../src/state/store.js';

const path = process.argv[2]!;
await lockState(path, 'repro apply (test holder)');
process.send?.('locked');
setInterval(() => {}, 1000);
