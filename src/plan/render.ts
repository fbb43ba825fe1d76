// Human rendering of plans and drift, made from the plan model only (the JSON is the truth).
// Terraform's habits: `+` create, `~` update, `-/+` replace, `-` destroy, attribute old → new,
// a summary line, `No changes.` when converged. Colour is a parameter; output is otherwise stable.
import { Chalk, type ChalkInstance } from 'chalk';
import type { Action, Attrs, Change, JsonValue } from '../core/types.js';
import { ACTION_SYMBOLS } from '../core/types.js';
import type { DriftItem, Plan } from './model.js';

export interface RenderOptions {
  readonly color: boolean;
}

const HIDDEN = new Set(['name', 'path']); // already in the address

function palette(color: boolean): {
  c: ChalkInstance;
  action: Record<Action, (s: string) => string>;
} {
  const c = new Chalk({ level: color ? 1 : 0 });
  return {
    c,
    action: {
      create: c.green,
      update: c.yellow,
      replace: c.magenta,
      delete: c.red,
      noop: (s) => s,
    },
  };
}

export function formatValue(v: JsonValue | undefined): string {
  if (v === undefined) return '(none)';
  return JSON.stringify(v);
}

function attrLines(change: Change): string[] {
  const after = change.after ?? {};
  const before = change.before ?? {};
  const unknown = new Set(change.afterUnknown ?? []);
  const keys = [...new Set([...Object.keys(after), ...unknown])]
    .filter((k) => !HIDDEN.has(k))
    .sort();
  const lines: string[] = [];
  if (change.action === 'create') {
    for (const k of keys)
      lines.push(`${k}: ${unknown.has(k) ? '(known after apply)' : formatValue(after[k])}`);
  } else if (change.action === 'update' || change.action === 'replace') {
    const all = [
      ...new Set([...keys, ...Object.keys(before).filter((k) => !HIDDEN.has(k))]),
    ].sort();
    for (const k of all) {
      if (unknown.has(k)) {
        lines.push(`${k}: ${formatValue(before[k])} → (known after apply)`);
      } else if (k in after && JSON.stringify(before[k]) !== JSON.stringify(after[k])) {
        lines.push(`${k}: ${formatValue(before[k])} → ${formatValue(after[k])}`);
      }
    }
  }
  return lines;
}

export function renderChange(change: Change, opts: RenderOptions): string {
  const { c, action } = palette(opts.color);
  const sym = ACTION_SYMBOLS[change.action];
  const reason = change.reason ? c.dim(`  (${change.reason})`) : '';
  const head = `  ${action[change.action](`${sym.padStart(3)} ${change.address}`)}${reason}`;
  const body = attrLines(change).map((l) => `        ${l}`);
  return [head, ...body].join('\n');
}

export function renderDrift(drift: readonly DriftItem[], opts: RenderOptions): string {
  const { c } = palette(opts.color);
  const lines: string[] = [];
  for (const d of drift) {
    if (d.status === 'removed') {
      lines.push(`  ${c.red(`! ${d.address}`)}  removed outside repro`);
      continue;
    }
    lines.push(`  ${c.yellow(`! ${d.address}`)}  changed outside repro`);
    for (const a of d.attributes) {
      lines.push(
        `        ${a.name}: ${formatValue(a.recorded ?? undefined)} → ${formatValue(a.live ?? undefined)}`,
      );
    }
  }
  return lines.join('\n');
}

export function renderPlan(plan: Plan, opts: RenderOptions): string {
  const { c } = palette(opts.color);
  const out: string[] = [];
  for (const w of plan.warnings) out.push(c.yellow(`Warning: ${w}`), '');
  if (plan.drift.length > 0) {
    out.push(
      c.bold(
        `Drift: ${plural(plan.drift.length, 'resource')} changed outside repro since the last apply:`,
      ),
      renderDrift(plan.drift, opts),
      '',
    );
  }
  const visible = plan.changes.filter((ch) => ch.action !== 'noop');
  if (visible.length === 0 && plan.create_target === null && plan.destroy_target === null) {
    out.push(c.green('No changes.') + ' The target matches the spec.');
    return out.join('\n') + '\n';
  }
  out.push(
    `repro will perform the following actions on target ${c.bold(plan.target.name)} (${plan.target.provider}):`,
    '',
  );
  if (plan.create_target !== null) out.push(`  ${c.green(`  + ${plan.create_target}`)}`, '');
  if (plan.destroy_target !== null) out.push(`  ${c.red(`  - ${plan.destroy_target}`)}`, '');
  for (const ch of visible) out.push(renderChange(ch, opts));
  const s = plan.summary;
  out.push('', c.bold(`Plan: ${s.add} to add, ${s.change} to change, ${s.destroy} to destroy.`));
  return out.join('\n') + '\n';
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export function renderAttrs(attrs: Attrs, indent = '    '): string {
  return Object.keys(attrs)
    .sort()
    .map((k) => `${indent}${k} = ${formatValue(attrs[k])}`)
    .join('\n');
}
