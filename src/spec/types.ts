// The normalized spec: what the engine consumes after loading, validating and normalizing
// `repro.yaml`. Positions are kept for every target and resource so errors can point at them.
import type { SourceRef } from '../core/errors.js';
import type { Resource } from '../core/types.js';
import type { ManagerContext } from '../managers/types.js';
import type { ProviderKind } from '../../providers/types.js';

export interface TargetSpec {
  readonly name: string;
  readonly provider: ProviderKind;
  /** The provider's config block as written (validated by the schema), e.g. `{container, image}`. */
  readonly config: Readonly<Record<string, unknown>>;
  readonly at: SourceRef;
}

export interface Spec {
  /** Absolute path of the spec file. */
  readonly file: string;
  /** Directory of the spec file; state/, repro.lock and relative sources resolve against it. */
  readonly dir: string;
  readonly version: 1;
  readonly name: string;
  /** Targets sorted by name. */
  readonly targets: readonly TargetSpec[];
  readonly os?: { readonly distribution?: string; readonly release?: string };
  /** Manager settings with defaults applied. */
  readonly ctx: ManagerContext;
  /** Resources sorted by address. */
  readonly resources: readonly Resource[];
  /**
   * sha256 (hex, `sha256:` prefix) of the canonical JSON of everything above except positions and
   * file paths: formatting or comments in the YAML do not change it.
   */
  readonly digest: string;
}
