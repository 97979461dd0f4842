/**
 * The configuration file of one CNCF distribution registry 2.8 (Debian's `docker-registry`), as
 * documented in its `configuration.md`: `docker-registry serve <file>` reads it once at start.
 */
import type * as Yaml from 'yaml';
import { lazyRequire } from '../../src/core/lazy-require.js';

// The YAML library loads when a YAML file is first read or written, not at every start-up.
const yaml = lazyRequire<typeof Yaml>('yaml');

export interface RegistryConfigRequest {
  /** `HOST:PORT` the registry listens on. */
  addr: string;
  /** Where it keeps blobs and manifests (the filesystem storage driver). */
  rootDirectory: string;
  /** Signs upload state handed to clients; random per start (without it the registry makes one and warns). */
  secret: string;
  /** Serve HTTPS with this certificate and key (PEM files). */
  tls?: { certificate: string; key: string };
  /** Basic auth against this htpasswd file (bcrypt entries only: the registry ignores any other hash). */
  htpasswd?: { realm: string; path: string };
}

/** Renders the YAML. Pure: the same request gives the same text. */
export function renderRegistryConfig(req: RegistryConfigRequest): string {
  const config = {
    // Required, and checked before the rest is parsed.
    version: 0.1,
    // info, never debug: the log is kept as evidence and must carry nothing secret.
    log: { level: 'info', formatter: 'text', fields: { service: 'tsuite-registry' } },
    storage: {
      filesystem: { rootdirectory: req.rootDirectory },
      // Tests re-push and delete; in-memory descriptors keep HEAD checks off the disk.
      cache: { blobdescriptor: 'inmemory' },
      delete: { enabled: true },
      // The registry would otherwise purge "stale" uploads on a timer of its own.
      maintenance: { uploadpurging: { enabled: false } },
    },
    http: {
      addr: req.addr,
      secret: req.secret,
      headers: { 'X-Content-Type-Options': ['nosniff'] },
      ...(req.tls && { tls: { certificate: req.tls.certificate, key: req.tls.key } }),
    },
    ...(req.htpasswd && { auth: { htpasswd: { realm: req.htpasswd.realm, path: req.htpasswd.path } } }),
  };
  return yaml().stringify(config);
}
