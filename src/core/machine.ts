import { existsSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { UsageError } from './errors.js';
import { hostDeviceProblems } from './machine-host-devices.js';
import { normalizePciAddress } from './pci-address.js';

/**
 * A target's machine as data: machine type, drives, NICs, 9p shares, IOMMU, extra devices and raw
 * arguments. The QEMU runner turns it into arguments (runners/qemu/machine-args.ts); the resolved
 * form is recorded in results.json (`sessions[].machine`). Everything here is pure.
 */
export interface MachineDef {
  /** `pc`, `q35`, `microvm` on x86_64; `virt` on aarch64. Default: the arch profile's machine. */
  type?: string;
  drives?: DriveDef[];
  nics?: NicDef[];
  /** Host folders shared with the guest over 9p (virtio-9p, fsdev `local`). */
  shares?: ShareDef[];
  /** `intel-iommu` (q35 only, with interrupt remapping) or `virtio-iommu`. */
  iommu?: IommuKind;
  /** Extra `-device` values, verbatim. */
  devices?: string[];
  /**
   * Host PCI functions passed through to the guest with VFIO (`-device vfio-pci,host=<address>`),
   * e.g. `0000:01:00.0`. Each must be bound to vfio-pci on the host, its whole IOMMU group too
   * (checked before boot: runners/qemu/vfio-host.ts). On x86_64 they need q35 (PCIe).
   */
  hostDevices?: string[];
  /** Raw arguments appended last; refused where they collide with what tsuite owns (OWNED_QEMU_ARGS). */
  qemuArgs?: string[];
}

export const DRIVE_INTERFACES = ['ide', 'ahci', 'virtio', 'nvme', 'scsi', 'usb', 'floppy', 'sd'] as const;
export type DriveInterface = (typeof DRIVE_INTERFACES)[number];
export const DRIVE_FORMATS = ['raw', 'qcow2', 'vmdk', 'vdi', 'vpc', 'vhdx'] as const;
export type DriveFormat = (typeof DRIVE_FORMATS)[number];
export const DRIVE_MEDIA = ['disk', 'cdrom'] as const;
export const NIC_MODELS = ['virtio-net', 'e1000', 'e1000e', 'rtl8139', 'ne2k_pci', 'pcnet', 'i82559er', 'vmxnet3', 'none'] as const;
export type NicModel = (typeof NIC_MODELS)[number];
export const IOMMU_KINDS = ['intel-iommu', 'virtio-iommu'] as const;
export type IommuKind = (typeof IOMMU_KINDS)[number];

export interface DriveDef {
  file: string;
  /**
   * The controller the guest sees: `ide` (the pc board's legacy PIIX IDE), `ahci` (SATA: q35's own
   * controller, an added ich9-ahci elsewhere), `virtio` (virtio-blk), `nvme`, `scsi` (virtio-scsi),
   * `usb` (usb-storage on an xHCI controller), `floppy` (pc only), `sd` (an SD card on SDHCI).
   */
  interface: DriveInterface;
  /** Default `raw`. */
  format?: DriveFormat;
  /** Default `disk`; a `cdrom` is read-only. */
  media?: 'disk' | 'cdrom';
  /** The guest sees a read-only device. */
  readOnly?: boolean;
  /** The only way the user's file is written; otherwise the guest writes to a throwaway overlay (snapshot=on). */
  writable?: boolean;
  /** The firmware's boot order (`bootindex`); lower boots first. */
  bootIndex?: number;
}

export interface NicForward {
  guest: number;
  /** Host port on 127.0.0.1; omitted: a free port, chosen at boot and recorded. */
  host?: number;
  protocol?: 'tcp' | 'udp';
}

export interface NicDef {
  /** The emulated card; `none` means the machine has no network at all. */
  model: NicModel;
  /** User-mode networking (slirp) forwards from 127.0.0.1 to the guest. */
  forwards?: NicForward[];
}

export interface ShareDef {
  path: string;
  /** The 9p mount tag the guest mounts (`mount -t 9p -o trans=virtio TAG /mnt`). */
  tag: string;
  readOnly?: boolean;
}

/** A drive as booted and recorded. `role` marks the drives tsuite itself attaches for `image` and `rootfs`. */
export interface ResolvedDrive {
  file: string;
  interface: DriveInterface;
  format: DriveFormat;
  media: 'disk' | 'cdrom';
  readOnly: boolean;
  writable: boolean;
  /** The guest's writes go to a throwaway overlay: the file is never written. */
  snapshot: boolean;
  bootIndex?: number;
  role?: 'image' | 'rootfs';
}

export interface ResolvedForward {
  guest: number;
  /** Set once the machine boots (a free port when the config left it out). */
  host?: number;
  protocol: 'tcp' | 'udp';
}

export interface ResolvedNic {
  model: Exclude<NicModel, 'none'>;
  forwards: ResolvedForward[];
}

/** The machine with every default filled in: what the runner boots and results.json records. */
export interface ResolvedMachine {
  type: string;
  drives: ResolvedDrive[];
  nics: ResolvedNic[];
  /** `nics: [{ model: 'none' }]`: no network at all, not even for tsuite's own forwards. */
  noNetwork?: boolean;
  shares: Required<ShareDef>[];
  iommu?: IommuKind;
  devices: string[];
  /** Host PCI functions passed through with vfio-pci, in full form (`0000:01:00.0`); absent in results written before it existed. */
  hostDevices?: string[];
  qemuArgs: string[];
}

/** The machine types tsuite knows per arch; the first is the arch profile's default (a unit test holds them equal). */
export const MACHINE_TYPES: Readonly<Record<string, readonly string[]>> = Object.freeze({
  x86_64: ['pc', 'q35', 'microvm'],
  aarch64: ['virt'],
});

/**
 * The drive interfaces each machine type can have. q35's disk controller is AHCI (no legacy IDE,
 * no floppy controller); microvm has no PCI, so only virtio-mmio; aarch64 virt has PCIe but no ISA.
 */
export const MACHINE_INTERFACES: Readonly<Record<string, readonly DriveInterface[]>> = Object.freeze({
  pc: ['ide', 'ahci', 'virtio', 'nvme', 'scsi', 'usb', 'floppy', 'sd'],
  q35: ['ahci', 'virtio', 'nvme', 'scsi', 'usb', 'sd'],
  microvm: ['virtio'],
  virt: ['ahci', 'virtio', 'nvme', 'scsi', 'usb', 'sd'],
});

/** The pc board's PIIX IDE has two buses of two units; its floppy controller two drives. */
export const IDE_SLOTS = 4;
export const FLOPPY_SLOTS = 2;

/**
 * Arguments tsuite sets itself (console, monitor/QMP, exit device, accelerator, kernel, firmware,
 * memory, CPUs): a `qemuArgs` entry naming one is refused, with the field that sets it instead.
 */
export const OWNED_QEMU_ARGS: Readonly<Record<string, string>> = Object.freeze({
  '-serial': 'tsuite owns the first serial port (the console): add another UART with devices instead',
  '-monitor': 'tsuite talks to QEMU over QMP; a monitor would take the console',
  '-qmp': 'tsuite owns the QMP socket',
  '-qmp-pretty': 'tsuite owns the QMP socket',
  '-mon': 'tsuite owns the QMP socket',
  '-nographic': 'tsuite sets -display none and owns the console',
  '-display': 'tsuite runs headless (-display none)',
  '-vga': 'tsuite runs headless; add a display device with devices if the kernel needs one',
  '-daemonize': 'tsuite runs QEMU in the foreground to read its console and exit status',
  '-pidfile': 'tsuite tracks the QEMU process itself',
  '-no-reboot': 'tsuite already sets -no-reboot (a reset ends the machine)',
  '-no-shutdown': 'tsuite needs QEMU to exit when the guest powers off',
  '-nodefaults': 'tsuite already sets -nodefaults',
  '-defaults': 'tsuite starts from -nodefaults',
  '-no-user-config': 'tsuite already sets -no-user-config',
  '-readconfig': 'a config file could redefine what tsuite owns: give the options as machine fields',
  '-M': 'use machine.type (--machine)',
  '-machine': 'use machine.type (--machine)',
  '-accel': 'use accel (--accel)',
  '-enable-kvm': 'use accel (--accel kvm)',
  '-cpu': 'tsuite picks the CPU model per accelerator',
  '-smp': 'use cpus (--cpus)',
  '-icount': 'use --clock instructions (the bench clock)',
  '-m': 'use memoryMb (--memory)',
  '-kernel': 'use kernel (--kernel)',
  '-initrd': 'use initrd (--initrd)',
  '-append': 'use append (--append)',
  '-bios': 'use firmware (--firmware)',
  '-S': 'tsuite needs the machine to start at once',
  '-snapshot': 'drives are snapshot=on unless writable: set writable per drive',
});

/** Chardev ids tsuite uses; an extra -chardev with one of them would replace the console or the agent port. */
export const OWNED_CHARDEV_IDS: readonly string[] = ['console0', 'qga0'];
/** Devices tsuite places itself: the exit device. */
export const OWNED_DEVICES: readonly string[] = ['isa-debug-exit'];

export interface MachineProblem {
  /** Relative to the machine, e.g. `drives[1].interface`. */
  path: string;
  message: string;
  fix: string;
}

const list = (values: readonly string[]) => values.map((v) => `'${v}'`).join(', ');
/** The driver name of a `-device` value (`edu,addr=0x8` → `edu`). */
export const deviceDriver = (value: string) => value.split(',')[0]!.trim();

/**
 * The machine type: the target's, else q35 where intel-iommu or host devices ask for it (intel-iommu
 * exists on q35 only; a passed-through device wants PCIe), else the arch profile's.
 */
function machineType(machine: MachineDef, arch: string, profileMachine: string | undefined): string {
  if (machine.type !== undefined) return machine.type;
  const wantsQ35 = machine.iommu === 'intel-iommu' || (machine.hostDevices?.length ?? 0) > 0;
  return wantsQ35 && arch === 'x86_64' ? 'q35' : profileMachine ?? MACHINE_TYPES[arch]?.[0] ?? '';
}

/** Every problem with a machine for an arch (types checked by the schema first): empty = valid. */
export function machineProblems(machine: MachineDef, arch: string, profileMachine?: string): MachineProblem[] {
  const problems: MachineProblem[] = [];
  const types = MACHINE_TYPES[arch] ?? [];
  const type = machineType(machine, arch, profileMachine ?? types[0]);
  if (machine.type !== undefined && types.length > 0 && !types.includes(machine.type)) {
    problems.push({ path: 'type', message: `'${machine.type}' is not a machine type tsuite offers on ${arch}`, fix: `use one of: ${list(types)} (default: ${profileMachine ?? types[0]})` });
  }
  const interfaces = (type && MACHINE_INTERFACES[type]) || [];
  const drives = machine.drives ?? [];
  drives.forEach((d, i) => {
    const at = (f: string) => `drives[${i}].${f}`;
    if (type && MACHINE_INTERFACES[type] && !interfaces.includes(d.interface)) {
      const why = d.interface === 'ide' && type === 'q35' ? "q35's disk controller is AHCI; it has no legacy IDE" : `the ${type} machine has no ${d.interface} controller`;
      problems.push({ path: at('interface'), message: `${why}`, fix: `use one of: ${list(interfaces)}${d.interface === 'ide' || d.interface === 'floppy' ? ", or machine type 'pc'" : ''}` });
    }
    const cdrom = d.media === 'cdrom';
    if (cdrom && !['ide', 'ahci', 'scsi', 'usb'].includes(d.interface)) {
      problems.push({ path: at('media'), message: `a ${d.interface} drive cannot be a CD-ROM`, fix: "use interface 'ide', 'ahci', 'scsi' or 'usb' for a CD-ROM" });
    }
    if (d.readOnly && d.writable) {
      problems.push({ path: at('writable'), message: 'a drive cannot be both readOnly and writable', fix: 'drop one: readOnly for a read-only device, writable to let the guest write your file' });
    }
    if (cdrom && d.writable) {
      problems.push({ path: at('writable'), message: 'a CD-ROM is never written', fix: "drop writable, or use media: 'disk'" });
    }
    if (d.readOnly && !cdrom && ['ide', 'ahci', 'sd'].includes(d.interface)) {
      problems.push({ path: at('readOnly'), message: `QEMU has no read-only ${d.interface} hard disk`, fix: "drop readOnly (the guest's writes already go to a throwaway overlay), use media: 'cdrom', or interface 'virtio', 'scsi' or 'nvme'" });
    }
  });
  const count = (iface: DriveInterface) => drives.filter((d) => d.interface === iface).length;
  if (type === 'pc' && count('ide') > IDE_SLOTS) problems.push({ path: 'drives', message: `the pc board's IDE controller holds ${IDE_SLOTS} drives, not ${count('ide')}`, fix: "put the others on interface 'ahci' or 'virtio'" });
  if (count('floppy') > FLOPPY_SLOTS) problems.push({ path: 'drives', message: `the floppy controller holds ${FLOPPY_SLOTS} drives, not ${count('floppy')}`, fix: 'give at most two floppy drives' });
  const boots = drives.map((d) => d.bootIndex).filter((b): b is number => b !== undefined);
  if (new Set(boots).size !== boots.length) problems.push({ path: 'drives', message: 'two drives have the same bootIndex', fix: 'give each drive its own bootIndex (lower boots first)' });

  const nics = machine.nics ?? [];
  nics.forEach((n, i) => {
    if (n.model === 'none' && nics.length > 1) problems.push({ path: `nics[${i}].model`, message: "'none' means no network, yet other NICs are given", fix: "give either nics: [{ model: 'none' }] or the NICs you want" });
    if (n.model === 'none' && (n.forwards?.length ?? 0) > 0) problems.push({ path: `nics[${i}].forwards`, message: 'a machine without network cannot forward ports', fix: "drop the forwards, or use a model such as 'virtio-net'" });
    if (type === 'microvm' && n.model !== 'none' && n.model !== 'virtio-net') problems.push({ path: `nics[${i}].model`, message: `microvm has no PCI bus for ${n.model}`, fix: "use model 'virtio-net' (virtio-mmio), or machine type 'pc' or 'q35'" });
    const seen = new Set<string>();
    (n.forwards ?? []).forEach((f, j) => {
      const key = `${f.protocol ?? 'tcp'}:${f.guest}`;
      if (seen.has(key)) problems.push({ path: `nics[${i}].forwards[${j}]`, message: `guest port ${key} is forwarded twice`, fix: 'forward each guest port once' });
      seen.add(key);
    });
  });
  const hostPorts = nics.flatMap((n) => (n.forwards ?? []).filter((f) => f.host !== undefined).map((f) => `${f.protocol ?? 'tcp'}:${f.host}`));
  if (new Set(hostPorts).size !== hostPorts.length) problems.push({ path: 'nics', message: 'two forwards use the same host port', fix: 'give each forward its own host port, or leave host out for a free one' });

  const tags = (machine.shares ?? []).map((s) => s.tag);
  (machine.shares ?? []).forEach((s, i) => {
    if (tags.indexOf(s.tag) !== i) problems.push({ path: `shares[${i}].tag`, message: `the tag '${s.tag}' is used twice`, fix: 'give each share its own tag' });
  });
  if (machine.iommu === 'intel-iommu' && type !== 'q35') {
    problems.push({ path: 'iommu', message: `intel-iommu needs the q35 machine, not ${type}`, fix: "set machine type 'q35', or use iommu 'virtio-iommu'" });
  }
  if (machine.iommu === 'virtio-iommu' && type === 'microvm') {
    problems.push({ path: 'iommu', message: 'microvm has no PCI bus for virtio-iommu', fix: "use machine type 'pc' or 'q35'" });
  }
  (machine.devices ?? []).forEach((d, i) => {
    if (OWNED_DEVICES.includes(deviceDriver(d))) problems.push({ path: `devices[${i}]`, message: `${deviceDriver(d)} is the exit device tsuite places itself`, fix: 'drop it; set exitSuccessValue for the value your kernel writes' });
    // Passthrough through hostDevices is checked on the host before boot; a verbatim one would fail inside QEMU.
    if (deviceDriver(d) === 'vfio-pci') problems.push({ path: `devices[${i}]`, message: 'a vfio-pci device is host passthrough', fix: `use hostDevices: ['${/host=([^,]+)/.exec(d)?.[1] ?? '0000:01:00.0'}'] (--host-device), which tsuite checks on the host before boot` });
  });
  problems.push(...hostDeviceProblems(machine.hostDevices ?? [], arch, type));
  problems.push(...qemuArgProblems(machine.qemuArgs ?? []));
  return problems;
}

/** `qemuArgs` entries that collide with what tsuite owns. */
export function qemuArgProblems(args: readonly string[]): MachineProblem[] {
  const problems: MachineProblem[] = [];
  args.forEach((raw, i) => {
    // QEMU accepts `--opt` and `-opt=value` spellings too.
    const arg = raw.startsWith('--') ? raw.slice(1) : raw;
    const name = arg.split('=')[0]!;
    const value = arg.includes('=') ? arg.slice(name.length + 1) : args[i + 1] ?? '';
    if (Object.hasOwn(OWNED_QEMU_ARGS, name)) {
      problems.push({ path: `qemuArgs[${i}]`, message: `${raw} collides with what tsuite owns: ${OWNED_QEMU_ARGS[name]}`, fix: `remove ${raw} from qemuArgs` });
    } else if (name === '-chardev' && OWNED_CHARDEV_IDS.some((id) => new RegExp(`(^|,)id=${id}(,|$)`).test(value))) {
      problems.push({ path: `qemuArgs[${i}]`, message: `${raw} ${value} redefines a chardev tsuite owns (${OWNED_CHARDEV_IDS.join(', ')})`, fix: 'give your chardev another id' });
    } else if (name === '-device' && OWNED_DEVICES.includes(deviceDriver(value))) {
      problems.push({ path: `qemuArgs[${i}]`, message: `${raw} ${value} is the exit device tsuite places itself`, fix: 'drop it; set exitSuccessValue for the value your kernel writes' });
    }
  });
  return problems;
}

/** Throws one UsageError listing every problem, or returns the machine with defaults filled in. */
export function resolveMachine(machine: MachineDef | undefined, arch: string, profileMachine: string, target?: string): ResolvedMachine {
  const m = machine ?? {};
  const problems = machineProblems(m, arch, profileMachine);
  if (problems.length === 1) {
    const [p] = problems as [MachineProblem];
    throw new UsageError(`${target ? `target '${target}': ` : ''}machine.${p.path}: ${p.message}`, p.fix);
  }
  if (problems.length > 1) {
    throw new UsageError(`${target ? `target '${target}': ` : ''}the machine has ${problems.length} problems:\n${problems.map((p) => `  - machine.${p.path}: ${p.message} (fix: ${p.fix})`).join('\n')}`,
      'fix each field above (config fields, or the --machine/--drive/--nic/--share/--iommu/--device/--host-device/--qemu-arg flags)');
  }
  return {
    type: machineType(m, arch, profileMachine),
    drives: (m.drives ?? []).map((d) => {
      const media = d.media ?? 'disk';
      const readOnly = d.readOnly === true || media === 'cdrom';
      const writable = d.writable === true;
      return {
        file: d.file, interface: d.interface, format: d.format ?? 'raw', media, readOnly, writable,
        // A read-only device is never written, so it needs no overlay.
        snapshot: !writable && !readOnly,
        ...(d.bootIndex !== undefined && { bootIndex: d.bootIndex }),
      };
    }),
    nics: (m.nics ?? []).flatMap((n) => (n.model === 'none' ? [] : [{
      model: n.model,
      forwards: (n.forwards ?? []).map((f) => ({ guest: f.guest, ...(f.host !== undefined && { host: f.host }), protocol: f.protocol ?? 'tcp' })),
    }])),
    ...(hasNoNetwork(m) && { noNetwork: true }),
    shares: (m.shares ?? []).map((s) => ({ path: s.path, tag: s.tag, readOnly: s.readOnly === true })),
    ...(m.iommu && { iommu: m.iommu }),
    devices: [...(m.devices ?? [])],
    hostDevices: (m.hostDevices ?? []).map((a) => normalizePciAddress(a)!),
    qemuArgs: [...(m.qemuArgs ?? [])],
  };
}

/** `nics: [{ model: 'none' }]`: the machine has no network at all, even for docker forwards. */
export const hasNoNetwork = (machine: MachineDef | undefined) => machine?.nics?.some((n) => n.model === 'none') === true;

/** Relative drive files and share folders, made absolute against `base` (the config file's folder, or the working directory for flags). */
export function absoluteMachinePaths(machine: MachineDef, base: string): MachineDef {
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(base, p));
  return {
    ...machine,
    ...(machine.drives && { drives: machine.drives.map((d) => ({ ...d, file: abs(d.file) })) }),
    ...(machine.shares && { shares: machine.shares.map((s) => ({ ...s, path: abs(s.path) })) }),
  };
}

/** Every drive file and share folder that does not exist, in one UsageError, before anything boots. */
export function checkMachineFiles(machine: MachineDef | undefined, cwd = process.cwd()): void {
  if (!machine) return;
  const missing: string[] = [];
  (machine.drives ?? []).forEach((d, i) => {
    const file = resolve(cwd, d.file);
    if (!existsSync(file)) missing.push(`machine.drives[${i}].file: ${file} does not exist`);
    else if (!statSync(file).isFile()) missing.push(`machine.drives[${i}].file: ${file} is not a file`);
  });
  (machine.shares ?? []).forEach((s, i) => {
    const dir = resolve(cwd, s.path);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) missing.push(`machine.shares[${i}].path: ${dir} is not a folder`);
  });
  if (missing.length > 0) {
    throw new UsageError(`the machine names files that are not there:\n${missing.map((m) => `  - ${m}`).join('\n')}`,
      'give existing disk image files (--drive file=...) and existing folders for shares (--share <folder>=<tag>)');
  }
}

/** The profile's machine and nothing the target added: not worth a line in a report. */
export function isPlainMachine(m: ResolvedMachine): boolean {
  return Object.values(MACHINE_TYPES).some((types) => types[0] === m.type) && !m.drives.some((d) => !d.role) && m.nics.length === 0
    && m.shares.length === 0 && !m.iommu && m.devices.length === 0 && (m.hostDevices?.length ?? 0) === 0 && m.qemuArgs.length === 0;
}

/** One line: `q35; drives: ahci disk.img; nics: e1000 (127.0.0.1:41234→7000/tcp); iommu: intel-iommu`. */
export function describeMachine(m: ResolvedMachine): string {
  const base = (file: string) => file.slice(file.lastIndexOf('/') + 1);
  const parts = [m.type];
  const drives = m.drives.filter((d) => !d.role).map((d) => `${d.interface}${d.media === 'cdrom' ? ' cdrom' : ''} ${base(d.file)}${d.writable ? ' (writable)' : ''}`);
  if (drives.length) parts.push(`drives: ${drives.join(', ')}`);
  const nics = m.nics.map((n) => `${n.model}${n.forwards.length ? ` (${n.forwards.map((f) => `127.0.0.1:${f.host ?? '?'}→${f.guest}/${f.protocol}`).join(', ')})` : ''}`);
  if (nics.length) parts.push(`nics: ${nics.join(', ')}`);
  if (m.shares.length) parts.push(`9p: ${m.shares.map((s) => `${s.tag}=${s.path}${s.readOnly ? ' (ro)' : ''}`).join(', ')}`);
  if (m.iommu) parts.push(`iommu: ${m.iommu}`);
  if (m.devices.length) parts.push(`devices: ${m.devices.join(' ')}`);
  if (m.hostDevices?.length) parts.push(`vfio: ${m.hostDevices.join(' ')}`);
  if (m.qemuArgs.length) parts.push(`args: ${m.qemuArgs.join(' ')}`);
  return parts.join('; ');
}
