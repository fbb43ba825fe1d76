// Every format's single source is its JSON Schema: compile each with ajv and validate what we
// ship against it (example specs, the committed sample states, a plan and a drift report the
// engine produces).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { computePlan } from '../../src/plan/compute.js';
import { newState } from '../../src/state/store.js';
import { emptyLock } from '../../src/state/lock-file.js';
import { MANAGERS } from '../../src/managers/index.js';
import { loadSpec } from '../../src/spec/index.js';
import { AJV_OPTIONS } from '../../src/spec/schema.js';
import { canonicalJson } from '../../src/core/canonical.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

async function schema(name: string): Promise<object> {
  return JSON.parse(await readFile(join(ROOT, 'schemas', name), 'utf8')) as object;
}

function compile(s: object) {
  const ajv = new Ajv(AJV_OPTIONS);
  return ajv.compile(s);
}

async function exampleSpecs(): Promise<string[]> {
  const dirs = await readdir(join(ROOT, 'examples'), { withFileTypes: true });
  return dirs
    .filter((d) => d.isDirectory())
    .map((d) => join(ROOT, 'examples', d.name, 'repro.yaml'));
}

test('every example spec validates against spec.schema.json and loads', async () => {
  const validate = compile(await schema('spec.schema.json'));
  const specs = await exampleSpecs();
  assert.ok(specs.length >= 2, 'examples/quickstart and examples/docker at least');
  for (const file of specs) {
    const data = parse(await readFile(file, 'utf8')) as unknown;
    assert.ok(validate(data), `${file}: ${JSON.stringify(validate.errors)}`);
    const spec = await loadSpec(file, { check: (r) => MANAGERS.get(r.kind)!.check(r) });
    assert.ok(spec.resources.length > 0, file);
  }
});

test('the committed sample states validate against state.schema.json, one per provider', async () => {
  const validate = compile(await schema('state.schema.json'));
  const files = (await readdir(join(ROOT, 'state'))).filter((f) => f.endsWith('.json')).sort();
  const providers = new Set<string>();
  for (const f of files) {
    const data = JSON.parse(await readFile(join(ROOT, 'state', f), 'utf8')) as {
      target: { provider: string };
    };
    assert.ok(validate(data), `state/${f}: ${JSON.stringify(validate.errors)}`);
    assert.equal(
      await readFile(join(ROOT, 'state', f), 'utf8'),
      canonicalJson(data),
      `state/${f} is canonical`,
    );
    providers.add(data.target.provider);
  }
  assert.deepEqual([...providers].sort(), ['aws-ec2', 'chroot', 'docker', 'local', 'ssh']);
  assert.ok(validate(newState('t', 'docker', 'sha256:' + '0'.repeat(64))), 'a newborn state');
});

test('a plan computed by the engine validates against plan.schema.json', async () => {
  const validate = compile(await schema('plan.schema.json'));
  const [file] = await exampleSpecs();
  const spec = await loadSpec(file!, {});
  const live = { live: new Map(), facts: new Map() };
  const plan = computePlan({
    spec,
    targetName: spec.targets[0]!.name,
    provider: spec.targets[0]!.provider,
    state: undefined,
    lock: emptyLock(),
    live,
    managers: MANAGERS,
    update: 'all',
    createTarget: 'the target',
  });
  const json = JSON.parse(canonicalJson(plan)) as unknown;
  assert.ok(validate(json), JSON.stringify(validate.errors));
  assert.ok(plan.changes.every((c) => c.action === 'create'));
  assert.equal(
    validate({ ...(json as object), format_version: 2 }),
    false,
    'a future plan format is not this schema',
  );
});
