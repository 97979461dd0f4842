/**
 * Docker endpoint addresses as DOCKER_HOST writes them, and the environment that points the real
 * docker CLI at one. Pure.
 */
import { UsageError } from '../core/errors.js';

/** Where an engine listens: a TCP address (plain or TLS) or a unix socket. */
export type DockerAddress = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; socketPath: string };

const FORMS = 'tcp://HOST:PORT or unix:///path/to/docker.sock';

/**
 * Parses `tcp://host:port`, `unix:///path` (and `http(s)://host:port`, which some tools write).
 * A TCP address without a port gets Docker's: 2376 with TLS, else 2375.
 */
export function parseDockerUrl(url: string, tls = false): DockerAddress {
  const fail = (why: string) => new UsageError(`Docker endpoint '${url}': ${why}`, `write it as ${FORMS} (as in DOCKER_HOST)`);
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
  if (scheme === 'unix') {
    const socketPath = url.slice('unix://'.length);
    if (!socketPath.startsWith('/')) throw fail('a unix socket needs an absolute path (unix:///path)');
    return { kind: 'unix', socketPath };
  }
  if (scheme !== 'tcp' && scheme !== 'http' && scheme !== 'https') {
    throw fail(scheme ? `the scheme '${scheme}://' is not supported` : 'no scheme');
  }
  let parsed: URL;
  try {
    // URL() knows default ports only for http(s); parse every form as http to read host and port.
    parsed = new URL(`http://${url.slice(scheme.length + 3)}`);
  } catch {
    throw fail('not a valid address');
  }
  if (!parsed.hostname) throw fail('no host');
  if (parsed.pathname !== '/' || parsed.search) throw fail('a path prefix is not supported');
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = parsed.port ? Number(parsed.port) : tls || scheme === 'https' ? 2376 : 2375;
  return { kind: 'tcp', host, port };
}

/** The address as DOCKER_HOST writes it: `tcp://host:port` (brackets for IPv6) or `unix:///path`. */
export function dockerHostString(addr: DockerAddress): string {
  if (addr.kind === 'unix') return `unix://${addr.socketPath}`;
  return `tcp://${addr.host.includes(':') ? `[${addr.host}]` : addr.host}:${addr.port}`;
}

/**
 * The environment for the docker CLI. Settings a caller's own environment may carry are blanked
 * for a plain endpoint (the CLI treats an empty DOCKER_TLS_VERIFY as off), so a merged env cannot
 * send TLS to a plain engine.
 */
export function dockerCliEnv(endpoint: { url: string; certPath?: string }, apiVersion: string): Record<string, string> {
  const tls = Boolean(endpoint.certPath);
  const env = { DOCKER_HOST: dockerHostString(parseDockerUrl(endpoint.url, tls)), DOCKER_API_VERSION: apiVersion };
  if (tls) return { ...env, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: endpoint.certPath! };
  return { ...env, DOCKER_TLS_VERIFY: '', DOCKER_TLS: '', DOCKER_CERT_PATH: '' };
}
