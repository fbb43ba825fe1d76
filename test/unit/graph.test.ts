import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildGraph, renderDot } from '../../src/graph/build.js';
import { Dag } from '../../src/graph/dag.js';
import { ReproError, SpecError } from '../../src/core/errors.js';
import { res } from './fixtures.js';

test('layer edges order apt before env before git before files before run', () => {
  const g = buildGraph([
    res('apt', 'git'),
    res('env', 'A'),
    res('git', '/opt/src'),
    res('file', '/etc/x'),
    res('run', 'build', { index: 0 }),
  ]);
  const edges = g.dag.edges().map((e) => `${e.from} -> ${e.to} (${e.kind})`);
  assert.deepEqual(edges, [
    'apt:git -> env:A (layer)',
    'apt:git -> git:/opt/src (provides)',
    'env:A -> git:/opt/src (layer)',
    'file:/etc/x -> run:build (layer)',
    'git:/opt/src -> file:/etc/x (layer)',
  ]);
});

test('a git checkout comes after apt:git even when env is absent (provides edge)', () => {
  const g = buildGraph([res('apt', 'git'), res('apt', 'jq'), res('git', '/opt/src')]);
  const kinds = g.dag
    .edges()
    .filter((e) => e.to === 'git:/opt/src')
    .map((e) => `${e.from}:${e.kind}`);
  assert.deepEqual(kinds, ['apt:git:provides', 'apt:jq:layer']);
  assert.ok(g.dag.predecessors('git:/opt/src').includes('apt:git'));
});

test('run steps are chained in spec order, not address order', () => {
  const g = buildGraph([res('run', 'b-first', { index: 0 }), res('run', 'a-second', { index: 1 })]);
  assert.deepEqual(g.dag.edges(), [{ from: 'run:b-first', to: 'run:a-second', kind: 'order' }]);
});

test('explicit after adds an edge; an unknown address is a spec error with position', () => {
  const g = buildGraph([res('file', '/a'), res('file', '/b', {}, ['file:/a'])]);
  assert.deepEqual(g.dag.edges(), [{ from: 'file:/a', to: 'file:/b', kind: 'after' }]);
  assert.throws(
    () => buildGraph([res('file', '/b', {}, ['apt:nope'])]),
    (e: unknown) =>
      e instanceof SpecError &&
      e.diagnostics[0]!.message === "'after' names apt:nope, which the spec does not declare" &&
      e.diagnostics[0]!.at?.line === 1,
  );
});

test('a cycle is an error that prints the path', () => {
  assert.throws(
    () =>
      buildGraph([
        res('file', '/a', {}, ['file:/c']),
        res('file', '/b', {}, ['file:/a']),
        res('file', '/c', {}, ['file:/b']),
      ]),
    (e: unknown) =>
      e instanceof ReproError &&
      e.message === 'dependency cycle: file:/a -> file:/b -> file:/c -> file:/a',
  );
  assert.throws(
    () => buildGraph([res('apt', 'jq', {}, ['run:x']), res('run', 'x', { index: 0 })]),
    (e: unknown) =>
      e instanceof ReproError && e.message === 'dependency cycle: apt:jq -> run:x -> apt:jq',
  );
});

test('Dag.findCycle finds self loops and returns undefined when acyclic', () => {
  const d = new Dag();
  d.addNode('a');
  d.addNode('b');
  d.addEdge('a', 'b', 'x');
  assert.equal(d.findCycle(), undefined);
  d.addEdge('b', 'b', 'x');
  assert.deepEqual(d.findCycle(), ['b', 'b']);
});

test('DOT output is stable and shows edge kinds', () => {
  const dot = renderDot(buildGraph([res('apt', 'git'), res('git', '/opt/src')]), 'demo');
  assert.equal(
    dot,
    [
      'digraph "demo" {',
      '  rankdir=LR;',
      '  node [shape=box];',
      '  subgraph "cluster_apt" {',
      '    label="apt";',
      '    "apt:git";',
      '  }',
      '  subgraph "cluster_git" {',
      '    label="git";',
      '    "git:/opt/src";',
      '  }',
      '  "apt:git" -> "git:/opt/src" [label="provides"];',
      '}',
      '',
    ].join('\n'),
  );
});
