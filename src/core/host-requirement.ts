import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { exec } from './exec.js';

/** Something the host must have, and the Debian package that provides it. */
export interface HostRequirement {
  what: string;
  debianPackage: string;
  present(): Promise<boolean>;
}

export function onPath(program: string): boolean {
  return pathOf(program) !== undefined;
}

/** Where `program` is found on PATH (the first directory that has it), as a shell would run it. */
export function pathOf(program: string): string | undefined {
  return (process.env.PATH ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, program)).find((p) => existsSync(p));
}

export const programRequirement = (what: string, program: string, debianPackage: string): HostRequirement => ({
  what: `${what} (${program})`,
  debianPackage,
  present: async () => onPath(program),
});

export const fileRequirement = (what: string, file: string, debianPackage: string): HostRequirement => ({
  what: `${what} (${file})`,
  debianPackage,
  present: async () => existsSync(file),
});

/** Installed as a Debian package, for files whose presence alone proves nothing (busybox static vs dynamic). */
export const packageRequirement = (what: string, debianPackage: string): HostRequirement => ({
  what,
  debianPackage,
  present: async () => {
    const r = await exec('dpkg-query', ['-W', '-f=${Status}', debianPackage]).catch(() => undefined);
    return r?.code === 0 && r.stdout.includes('install ok installed');
  },
});

export async function missingRequirements(reqs: readonly HostRequirement[]): Promise<HostRequirement[]> {
  const missing: HostRequirement[] = [];
  for (const r of reqs) if (!(await r.present())) missing.push(r);
  return missing;
}
