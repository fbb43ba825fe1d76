// yum-repo: an RPM repository (`yum-repo:NAME`), written whole as
// /etc/yum.repos.d/repro-NAME.repo; a signing key given as a file beside the spec is written to
// /etc/pki/rpm-gpg/RPM-GPG-KEY-repro-NAME, referenced as gpgkey=file://… and imported into the
// rpmdb with `rpm --import` (a key given as a URL is left to dnf, which imports it on first use).
//
// Invariants:
// - Rendering is pure: the .repo file and key file are functions of the resource alone, so the
//   diff compares the sha256 of what is on the target with the sha256 of what would be written.
// - The key is written (and imported) before the .repo file, so dnf never sees a repository whose
//   key is missing. Removing the repository removes both files; an imported key stays in the
//   rpmdb (it may sign other repositories' packages too).
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

/** A repository id: dnf accepts these characters in ids, and they make a safe file name. */
export const REPO_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const URL = /^(https?|ftp|file):\/\/[^\s'"\\[\]<>`$;|&]+$/;

export function repoPath(name: string): string {
  return `/etc/yum.repos.d/repro-${name}.repo`;
}

export function keyPath(name: string): string {
  return `/etc/pki/rpm-gpg/RPM-GPG-KEY-repro-${name}`;
}

/** The .repo file for a desired yum-repo. */
export function renderRepo(name: string, desired: Attrs): string {
  const keyUrl =
    str(desired, 'key_sha256') !== undefined ? `file://${keyPath(name)}` : str(desired, 'gpgkey');
  const gpgcheck = desired['gpgcheck'] === undefined ? keyUrl !== undefined : desired['gpgcheck'];
  const lines = [
    `# Written by repro for yum repository ${name}; edits are overwritten.`,
    `[${name}]`,
    `name=${name}`,
    `baseurl=${str(desired, 'baseurl') ?? ''}`,
    `enabled=${desired['enabled'] === false ? 0 : 1}`,
    `gpgcheck=${gpgcheck === true ? 1 : 0}`,
  ];
  if (keyUrl !== undefined) lines.push(`gpgkey=${keyUrl}`);
  return lines.join('\n') + '\n';
}

function expected(resource: Resource): Attrs {
  const out: Attrs = {
    name: resource.name,
    repo_sha256: sha256Hex(renderRepo(resource.name, resource.desired)),
  };
  const keySha = str(resource.desired, 'key_sha256');
  if (keySha !== undefined) out['key_sha256'] = keySha;
  return out;
}

export const yumRepo = {
  kind: 'yum-repo',
  tracked: ['repo_sha256', 'key_sha256'],

  check(resource: Resource): Diagnostic[] {
    const out: Diagnostic[] = [];
    const d = resource.desired;
    if (!REPO_NAME.test(resource.name)) {
      out.push(
        diag(
          resource,
          'yum-repo.name',
          `invalid yum repository name ${JSON.stringify(resource.name)}`,
          'use letters, digits, "_", "." and "-"',
        ),
      );
    }
    const baseurl = str(d, 'baseurl');
    if (baseurl === undefined || !URL.test(baseurl)) {
      out.push(
        diag(
          resource,
          'yum-repo.baseurl',
          `invalid baseurl ${JSON.stringify(baseurl ?? null)}`,
          'use an http://, https://, ftp:// or file:// URL without spaces, quotes or brackets',
        ),
      );
    }
    const gpgkey = str(d, 'gpgkey');
    if (gpgkey !== undefined && !URL.test(gpgkey)) {
      out.push(
        diag(
          resource,
          'yum-repo.gpgkey',
          `invalid gpgkey URL ${JSON.stringify(gpgkey)}`,
          'use an http://, https://, ftp:// or file:// URL, or a key file beside the spec (a relative path)',
        ),
      );
    }
    const keySha = str(d, 'key_sha256');
    if (keySha !== undefined && resource.payload && sha256Hex(resource.payload) !== keySha) {
      out.push(diag(resource, 'yum-repo.key', 'key_sha256 does not match the key content'));
    }
    return out;
  },

  probeScript(items: readonly ProbeItem[], _ctx: ManagerContext): string {
    return fileHashProbe(
      items,
      (n) => REPO_NAME.test(n),
      (n) => [
        ['repo', repoPath(n)],
        ['key', keyPath(n)],
      ],
    );
  },

  parseProbe(output: string, items: readonly ProbeItem[], _ctx: ManagerContext): ProbeResult {
    const live = parseFileHashes(output, items, ['repo', 'key']);
    // The key alone is not the repository: without its .repo file there is nothing to record.
    for (const [address, attrs] of live)
      if (attrs['repo_sha256'] === undefined) live.delete(address);
    return { live, facts: {} };
  },

  diff(input: DiffInput): Change {
    return sourceFileDiff(input, 'yum-repo', expected, 'repo_sha256', '.repo file');
  },

  commands(input: CommandInput): Command[] {
    const out: Command[] = [];
    for (const change of input.changes) {
      const name = change.address.slice('yum-repo:'.length);
      if (!REPO_NAME.test(name)) throw new Error(`refusing invalid yum repository name ${name}`);
      const repo = repoPath(name);
      const key = keyPath(name);
      if (change.action === 'delete') {
        out.push({ display: `remove ${repo}`, script: shellJoin(['rm', '-f', repo, key]) });
        continue;
      }
      const resource = input.resources.get(change.address);
      if (!resource) throw new Error(`no desired resource for ${change.address}`);
      const parts = [shellJoin(['mkdir', '-p', '/etc/yum.repos.d', '/etc/pki/rpm-gpg'])];
      if (str(resource.desired, 'key_sha256') !== undefined) {
        if (!resource.payload) throw new Error(`the key for ${change.address} was not loaded`);
        parts.push(writeFileScript({ path: key, content: resource.payload, mode: '0644' }));
        parts.push(shellJoin(['rpm', '--import', key]));
      } else {
        parts.push(shellJoin(['rm', '-f', key]));
      }
      const content = Buffer.from(renderRepo(name, resource.desired), 'utf8');
      parts.push(writeFileScript({ path: repo, content, mode: '0644' }));
      out.push({ display: `write ${repo}`, script: parts.join('\n') });
    }
    return out;
  },

  lockEntry(): Attrs | undefined {
    return undefined;
  },

  record: recordLive,
} satisfies Manager;
