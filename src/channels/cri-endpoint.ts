/**
 * CRI endpoint addresses as the kubelet's `--container-runtime-endpoint` writes them, turned into
 * gRPC targets, and the streaming URLs a runtime returns mapped to where this host reaches them. Pure.
 */
import { UsageError } from '../core/errors.js';

/** Where a runtime serves CRI: a unix socket, or TCP (plain, or TLS when the target gives certificates). */
export type CriAddress = { kind: 'unix'; socketPath: string } | { kind: 'tcp'; host: string; port: number };

const FORMS = 'unix:///run/containerd/containerd.sock or tcp://HOST:PORT';

/** Parses `unix:///path` (or a bare absolute path, as crictl accepts) and `tcp://host:port`. */
export function parseCriEndpoint(endpoint: string): CriAddress {
  const fail = (why: string) => new UsageError(`CRI endpoint '${endpoint}': ${why}`, `write it as ${FORMS}`);
  if (endpoint.startsWith('/')) return { kind: 'unix', socketPath: endpoint };
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(endpoint)?.[1]?.toLowerCase();
  if (scheme === 'unix') {
    const socketPath = endpoint.slice('unix://'.length);
    if (!socketPath.startsWith('/')) throw fail('a unix socket needs an absolute path (unix:///path)');
    return { kind: 'unix', socketPath };
  }
  if (scheme !== 'tcp') throw fail(scheme ? `the scheme '${scheme}://' is not supported` : 'no scheme');
  let url: URL;
  try {
    url = new URL(`http://${endpoint.slice('tcp://'.length)}`);
  } catch {
    throw fail('not a valid address');
  }
  if (!url.hostname) throw fail('no host');
  if (!url.port) throw fail('a TCP endpoint needs a port (CRI has no default port)');
  if (url.pathname !== '/' || url.search) throw fail('a path is not supported');
  return { kind: 'tcp', host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(url.port) };
}

/** The gRPC target for an address: `unix:///path` or `host:port` (brackets for IPv6). */
export function grpcTarget(addr: CriAddress): string {
  if (addr.kind === 'unix') return `unix://${addr.socketPath}`;
  return `${addr.host.includes(':') ? `[${addr.host}]` : addr.host}:${addr.port}`;
}

/**
 * Where this host reaches a streaming URL the runtime returned. A runtime behind QEMU's user-mode
 * network returns its own address (`http://10.0.2.15:10011/exec/<token>`); the port it names is
 * forwarded, so the URL is rewritten to the forward on 127.0.0.1. URLs on ports not in the map are
 * returned unchanged (a runtime on this host, or one that already returns a reachable address).
 */
export function rewriteStreamUrl(url: string, ports: ReadonlyMap<number, number> | undefined): string {
  if (!ports || ports.size === 0) return url;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return url;
  }
  const port = parsed.port ? Number(parsed.port) : parsed.protocol === 'https:' ? 443 : 80;
  const hostPort = ports.get(port);
  if (hostPort === undefined) return url;
  parsed.hostname = '127.0.0.1';
  parsed.port = String(hostPort);
  return parsed.toString();
}
