// Loads dockerode without paying for transports a local daemon does not use. dockerode eagerly
// requires docker-modem's ssh transport (ssh2) and its buildkit session (@grpc/grpc-js,
// @grpc/proto-loader): ~140 ms of every docker command's start-up, for features only
// `ssh://` daemons and image builds use. Those two internal modules are replaced, while
// dockerode loads, by functions that require the real module on first call, so behaviour is
// unchanged; if a dockerode upgrade moves the files, the paths simply do not match and
// everything loads eagerly as before.
import { createRequire } from 'node:module';
import Module from 'node:module';
import type Dockerode from 'dockerode';

type Loader = (request: string, parent: unknown, isMain: boolean) => unknown;
interface ModuleInternals {
  _load: Loader;
  _resolveFilename: (request: string, parent: unknown, isMain: boolean) => string;
}

export function loadDockerode(): typeof Dockerode {
  const require = createRequire(import.meta.url);
  const fromDockerode = createRequire(require.resolve('dockerode'));
  const lazy = new Set<string>();
  for (const [req, id] of [
    [fromDockerode, 'docker-modem/lib/ssh.js'],
    [require, 'dockerode/lib/session.js'],
  ] as const) {
    try {
      lazy.add(req.resolve(id));
    } catch {
      // Layout changed: load eagerly.
    }
  }
  const M = Module as unknown as ModuleInternals;
  const original = M._load;
  M._load = function (request, parent, isMain) {
    let filename: string | undefined;
    try {
      filename = M._resolveFilename(request, parent, isMain);
    } catch {
      // Let the real loader report it.
    }
    if (filename !== undefined && lazy.has(filename)) {
      return (...args: unknown[]) =>
        (original.call(M, request, parent, isMain) as (...a: unknown[]) => unknown)(...args);
    }
    return original.call(M, request, parent, isMain);
  };
  try {
    return require('dockerode') as typeof Dockerode;
  } finally {
    M._load = original;
  }
}
