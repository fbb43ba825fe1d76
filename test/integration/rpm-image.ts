// The image the yum/dnf tests run on: the base image plus Debian's own rpm, dnf and createrepo-c,
// and a local RPM repository at file:///srv/repo holding packages built in the image with
// rpmbuild: tinyrpm 1.0-1 and 2.0-1 (2.0 requires tinydep), tinydep 1.0-1 (which also provides
// the virtual name tinyvirtual), tinyepoch 2:3.1-4, all
// noarch and signed with a key made in the image (public half at /srv/repo/RPM-GPG-KEY-repro-test;
// the private half is deleted). No RPM mirror is reachable here; Debian's dnf 4 works against such
// a repository.
//
// Built once and cached: the image carries the recipe's hash as a label (`repro-test.recipe`),
// and is rebuilt only when the recipe or the base image changes. It is labelled `repro-test=true`.
import { createHash } from 'node:crypto';
import { runProcess } from '../../providers/process.js';
import { BASE_IMAGE, startTestContainer, TEST_LABEL, uniqueName } from './helpers.js';

export const RPM_IMAGE = 'repro-test/rpm:dnf';

/** rpmbuild spec of one tiny noarch package that installs /usr/share/NAME/version. */
function rpmSpec(
  name: string,
  version: string,
  release: string,
  requires?: string,
  provides?: string,
): string {
  const epoch = /^([0-9]+):(.*)$/.exec(version);
  return [
    `Name: ${name}`,
    ...(epoch ? [`Epoch: ${epoch[1]}`] : []),
    `Version: ${epoch ? epoch[2] : version}`,
    `Release: ${release}`,
    `Summary: repro test package ${name}`,
    'License: MIT',
    'BuildArch: noarch',
    ...(requires ? [`Requires: ${requires}`] : []),
    ...(provides ? [`Provides: ${provides}`] : []),
    '%description',
    "Tiny package for repro's yum tests.",
    '%install',
    `mkdir -p %{buildroot}/usr/share/${name}`,
    `echo ${version}-${release} > %{buildroot}/usr/share/${name}/version`,
    '%files',
    `/usr/share/${name}/version`,
    '',
  ].join('\n');
}

const PACKAGES: [string, string, string, string?, string?][] = [
  ['tinyrpm', '1.0', '1'],
  ['tinyrpm', '2.0', '1', 'tinydep'],
  ['tinydep', '1.0', '1', undefined, 'tinyvirtual'],
  ['tinyepoch', '2:3.1', '4'],
];

export const RECIPE = [
  'set -e',
  'apt-get update -q >/dev/null',
  'DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends rpm dnf createrepo-c >/dev/null',
  'mkdir -p /tmp/rb /srv/repo',
  ...PACKAGES.map(
    ([n, v, r, req, prov]) =>
      `cat > /tmp/rb/${n}-${v}.spec <<'SPEC'\n${rpmSpec(n, v, r, req, prov)}SPEC\n` +
      `rpmbuild -bb --quiet --define '_topdir /tmp/rb/top' /tmp/rb/${n}-${v}.spec >/dev/null`,
  ),
  'export GNUPGHOME=/tmp/rb/gnupg',
  'mkdir -m 700 $GNUPGHOME',
  "gpg --batch --quiet --passphrase '' --quick-gen-key 'repro-test <repro-test@invalid>' rsa2048 sign never",
  'cp /tmp/rb/top/RPMS/noarch/*.rpm /srv/repo/',
  "rpmsign --addsign --define '_gpg_name repro-test' --define '__gpg /usr/bin/gpg' /srv/repo/*.rpm >/dev/null 2>&1",
  'gpg --armor --export repro-test > /srv/repo/RPM-GPG-KEY-repro-test',
  'createrepo_c -q /srv/repo',
  'rm -rf /tmp/rb',
  'apt-get clean',
].join('\n');

async function docker(args: string[], stdin?: string): Promise<string> {
  const r = await runProcess('docker', args, stdin === undefined ? {} : { stdin });
  if (r.exitCode !== 0) {
    throw new Error(`docker ${args.join(' ')} failed (${r.exitCode}): ${r.stderr.slice(-2000)}`);
  }
  return r.stdout.trim();
}

/** Builds RPM_IMAGE unless an image with this recipe exists; returns the recipe hash. */
export async function ensureRpmImage(): Promise<string> {
  const baseId = await docker(['image', 'inspect', '--format', '{{.Id}}', BASE_IMAGE]);
  const recipe = createHash('sha256').update(`${baseId}\n${RECIPE}`).digest('hex').slice(0, 16);
  const have = await runProcess('docker', [
    'image',
    'inspect',
    '--format',
    '{{index .Config.Labels "repro-test.recipe"}}',
    RPM_IMAGE,
  ]);
  if (have.exitCode === 0 && have.stdout.trim() === recipe) return recipe;
  // An image of an older recipe is replaced: remove it once the new one has the tag.
  const stale = await runProcess('docker', ['image', 'inspect', '--format', '{{.Id}}', RPM_IMAGE]);
  const name = uniqueName('repro-test-rpm-build');
  await startTestContainer(name);
  try {
    await docker(['exec', '-i', name, 'sh', '-s'], RECIPE);
    await docker([
      'commit',
      '--change',
      `LABEL ${TEST_LABEL}=true repro-test.recipe=${recipe}`,
      '--change',
      'CMD ["sleep", "infinity"]',
      name,
      RPM_IMAGE,
    ]);
  } finally {
    await runProcess('docker', ['rm', '-f', name]);
  }
  if (stale.exitCode === 0) await runProcess('docker', ['rmi', stale.stdout.trim()]);
  return recipe;
}
