// The spec's YAML text with positions: parses once, keeps the node tree and a line counter, and
// answers "where is the node at this path" for every later stage (schema errors, normalization).
// Invariants: positions are 1-based; a path that cannot be located falls back to its deepest
// located ancestor, so every diagnostic gets a position even when the tree is odd.
import {
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  type Document,
  type Node,
} from 'yaml';
import type { Diagnostic, SourceRef } from '../core/errors.js';

/** A path into the document: mapping keys and sequence indexes, as in ajv's instancePath. */
export type Path = readonly (string | number)[];

interface Located {
  /** The value node; undefined when the value is absent (`key:` with nothing after it). */
  readonly value?: Node;
  /** The key node when the last segment is a mapping key. */
  readonly key?: Node;
}

export class SpecSource {
  readonly data: unknown;
  readonly diagnostics: readonly Diagnostic[];
  private readonly doc: Document.Parsed;
  private readonly lines = new LineCounter();

  constructor(
    readonly file: string,
    text: string,
  ) {
    this.doc = parseDocument(text, { lineCounter: this.lines, prettyErrors: false });
    this.diagnostics = this.doc.errors.map((e) => ({
      severity: 'error' as const,
      code: 'spec.yaml',
      message: yamlMessage(e.code, e.message),
      at: this.refAt(e.pos[0]),
    }));
    if (this.diagnostics.length === 0) this.keepWrittenScalars();
    this.data = this.diagnostics.length === 0 ? this.doc.toJS() : undefined;
  }

  /** Position of the value at `path` (a list item, a mapping, a scalar). */
  valueAt(path: Path): SourceRef {
    for (let n = path.length; n >= 0; n--) {
      const found = this.locate(path.slice(0, n));
      if (!found) continue;
      const { value, key } = found;
      // An empty value has a zero-width range after the colon; its key is the useful place.
      if (value?.range && !(isScalar(value) && value.value === null && value.source === '')) {
        return this.refAt(value.range[0]);
      }
      if (key?.range) return this.refAt(key.range[0]);
    }
    return { file: this.file, line: 1, col: 1 };
  }

  /** Position of the key naming the value at `path`; for list items and the root, the value. */
  keyAt(path: Path): SourceRef {
    const found = this.locate(path);
    if (found?.key?.range) return this.refAt(found.key.range[0]);
    return this.valueAt(path);
  }

  /**
   * Some scalars must be read as written, not as YAML typed them: `mode: 0644` is the integer 644
   * to YAML 1.2 and `VERSION: 1.10` the float 1.1. These fields are strings in the format, so the
   * plain source text is kept for them.
   */
  private keepWrittenScalars(): void {
    const asWritten = (node: unknown): void => {
      if (isScalar(node) && node.type === 'PLAIN' && typeof node.source === 'string') {
        if (typeof node.value === 'number' || typeof node.value === 'boolean') {
          node.value = node.source;
        }
      }
    };
    const files = this.locate(['files'])?.value;
    if (isSeq(files)) {
      for (const item of files.items) if (isMap(item)) asWritten(item.get('mode', true));
    }
    const env = this.locate(['env'])?.value;
    if (isMap(env)) {
      for (const pair of env.items) {
        asWritten(pair.value);
        if (isMap(pair.value)) asWritten(pair.value.get('value', true));
      }
    }
  }

  private locate(path: Path): Located | undefined {
    let value: Node | undefined = this.doc.contents ?? undefined;
    let key: Node | undefined;
    for (const seg of path) {
      if (isAlias(value)) value = (value.resolve(this.doc) as Node | undefined) ?? undefined;
      if (isMap(value)) {
        const pair = value.items.find((p) => isPair(p) && keyText(p.key) === String(seg));
        if (!pair) return undefined;
        key = pair.key as Node;
        value = (pair.value as Node | null) ?? undefined;
      } else if (isSeq(value)) {
        const item = value.items[Number(seg)];
        if (item === undefined) return undefined;
        key = undefined;
        value = item as Node;
      } else {
        return undefined;
      }
    }
    return { value, key };
  }

  private refAt(offset: number): SourceRef {
    const { line, col } = this.lines.linePos(offset);
    return { file: this.file, line, col };
  }
}

function keyText(key: unknown): string | undefined {
  if (isScalar(key)) return String(key.value);
  return undefined;
}

/** yaml's messages are good; a few codes read better in the spec's own words. */
function yamlMessage(code: string, message: string): string {
  switch (code) {
    case 'DUPLICATE_KEY':
      return 'YAML syntax: this key appears twice in the same mapping';
    case 'MULTIPLE_DOCS':
      return 'YAML syntax: the spec must be a single YAML document (remove the extra ---)';
    default:
      return `YAML syntax: ${message.replace(/\.$/, '')}`;
  }
}
