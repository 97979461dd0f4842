import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InfraError } from '../../src/core/errors.js';
import { exec } from '../../src/core/exec.js';

/** The Debian release the container host is built from: its docker.io is Docker 20.10 (API 1.41). */
export const NODE_SUITE = 'bookworm';

/**
 * What the container host holds beyond the `apt` variant (Essential packages and apt): the engine
 * (docker.io brings containerd, runc, tini, iptables), AppArmor (docker.io recommends it and the
 * cloud kernel enables it: without apparmor_parser every `docker run` fails), the guest agent, the
 * CNI plugins containerd's CRI plugin gives pods their network with, the tools the node init uses,
 * and OpenSSH's server (with its SFTP server): the machine an `ssh` target logs in to, as a real
 * Debian box would be reached, its host key made fresh at each boot by the init.
 */
export const NODE_PACKAGES: readonly string[] = Object.freeze([
  'docker.io', 'apparmor', 'iptables', 'iproute2', 'kmod', 'procps', 'mount', 'util-linux',
  'qemu-guest-agent', 'busybox', 'ca-certificates', 'curl', 'containernetworking-plugins', 'openssh-server',
]);

const APT_FIX = 'run `npx tsuite setup` (it runs `apt-get update` when root), or `sudo apt-get update`';

/**
 * The host's apt source files that carry `suite` (one-line `.list` or deb822 `.sources`): the
 * rootfs is built from the same mirror the host uses, so it works wherever the host's apt works.
 */
export async function hostSuiteSources(suite = NODE_SUITE, etc = '/etc/apt'): Promise<string[]> {
  const candidates = [join(etc, 'sources.list')];
  const dir = join(etc, 'sources.list.d');
  if (existsSync(dir)) for (const f of (await readdir(dir)).sort()) if (/\.(list|sources)$/.test(f)) candidates.push(join(dir, f));
  const oneLine = new RegExp(`^\\s*deb\\s+(\\[[^\\]]*\\]\\s+)?\\S+\\s+${suite}(\\s|$)`, 'm');
  const deb822 = new RegExp(`^Suites:(.*\\s)?${suite}(\\s|$)`, 'im');
  const found: string[] = [];
  for (const file of candidates) {
    const text = await readFile(file, 'utf8').catch(() => '');
    if (oneLine.test(text) || deb822.test(text)) found.push(file);
  }
  if (found.length === 0) {
    throw new InfraError(`the host's apt sources (${etc}/sources.list, ${dir}) carry no '${suite}' entry: the container host rootfs is built from them`,
      `add a ${suite} source (e.g. \`deb http://deb.debian.org/debian ${suite} main\` plus ${suite}-updates and ${suite}-security) and run \`apt-get update\``);
  }
  return found;
}

/** `Inst name (version ...)` lines of an `apt-get -s` run → sorted `name=version`. */
export function parseSimulatedInstalls(output: string): string[] {
  const out: string[] = [];
  for (const m of output.matchAll(/^Inst (\S+) \((\S+)/gm)) out.push(`${m[1]!.replace(/:[a-z0-9]+$/, '')}=${m[2]}`);
  return out.sort();
}

/**
 * Every package (with its version) a fresh rootfs of `packages` would hold, as apt resolves them
 * today from the host's lists: `apt-get -s` against an empty dpkg status, with the Essential set
 * that mmdebstrap's `apt` variant starts from. The rootfs cache key is built from this, so a
 * security update of any package in it (libc included) means a new rootfs. The answer is kept
 * per state of the host's lists (their names, sizes and times), since apt takes ~3 s to find it.
 */
export async function resolveNodePackages(packages: readonly string[], memoDir: string, lists = '/var/lib/apt/lists'): Promise<string[]> {
  const stamp = createHash('sha256').update(packages.join(','));
  for (const f of existsSync(lists) ? (await readdir(lists)).sort() : []) {
    const s = await stat(join(lists, f)).catch(() => undefined);
    if (s?.isFile()) stamp.update(`${f}\0${s.size}\0${s.mtimeMs}\n`);
  }
  const memo = join(memoDir, `${stamp.digest('hex').slice(0, 24)}.txt`);
  const known = await readFile(memo, 'utf8').catch(() => undefined);
  if (known) return known.split('\n').filter(Boolean);

  const r = await exec('apt-get', ['-s', '-o', 'Dir::State::status=/dev/null', '-o', 'APT::Install-Recommends=false',
    'install', '?essential', 'apt', ...packages]);
  const resolved = parseSimulatedInstalls(r.stdout);
  if (r.code !== 0 || resolved.length === 0) {
    const why = r.stderr.trim().split('\n').slice(-3).join('; ') || 'no packages resolved';
    throw new InfraError(`apt cannot resolve the container host's packages (${packages.join(', ')}): ${why}`, APT_FIX);
  }
  await mkdir(memoDir, { recursive: true });
  await writeFile(memo, resolved.join('\n') + '\n');
  return resolved;
}
