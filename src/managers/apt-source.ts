// apt-source: an extra apt repository (`apt-source:NAME`), written as
// /etc/apt/sources.list.d/repro-NAME.list plus its signing key /etc/apt/keyrings/repro-NAME.asc.
//
// Invariants:
// - Rendering is pure: the list file and key file are functions of the resource alone, so the
//   diff compares the sha256 of what is on the target with the sha256 of what would be written.
// - The key file is always ASCII-armored, because apt picks the key format from the extension
//   (`.asc` armored, `.gpg` binary); a binary key from the spec is armored here, in TypeScript.
// - The key is written before the list, so apt never sees a list whose key is missing.
import type { Diagnostic } from '../core/errors.js';
import { shellJoin, type Command } from '../core/shell.js';
import type { Attrs, Change, Resource } from '../core/types.js';
import {
  diag,
  fileHashProbe,
  parseFileHashes,
  recordLive,
  sha256Hex,
  sourceFileDiff,
  str,
  strList,
  writeFileScript,
} from './common.js';
import type {
  CommandInput,
  DiffInput,
  Manager,
  ManagerContext,
  ProbeItem,
  ProbeResult,
} from './types.js';

/** apt ignores files in sources.list.d whose names use other characters. */
export const SOURCE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const URI = /^(https?|file):\/\/[^\s'"\\[\]<>`$;|&]+$/;
const SUITE = /^[A-Za-z0-9._~+/][A-Za-z0-9._~+/-]*$/;
const COMPONENT = /^[A-Za-z0-9][A-Za-z0-9._+/-]*$/;

export function listPath(name: string): string {
  return `/etc/apt/sources.list.d/repro-${name}.list`;
}

export function keyPath(name: string): string {
  return `/etc/apt/keyrings/repro-${name}.asc`;
}

/** The content of the sources list for a desired apt-source: one `deb` line per suite. */
export function renderList(name: string, desired: Attrs): string {
  const options: string[] = [];
  if (str(desired, 'key_sha256') !== undefined) options.push(`signed-by=${keyPath(name)}`);
  if (desired['trusted'] === true) options.push('trusted=yes');
  const opts = options.length > 0 ? ` [${options.join(' ')}]` : '';
  const uri = str(desired, 'uri') ?? '';
  const components = strList(desired, 'components') ?? [];
  const lines = [`# Written by repro for apt source ${name}; edits are overwritten.`];
  for (const suite of strList(desired, 'suites') ?? []) {
    lines.push(`deb${opts} ${[uri, suite, ...components].join(' ')}`);
  }
  return lines.join('\n') + '\n';
}

const ARMOR_BEGIN = '-----BEGIN PGP PUBLIC KEY BLOCK-----';

/** OpenPGP CRC-24 (RFC 4880 §6.1), for the armor checksum line. */
function crc24(data: Buffer): number {
  let crc = 0xb704ce;
  for (const byte of data) {
    crc ^= byte << 16;
    for (let i = 0; i < 8; i++) {
      crc <<= 1;
      if (crc & 0x1000000) crc ^= 0x1864cfb;
    }
  }
  return crc & 0xffffff;
}

/** The key as it will be written: armored keys as given, binary keys armored (RFC 4880 §6.2). */
export function renderKey(key: Buffer): Buffer {
  if (key.toString('latin1').trimStart().startsWith(ARMOR_BEGIN)) return key;
  const b64 = key.toString('base64');
  const body = b64.match(/.{1,64}/g) ?? [];
  const crc = Buffer.from([(crc24(key) >> 16) & 0xff, (crc24(key) >> 8) & 0xff, crc24(key) & 0xff]);
  const text = [
    ARMOR_BEGIN,
    '',
    ...body,
    `=${crc.toString('base64')}`,
    '-----END PGP PUBLIC KEY BLOCK-----',
    '',
  ].join('\n');
  return Buffer.from(text, 'latin1');
}

/** The attributes the target will have after apply (same keys as live). */
function expected(resource: Resource): Attrs {
  const out: Attrs = {
    name: resource.name,
    list_sha256: sha256Hex(renderList(resource.name, resource.desired)),
  };
  const keySha = str(resource.desired, 'key_sha256');
  if (keySha !== undefined) {
    out['key_sha256'] = resource.payload ? sha256Hex(renderKey(resource.payload)) : keySha;
  }
  return out;
}

export const aptSource = {
  kind: 'apt-source',
  tracked: ['list_sha256', 'key_sha256'],

  check(resource: Resource): Diagnostic[] {
    const out: Diagnostic[] = [];
    const d = resource.desired;
    if (!SOURCE_NAME.test(resource.name)) {
      out.push(
        diag(
          resource,
          'apt-source.name',
          `invalid apt source name ${JSON.stringify(resource.name)}`,
          'use letters, digits, "_", "." and "-" (apt ignores other file names in sources.list.d)',
        ),
      );
    }
    const uri = str(d, 'uri');
    if (uri === undefined || !URI.test(uri)) {
      out.push(
        diag(
          resource,
          'apt-source.uri',
          `invalid apt source URI ${JSON.stringify(uri ?? null)}`,
          'use an http://, https:// or file:// URI without spaces, quotes or brackets',
        ),
      );
    }
    const suites = strList(d, 'suites') ?? [];
    const components = strList(d, 'components') ?? [];
    if (suites.length === 0) out.push(diag(resource, 'apt-source.suite', 'no suites given'));
    for (const s of suites) {
      if (!SUITE.test(s)) {
        out.push(diag(resource, 'apt-source.suite', `invalid suite ${JSON.stringify(s)}`));
      } else if (s.endsWith('/') && components.length > 0) {
        out.push(
          diag(
            resource,
            'apt-source.suite',
            `suite ${JSON.stringify(s)} is a flat repository path, which takes no components`,
          ),
        );
      } else if (!s.endsWith('/') && components.length === 0) {
        out.push(
          diag(
            resource,
            'apt-source.components',
            `suite ${JSON.stringify(s)} needs at least one component (e.g. main)`,
            'only flat repositories (suite ending in "/") have no components',
          ),
        );
      }
    }
    for (const c of components) {
      if (!COMPONENT.test(c)) {
        out.push(diag(resource, 'apt-source.component', `invalid component ${JSON.stringify(c)}`));
      }
    }
    const keySha = str(d, 'key_sha256');
    if (keySha !== undefined && resource.payload && sha256Hex(resource.payload) !== keySha) {
      out.push(diag(resource, 'apt-source.key', 'key_sha256 does not match the key content'));
    }
    return out;
  },

  probeScript(items: readonly ProbeItem[], _ctx: ManagerContext): string {
    return fileHashProbe(
      items,
      (n) => SOURCE_NAME.test(n),
      (n) => [
        ['list', listPath(n)],
        ['key', keyPath(n)],
      ],
    );
  },

  parseProbe(output: string, items: readonly ProbeItem[], _ctx: ManagerContext): ProbeResult {
    const live = parseFileHashes(output, items, ['list', 'key']);
    return { live, facts: {} };
  },

  diff(input: DiffInput): Change {
    return sourceFileDiff(input, 'apt-source', expected, 'list_sha256', 'sources list');
  },

  commands(input: CommandInput): Command[] {
    const out: Command[] = [];
    for (const change of input.changes) {
      const name = change.address.slice('apt-source:'.length);
      if (!SOURCE_NAME.test(name)) throw new Error(`refusing invalid apt source name ${name}`);
      const list = listPath(name);
      const key = keyPath(name);
      if (change.action === 'delete') {
        out.push({
          display: `remove ${list} and ${key}`,
          script: shellJoin(['rm', '-f', list, key]),
        });
        continue;
      }
      const resource = input.resources.get(change.address);
      if (!resource) throw new Error(`no desired resource for ${change.address}`);
      const parts = [shellJoin(['mkdir', '-p', '/etc/apt/keyrings', '/etc/apt/sources.list.d'])];
      if (str(resource.desired, 'key_sha256') !== undefined) {
        if (!resource.payload) throw new Error(`the key for ${change.address} was not loaded`);
        parts.push(
          writeFileScript({ path: key, content: renderKey(resource.payload), mode: '0644' }),
        );
      } else {
        parts.push(shellJoin(['rm', '-f', key]));
      }
      const content = Buffer.from(renderList(name, resource.desired), 'utf8');
      parts.push(writeFileScript({ path: list, content, mode: '0644' }));
      out.push({ display: `write ${list}`, script: parts.join('\n') });
    }
    return out;
  },

  lockEntry(): Attrs | undefined {
    return undefined;
  },

  record: recordLive,
} satisfies Manager;
