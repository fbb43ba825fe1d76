// `repro graph`: the resource graph in Graphviz DOT, implicit layer edges dashed.
import type { Command } from 'commander';
import { loadCheckedSpec } from '../../engine/workspace.js';
import { renderDot } from '../../graph/build.js';
import type { CliContext } from '../context.js';

export function register(program: Command, cli: CliContext): void {
  program
    .command('graph')
    .description('print the resource graph as Graphviz DOT')
    .action(async () => {
      const { spec, graph } = await loadCheckedSpec(cli.options.spec);
      cli.host.print(renderDot(graph, spec.name));
    });
}
