import type { SessionRegistry } from '../local-registry.js';
import type { NodeFiles } from './node-files.js';

/**
 * containerd's per-registry settings (`config_path`: one folder per `host:port` holding hosts.toml,
 * the hosts.toml format of containerd's registry configuration): the plain registry over HTTP, the
 * TLS ones trusting tsuite's CA. Credentials are not here: CRI's PullImage carries them.
 */
export function hostsToml(server: string, caPath?: string): string {
  const lines = [`server = "${server}"`, '', `[host."${server}"]`, '  capabilities = ["pull", "resolve"]'];
  if (caPath) lines.push(`  ca = "${caPath}"`);
  return `${lines.join('\n')}\n`;
}

/** Writes hosts.toml (and the CA) for each of the session's registries under `dir` on the node; returns the folders written. */
export async function writeRegistryHosts(files: NodeFiles, dir: string, registry: SessionRegistry): Promise<string[]> {
  const written: string[] = [];
  for (const kind of ['plain', 'tls', 'auth'] as const) {
    const host = registry.hosts[kind];
    const folder = `${dir}/${host}`;
    const scheme = registry.registries.registries[kind].scheme;
    let ca: string | undefined;
    if (scheme === 'https') {
      ca = `${folder}/ca.crt`;
      await files.write(ca, registry.registries.ca.pem);
    }
    await files.write(`${folder}/hosts.toml`, hostsToml(`${scheme}://${host}`, ca));
    written.push(folder);
  }
  return written;
}
