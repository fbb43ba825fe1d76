// The benchmark behind `npm run bench`: how close `repro apply` comes to the raw batched
// `apt-get install` it wraps, and what a no-op plan, a no-op apply and a drift check cost next to
// one `docker exec dpkg-query -W`. Not a test: it prints a table and exits 0; it exits 1 only when
// something it runs fails or a sanity check on what it measured does not hold.
//
// Method (printed in the header too):
// - One image, `repro-bench/bookworm:debs`, built once from `repro-test/bookworm:base` with the
//   apt lists fetched and the .debs of PACKAGES downloaded (`--download-only`), then cached. It is
//   rebuilt only when missing, when its package list differs from PACKAGES, or when its lists are
//   older than the spec's `update_max_age` (repro would then run `apt-get update`).
// - Every measured container is a fresh `docker run --network none` of that image: the network
//   is out of the measurement by construction, and an accidental download fails loudly.
// - Floor and repro get containers in the same state and install the same packages with the same
//   recommends policy. Each round times both, alternating which goes first, and the medians of
//   the rounds are compared (the host is shared, so single samples are noisy).
// - Times are wall clock of the whole client process (`docker` CLI or `node dist/src/cli/repro.js`),
//   so repro's Node start-up counts against it.
// - Exec round trips come from repro's own counter (`REPRO_STATS=1`).
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BASE_IMAGE = 'repro-test/bookworm:base';
const IMAGE = 'repro-bench/bookworm:debs';
const PACKAGES_LABEL = 'org.repro.bench.packages';

/** Small, dependency-light bookworm packages that minbase does not carry (36 .debs in all). */
const PACKAGES = [
  'bc',
  'bzip2',
  'cpio',
  'dc',
  'ed',
  'entr',
  'file',
  'hexedit',
  'htop',
  'jq',
  'less',
  'lz4',
  'lzop',
  'nano',
  'ncal',
  'ncdu',
  'patch',
  'pax',
  'pigz',
  'psmisc',
  'pv',
  'rsync',
  'time',
  'tmux',
  'tofrodos',
  'tree',
  'unzip',
  'wdiff',
  'xxd',
  'zip',
] as const;

/** Removed out of band before `repro drift`: leaves nothing else depends on. */
const REMOVED = ['pv', 'tree'] as const;

const UPDATE_MAX_AGE = '30d';
const UPDATE_MAX_AGE_S = 30 * 86400;
const ROUNDS = positiveInt(process.env['BENCH_ROUNDS'], 5);
const SAMPLES = positiveInt(process.env['BENCH_SAMPLES'], 5);

const CLI = fileURLToPath(new URL('../src/cli/repro.js', import.meta.url));
const RUN_ID = `${process.pid}`;
const APT_ENV = 'DEBIAN_FRONTEND=noninteractive';

function positiveInt(text: string | undefined, fallback: number): number {
  const n = Number(text);
  return Number.isInteger(n) && n > 0 ? n : fallback;
}

class BenchError extends Error {}

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
  seconds: number;
}

/** Runs a process to completion and times it (wall clock, spawn to exit). */
function run(cmd: string, args: readonly string[], env?: NodeJS.ProcessEnv): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(cmd, args, { env: env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      resolve({
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        seconds,
      });
    });
  });
}

function tail(text: string, lines = 15): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/** Like run, but a non-zero exit (other than those in `ok`) is a failure of the benchmark. */
async function must(
  cmd: string,
  args: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; ok?: readonly number[] } = {},
): Promise<Ran> {
  const r = await run(cmd, args, opts.env);
  if (r.code !== 0 && !(opts.ok ?? []).includes(r.code)) {
    throw new BenchError(
      `\`${cmd} ${args.join(' ')}\` exited ${r.code}\n${tail(r.stderr || r.stdout)}`,
    );
  }
  return r;
}

const docker = (...args: string[]): Promise<Ran> => must('docker', args);

function check(ok: boolean, what: string): void {
  if (!ok) throw new BenchError(`sanity check failed: ${what}`);
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

// ---------------------------------------------------------------------------------------------
// The cached image

async function imageLabel(ref: string): Promise<string | undefined> {
  const r = await run('docker', [
    'image',
    'inspect',
    '--format',
    `{{index .Config.Labels "${PACKAGES_LABEL}"}}`,
    ref,
  ]);
  return r.code === 0 ? r.stdout.trim() : undefined;
}

/** Age in seconds of the newest `*_Packages` list in the image, as repro's apt probe sees it. */
async function listsAge(ref: string): Promise<number> {
  const r = await docker(
    'run',
    '--rm',
    '--network',
    'none',
    '--label',
    'repro-test=true',
    ref,
    'sh',
    '-c',
    'm=0; for f in /var/lib/apt/lists/*_Packages; do [ -f "$f" ] || continue; ' +
      't=$(stat -c %Y "$f"); [ "$t" -gt "$m" ] && m=$t; done; echo "$m $(date +%s)"',
  );
  const [mtime, now] = r.stdout.trim().split(' ').map(Number);
  return !mtime || !now ? Infinity : now - mtime;
}

async function prepareImage(): Promise<string> {
  const wanted = PACKAGES.join(',');
  const label = await imageLabel(IMAGE);
  if (label === wanted) {
    const age = await listsAge(IMAGE);
    if (age < UPDATE_MAX_AGE_S - 86400) return `cached; apt lists ${fmtAge(age)} old`;
    console.error(`bench: ${IMAGE} has apt lists ${fmtAge(age)} old; rebuilding`);
  } else {
    console.error(
      label === undefined
        ? `bench: building ${IMAGE} (once)`
        : `bench: ${IMAGE} holds another package set; rebuilding`,
    );
  }
  if ((await imageLabel(BASE_IMAGE)) === undefined) {
    throw new BenchError(`base image ${BASE_IMAGE} is missing (the test setup builds it)`);
  }
  const name = `repro-test-bench-prep-${RUN_ID}`;
  try {
    await docker(
      'run',
      '-d',
      '--name',
      name,
      '--label',
      'repro-test=true',
      BASE_IMAGE,
      'sleep',
      'infinity',
    );
    await docker('exec', name, 'apt-get', 'update', '-q');
    await docker(
      'exec',
      name,
      'sh',
      '-c',
      `${APT_ENV} apt-get install -q -y --download-only --no-install-recommends ${PACKAGES.join(' ')}`,
    );
    await docker(
      'commit',
      '--change',
      'LABEL repro-test=true',
      '--change',
      `LABEL ${PACKAGES_LABEL}=${wanted}`,
      name,
      IMAGE,
    );
  } finally {
    await run('docker', ['rm', '-f', name]);
  }
  return `built now; apt lists ${fmtAge(await listsAge(IMAGE))} old`;
}

function fmtAge(s: number): string {
  return s < 3600 ? `${Math.round(s / 60)} min` : `${(s / 86400).toFixed(1)} d`;
}

// ---------------------------------------------------------------------------------------------
// Containers and the repro CLI

const created: string[] = [];
const tempDirs: string[] = [];

async function freshContainer(role: string): Promise<string> {
  const name = `repro-test-bench-${role}-${RUN_ID}`;
  created.push(name);
  await docker(
    'run',
    '-d',
    '--name',
    name,
    '--network',
    'none',
    '--label',
    'repro-test=true',
    IMAGE,
    'sleep',
    'infinity',
  );
  await docker('exec', name, 'true'); // the first exec into a container pays a one-off cost
  return name;
}

async function removeContainer(name: string): Promise<void> {
  await run('docker', ['rm', '-f', name]);
  const i = created.indexOf(name);
  if (i >= 0) created.splice(i, 1);
}

const floorInstall = (c: string): Promise<Ran> =>
  docker(
    'exec',
    c,
    'sh',
    '-c',
    `${APT_ENV} apt-get install -y --no-install-recommends ${PACKAGES.join(' ')}`,
  );

const probeFloor = (c: string): Promise<Ran> => docker('exec', c, 'dpkg-query', '-W');

interface Workdir {
  dir: string;
  spec: string;
  container: string;
}

async function writeSpec(container: string): Promise<Workdir> {
  const dir = await mkdtemp(join(tmpdir(), 'repro-bench-'));
  tempDirs.push(dir);
  const spec = join(dir, 'repro.yaml');
  const yaml = [
    'version: 1',
    'name: bench',
    'targets:',
    `  bench: {docker: {container: ${container}, image: "${IMAGE}"}}`,
    'os:',
    '  apt:',
    `    update_max_age: ${UPDATE_MAX_AGE}`,
    '    packages:',
    ...PACKAGES.map((p) => `      - ${p}`),
    '',
  ].join('\n');
  await writeFile(spec, yaml);
  return { dir, spec, container };
}

interface ReproRun extends Ran {
  execs: number;
}

async function repro(w: Workdir, ...args: string[]): Promise<ReproRun> {
  const env = { ...process.env, REPRO_STATS: '1', NO_COLOR: '1' };
  const r = await must(process.execPath, [CLI, '-f', w.spec, '--target', 'bench', ...args], {
    env,
  });
  const m = /repro: (\d+) exec round trips?/.exec(r.stderr);
  check(m !== null, `repro ${args[0]} printed no exec count with REPRO_STATS=1`);
  return { ...r, execs: Number(m![1]) };
}

async function installedSet(c: string): Promise<string> {
  const r = await docker(
    'exec',
    c,
    'dpkg-query',
    '-W',
    '-f',
    '${Package} ${Version} ${db:Status-Abbrev}\\n',
  );
  return r.stdout;
}

async function listsMtimes(c: string): Promise<string> {
  return (await docker('exec', c, 'sh', '-c', 'stat -c "%n %Y" /var/lib/apt/lists/*')).stdout;
}

// ---------------------------------------------------------------------------------------------
// The measurement

interface Row {
  step: string;
  seconds: number;
  floor?: number;
  execs?: number;
  target: string;
  pass?: boolean;
}

async function main(): Promise<number> {
  const prepared = await prepareImage();
  const installs: number[] = [];
  const converges: number[] = [];
  const convergeExecs: number[] = [];
  const batches: number[] = [];
  let converged: Workdir | undefined;

  for (let round = 0; round < ROUNDS; round++) {
    const floorC = await freshContainer(`floor${round}`);
    const reproC = await freshContainer(`repro${round}`);
    const w = await writeSpec(reproC);
    const listsBefore = await listsMtimes(reproC);
    const runFloor = async (): Promise<void> => {
      const r = await floorInstall(floorC);
      check(
        !/^Get:/m.test(r.stdout),
        'the floor install downloaded something; the image lacks some .debs',
      );
      installs.push(r.seconds);
    };
    const runRepro = async (): Promise<void> => {
      const r = await repro(w, 'apply', '--auto-approve');
      converges.push(r.seconds);
      convergeExecs.push(r.execs);
      // repro reports each manager batch's duration on stderr: `apt: done in 4.0s`.
      const batch = /^apt: done in ([0-9.]+)s/m.exec(r.stderr);
      batches.push(batch ? Number(batch[1]) : NaN);
    };
    if (round % 2 === 0) {
      await runFloor();
      await runRepro();
    } else {
      await runRepro();
      await runFloor();
    }
    check(
      (await installedSet(floorC)) === (await installedSet(reproC)),
      'floor and repro containers differ in installed packages after install',
    );
    check(
      (await listsMtimes(reproC)) === listsBefore,
      'repro touched the apt lists (it ran apt-get update)',
    );
    await removeContainer(floorC);
    if (converged === undefined) {
      converged = w;
    } else {
      await removeContainer(reproC);
      await rm(w.dir, { recursive: true, force: true });
    }
  }
  const w = converged!;

  const probes: number[] = [];
  for (let i = 0; i < SAMPLES; i++) probes.push((await probeFloor(w.container)).seconds);

  const plans: number[] = [];
  const planExecs: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const r = await repro(w, 'plan');
    check(r.stdout.includes('No changes.'), `no-op plan did not say "No changes.":\n${r.stdout}`);
    plans.push(r.seconds);
    planExecs.push(r.execs);
  }

  const statePath = join(w.dir, 'state', 'bench.json');
  const stateBefore = await readFile(statePath, 'utf8');
  const applies: number[] = [];
  const applyExecs: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const r = await repro(w, 'apply', '--auto-approve');
    applies.push(r.seconds);
    applyExecs.push(r.execs);
  }
  check(
    (await readFile(statePath, 'utf8')) === stateBefore,
    'a no-op apply changed the state file (it must stay byte-identical)',
  );

  await docker(
    'exec',
    w.container,
    'sh',
    '-c',
    `${APT_ENV} apt-get remove -y -q ${REMOVED.join(' ')}`,
  );
  const drifts: number[] = [];
  const driftExecs: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const r = await repro(w, 'drift');
    for (const p of REMOVED) {
      check(r.stdout.includes(`apt:${p}`), `drift did not name apt:${p}:\n${r.stdout}`);
    }
    drifts.push(r.seconds);
    driftExecs.push(r.execs);
  }

  const install = median(installs);
  const probe = median(probes);
  const plan = median(plans);
  const oneTrip = (xs: number[]): boolean => xs.every((n) => n === 1);
  const rows: Row[] = [
    { step: 'floor: docker exec apt-get install', seconds: install, target: '' },
    { step: 'floor: docker exec dpkg-query -W', seconds: probe, target: '' },
    {
      step: 'repro apply (converge)',
      seconds: median(converges),
      floor: install,
      execs: Math.max(...convergeExecs),
      target: '<= 1.15x',
      pass: median(converges) <= 1.15 * install,
    },
    {
      step: 'repro plan (no-op)',
      seconds: plan,
      floor: probe,
      execs: Math.max(...planExecs),
      target: '<= 0.6 s, <= 4x, 1 trip',
      pass: plan <= 0.6 && plan <= 4 * probe && oneTrip(planExecs),
    },
    {
      step: 'repro apply (no-op)',
      seconds: median(applies),
      floor: probe,
      execs: Math.max(...applyExecs),
      target: '1 trip',
      pass: oneTrip(applyExecs),
    },
    {
      step: `repro drift (${REMOVED.length} removed)`,
      seconds: median(drifts),
      floor: probe,
      execs: Math.max(...driftExecs),
      target: '1 trip',
      pass: oneTrip(driftExecs),
    },
  ];
  printReport(prepared, rows, { installs, converges, batches, probes, plans });
  return 0;
}

interface Samples {
  installs: number[];
  converges: number[];
  batches: number[];
  probes: number[];
  plans: number[];
}

function printReport(prepared: string, rows: readonly Row[], samples: Samples): void {
  const s = (xs: number[]): string => xs.map((x) => x.toFixed(2)).join(' ');
  const load = loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
  console.log(
    [
      `repro benchmark: ${PACKAGES.length} apt packages, .debs pre-downloaded into ${IMAGE}`,
      `  image:      ${prepared}; each container a fresh \`docker run --network none\` of it`,
      `  floors:     \`docker exec C sh -c 'apt-get install -y --no-install-recommends PKGS'\``,
      `              \`docker exec C dpkg-query -W\` on the converged container`,
      `  measured:   wall clock of the whole client process (docker CLI, or node + repro)`,
      `  converge:   median of ${ROUNDS} rounds, floor and repro on twin fresh containers,`,
      `              alternating which runs first; both end with identical dpkg status`,
      `  no-op/drift: median of ${SAMPLES} runs on one converged container; drift after`,
      `              \`apt-get remove ${REMOVED.join(' ')}\` out of band`,
      `  samples (s): install ${s(samples.installs)} | converge ${s(samples.converges)}` +
        ` (apt batch inside repro ${s(samples.batches)})`,
      `              per-round converge/install ${samples.converges
        .map((c, i) => `${(c / samples.installs[i]!).toFixed(2)}x`)
        .join(' ')}`,
      `              dpkg-query ${s(samples.probes)} | plan ${s(samples.plans)}`,
      `  host:       ${cpus().length} CPUs, load average ${load}`,
      '',
    ].join('\n'),
  );
  const table = [
    ['step', 'seconds', 'ratio', 'execs', 'target', 'result'],
    ...rows.map((r) => [
      r.step,
      r.seconds.toFixed(3),
      r.floor === undefined ? '' : `${(r.seconds / r.floor).toFixed(2)}x`,
      r.execs === undefined ? '' : String(r.execs),
      r.target,
      r.pass === undefined ? '(floor)' : r.pass ? 'PASS' : 'MISS',
    ]),
  ];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  for (const row of table) {
    console.log(
      row
        .map((cell, i) =>
          i === 1 || i === 2 || i === 3 ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!),
        )
        .join('  ')
        .trimEnd(),
    );
  }
}

async function cleanup(): Promise<void> {
  for (const name of [...created]) await removeContainer(name);
  for (const dir of tempDirs) await rm(dir, { recursive: true, force: true });
}

process.once('SIGINT', () => {
  void cleanup().finally(() => process.exit(130));
});

let code: number;
try {
  code = await main();
} catch (e) {
  console.error(
    `bench: ${e instanceof BenchError ? e.message : ((e as Error).stack ?? String(e))}`,
  );
  code = 1;
} finally {
  await cleanup();
}
process.exitCode = code;
