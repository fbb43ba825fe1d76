// The spec package: what other folders may use. Loading is the only entry point; the schema,
// positions and normalization steps stay internal.
export { loadSpec, type LoadSpecOptions } from './load.js';
export type { Spec, TargetSpec } from './types.js';
