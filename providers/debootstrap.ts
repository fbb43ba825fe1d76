// Building a Debian root filesystem with debootstrap, for a chroot target and for a docker image
// that cannot be pulled. Its output is streamed line by line as progress. Invariant: the roots it
// makes never start services when packages are installed (policy-rc.d exits 101), because a
// chroot or a container has no init to own them and a started daemon would keep mounts busy.
import { chmod, copyFile, mkdir, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { IoHost } from '../src/core/io.js';
import { runHostTool } from './process.js';

export const DEFAULT_SUITE = 'bookworm';
export const DEFAULT_VARIANT = 'minbase';
export const DEFAULT_MIRROR = 'http://deb.debian.org/debian';
export const HOST_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

/** debootstrap's variants; `-` is its name for the default (required + important). */
export const VARIANTS = ['minbase', 'buildd', 'fakechroot', '-'] as const;

export interface DebootstrapOptions {
  readonly suite: string;
  readonly variant: string;
  readonly mirror: string;
  readonly target: string;
  readonly io: IoHost;
}

export function debootstrapArgv(o: Omit<DebootstrapOptions, 'io'>): string[] {
  return [`--variant=${o.variant}`, o.suite, o.target, o.mirror];
}

/** Runs debootstrap into `target`, reporting each output line as progress. */
export async function runDebootstrap(o: DebootstrapOptions): Promise<void> {
  o.io.notify(
    'progress',
    `debootstrap ${o.suite} (${o.variant}) into ${o.target} from ${o.mirror}`,
  );
  const lines = lineSplitter((line) => o.io.notify('progress', `debootstrap: ${line}`));
  await runHostTool('debootstrap', debootstrapArgv(o), {
    onStdout: lines,
    onStderr: lines,
    hint: `check that ${o.mirror} is reachable and carries ${o.suite}; install debootstrap with apt-get install debootstrap`,
  });
}

/** Keeps packages installed later from starting services inside the root. */
export async function writePolicyRcD(root: string): Promise<void> {
  const path = join(root, 'usr/sbin/policy-rc.d');
  await writeFile(
    path,
    '#!/bin/sh\n# Written by repro: never start services inside this root.\nexit 101\n',
  );
  await chmod(path, 0o755);
}

/**
 * Copies this machine's CA bundle into the root, so HTTPS works there through the same gateways
 * the host trusts (a fresh minbase root has no CA certificates at all).
 */
export async function copyHostCaBundle(root: string): Promise<boolean> {
  if (!existsSync(HOST_CA_BUNDLE)) return false;
  await mkdir(join(root, 'etc/ssl/certs'), { recursive: true });
  await copyFile(HOST_CA_BUNDLE, join(root, HOST_CA_BUNDLE));
  return true;
}

/** Turns a stream of text chunks into complete, non-empty lines. */
function lineSplitter(onLine: (line: string) => void): (chunk: string) => void {
  let pending = '';
  return (chunk) => {
    pending += chunk;
    const parts = pending.split(/\r?\n|\r/);
    pending = parts.pop() ?? '';
    for (const p of parts) if (p.trim()) onLine(p);
  };
}
