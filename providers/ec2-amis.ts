// Which machine image an `aws-ec2` target boots when the spec names a distribution and release
// instead of an AMI id. AMI ids differ per region and change with every point release, so repro
// does not ship a table of ids: it ships one table of (publisher account, image name pattern) per
// release and asks EC2 for the newest available image matching it (DescribeImages with an owner
// and a name filter, as Terraform's `aws_ami` data source is used for the same images). The id it
// found is recorded in the target's binding, so later runs keep using that exact image.
// Sources for the owners and name patterns:
// - Debian: https://wiki.debian.org/Cloud/AmazonEC2Image (account 136693071363 publishes the
//   official images, named `debian-<major>-<arch>-<date>-<build>`; the login user is `admin`);
// - Ubuntu: https://ubuntu.com/server/docs/cloud-images/amazon-ec2 (Canonical's account
//   099720109477, `ubuntu/images/hvm-ssd[-gp3]/ubuntu-<codename>-<version>-<arch>-server-<date>`;
//   the login user is `ubuntu`).
// Pure: no SDK here, so the table and its helpers are unit-tested without AWS.

export type Ec2Architecture = 'x86_64' | 'arm64';

export interface ImageSource {
  /** AWS account id of the publisher (DescribeImages `Owners`). */
  readonly owner: string;
  /** Who that account is, for messages. */
  readonly publisher: string;
  /** DescribeImages `name` filter for this release and architecture (`*` is a wildcard). */
  readonly namePattern: string;
  /** The login user of the image. */
  readonly user: string;
}

interface Release {
  readonly owner: string;
  readonly publisher: string;
  /** Name pattern with `{arch}` for the Debian architecture name (amd64, arm64). */
  readonly pattern: string;
}

const DEBIAN = { owner: '136693071363', publisher: 'Debian' };
const CANONICAL = { owner: '099720109477', publisher: 'Canonical' };

/** distribution → release (codename) → where its images come from. */
const RELEASES: Readonly<Record<string, Readonly<Record<string, Release>>>> = {
  debian: {
    bullseye: { ...DEBIAN, pattern: 'debian-11-{arch}-*' },
    bookworm: { ...DEBIAN, pattern: 'debian-12-{arch}-*' },
    trixie: { ...DEBIAN, pattern: 'debian-13-{arch}-*' },
  },
  ubuntu: {
    jammy: { ...CANONICAL, pattern: 'ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-{arch}-server-*' },
    noble: {
      ...CANONICAL,
      pattern: 'ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-{arch}-server-*',
    },
  },
};

const LOGIN_USERS: Readonly<Record<string, string>> = { debian: 'admin', ubuntu: 'ubuntu' };

/** The distributions and releases the table knows, as `debian/bookworm`, for messages. */
export function knownReleases(): string[] {
  return Object.entries(RELEASES).flatMap(([d, rs]) => Object.keys(rs).map((r) => `${d}/${r}`));
}

/** The login user of a distribution's official images (`admin` for Debian, `ubuntu`). */
export function defaultUser(distribution: string | undefined): string | undefined {
  return distribution === undefined ? undefined : LOGIN_USERS[distribution];
}

/**
 * Graviton (arm64) instance types have a `g` right after the generation digit of the family
 * (t4g, m7g, c7gn, x2gd, im4gn, g5g); everything else in EC2's catalogue is x86_64 (g4dn is not
 * Graviton: its `g` is the family letter).
 */
export function architectureOf(instanceType: string): Ec2Architecture {
  const family = instanceType.split('.')[0] ?? '';
  return /^[a-z]+\d+g[a-z0-9-]*$/.test(family) ? 'arm64' : 'x86_64';
}

/** Where the images of `distribution`/`release` for `arch` come from, or undefined if unknown. */
export function imageSourceFor(
  distribution: string,
  release: string,
  arch: Ec2Architecture,
): ImageSource | undefined {
  const r = RELEASES[distribution]?.[release];
  if (!r) return undefined;
  return {
    owner: r.owner,
    publisher: r.publisher,
    namePattern: r.pattern.replace('{arch}', arch === 'arm64' ? 'arm64' : 'amd64'),
    user: LOGIN_USERS[distribution] ?? 'root',
  };
}

export interface ImageSummary {
  readonly ImageId?: string;
  readonly Name?: string;
  readonly CreationDate?: string;
}

/**
 * The newest image: latest CreationDate (ISO 8601, so strings compare in time order), then the
 * greater name, then id, so the choice does not depend on the order EC2 returns them in.
 */
export function newestImage<T extends ImageSummary>(images: readonly T[]): T | undefined {
  let best: T | undefined;
  for (const img of images) {
    if (!img.ImageId) continue;
    if (!best || compareImages(img, best) > 0) best = img;
  }
  return best;
}

function compareImages(a: ImageSummary, b: ImageSummary): number {
  for (const k of ['CreationDate', 'Name', 'ImageId'] as const) {
    const x = a[k] ?? '';
    const y = b[k] ?? '';
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}
