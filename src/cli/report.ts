// Prints the outcome of apply or destroy: a Terraform-style summary, or each failure with the
// command, exit code and stderr tail, then what was not attempted because of it.
import { formatSourceRef } from '../core/errors.js';
import type { ApplyOutcome } from '../engine/operations.js';
import type { CliContext } from './context.js';

export function reportApply(
  cli: CliContext,
  outcome: ApplyOutcome,
  verb: 'Apply' | 'Destroy',
): number {
  const { host } = cli;
  const result = outcome.result;
  if (!result) return 0;
  const byAddr = new Map(outcome.plan.changes.map((c) => [c.address, c]));
  let added = 0;
  let changed = 0;
  let destroyed = 0;
  for (const a of result.applied) {
    const action = byAddr.get(a)?.action;
    if (action === 'create') added++;
    else if (action === 'update') changed++;
    else if (action === 'delete') destroyed++;
    else if (action === 'replace') {
      added++;
      destroyed++;
    }
  }
  if (result.failures.length === 0) {
    if (
      outcome.plan.changes.some((c) => c.action !== 'noop') ||
      outcome.plan.destroy_target ||
      outcome.plan.create_target
    ) {
      host.print(
        host.out.green.bold(
          `${verb} complete! Resources: ${added} added, ${changed} changed, ${destroyed} destroyed.`,
        ),
      );
    }
    return 0;
  }
  for (const f of result.failures) {
    const e = f.error;
    const where = e.at ? `${formatSourceRef(e.at)}: ` : '';
    process.stderr.write(
      host.err.red(
        `Error: ${where}${f.kind} batch failed [${e.address ?? f.addresses.join(', ')}]`,
      ) + '\n',
    );
    process.stderr.write(`  ${e.message.replace(/\n/g, '\n  ')}\n`);
    if (e.hint) process.stderr.write(`  hint: ${e.hint}\n`);
  }
  for (const n of result.notAttempted) {
    process.stderr.write(
      host.err.yellow(`  not attempted: ${n.address} (because ${n.because} failed)`) + '\n',
    );
  }
  process.stderr.write(
    `${verb} incomplete: ${added} added, ${changed} changed, ${destroyed} destroyed before the failure; the state records them.\n`,
  );
  return 1;
}
