// loadSpec: file → YAML with positions → schema → normalized resources → managers' grammar checks.
// Every stage contributes diagnostics and the first failing stage that makes later ones
// meaningless stops the pipeline (a YAML syntax error leaves no tree to validate); otherwise all
// problems are gathered and thrown as ONE SpecError, sorted by position.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { SpecError, type Diagnostic } from '../core/errors.js';
import type { Resource } from '../core/types.js';
import { specDigest } from './digest.js';
import { normalize } from './normalize.js';
import { validateSchema } from './schema.js';
import { SpecSource } from './source.js';
import type { Spec } from './types.js';

export interface LoadSpecOptions {
  /** Grammar checks per resource (supplied by the engine from the managers); run on every resource. */
  readonly check?: (resource: Resource) => Diagnostic[];
}

/**
 * Loads, validates and normalizes the spec at `file`. Positions in diagnostics and resources name
 * the file as given (so messages read `repro.yaml:3:5`); `Spec.file` is absolute.
 * @throws SpecError with every problem found.
 */
export async function loadSpec(file: string, opts: LoadSpecOptions = {}): Promise<Spec> {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = await readFile(abs, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new SpecError([
      {
        severity: 'error',
        code: 'spec.unreadable',
        message: `cannot read spec ${file}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`,
        hint: code === 'ENOENT' ? 'create one with `repro init`' : undefined,
      },
    ]);
  }

  const source = new SpecSource(file, text);
  if (source.diagnostics.length > 0) throw new SpecError(source.diagnostics);

  const schema = await validateSchema(source);
  const norm = await normalize(source, path.dirname(abs), schema.badPaths);
  const checked = opts.check
    ? norm.resources.flatMap((r) =>
        opts.check!(r).map((d) => ({ ...d, at: d.at ?? r.at, address: d.address ?? r.address })),
      )
    : [];
  const diagnostics = dedupe([...schema.diagnostics, ...norm.diagnostics, ...checked]);
  if (diagnostics.some((d) => d.severity === 'error')) throw new SpecError(diagnostics);

  const spec = {
    file: abs,
    dir: path.dirname(abs),
    version: 1 as const,
    name: norm.name,
    targets: norm.targets,
    ...(norm.os ? { os: norm.os } : {}),
    ctx: norm.ctx,
    resources: norm.resources,
  };
  return { ...spec, digest: specDigest(spec) };
}

function dedupe(ds: readonly Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  return ds.filter((d) => {
    const id = `${d.at?.line}:${d.at?.col}:${d.message}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}
