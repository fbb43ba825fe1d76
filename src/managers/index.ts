// The registry of managers, one per resource kind. Other folders get managers only from here.
import type { ManagerKind } from '../core/types.js';
import { aptSource } from './apt-source.js';
import { apt } from './apt.js';
import { condaEnvManager, condaManager } from './conda.js';
import { dataladManager } from './datalad.js';
import { env } from './env.js';
import { file } from './file.js';
import { git } from './git.js';
import { npmManager } from './npm.js';
import { pipManager, pipVenvManager } from './pip.js';
import { run } from './run.js';
import type { Manager } from './types.js';
import { yumRepo } from './yum-repo.js';
import { yum } from './yum.js';

export type {
  CommandInput,
  DiffInput,
  Manager,
  ManagerContext,
  ProbeItem,
  ProbeResult,
} from './types.js';

export const MANAGERS: ReadonlyMap<ManagerKind, Manager> = new Map<ManagerKind, Manager>([
  ['apt-source', aptSource],
  ['yum-repo', yumRepo],
  ['apt', apt],
  ['yum', yum],
  ['pip-venv', pipVenvManager],
  ['pip', pipManager],
  ['conda-env', condaEnvManager],
  ['conda', condaManager],
  ['npm', npmManager],
  ['env', env],
  ['git', git],
  ['datalad', dataladManager],
  ['file', file],
  ['run', run],
]);

export function getManager(kind: ManagerKind): Manager {
  const m = MANAGERS.get(kind);
  if (!m) throw new Error(`no manager for resource kind ${kind}`);
  return m;
}
