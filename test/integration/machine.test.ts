import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDisk } from '../../kernel/images/build-disk.js';
import { buildInitramfs, GUEST_MODULES } from '../../kernel/initramfs/build-initramfs.js';
import { resolveBoot } from '../../kernel/resolve-boot.js';
import { fetchDebianKernel, type DebianKernel } from '../../kernel/reference/debian-kernel.js';
import { fetchGuestAgent } from '../../kernel/reference/debian-guest-agent.js';
import { qemuRunner } from '../../runners/qemu/qemu-runner.js';
import { profileFor } from '../../runners/qemu/profiles/index.js';
import type { AgentClient } from '../../src/channels/agent.js';
import { resolveMachine, type MachineDef } from '../../src/core/machine.js';
import { createProgress } from '../../src/core/progress.js';
import { findTarget } from '../../src/core/target.js';
import type { RunResult } from '../../src/core/result.js';
import type { Session } from '../../src/core/session.js';
import { tempDir, tsuite } from './cli.js';
import { referenceRequest } from './reference-request.js';

/**
 * A Debian kernel on a machine given as data: q35, an AHCI disk, an e1000 NIC with a port forward,
 * a read-only 9p share, an extra -device and a raw QEMU argument. Debian's cloud kernel (the
 * reference) has neither AHCI nor e1000 (`# CONFIG_SATA_AHCI is not set`, `# CONFIG_E1000 is not
 * set`), so this boots Debian's generic kernel (linux-image-amd64, fetched and cached like the
 * reference) with the tsuite initramfs holding its ahci, sd_mod, e1000 and 9p modules. One boot
 * through the runner checks what the guest sees over the agent; one through the CLI, with the
 * machine given as flags, checks `sessions[].machine` in results.json.
 */

const quiet = createProgress(process.stderr, true);
const profile = profileFor('x86_64');
const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const DISK_MARKER = 'tsuite-ahci-disk-marker';
const SHARE_TEXT = 'hello from the host over 9p';

let kernel: DebianKernel;
let initrd: string;
let work: string;
let diskFile: string;
let writableFile: string;
let shareDir: string;

beforeAll(async () => {
  kernel = await fetchDebianKernel('linux-image-amd64', quiet);
  const agent = await fetchGuestAgent('x86_64', quiet);
  initrd = await buildInitramfs({
    modulesDir: kernel.modulesDir, release: kernel.release, busybox: profile.busybox, extraFiles: agent.files,
    modules: [...GUEST_MODULES, 'ahci', 'sd_mod', 'e1000', '9pnet_virtio', '9p'],
  }, quiet);
  work = tempDir('machine');
  diskFile = join(work, 'disk.img');
  const disk = Buffer.alloc(8 * 1024 * 1024);
  disk.write(DISK_MARKER, 0);
  writeFileSync(diskFile, disk);
  writableFile = join(work, 'writable.img');
  writeFileSync(writableFile, disk);
  shareDir = join(work, 'share');
  mkdirSync(shareDir);
  writeFileSync(join(shareDir, 'hello.txt'), SHARE_TEXT);
}, 300_000);

/** Runs a shell line in the guest; fails the test with its stderr when it exits non-zero. */
async function sh(agent: AgentClient, line: string): Promise<string> {
  const r = await agent.exec(['/bin/sh', '-c', line], { timeoutMs: 30_000 });
  expect(r.exitCode, `${line}: ${r.stderr.toString()}`).toBe(0);
  return r.stdout.toString().trim();
}

/** Connects to 127.0.0.1:port and returns everything the other end sends before closing. */
function readPort(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    const socket = connect(port, '127.0.0.1');
    socket.setEncoding('utf8').on('data', (d) => (data += d)).on('close', () => resolve(data)).on('error', reject);
    setTimeout(() => socket.destroy(), 10_000).unref();
  });
}

describe('q35 with an AHCI disk and an e1000 NIC (Debian generic kernel, machine from the config shape)', () => {
  let session: Session;
  let agent: AgentClient;
  let before: string;
  let writableBefore: string;

  beforeAll(async () => {
    before = sha256(diskFile);
    writableBefore = sha256(writableFile);
    const machine: MachineDef = {
      type: 'q35',
      // The second disk says writable: the one way the guest may write the user's file.
      drives: [{ file: diskFile, interface: 'ahci' }, { file: writableFile, interface: 'ahci', writable: true }],
      nics: [{ model: 'e1000', forwards: [{ guest: 7000 }] }],
      shares: [{ path: shareDir, tag: 'host0', readOnly: true }],
      devices: ['pci-testdev'],
      qemuArgs: ['-rtc', 'base=2020-02-02T02:02:02'],
    };
    const req = referenceRequest('machine-q35', 'x86_64', { kernel: kernel.vmlinuz, initrd, cmdline: profile.defaultCmdline }, {
      agent: true, memoryMb: 768, bootTimeoutMs: 120_000, machine: resolveMachine(machine, 'x86_64', profile.machine),
    });
    session = await qemuRunner.provision(req, new AbortController().signal);
    await session.settling;
    agent = session.agent!;
  }, 300_000);
  afterAll(async () => {
    await session?.[Symbol.asyncDispose]();
  });

  it('boots q35: the ICH9 host bridge and the AHCI controller the board has built in', async () => {
    expect(session.agentProblem).toBeUndefined();
    // 8086:29c0 is the q35 (ICH9/MCH) host bridge; pc's i440FX would be 8086:1237.
    expect(await sh(agent, 'cat /sys/bus/pci/devices/0000:00:00.0/device')).toBe('0x29c0');
  });

  it('sees the AHCI disk, driven by ahci, holding the file the host gave', async () => {
    const path = await sh(agent, 'readlink -f /sys/block/sda');
    expect(path).toMatch(/\/ata\d+\//);
    const controller = /\/(0000:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7])\/ata\d+\//.exec(path)![1]!;
    expect(await sh(agent, `basename "$(readlink /sys/bus/pci/devices/${controller}/driver)"`)).toBe('ahci');
    expect(await sh(agent, 'cat /sys/block/sda/size')).toBe(String((8 * 1024 * 1024) / 512));
    expect(await sh(agent, `dd if=/dev/sda bs=${DISK_MARKER.length} count=1 2>/dev/null`)).toBe(DISK_MARKER);
  });

  it('sees the e1000 NIC (8086:100e, driver e1000), and the forward reaches the guest', async () => {
    const nics = (await sh(agent, 'ls /sys/class/net')).split(/\s+/).filter((n) => n !== 'lo');
    expect(nics).toHaveLength(1);
    const nic = nics[0]!;
    expect(await sh(agent, `basename "$(readlink /sys/class/net/${nic}/device/driver)"`)).toBe('e1000');
    expect(await sh(agent, `cat /sys/class/net/${nic}/device/vendor /sys/class/net/${nic}/device/device`)).toBe('0x8086\n0x100e');
    // User-mode networking: the guest is 10.0.2.15; the host's forward lands on guest port 7000.
    await sh(agent, `ip link set ${nic} up && ip addr add 10.0.2.15/24 dev ${nic}`);
    await sh(agent, "setsid sh -c 'echo e1000-forward-ok | nc -l -p 7000' >/dev/null 2>&1 &");
    const host = session.machine!.nics[0]!.forwards[0]!.host!;
    let got = '';
    // QEMU accepts the connection before the guest listens (HOST-FACTS): retry until the guest answers.
    for (let i = 0; i < 20 && !got.includes('e1000-forward-ok'); i++) {
      got = await readPort(host).catch(() => '');
      if (!got) await new Promise((r) => setTimeout(r, 250));
    }
    expect(got.trim()).toBe('e1000-forward-ok');
  });

  it('mounts the 9p share read-only', async () => {
    await sh(agent, 'mkdir -p /mnt/host && mount -t 9p -o trans=virtio,version=9p2000.L host0 /mnt/host');
    expect(await sh(agent, 'cat /mnt/host/hello.txt')).toBe(SHARE_TEXT);
    const write = await agent.exec(['/bin/sh', '-c', 'echo x > /mnt/host/new.txt']);
    expect(write.exitCode).not.toBe(0);
    expect(write.stderr.toString()).toMatch(/read-only/i);
  });

  it('has the extra -device (pci-testdev, 1b36:0005) and the raw -rtc argument', async () => {
    const ids = await sh(agent, 'for d in /sys/bus/pci/devices/*; do echo "$(cat $d/vendor):$(cat $d/device)"; done');
    expect(ids.split('\n')).toContain('0x1b36:0x0005');
    // -rtc base=2020-02-02: the guest clock starts there.
    expect(await sh(agent, 'date -u +%Y-%m-%d')).toBe('2020-02-02');
  });

  it("writes to the disk go to a throwaway overlay: the host's file stays byte-identical (unless writable)", async () => {
    for (const dev of ['sda', 'sdb']) await sh(agent, `dd if=/dev/urandom of=/dev/${dev} bs=4096 count=64 conv=fsync 2>/dev/null && sync`);
    // The guest reads back what it wrote (the overlay works)...
    expect(await sh(agent, `dd if=/dev/sda bs=${DISK_MARKER.length} count=1 2>/dev/null | od -c | head -1`)).not.toContain('t   s   u   i   t   e');
    await session.shutdown('test done');
    // ...and the file on the host never changed, while the writable one did: the comparison can fail.
    expect(sha256(diskFile)).toBe(before);
    expect(sha256(writableFile)).not.toBe(writableBefore);
  });
});

describe('the same machine from flags, through the CLI: sessions[].machine in results.json', () => {
  let run: { code: number | null; stdout: string; stderr: string };
  let r: RunResult;
  let out: string;

  beforeAll(async () => {
    const config = join(work, 'tsuite.config.ts');
    writeFileSync(config, `export default { targets: { 'debian-generic': ${JSON.stringify({
      runner: 'qemu', arch: 'x86_64', kernel: kernel.vmlinuz, initrd, agent: true, memoryMb: 768, bootTimeoutMs: 120_000,
      landmark: 'tsuite-boot: ready', powerOffCommand: 'tsuite-poweroff',
    })} } };\n`);
    out = join(work, 'out');
    run = await tsuite('run', '--config', config, '--target', 'debian-generic', '--suite', 'boot', '--output-dir', out,
      '--machine', 'q35', '--drive', `file=${diskFile},if=ahci`, '--nic', 'e1000,fwd=7000', '--share', `${shareDir}=host0,readonly`,
      '--iommu', 'intel-iommu', '--append', 'intel_iommu=on no_timer_check', '--device', 'pci-testdev', '--qemu-arg=-rtc', '--qemu-arg=base=utc');
    r = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as RunResult;
  }, 300_000);

  it('boots and passes the boot suite', () => {
    expect(r.tests.filter((t) => t.status !== 'passed').map((t) => `${t.id}: ${t.status} ${t.error?.message ?? ''}`), run.stdout + run.stderr).toEqual([]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
  });

  it('records the machine: type, drive, NIC with its host port, share, IOMMU, extra device, raw args', () => {
    const machine = r.sessions[0]!.machine!;
    expect(machine).toMatchObject({
      type: 'q35',
      drives: [{ file: diskFile, interface: 'ahci', format: 'raw', media: 'disk', readOnly: false, writable: false, snapshot: true }],
      shares: [{ path: shareDir, tag: 'host0', readOnly: true }],
      iommu: 'intel-iommu',
      devices: ['pci-testdev'],
      qemuArgs: ['-rtc', 'base=utc'],
    });
    expect(machine.nics).toHaveLength(1);
    expect(machine.nics[0]).toMatchObject({ model: 'e1000', forwards: [{ guest: 7000, protocol: 'tcp', host: expect.any(Number) }] });
    // The console reporter says it in one line.
    expect(run.stdout).toMatch(/^ {2}machine: q35; drives: ahci disk\.img; nics: e1000 \(127\.0\.0\.1:\d+→7000\/tcp\); 9p: host0=.*\(ro\); iommu: intel-iommu; devices: pci-testdev; args: -rtc base=utc$/m);
  });

  it('the guest saw the emulated IOMMU', () => {
    const log = readFileSync(join(out, r.sessions[0]!.consoleLog), 'utf8');
    // Without intel-iommu the firmware has no DMAR table and the kernel prints no DMAR line at all.
    // Several lines, not one: early serial output under TCG sometimes doubles a character.
    expect(log.split('\n').filter((l) => /\bDMAR(-IR)?: /.test(l)).length, log.slice(-4000)).toBeGreaterThanOrEqual(3);
  });

  it('refuses a colliding --qemu-arg before booting, naming it and the fix', async () => {
    const bad = await tsuite('run', '--target', 'qemu-x86', '--suite', 'boot', '--output-dir', join(work, 'bad'), '--qemu-arg=-serial', '--qemu-arg=stdio');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('machine.qemuArgs[0]: -serial collides with what tsuite owns');
    expect(bad.stderr).toContain('remove -serial from qemuArgs');
  });

  it('refuses a drive file that does not exist, naming it, before booting', async () => {
    const missing = join(work, 'no-such-disk.img');
    const bad = await tsuite('run', '--target', 'qemu-x86', '--suite', 'boot', '--output-dir', join(work, 'bad2'), '--drive', `file=${missing},if=ide`);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(`machine.drives[0].file: ${missing} does not exist`);
  });
});

describe('a target with drives and no kernel boots from its drives', () => {
  it('under UEFI on q35, from an AHCI disk: every boot test passes and the disk is not written', async () => {
    // tsuite's GPT disk (kernel/images/build-disk.ts: GRUB for UEFI, the reference kernel and initramfs).
    const { boot } = await resolveBoot(findTarget('qemu-x86'), profile, quiet);
    const disk = await buildDisk({ kernel: boot.kernel, initrd: boot.initrd, append: 'tsuite.drive=1' }, quiet);
    const dir = tempDir('machine-drive-boot');
    const before = sha256(disk.path);
    writeFileSync(join(dir, 'tsuite.config.ts'), `export default { targets: { 'from-drives': ${JSON.stringify({
      runner: 'qemu', arch: 'x86_64', firmware: 'uefi', imageCmdline: disk.cmdline, powerOffCommand: 'tsuite-poweroff', bootTimeoutMs: 120_000,
      machine: { type: 'q35', drives: [{ file: disk.path, interface: 'ahci' }] },
    })} } };\n`);
    const run = await tsuite('run', '--config', join(dir, 'tsuite.config.ts'), '--target', 'from-drives', '--suite', 'boot', '--output-dir', join(dir, 'out'));
    const r = JSON.parse(readFileSync(join(dir, 'out', 'results.json'), 'utf8')) as RunResult;
    expect(r.tests.filter((t) => t.status !== 'passed').map((t) => `${t.id}: ${t.status}`), run.stdout + run.stderr).toEqual([]);
    expect(r.tests.length).toBeGreaterThanOrEqual(8);
    expect(r.run.kernel).toMatchObject({ path: disk.path, source: 'drives', cmdline: disk.cmdline });
    expect(r.sessions[0]!.machine).toMatchObject({ type: 'q35', drives: [{ file: disk.path, interface: 'ahci', snapshot: true }] });
    // OVMF's boot manager names what it booted: the SATA disk.
    expect(readFileSync(join(dir, 'out', r.sessions[0]!.consoleLog), 'utf8')).toMatch(/BdsDxe: starting Boot\d+ "UEFI QEMU HARDDISK/);
    expect(sha256(disk.path)).toBe(before);
  }, 300_000);
});
