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
import { createHash } from 'node:crypto';
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

async function imageLabel(ref: string, key: string = PACKAGES_LABEL): Promise<string | undefined> {
  const r = await run('docker', [
    'image',
    'inspect',
    '--format',
    `{{index .Config.Labels "${key}"}}`,
    ref,
  ]);
  return r.code === 0 ? r.stdout.trim() : undefined;
}

/**
 * Whether the cached `image` still holds what `wanted` describes (its `key` label) with apt lists
 * young enough that repro will not run apt-get update: the description to print when it does,
 * undefined (after saying why) when it must be rebuilt. A rebuild needs the test base image.
 */
async function cachedImage(
  image: string,
  key: string,
  wanted: string,
): Promise<string | undefined> {
  const label = await imageLabel(image, key);
  if (label === wanted) {
    const age = await listsAge(image);
    if (age < UPDATE_MAX_AGE_S - 86400) return `cached; apt lists ${fmtAge(age)} old`;
    console.error(`bench: ${image} has apt lists ${fmtAge(age)} old; rebuilding`);
  } else {
    console.error(
      label === undefined
        ? `bench: building ${image} (once)`
        : `bench: ${image} holds another package set; rebuilding`,
    );
  }
  if ((await imageLabel(BASE_IMAGE)) === undefined) {
    throw new BenchError(`base image ${BASE_IMAGE} is missing (the test setup builds it)`);
  }
  return undefined;
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
  const cached = await cachedImage(IMAGE, PACKAGES_LABEL, wanted);
  if (cached !== undefined) return cached;
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

async function freshContainer(role: string, image: string = IMAGE): Promise<string> {
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
    image,
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

/**
 * The converge rounds both benchmarks share: per round, twin fresh containers of `image`, the
 * floor and repro run in alternating order (so neither always gets the warmer cache), both must
 * end in the same state, and repro must not have run apt-get update. One converged repro
 * container is kept for the no-op measurements; the rest are removed.
 */
async function convergeRounds(o: {
  prefix: string;
  image: string;
  writeSpec: (container: string) => Promise<Workdir>;
  floor: (container: string) => Promise<void>;
  repro: (w: Workdir) => Promise<void>;
  state: (container: string) => Promise<string>;
}): Promise<Workdir> {
  let converged: Workdir | undefined;
  for (let round = 0; round < ROUNDS; round++) {
    const floorC = await freshContainer(`${o.prefix}floor${round}`, o.image);
    const reproC = await freshContainer(`${o.prefix}repro${round}`, o.image);
    const w = await o.writeSpec(reproC);
    const listsBefore = await listsMtimes(reproC);
    if (round % 2 === 0) {
      await o.floor(floorC);
      await o.repro(w);
    } else {
      await o.repro(w);
      await o.floor(floorC);
    }
    const floorState = await o.state(floorC);
    const reproState = await o.state(reproC);
    check(
      floorState === reproState,
      `floor and repro containers differ after install:\n--floor\n${floorState}\n--repro\n${reproState}`,
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
  return converged!;
}

/** SAMPLES runs of the raw listing floor and of a no-op `repro plan` (must say No changes.). */
async function sampleNoopPlans(
  w: Workdir,
  probeFloor: (container: string) => Promise<{ seconds: number }>,
): Promise<{ probes: number[]; plans: number[]; planExecs: number[] }> {
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
  return { probes, plans, planExecs };
}

async function main(): Promise<number> {
  const prepared = await prepareImage();
  const installs: number[] = [];
  const converges: number[] = [];
  const convergeExecs: number[] = [];
  const batches: number[] = [];
  const w = await convergeRounds({
    prefix: '',
    image: IMAGE,
    writeSpec,
    floor: async (floorC) => {
      const r = await floorInstall(floorC);
      check(
        !/^Get:/m.test(r.stdout),
        'the floor install downloaded something; the image lacks some .debs',
      );
      installs.push(r.seconds);
    },
    repro: async (w) => {
      const r = await repro(w, 'apply', '--auto-approve');
      converges.push(r.seconds);
      convergeExecs.push(r.execs);
      // repro reports each manager batch's duration on stderr: `apt: done in 4.0s`.
      const batch = /^apt: done in ([0-9.]+)s/m.exec(r.stderr);
      batches.push(batch ? Number(batch[1]) : NaN);
    },
    state: installedSet,
  });
  const { probes, plans, planExecs } = await sampleNoopPlans(w, probeFloor);

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
  await removeContainer(w.container);
  console.log('');
  await mixedBench();
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
  printTable(rows);
}

function printTable(rows: readonly Row[]): void {
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

// ---------------------------------------------------------------------------------------------
// Mixed managers: apt + pip (one venv, local wheels) + npm (global, from the npm cache)
//
// A second cached image, `repro-bench/bookworm:overlay`, carries python3, python3-venv, nodejs and
// npm installed, the apt lists and the .debs of MIX_APT, MIX_WHEELS tiny wheels in /wheels (built
// in the image with python's zipfile, like the pip e2e test builds its own) and MIX_NPM in npm's
// cache. Its npmrc (/etc/npmrc and /usr/local/etc/npmrc, read by the floor and by repro alike)
// says `offline=true`, so both install the npm packages from the cache with no network.

const MIX_IMAGE = 'repro-bench/bookworm:overlay';
const MIX_LABEL = 'org.repro.bench.mix';
/** Installed in the image: the managers' own tools, so neither side pays for them. */
const MIX_TOOLS = ['python3', 'python3-venv', 'nodejs', 'npm'] as const;
const MIX_APT = ['bc', 'dc', 'ed', 'entr', 'hexedit', 'jq', 'lz4', 'pv', 'tree', 'zip'] as const;
const MIX_WHEELS = Array.from({ length: 20 }, (_, i) => `rbwheel${String(i + 1).padStart(2, '0')}`);
const MIX_PIP = MIX_WHEELS.map((n) => `${n}==1.0`);
const MIX_NPM = [
  'is-number@7.0.0',
  'left-pad@1.3.0',
  'ms@2.1.3',
  'isarray@2.0.5',
  'inherits@2.0.4',
] as const;
const VENV = '/opt/venv';
const NPM_PREFIX = '/usr/local';
const NPM_CA = '/etc/ssl/repro-bench-ca.crt';

const WHEEL_PY = `
import base64, hashlib, os, sys, zipfile
os.makedirs('/wheels', exist_ok=True)
for name in sys.argv[1:]:
    ver = '1.0'
    di = f'{name}-{ver}.dist-info'
    files = {
        f'{name}/__init__.py': f"__version__ = '{ver}'\\n",
        f'{di}/METADATA': f'Metadata-Version: 2.1\\nName: {name}\\nVersion: {ver}\\n',
        f'{di}/WHEEL': 'Wheel-Version: 1.0\\nGenerator: repro-bench\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n',
    }
    rec = ''
    for p, t in files.items():
        d = base64.urlsafe_b64encode(hashlib.sha256(t.encode()).digest()).rstrip(b'=').decode()
        rec += f'{p},sha256={d},{len(t.encode())}\\n'
    files[f'{di}/RECORD'] = rec + f'{di}/RECORD,,\\n'
    with zipfile.ZipFile(f'/wheels/{name}-{ver}-py3-none-any.whl', 'w') as z:
        for p, t in files.items():
            z.writestr(p, t)
`;

/** The image label: a digest of what the image must carry (package lists hold `=` and `@`). */
const mixKey = (wanted: string): string =>
  createHash('sha256').update(wanted).digest('hex').slice(0, 16);

async function prepareMixImage(): Promise<string> {
  const wanted = [
    MIX_TOOLS.join(','),
    MIX_APT.join(','),
    MIX_PIP.join(','),
    MIX_NPM.join(','),
  ].join(';');
  const cached = await cachedImage(MIX_IMAGE, MIX_LABEL, mixKey(wanted));
  if (cached !== undefined) return cached;
  const name = `repro-test-bench-mixprep-${RUN_ID}`;
  const sh = (script: string): Promise<Ran> => docker('exec', name, 'sh', '-c', script);
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
    // Debian's ca-certificates (pulled in by npm) rebuilds the container's bundle without the
    // host's gateway CA: npm gets the host bundle as its cafile for the downloads here.
    await docker('cp', '/etc/ssl/certs/ca-certificates.crt', `${name}:${NPM_CA}`);
    await sh('apt-get update -q');
    await sh(
      `${APT_ENV} apt-get install -q -y --no-install-recommends ${MIX_TOOLS.join(' ')} && ` +
        `${APT_ENV} apt-get install -q -y --download-only --no-install-recommends ${MIX_APT.join(' ')}`,
    );
    const pre = await sh(
      `for p in ${MIX_APT.join(' ')}; do dpkg -s "$p" >/dev/null 2>&1 && echo "$p"; done; true`,
    );
    check(pre.stdout.trim() === '', `already installed in the image: ${pre.stdout.trim()}`);
    await docker('exec', name, 'python3', '-c', WHEEL_PY, ...MIX_WHEELS);
    const rc = `cafile=${NPM_CA}\\naudit=false\\nfund=false\\nupdate-notifier=false\\n`;
    await sh(
      `mkdir -p ${NPM_PREFIX}/etc && for f in /etc/npmrc ${NPM_PREFIX}/etc/npmrc; do printf '${rc}' > "$f"; done`,
    );
    await sh(`npm cache add ${MIX_NPM.join(' ')}`);
    await sh(
      `for f in /etc/npmrc ${NPM_PREFIX}/etc/npmrc; do printf 'offline=true\\n' >> "$f"; done`,
    );
    await docker(
      'commit',
      '--change',
      'LABEL repro-test=true',
      '--change',
      `LABEL ${MIX_LABEL}=${mixKey(wanted)}`,
      name,
      MIX_IMAGE,
    );
  } finally {
    await run('docker', ['rm', '-f', name]);
  }
  return `built now; apt lists ${fmtAge(await listsAge(MIX_IMAGE))} old`;
}

/** The floor: the same installs as one raw command per manager, one `docker exec` each. */
const MIX_FLOOR: readonly { manager: string; argv: readonly string[] }[] = [
  {
    manager: 'apt',
    argv: [
      'sh',
      '-c',
      `${APT_ENV} apt-get install -y --no-install-recommends ${MIX_APT.join(' ')}`,
    ],
  },
  {
    manager: 'pip',
    argv: [
      'sh',
      '-c',
      `python3 -m venv ${VENV} && ${VENV}/bin/python -m pip install --no-index --find-links /wheels ${MIX_PIP.join(' ')}`,
    ],
  },
  { manager: 'npm', argv: ['npm', 'install', '-g', '--prefix', NPM_PREFIX, ...MIX_NPM] },
];

/** The no-op floor: the three listings repro's probe needs, as one raw `docker exec`. */
const mixProbeFloor = (c: string): Promise<Ran> =>
  docker(
    'exec',
    c,
    'sh',
    '-c',
    `dpkg-query -W >/dev/null && ${VENV}/bin/python -m pip list --format=json ` +
      `--disable-pip-version-check >/dev/null && npm ls -g --prefix ${NPM_PREFIX} --json --long ` +
      '--depth=0 >/dev/null',
  );

/** What both sides must agree on: dpkg status, the venv's packages, npm's global packages. */
async function mixState(c: string): Promise<string> {
  const pip = await docker(
    'exec',
    c,
    `${VENV}/bin/python`,
    '-m',
    'pip',
    'list',
    '--format=freeze',
    '--disable-pip-version-check',
  );
  const npm = await docker('exec', c, 'npm', 'ls', '-g', '--prefix', NPM_PREFIX, '--depth=0');
  return `${await installedSet(c)}\n--pip\n${pip.stdout}\n--npm\n${npm.stdout}`;
}

async function writeMixSpec(container: string): Promise<Workdir> {
  const dir = await mkdtemp(join(tmpdir(), 'repro-bench-'));
  tempDirs.push(dir);
  const spec = join(dir, 'repro.yaml');
  const yaml = [
    'version: 1',
    'name: bench-mix',
    'targets:',
    `  bench: {docker: {container: ${container}, image: "${MIX_IMAGE}"}}`,
    'os:',
    '  apt:',
    `    update_max_age: ${UPDATE_MAX_AGE}`,
    `    packages: [${MIX_APT.join(', ')}]`,
    'pip:',
    `  - venv: ${VENV}`,
    '    find_links: [/wheels]',
    '    no_index: true',
    `    packages: [${MIX_PIP.join(', ')}]`,
    'npm:',
    `  - prefix: ${NPM_PREFIX}`,
    `    packages: [${MIX_NPM.map((p) => `'${p}'`).join(', ')}]`,
    '',
  ].join('\n');
  await writeFile(spec, yaml);
  return { dir, spec, container };
}

async function mixedBench(): Promise<void> {
  const prepared = await prepareMixImage();
  const floors: number[] = [];
  const perManager: number[][] = MIX_FLOOR.map(() => []);
  const converges: number[] = [];
  const convergeExecs: number[] = [];
  const batches: string[] = [];
  const w = await convergeRounds({
    prefix: 'mix',
    image: MIX_IMAGE,
    writeSpec: writeMixSpec,
    floor: async (floorC) => {
      let total = 0;
      for (const [i, step] of MIX_FLOOR.entries()) {
        const r = await docker('exec', floorC, ...step.argv);
        if (step.manager === 'apt') {
          check(!/^Get:/m.test(r.stdout), 'the floor apt install downloaded something');
        }
        perManager[i]!.push(r.seconds);
        total += r.seconds;
      }
      floors.push(total);
    },
    repro: async (w) => {
      const r = await repro(w, 'apply', '--auto-approve');
      converges.push(r.seconds);
      convergeExecs.push(r.execs);
      const done = [...r.stderr.matchAll(/^(\w+): done in ([0-9.]+)s/gm)];
      batches.push(done.map((m) => `${m[1]} ${m[2]}`).join(', '));
    },
    state: mixState,
  });
  const { probes, plans, planExecs } = await sampleNoopPlans(w, mixProbeFloor);

  const floor = median(floors);
  const probe = median(probes);
  const plan = median(plans);
  const rows: Row[] = [
    ...MIX_FLOOR.map((step, i) => ({
      step: `floor: docker exec ${step.manager} install`,
      seconds: median(perManager[i]!),
      target: '',
    })),
    { step: 'floor: sum of the three', seconds: floor, target: '' },
    { step: 'floor: one exec, three listings', seconds: probe, target: '' },
    {
      step: 'repro apply (converge)',
      seconds: median(converges),
      floor,
      execs: Math.max(...convergeExecs),
      target: '<= 1.15x',
      pass: median(converges) <= 1.15 * floor,
    },
    {
      step: 'repro plan (no-op)',
      seconds: plan,
      floor: probe,
      execs: Math.max(...planExecs),
      target: '1 trip',
      pass: planExecs.every((n) => n === 1),
    },
  ];
  const s = (xs: number[]): string => xs.map((x) => x.toFixed(2)).join(' ');
  console.log(
    [
      `repro benchmark, mixed: ${MIX_APT.length} apt + ${MIX_PIP.length} pip (venv ${VENV}, ` +
        `local wheels) + ${MIX_NPM.length} npm (global, npm cache, offline) in ${MIX_IMAGE}`,
      `  image:      ${prepared}; ${MIX_TOOLS.join(', ')} preinstalled; fresh --network none`,
      `  floor:      one \`docker exec\` per manager, in order: apt-get install; python3 -m venv`,
      `              + pip install --no-index --find-links /wheels; npm install -g --prefix`,
      `  converge:   median of ${ROUNDS} rounds on twin fresh containers, alternating which runs`,
      `              first; both end with identical dpkg status, pip list and npm ls -g`,
      `  samples (s): floor ${s(floors)} | converge ${s(converges)}`,
      `              per-round converge/floor ${converges
        .map((c, i) => `${(c / floors[i]!).toFixed(2)}x`)
        .join(' ')}`,
      ...MIX_FLOOR.map((step, i) => `              floor ${step.manager} ${s(perManager[i]!)}`),
      `              batches inside repro: ${batches.map((b) => `[${b}]`).join(' ')}`,
      `              probe floor ${s(probes)} | plan ${s(plans)}`,
      '',
    ].join('\n'),
  );
  printTable(rows);
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
