import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * One temp folder for everything a measurement script writes (each run's output dir, generated
 * suites, stamps): removed when the script ends, unless a run failed, when it is kept as the
 * evidence and named on stderr. Measuring must not fill /tmp with a folder per run.
 */
export function perfScratch(prefix: string): { dir: string; runDir(): string; keep(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  let kept = false;
  process.on('exit', () => {
    if (kept) process.stderr.write(`the runs' folders are kept in ${dir}\n`);
    else rmSync(dir, { recursive: true, force: true });
  });
  return {
    dir,
    runDir: () => mkdtempSync(join(dir, 'run-')),
    keep: () => {
      kept = true;
    },
  };
}
