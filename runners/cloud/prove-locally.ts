import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { BootFailure } from '../../src/core/errors.js';
import { cacheDir } from '../../src/core/paths.js';
import { writeFileAtomic } from '../../src/core/write-file-atomic.js';
import type { ProvisionRequest } from '../../src/core/runner.js';
import type { CloudPackage } from '../../kernel/images/gce-package.js';
import { qemuRunner } from '../qemu/qemu-runner.js';
import type { CloudProvider } from './cloud-provider.js';
import type { LocalProof } from './provenance.js';

/**
 * A package is named by the hash of its bytes, so a proof holds for those bytes wherever they go:
 * it is kept beside the package (`<package>.proof.json`) and a later run uploading the same bytes
 * reuses it (recorded as such in cloud.json) instead of booting them again.
 */
const proofFile = (pkg: CloudPackage) => `${pkg.path}.proof.json`;

/**
 * Before anything is uploaded, the package's own bytes are unpacked and booted under QEMU with
 * OVMF to the landmark: a package that cannot boot here would only fail later, slower and at a
 * cost, on the provider. A failure is the kernel's or the package's (BootFailure), and nothing is
 * uploaded. The proof's console is kept in the session's `local-proof/` folder.
 */
export async function proveLocally(provider: CloudProvider, pkg: CloudPackage, req: ProvisionRequest, disk: { cmdline: string }, signal: AbortSignal): Promise<LocalProof> {
  const known = await readFile(proofFile(pkg), 'utf8').then((t) => JSON.parse(t) as LocalProof, () => undefined);
  if (known?.ok && known.packageSha256 === pkg.sha256) return { ...known, reused: true };
  const dir = join(req.dir, 'local-proof');
  const tmp = await mkdtemp(join(cacheDir(), 'cloud-proof-'));
  try {
    const raw = await provider.unpackImage(pkg, tmp);
    const session = await qemuRunner.provision({
      sessionId: `${req.sessionId}-local-proof`, dir, arch: req.arch, cpus: 1, memoryMb: Math.max(req.memoryMb, 512), accel: 'auto',
      boot: { kernel: '', image: raw, imageKind: 'raw', firmware: 'uefi', cmdline: disk.cmdline },
      landmark: req.landmark, bootTimeoutMs: Math.max(req.bootTimeoutMs, 120_000), eventPatterns: req.eventPatterns, powerOffCommand: req.powerOffCommand,
    }, signal);
    const proof: LocalProof = {
      ok: true, packageSha256: pkg.sha256, firmware: 'uefi', accel: session.accel, bootMs: session.bootMs, consoleLog: join(dir, 'console.log'), provedAt: new Date().toISOString(),
    };
    await session[Symbol.asyncDispose]();
    await writeFileAtomic(proofFile(pkg), `${JSON.stringify(proof, null, 2)}\n`);
    return proof;
  } catch (err) {
    if (err instanceof BootFailure) {
      throw new BootFailure(err.kind, `the package did not boot under QEMU with OVMF on this host, so nothing was uploaded: ${err.message}`, err.consoleTail, err.accel, err.exit);
    }
    throw err;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
