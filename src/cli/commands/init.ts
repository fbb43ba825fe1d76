// `repro init`: write a starter spec that validates, with a chroot target that needs no daemon.
import { access, writeFile } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import type { Command } from 'commander';
import { ReproError } from '../../core/errors.js';
import type { CliContext } from '../context.js';

function starter(name: string): string {
  return `# repro spec: see README.md for the reference.
version: 1
name: ${name}
targets:
  scratch:
    chroot: {path: .repro/roots/${name}, suite: bookworm}
os:
  distribution: debian
  release: bookworm
  apt:
    packages: [jq, curl]
env:
  ANALYSIS_THREADS: "4"
files:
  - {path: /etc/${name}.conf, content: "threads=4\\n", mode: "0644"}
run:
  - {name: hello, command: "jq --version > /root/jq-version", creates: /root/jq-version}
`;
}

export function register(program: Command, cli: CliContext): void {
  program
    .command('init')
    .description('write a starter repro.yaml')
    .option('--name <name>', 'environment name (default: the directory name)')
    .action(async (opts: { name?: string }) => {
      const file = resolve(cli.options.spec);
      try {
        await access(file);
        throw new ReproError('init.exists', `${file} already exists; not overwriting it`);
      } catch (e) {
        if (e instanceof ReproError) throw e;
      }
      const raw = opts.name ?? basename(resolve('.'));
      const name =
        raw
          .toLowerCase()
          .replace(/[^a-z0-9._-]+/g, '-')
          .replace(/^[^a-z0-9]+/, '') || 'env';
      await writeFile(file, starter(name), { flag: 'wx' });
      cli.host.print(`Wrote ${file}. Next: repro validate, then repro plan.`);
    });
}
