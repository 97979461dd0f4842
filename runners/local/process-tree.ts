import { readdirSync, readFileSync } from 'node:fs';

/**
 * Every process below `root` on this host, found through /proc (parent pids). A probe runs each
 * test in a forked child with its own process group, so killing the group tsuite started is not
 * enough: the whole tree goes.
 */
export function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // it ended while we looked
    }
    // Field 4 is the parent pid; the command name (field 2) may hold spaces and parentheses.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const list = children.get(ppid) ?? [];
    list.push(Number(entry));
    children.set(ppid, list);
  }
  const found: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    for (const child of children.get(queue.shift()!) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

/**
 * Stops `root` and everything below it, synchronously (it also runs on the way out of the
 * process): the tree is frozen first so nothing forks while it is being killed.
 */
export function killTree(root: number): void {
  const send = (pid: number, sig: NodeJS.Signals) => {
    try {
      process.kill(pid, sig);
    } catch {
      // already gone
    }
  };
  send(root, 'SIGSTOP');
  const below = descendants(root);
  for (const pid of below) send(pid, 'SIGSTOP');
  for (const pid of [root, ...below]) send(pid, 'SIGKILL');
  // The group of the command itself, in case a member was missed between the scan and the kill.
  send(-root, 'SIGKILL');
}
