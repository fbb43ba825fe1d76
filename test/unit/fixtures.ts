// Small builders shared by unit tests.
import type { Attrs, ManagerKind, Resource } from '../../src/core/types.js';

let line = 0;
export function res(
  kind: ManagerKind,
  name: string,
  desired: Attrs = {},
  after: string[] = [],
): Resource {
  line++;
  const base: Attrs =
    kind === 'apt'
      ? { name }
      : kind === 'env'
        ? { value: 'x' }
        : kind === 'run'
          ? { name, command: 'true' }
          : { path: name };
  return {
    address: `${kind}:${name}`,
    kind,
    name,
    desired: { ...base, ...desired },
    after,
    at: { file: '/spec/repro.yaml', line: after.length > 0 ? 1 : line + 10, col: 3 },
  };
}
