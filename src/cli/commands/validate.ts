// `repro validate`: check the spec (schema, grammar of every name and version, graph) without
// touching any target.
import type { Command } from 'commander';
import { loadCheckedSpec } from '../../engine/workspace.js';
import { plural } from '../../plan/render.js';
import type { CliContext } from '../context.js';

export function register(program: Command, cli: CliContext): void {
  program
    .command('validate')
    .description('check the spec without touching any target')
    .action(async () => {
      const { spec } = await loadCheckedSpec(cli.options.spec);
      cli.host.print(
        `${cli.host.out.green('The spec is valid:')} ${plural(spec.resources.length, 'resource')}, ${plural(spec.targets.length, 'target')} (${spec.targets.map((t) => t.name).join(', ')}).`,
      );
    });
}
