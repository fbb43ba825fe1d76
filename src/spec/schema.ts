// Validates the parsed spec against schemas/spec.schema.json (the format's single source) and
// turns ajv's errors into diagnostics a user can act on: plain words, the path in the spec's own
// dotted notation, and the position of the offending YAML node.
// Invariants: one diagnostic per real problem. Sub-errors of oneOf/anyOf/propertyNames branches are
// folded into their parent's message (the schema writes those branches inline so their schema
// paths share the parent's prefix); a wrong type hides every other complaint about the same value;
// a missing key that a misspelt key would have supplied is not reported twice.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { ErrorObject, ValidateFunction } from 'ajv';
import type { Diagnostic } from '../core/errors.js';
import type { Path, SpecSource } from './source.js';
import { closest } from './suggest.js';

export interface SchemaResult {
  readonly diagnostics: Diagnostic[];
  /** JSON-pointer paths of values with errors; normalization skips anything at or under them. */
  readonly badPaths: string[];
}

// Built from dist/src/spec/ (the normal case) or src/spec/ when run from source.
const SCHEMA_URLS = [
  new URL('../../../schemas/spec.schema.json', import.meta.url),
  new URL('../../schemas/spec.schema.json', import.meta.url),
];
// Written by scripts/build-validators.mjs (part of `npm run build`): dist/schemas/ beside dist/src/.
const PRECOMPILED_URL = new URL('../../schemas/spec.validate.cjs', import.meta.url);

type Precompiled = ValidateFunction & { schemaSha256?: unknown };

/**
 * The ajv options the spec schema is compiled with, here and in scripts/build-validators.mjs
 * (which imports them from the build), so the precompiled validator is the same validator.
 */
export const AJV_OPTIONS = {
  allErrors: true,
  // parentSchema gives the allowed keys for did-you-mean and the x-expected/x-message texts.
  verbose: true,
  allowUnionTypes: true,
  // Branches such as {required: [content]} deliberately carry no `type`: the enclosing schema
  // has one, and a wrong type is reported once, by it.
  strictTypes: false,
  keywords: ['x-expected', 'x-message'],
};

let compiled: Promise<ValidateFunction> | undefined;

function compileSchema(): Promise<ValidateFunction> {
  compiled ??= (async () => {
    let text: string | undefined;
    for (const url of SCHEMA_URLS) {
      text = await readFile(url, 'utf8').catch(() => undefined);
      if (text !== undefined) break;
    }
    if (text === undefined) {
      throw new Error(
        `spec schema not found at ${SCHEMA_URLS.map((u) => u.pathname).join(' or ')}`,
      );
    }
    // The build's precompiled validator, used only if it was generated from this very schema text;
    // otherwise (run from source, schema edited since the build) compile it here as before.
    const precompiled = loadPrecompiled();
    if (precompiled?.schemaSha256 === createHash('sha256').update(text).digest('hex')) {
      return precompiled;
    }
    const { Ajv } = await import('ajv');
    const ajv = new Ajv(AJV_OPTIONS);
    return ajv.compile(JSON.parse(text) as object);
  })();
  return compiled;
}

function loadPrecompiled(): Precompiled | undefined {
  try {
    return createRequire(import.meta.url)(fileURLToPath(PRECOMPILED_URL)) as Precompiled;
  } catch {
    return undefined;
  }
}

export async function validateSchema(source: SpecSource): Promise<SchemaResult> {
  const validate = await compileSchema();
  if (validate(source.data)) return { diagnostics: [], badPaths: [] };
  const errors = prune(validate.errors ?? []);
  const diagnostics = errors.map((e) => translate(e, source));
  const badPaths = errors.map((e) =>
    e.keyword === 'propertyNames' || e.keyword === 'additionalProperties'
      ? `${e.instancePath}/${String(e.params.propertyName ?? e.params.additionalProperty)}`
      : e.instancePath,
  );
  return { diagnostics, badPaths };
}

const COMBINATIONS = ['oneOf', 'anyOf', 'not'];

function prune(all: readonly ErrorObject[]): ErrorObject[] {
  // `if` only says "the then-branch failed"; the then-branch's own error says what failed.
  let errors = all.filter((e) => e.keyword !== 'if');
  const folders = errors.filter((e) => ['oneOf', 'anyOf', 'propertyNames'].includes(e.keyword));
  errors = errors.filter(
    (e) => !folders.some((f) => f !== e && e.schemaPath.startsWith(`${f.schemaPath}/`)),
  );
  const wrongType = new Set(errors.filter((e) => e.keyword === 'type').map((e) => e.instancePath));
  errors = errors.filter((e) => e.keyword === 'type' || !wrongType.has(e.instancePath));
  // A misspelt key explains the "missing" key it was meant to be and the failed combination
  // rules (content/source, value/prepend) at the same place; report only the misspelling.
  const typos = errors.filter((e) => e.keyword === 'additionalProperties' && suggestKey(e));
  const misspelt = new Set(typos.map((e) => `${e.instancePath}\0${suggestKey(e)}`));
  const typoAt = new Set(typos.map((e) => e.instancePath));
  errors = errors.filter((e) => {
    if (e.keyword === 'required') {
      return !misspelt.has(`${e.instancePath}\0${String(e.params.missingProperty)}`);
    }
    return !(COMBINATIONS.includes(e.keyword) && typoAt.has(e.instancePath));
  });
  // With allErrors, ajv can report the same failure twice through shared $refs; keep one.
  const seen = new Set<string>();
  return errors.filter((e) => {
    const id = `${e.instancePath}\0${e.schemaPath}\0${JSON.stringify(e.params)}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

function translate(e: ErrorObject, source: SpecSource): Diagnostic {
  const path = toPath(e.instancePath, source.data);
  const label = labelOf(path);
  const parent = (e.parentSchema ?? {}) as Record<string, unknown>;
  const expected = typeof parent['x-expected'] === 'string' ? parent['x-expected'] : undefined;
  const custom = typeof parent['x-message'] === 'string' ? parent['x-message'] : undefined;
  const at = source.valueAt(path);
  const base = { severity: 'error' as const, at };
  const got = describe(e.data);
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = String(e.params.additionalProperty);
      const suggestion = suggestKey(e);
      const where = path.length === 0 ? 'at the top level' : `in ${label}`;
      return {
        ...base,
        code: 'spec.unknown-key',
        at: source.keyAt([...path, key]),
        message: `unknown key '${key}' ${where}${suggestion ? `; did you mean '${suggestion}'?` : ''}`,
        hint:
          custom ??
          (allowedKeys(e).length > 0
            ? `allowed keys: ${allowedKeys(e).join(', ')}`
            : `${labelOf(path)} takes no settings`),
      };
    }
    case 'required': {
      const key = String(e.params.missingProperty);
      return {
        ...base,
        code: 'spec.missing-key',
        at: source.keyAt(path),
        message:
          path.length === 0
            ? `missing required key '${key}' at the top level`
            : `${label}: missing required key '${key}'`,
      };
    }
    case 'propertyNames': {
      const name = String(e.params.propertyName);
      const schema = (e.schema ?? {}) as Record<string, unknown>;
      const what = typeof schema['x-expected'] === 'string' ? schema['x-expected'] : 'a valid name';
      return {
        ...base,
        code: 'spec.invalid-name',
        at: source.keyAt([...path, name]),
        message: `${label}: invalid name '${name}'; expected ${what}`,
      };
    }
    case 'type':
      return {
        ...base,
        code: 'spec.type',
        message: `${label}: ${custom ?? `expected ${expected ?? typeWords(e.params.type)}, got ${got}`}`,
      };
    case 'pattern':
      return {
        ...base,
        code: 'spec.invalid-value',
        message: `${label}: expected ${expected ?? `a string matching ${String(e.params.pattern)}`}, got ${got}`,
      };
    case 'enum': {
      const allowed = (e.params.allowedValues as unknown[]).map(String);
      const suggestion = typeof e.data === 'string' ? closest(e.data, allowed) : undefined;
      return {
        ...base,
        code: 'spec.invalid-value',
        message: `${label}: ${custom ?? `expected one of ${allowed.join(', ')}, got ${got}`}`,
        ...(suggestion ? { hint: `did you mean '${suggestion}'?` } : {}),
      };
    }
    case 'const':
      return {
        ...base,
        code: 'spec.invalid-value',
        message: `${label}: ${custom ?? `expected ${describe(e.params.allowedValue)}, got ${got}`}`,
      };
    case 'minLength':
      return {
        ...base,
        code: 'spec.invalid-value',
        message: `${label}: expected a non-empty string`,
      };
    case 'minItems': {
      const n = Number(e.params.limit);
      return {
        ...base,
        code: 'spec.invalid-value',
        message: `${label}: expected at least ${n} item${n === 1 ? '' : 's'}`,
      };
    }
    case 'minimum':
      return {
        ...base,
        code: 'spec.invalid-value',
        message: `${label}: expected ${expected ?? `a number >= ${String(e.params.limit)}`}, got ${got}`,
      };
    default:
      return {
        ...base,
        code: 'spec.invalid-value',
        message: `${label}: ${custom ?? e.message ?? `fails the '${e.keyword}' rule`}`,
      };
  }
}

function allowedKeys(e: ErrorObject): string[] {
  const props = (e.parentSchema as { properties?: Record<string, unknown> } | undefined)
    ?.properties;
  return Object.keys(props ?? {});
}

function suggestKey(e: ErrorObject): string | undefined {
  return closest(String(e.params.additionalProperty), allowedKeys(e));
}

/** ajv's instancePath (a JSON pointer) as a path whose list indexes are numbers. */
function toPath(pointer: string, data: unknown): Path {
  if (pointer === '') return [];
  const path: (string | number)[] = [];
  let node = data;
  for (const raw of pointer.slice(1).split('/')) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(node)) {
      path.push(Number(seg));
      node = node[Number(seg)];
    } else {
      path.push(seg);
      node = isRecord(node) ? node[seg] : undefined;
    }
  }
  return path;
}

/** `os.apt.packages[2]`, `targets["my box"]`; the root is `spec`. */
export function labelOf(path: Path): string {
  if (path.length === 0) return 'spec';
  return path
    .map((seg, i) => {
      if (typeof seg === 'number') return `[${seg}]`;
      if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(seg)) return i === 0 ? seg : `.${seg}`;
      return `[${JSON.stringify(seg)}]`;
    })
    .join('');
}

const TYPE_WORDS: Record<string, string> = {
  string: 'a string',
  integer: 'a whole number',
  number: 'a number',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping',
  null: 'nothing',
};

function typeWords(type: unknown): string {
  const types = Array.isArray(type) ? type : String(type).split(',');
  return types.map((t) => TYPE_WORDS[String(t)] ?? String(t)).join(' or ');
}

/** How a value is shown after "got": short, and in the user's terms (YAML, not JSON). */
function describe(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') {
    const s = value.length > 40 ? `${value.slice(0, 37)}...` : value;
    return `'${s}'`;
  }
  return String(value);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
