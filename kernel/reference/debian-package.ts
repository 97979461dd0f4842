import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { InfraError } from '../../src/core/errors.js';
import { execOk } from '../../src/core/exec.js';
import type { Progress } from '../../src/core/progress.js';

/** Extra apt options for a foreign architecture, so the host's dpkg architectures stay untouched. */
export type AptOptions = readonly string[];

const HOST_APT_FIX = 'run `npx tsuite setup` (it runs `apt-get update` when root), or `sudo apt-get update`';

/** The fix for an apt failure: foreign lists are tsuite's own, the host's are the admin's. */
export function aptFix(apt: AptOptions): string {
  const foreign = apt.map((o) => /^APT::Architecture=(.+)$/.exec(o)?.[1]).find(Boolean);
  if (!foreign) return HOST_APT_FIX;
  return `run \`npx tsuite setup --target <target>\` for the ${foreign} target (it fetches Debian's ${foreign} package lists ` +
    `into the tsuite cache); the host's apt sources must carry ${foreign} packages (deb.debian.org does)`;
}

/** A package's candidate record, the parts tsuite follows. */
export interface PackageRecord {
  version: string;
  /** Depends and Pre-Depends, first alternative of each, without version or arch qualifiers. */
  depends: string[];
}

/** The record in `apt-cache show` output, or undefined when it has none (a virtual or unknown name). */
export function parsePackageRecord(show: string): PackageRecord | undefined {
  const version = /^Version:\s*(\S+)/m.exec(show)?.[1];
  if (!version) return undefined;
  const fields = [...show.matchAll(/^(?:Pre-)?Depends:\s*(.*)$/gm)].map((m) => m[1]!);
  const depends = fields.flatMap((f) => f.split(',')).map((d) => d.split('|')[0]!.trim().split(/[\s(:]/)[0]!).filter(Boolean);
  return { version, depends };
}

/** `name`'s candidate record (what apt would download), or undefined for a virtual or unknown name. */
export async function showPackage(name: string, apt: AptOptions = []): Promise<PackageRecord | undefined> {
  const show = await execOk('apt-cache', [...apt, 'show', '--no-all-versions', name], { fix: aptFix(apt) }).catch(() => '');
  return parsePackageRecord(show);
}

/** The candidate version apt would download for `name`. */
export async function packageVersion(name: string, apt: AptOptions = []): Promise<string> {
  const record = await showPackage(name, apt);
  if (!record) throw new InfraError(`apt knows no package ${name}`, aptFix(apt));
  return record.version;
}

/**
 * Downloads `name=version` with `apt-get download` (apt's own mirrors, nothing hard-coded) into
 * `dir` and unpacks it into `dir/root`, deleting the .deb. Returns `dir/root`.
 */
export async function downloadAndUnpack(name: string, version: string, apt: AptOptions, dir: string, progress: Progress): Promise<string> {
  await progress.step(`Downloading ${name} ${version}`, () =>
    execOk('apt-get', [...apt, 'download', `${name}=${version}`], { cwd: dir, fix: aptFix(apt) }),
  );
  const deb = (await readdir(dir)).find((f) => f.endsWith('.deb'));
  if (!deb) throw new InfraError(`apt-get download of ${name} produced no .deb`, aptFix(apt));
  const root = join(dir, 'root');
  await progress.step(`Unpacking ${deb}`, () => execOk('dpkg-deb', ['-x', join(dir, deb), root]));
  await rm(join(dir, deb));
  return root;
}
