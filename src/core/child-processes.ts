import type { ChildProcess } from 'node:child_process';

/**
 * Every long-lived child (QEMU) a run starts. Children run in their own process group so a
 * terminal's Ctrl-C reaches only tsuite, which then shuts them down in order; if tsuite itself
 * exits first, whatever is left is killed here, synchronously, on the way out.
 */
const live = new Set<ChildProcess>();

export function trackChild(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
}

process.once('exit', () => {
  for (const child of live) {
    try {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    } catch {
      child.kill('SIGKILL');
    }
  }
});
