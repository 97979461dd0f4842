import { describe, expect, it } from 'vitest';
import { resolveTarget, type TargetFlags } from '../../src/cli/target-options.js';
import type { ResolvedConfig } from '../../src/config/define-config.js';
import { UsageError } from '../../src/core/errors.js';
import type { TargetDef } from '../../src/core/target.js';
import { BOOT_REPORT_READY } from '../../src/parsers/boot-report.js';
import { LINUX_EVENT_PATTERNS } from '../../src/parsers/kernel-events.js';

const config = (targets: Record<string, Partial<TargetDef>> = {}): ResolvedConfig => ({
  targets,
  suites: ['boot'],
  reporters: ['console'],
  outputDir: '/tmp/x',
  defaultTarget: 'qemu-x86',
  testTimeoutMs: 60000,
});

const usageError = (cfg: ResolvedConfig, flags: TargetFlags): UsageError => {
  try {
    resolveTarget(cfg, flags);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return err as UsageError;
  }
  throw new Error('expected a UsageError');
};

describe('resolveTarget defaults', () => {
  it('gives qemu-x86 with the reference kernel, the tsuite initramfs and its boot report', () => {
    const t = resolveTarget(config(), {});
    expect(t.name).toBe('qemu-x86');
    expect(t.def).toMatchObject({ runner: 'qemu', arch: 'x86_64', kernel: 'reference', initrd: 'tsuite', cpus: 2, memoryMb: 512, accel: 'auto' });
    expect(t.landmark).toBe(BOOT_REPORT_READY);
    expect(t.def.powerOffCommand).toBe('tsuite-poweroff');
    expect(t.eventPatterns.panic).toEqual(LINUX_EVENT_PATTERNS.panic);
    expect(t.eventPatterns.oops).toBe(LINUX_EVENT_PATTERNS.oops);
  });

  it('uses the config default target', () => {
    const cfg = { ...config({ mine: { runner: 'qemu', arch: 'x86_64', kernel: '/k', landmark: 'up' } }), defaultTarget: 'mine' };
    expect(resolveTarget(cfg, {}).name).toBe('mine');
    expect(resolveTarget(cfg, { target: 'qemu-x86' }).name).toBe('qemu-x86');
  });

  it('fails on an unknown target, listing qemu-x86', () => {
    const err = usageError(config(), { target: 'qemu-sparc' });
    expect(err.message).toContain('qemu-sparc');
    expect(err.fix).toContain('qemu-x86');
  });
});

describe('resolveTarget with the user kernel', () => {
  it('needs a landmark when the kernel has no tsuite initramfs', () => {
    const err = usageError(config(), { kernel: '/build/kernel.elf' });
    expect(err.fix).toContain('--landmark');
    expect(usageError(config(), { kernel: '/build/kernel.elf', initrd: '/build/initrd.img' }).fix).toContain('--landmark');
  });

  it('boots a bare kernel up to the given landmark, with no initrd and no power-off command', () => {
    const t = resolveTarget(config(), { kernel: 'x', landmark: 'Hello' });
    expect(t.def.kernel).toBe('x');
    expect(t.landmark).toEqual(/Hello/);
    expect(t.def.initrd).toBeUndefined();
    expect(t.def.powerOffCommand).toBeUndefined();
  });

  it('keeps the tsuite initramfs, its boot report and power-off command when asked for', () => {
    const t = resolveTarget(config(), { kernel: 'x', initrd: 'tsuite' });
    expect(t.def.kernel).toBe('x');
    expect(t.def.initrd).toBe('tsuite');
    expect(t.landmark).toBe(BOOT_REPORT_READY);
    expect(t.def.powerOffCommand).toBe('tsuite-poweroff');
  });

  it('leaves the built-in target untouched for later resolutions', () => {
    resolveTarget(config(), { kernel: 'x', landmark: 'Hello', memory: 2048 });
    const t = resolveTarget(config(), {});
    expect(t.def).toMatchObject({ kernel: 'reference', initrd: 'tsuite', memoryMb: 512, powerOffCommand: 'tsuite-poweroff' });
    expect(t.landmark).toBe(BOOT_REPORT_READY);
  });

  it('fails on a landmark that is not a valid regex', () => {
    const err = usageError(config(), { kernel: 'x', landmark: '([unclosed' });
    expect(err.message).toMatch(/landmark.*not a valid regular expression/);
  });
});

describe('resolveTarget overrides', () => {
  it('appends --append after a configured append', () => {
    expect(resolveTarget(config({ 'qemu-x86': { append: 'loglevel=7' } }), { append: 'quiet' }).def.append).toBe('loglevel=7 quiet');
    expect(resolveTarget(config(), { append: 'quiet' }).def.append).toBe('quiet');
    expect(resolveTarget(config({ 'qemu-x86': { append: 'loglevel=7' } }), {}).def.append).toBe('loglevel=7');
  });

  it('applies cpus, memory, boot timeout and accel flags', () => {
    const t = resolveTarget(config(), { cpus: 4, memory: 2048, bootTimeout: 120_000, accel: 'tcg' });
    expect(t.def).toMatchObject({ cpus: 4, memoryMb: 2048, bootTimeoutMs: 120_000, accel: 'tcg' });
  });

  it('rejects an unknown accelerator', () => {
    expect(usageError(config(), { accel: 'hvf' as TargetFlags['accel'] }).message).toContain('hvf');
  });

  it('applies a config override of a built-in target, and flags over it', () => {
    const cfg = config({ 'qemu-x86': { memoryMb: 1024 } });
    const t = resolveTarget(cfg, {});
    expect(t.def.memoryMb).toBe(1024);
    expect(t.def.kernel).toBe('reference');
    expect(t.def.cpus).toBe(2);
    expect(resolveTarget(cfg, { memory: 256 }).def.memoryMb).toBe(256);
  });

  it('adds configured panic patterns to the Linux ones', () => {
    const t = resolveTarget(config({ 'qemu-x86': { panicPatterns: ['PANIC: .*', 'fatal trap \\d+'] } }), {});
    expect(t.eventPatterns.panic).toHaveLength(LINUX_EVENT_PATTERNS.panic.length + 2);
    expect(t.eventPatterns.panic.slice(0, LINUX_EVENT_PATTERNS.panic.length)).toEqual(LINUX_EVENT_PATTERNS.panic);
    expect(t.eventPatterns.panic.some((re) => re.test('PANIC: double fault'))).toBe(true);
    expect(t.eventPatterns.panic.some((re) => re.test('fatal trap 12'))).toBe(true);
    expect(t.eventPatterns.panic.some((re) => re.test('Kernel panic - not syncing: x'))).toBe(true);
    // The shared Linux defaults are not changed by one target's additions.
    expect(LINUX_EVENT_PATTERNS.panic).toHaveLength(1);
  });

  it('takes a configured landmark for a configured bare kernel', () => {
    const t = resolveTarget(config({ hobby: { runner: 'qemu', arch: 'x86_64', kernel: '/k.elf', landmark: '\\[ready\\]' } }), { target: 'hobby' });
    expect(t.landmark.test('[ready]')).toBe(true);
    expect(t.landmark.test('ready')).toBe(false);
  });
});

describe('resolveTarget gaps a config leaves', () => {
  it('fills cpus, memory, accel and boot timeout of a configured target that omits them', () => {
    const t = resolveTarget(config({ mine: { runner: 'qemu', arch: 'x86_64', kernel: '/k.elf', landmark: 'up' } }), { target: 'mine' });
    expect(t.def).toMatchObject({ cpus: 2, memoryMb: 512, accel: 'auto', bootTimeoutMs: 60_000 });
  });

  it("drops the tsuite power-off command when --initrd replaces the tsuite initramfs", () => {
    const t = resolveTarget(config(), { initrd: '/my.img', landmark: 'up' });
    expect(t.def.kernel).toBe('reference');
    expect(t.def.powerOffCommand).toBeUndefined();
  });
});

describe('resolveTarget with an image', () => {
  it('boots the image instead of the reference kernel, keeping the boot report landmark and power-off', () => {
    const t = resolveTarget(config(), { image: 'boot.iso' });
    expect(t.def.image).toBe('boot.iso');
    expect(t.def.initrd).toBeUndefined();
    expect(t.def.append).toBeUndefined();
    expect(t.def.firmware).toBeUndefined();
    expect(t.landmark).toBe(BOOT_REPORT_READY);
    expect(t.def.powerOffCommand).toBe('tsuite-poweroff');
  });

  it('takes the firmware and the command line the image states', () => {
    const t = resolveTarget(config(), { image: 'disk.raw', firmware: 'bios', imageCmdline: 'BOOT_IMAGE=/vmlinuz console=ttyS0' });
    expect(t.def).toMatchObject({ image: 'disk.raw', firmware: 'bios', imageCmdline: 'BOOT_IMAGE=/vmlinuz console=ttyS0' });
  });

  it('names each kernel flag that conflicts with --image', () => {
    const err = usageError(config(), { image: 'boot.iso', kernel: 'bzImage', append: 'quiet' });
    expect(err.message).toContain('--image cannot be combined with --kernel, --append');
    expect(err.fix).toContain('--image-cmdline');
    expect(usageError(config(), { image: 'boot.iso', initrd: 'tsuite' }).message).toContain('--initrd');
  });

  it('rejects --firmware and --image-cmdline without an image', () => {
    expect(usageError(config(), { firmware: 'uefi' }).message).toMatch(/firmware.*only to image boots/);
    expect(usageError(config(), { kernel: 'x', initrd: 'tsuite', imageCmdline: 'a' }).message).toMatch(/imageCmdline.*only to image boots/);
    expect(usageError(config(), { image: 'boot.iso', firmware: 'coreboot' as TargetFlags['firmware'] }).message).toContain('coreboot');
  });

  it('drops the tsuite power-off command when the image has a landmark of its own', () => {
    const t = resolveTarget(config(), { image: 'boot.iso', landmark: 'login:' });
    expect(t.landmark).toEqual(/login:/);
    expect(t.def.powerOffCommand).toBeUndefined();
  });

  it('boots a configured image target, and --kernel boots a kernel on it instead', () => {
    const cfg = config({ img: { runner: 'qemu', arch: 'x86_64', image: '/i/disk.raw', firmware: 'uefi', imageCmdline: 'x=1', landmark: 'up' } });
    const t = resolveTarget(cfg, { target: 'img' });
    expect(t.def).toMatchObject({ image: '/i/disk.raw', firmware: 'uefi', imageCmdline: 'x=1' });
    const k = resolveTarget(cfg, { target: 'img', kernel: '/k.elf' });
    expect(k.def.kernel).toBe('/k.elf');
    expect(k.def.image).toBeUndefined();
    expect(k.def.firmware).toBeUndefined();
    expect(usageError(cfg, { target: 'img', append: 'quiet' }).message).toContain("boots an image");
  });

  it('rejects a configured target that sets both an image and kernel settings', () => {
    const err = usageError(config({ 'qemu-x86': { image: '/i/boot.iso', append: 'quiet' } }), {});
    expect(err.message).toContain('sets both image and append');
    expect(err.fix).toContain('targets.qemu-x86');
  });
});

describe('container targets', () => {
  it('qemu-x86-node boots the node rootfs with 2 GiB, the agent, and the Engine API on guest port 2375', () => {
    const t = resolveTarget(config(), { target: 'qemu-x86-node' });
    expect(t.def).toMatchObject({ runner: 'qemu', rootfs: 'node', memoryMb: 2048, agent: true, powerOffCommand: 'tsuite-poweroff' });
    expect(t.def.initrd).toBeUndefined();
    expect(t.def.docker?.port).toBe(2375);
    expect(t.landmark).toBe(BOOT_REPORT_READY);
  });

  it('the docker target takes its endpoint from the flag, then DOCKER_HOST, then the default socket', () => {
    expect(resolveTarget(config(), { target: 'docker', dockerHost: 'tcp://10.0.0.5:2375' }, {}).def.docker?.host).toBe('tcp://10.0.0.5:2375');
    expect(resolveTarget(config(), { target: 'docker' }, { DOCKER_HOST: 'tcp://h:1' }).def.docker?.host).toBe('tcp://h:1');
    expect(resolveTarget(config(), { target: 'docker' }, {}).def.docker?.host).toBe('unix:///var/run/docker.sock');
  });

  it('the docker target takes TLS client certs from DOCKER_TLS_VERIFY/DOCKER_CERT_PATH or --docker-cert-path', () => {
    const env = { DOCKER_HOST: 'tcp://h:2376', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/certs' };
    expect(resolveTarget(config(), { target: 'docker' }, env).def.docker).toMatchObject({ host: 'tcp://h:2376', certPath: '/certs' });
    expect(resolveTarget(config(), { target: 'docker' }, { ...env, DOCKER_TLS_VERIFY: '0' }).def.docker?.certPath).toBeUndefined();
    expect(resolveTarget(config(), { target: 'docker', dockerHost: 'tcp://x:1', dockerCertPath: '/mine' }, env).def.docker?.certPath).toBe('/mine');
  });

  it('rejects machine flags on the docker target and endpoint flags on a machine target', () => {
    expect(usageError(config(), { target: 'docker', kernel: '/k', memory: 1024 }).message).toMatch(/boots nothing.*--kernel, --memory/);
    expect(usageError(config(), { target: 'docker', dockerHost: 'http://x' }).message).toContain('neither tcp');
    expect(usageError(config(), { target: 'qemu-x86', dockerHost: 'tcp://x:1' }).fix).toContain('--target docker');
    expect(usageError(config(), { dockerCertPath: '/c' }).fix).toContain('--docker-port');
  });

  it('the cri target takes its endpoint from --cri-endpoint or the config, and refuses machine flags', () => {
    expect(resolveTarget(config(), { target: 'cri', criEndpoint: 'unix:///run/containerd/containerd.sock', criCertPath: '/tls' }, {}).def.cri)
      .toEqual({ endpoint: 'unix:///run/containerd/containerd.sock', certPath: '/tls' });
    expect(resolveTarget(config({ cri: { cri: { endpoint: 'tcp://10.1.2.3:10010', nodeAddress: '10.1.2.3' } } }), { target: 'cri' }, {}).def.cri)
      .toEqual({ endpoint: 'tcp://10.1.2.3:10010', nodeAddress: '10.1.2.3' });
    expect(usageError(config(), { target: 'cri' }).fix).toContain('--cri-endpoint');
    expect(usageError(config(), { target: 'cri', criEndpoint: 'tcp://host' }).message).toContain('needs a port');
    expect(usageError(config(), { target: 'cri', criEndpoint: 'unix:///s', kernel: '/k' }).message).toMatch(/boots nothing.*--kernel/);
    expect(usageError(config(), { target: 'qemu-x86-node', criEndpoint: 'unix:///s' }).fix).toContain('--target cri');
    expect(usageError(config(), { target: 'docker', criEndpoint: 'unix:///s' }).message).toContain('--cri-endpoint');
    expect(usageError(config(), { target: 'cri', criEndpoint: 'unix:///s', clock: 'instructions' }).fix).toContain('--clock time');
  });

  it("a user's kernel serving the Engine API on a guest port gets the docker channel there", () => {
    const t = resolveTarget(config(), { kernel: '/k.elf', landmark: 'up', dockerPort: 2376, dockerCertPath: '/c' });
    expect(t.def.docker).toEqual({ port: 2376, certPath: '/c' });
    expect(t.def.agent).toBe(false);
  });

  it('--container-images picks local or upstream images', () => {
    expect(resolveTarget(config(), { target: 'docker', containerImages: 'upstream' }, {}).def.containerImages).toBe('upstream');
    expect(usageError(config(), { containerImages: 'remote' as TargetFlags['containerImages'] }).message).toContain('local or upstream');
  });
});

describe('--clock on a target', () => {
  const withBench = (bench: Partial<ResolvedConfig['bench']>) => ({ ...config(), bench }) as ResolvedConfig;

  it('comes from the flag, else the config, else auto', () => {
    expect(resolveTarget(config(), {}).benchClock).toBe('auto');
    expect(resolveTarget(withBench({ clock: 'time' }), {}).benchClock).toBe('time');
    expect(resolveTarget(withBench({ clock: 'time' }), { clock: 'instructions' }).benchClock).toBe('instructions');
  });

  it('refuses instruction counting under KVM, and on an existing endpoint, before anything boots', () => {
    const kvm = usageError(config(), { clock: 'instructions', accel: 'kvm' });
    expect(kvm.message).toContain('needs TCG');
    expect(kvm.fix).toContain('--clock time');
    expect(usageError(config(), { target: 'docker', dockerHost: 'tcp://127.0.0.1:2375', clock: 'instructions' }).message).toContain('existing Docker endpoint');
    expect(resolveTarget(config(), { clock: 'time', accel: 'kvm' }).benchClock).toBe('time');
  });
});
