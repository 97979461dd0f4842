import type { CriTestContext } from './cri-test.js';
import type { NodeFiles } from './node-files.js';

/** What a test gets to mount host paths from: its own folder on the node, and the node's files. */
export interface NodeScratch {
  /** An absolute folder on the node, unique to the test (not yet created: writing a file into it does). */
  dir: string;
  files: NodeFiles;
  /** Registers an undo on the node (an unmount) run at the test's end, after its pods are gone, before `dir` is removed; latest first. */
  defer(undo: () => Promise<unknown>): void;
}

/**
 * Runs `work` with a scratch folder on the node for host-path mounts; skips when the node's files
 * are out of reach. At the end, pass or fail: the test's pods go first (their containers hold the
 * mounts), then the deferred undos, then the folder.
 */
export async function withNodeScratch(t: CriTestContext, work: (s: NodeScratch) => Promise<void>): Promise<void> {
  const files = t.fx.files;
  if ('missing' in files) return t.ctx.skip(files.missing);
  // Directly in /var/tmp, so nothing of it outlives the test (a shared parent would).
  const dir = `/var/tmp/tsuite-cri-${t.ctx.runId}-${t.scope.id}`;
  const undos: (() => Promise<unknown>)[] = [];
  let failed = false;
  try {
    await work({ dir, files, defer: (undo) => undos.unshift(undo) });
  } catch (err) {
    failed = true;
    throw err;
  } finally {
    // The wrapper removes the pods again and reports what it could not.
    await t.scope.dispose().catch(() => undefined);
    const problems: string[] = [];
    for (const undo of undos) await undo().catch((err: Error) => problems.push(err.message));
    // Removing a folder with a mount still in it would empty the mounted filesystem instead.
    if (problems.length === 0) await files.remove(dir);
    else problems.push(`${dir} was left on the node`);
    if (problems.length > 0 && !failed) throw new Error(`cleaning up on the node failed: ${problems.join('; ')}`);
  }
}
