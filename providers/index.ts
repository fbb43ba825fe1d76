// The providers folder's public face. Providers load on demand: a command on a chroot target
// never loads dockerode, and a missing optional client only matters to the target that needs it.
import type { Provider, ProviderKind } from './types.js';

export type * from './types.js';
export type { Ec2Config } from './aws-ec2.js';
export type { ChrootConfig } from './chroot.js';
export type { DockerConfig } from './docker.js';
export type { LocalConfig } from './local.js';
export type { SshConfig } from './ssh.js';

export const PROVIDER_KINDS: readonly ProviderKind[] = [
  'local',
  'chroot',
  'docker',
  'ssh',
  'aws-ec2',
];

/**
 * The provider for `kind`. Its config type is checked by the spec schema, so it is `unknown` here;
 * provider methods are declared as methods, hence assignable to Provider<unknown>.
 */
export async function loadProvider(kind: ProviderKind): Promise<Provider<unknown>> {
  switch (kind) {
    case 'local':
      return (await import('./local.js')).localProvider as Provider<unknown>;
    case 'chroot':
      return (await import('./chroot.js')).chrootProvider as Provider<unknown>;
    case 'docker':
      return (await import('./docker.js')).dockerProvider as Provider<unknown>;
    case 'ssh':
      return (await import('./ssh.js')).sshProvider as Provider<unknown>;
    case 'aws-ec2':
      return (await import('./aws-ec2.js')).ec2Provider as Provider<unknown>;
  }
}
