import { resolve } from 'node:path';
import { UsageError } from '../core/errors.js';
import {
  DRIVE_FORMATS, DRIVE_INTERFACES, IOMMU_KINDS, NIC_MODELS,
  type DriveDef, type DriveFormat, type DriveInterface, type IommuKind, type MachineDef, type NicDef, type NicForward, type NicModel, type ShareDef,
} from '../core/machine.js';

/** The machine flags of `run` (see addTargetOptions). */
export interface MachineFlags {
  machine?: string;
  drive?: string[];
  nic?: string[];
  share?: string[];
  iommu?: string;
  device?: string[];
  hostDevice?: string[];
  qemuArg?: string[];
}

/** Commander collector for a repeatable flag: undefined until given, so "not given" stays distinguishable. */
export const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

const oneOf = <T extends string>(flag: string, what: string, value: string, valid: readonly T[]): T => {
  if (!(valid as readonly string[]).includes(value)) throw new UsageError(`${flag}: unknown ${what} '${value}'`, `use one of: ${valid.join(', ')}`);
  return value as T;
};

const DRIVE_SYNTAX = 'file=<image>,if=<interface>[,format=raw][,media=cdrom][,readonly][,writable][,boot=<n>]';

/** `file=disk.img,if=ide,format=raw,media=cdrom,readonly,writable,boot=1`; a relative file is relative to `cwd`. */
export function parseDriveSpec(spec: string, cwd: string): DriveDef {
  const fields = new Map<string, string>();
  for (const part of spec.split(',')) {
    const eq = part.indexOf('=');
    const [key, value] = eq < 0 ? [part, ''] : [part.slice(0, eq), part.slice(eq + 1)];
    fields.set(key === 'interface' ? 'if' : key === 'bootindex' ? 'boot' : key, value);
  }
  const file = fields.get('file');
  const iface = fields.get('if');
  if (!file || !iface) throw new UsageError(`--drive '${spec}' needs file= and if=`, `write --drive ${DRIVE_SYNTAX}`);
  const known = ['file', 'if', 'format', 'media', 'readonly', 'writable', 'boot'];
  const unknown = [...fields.keys()].filter((k) => !known.includes(k));
  if (unknown.length > 0) throw new UsageError(`--drive: unknown field(s) ${unknown.join(', ')} in '${spec}'`, `write --drive ${DRIVE_SYNTAX}`);
  const flag = (name: string) => {
    const v = fields.get(name);
    if (v === undefined) return undefined;
    if (['', 'on', 'true'].includes(v)) return true;
    if (['off', 'false'].includes(v)) return false;
    throw new UsageError(`--drive: ${name}=${v} is neither on nor off`, `write ${name} (or ${name}=on / ${name}=off)`);
  };
  const drive: DriveDef = { file: resolve(cwd, file), interface: oneOf<DriveInterface>('--drive', 'interface (if=)', iface, DRIVE_INTERFACES) };
  const format = fields.get('format');
  if (format !== undefined) drive.format = oneOf<DriveFormat>('--drive', 'format', format, DRIVE_FORMATS);
  const media = fields.get('media');
  if (media !== undefined) drive.media = oneOf('--drive', 'media', media, ['disk', 'cdrom'] as const);
  const readOnly = flag('readonly');
  if (readOnly !== undefined) drive.readOnly = readOnly;
  const writable = flag('writable');
  if (writable !== undefined) drive.writable = writable;
  const boot = fields.get('boot');
  if (boot !== undefined) {
    const n = Number(boot);
    if (boot === '' || !Number.isInteger(n) || n < 0 || n > 99) throw new UsageError(`--drive: boot=${boot} is not a whole number from 0 to 99`, 'write boot=0 for the first boot drive');
    drive.bootIndex = n;
  }
  return drive;
}

const NIC_SYNTAX = '<model>[,fwd=[tcp:|udp:][HOST:]GUEST]...';

/** `e1000,fwd=8080:80,fwd=udp:5353,fwd=22`: a forward without a host port gets a free one. */
export function parseNicSpec(spec: string): NicDef {
  const [model = '', ...rest] = spec.split(',');
  const nic: NicDef = { model: oneOf<NicModel>('--nic', 'model', model, NIC_MODELS) };
  const forwards: NicForward[] = [];
  for (const part of rest) {
    if (!part.startsWith('fwd=')) throw new UsageError(`--nic: unknown field '${part}' in '${spec}'`, `write --nic ${NIC_SYNTAX}`);
    const m = /^(?:(tcp|udp):)?(?:(\d+):)?(\d+)$/.exec(part.slice(4));
    const ports = m ? [m[2], m[3]].filter((p): p is string => p !== undefined).map(Number) : [];
    if (!m || ports.some((p) => p < 1 || p > 65_535)) throw new UsageError(`--nic: '${part}' is not a port forward`, `write fwd=GUEST (a free host port) or fwd=HOST:GUEST, ports 1-65535, optionally fwd=udp:HOST:GUEST`);
    forwards.push({ guest: Number(m[3]), ...(m[2] !== undefined && { host: Number(m[2]) }), ...(m[1] && { protocol: m[1] as 'tcp' | 'udp' }) });
  }
  if (forwards.length > 0) nic.forwards = forwards;
  return nic;
}

/** `<folder>=<tag>[,readonly]`; the folder is relative to `cwd`. */
export function parseShareSpec(spec: string, cwd: string): ShareDef {
  const readOnly = /,(readonly|ro)$/.test(spec);
  const body = readOnly ? spec.replace(/,(readonly|ro)$/, '') : spec;
  const eq = body.lastIndexOf('=');
  if (eq <= 0 || eq === body.length - 1) throw new UsageError(`--share '${spec}' is not <folder>=<tag>`, 'write --share ./shared=host0 (add ,readonly for a read-only share)');
  return { path: resolve(cwd, body.slice(0, eq)), tag: body.slice(eq + 1), ...(readOnly && { readOnly: true }) };
}

/** The names of the machine flags given, for refusing them on a target that boots nothing. */
export function machineFlagNames(flags: MachineFlags): string[] {
  const names: [keyof MachineFlags, string][] = [['machine', '--machine'], ['drive', '--drive'], ['nic', '--nic'], ['share', '--share'], ['iommu', '--iommu'], ['device', '--device'], ['hostDevice', '--host-device'], ['qemuArg', '--qemu-arg']];
  return names.filter(([k]) => flags[k] !== undefined).map(([, n]) => n);
}

/**
 * The config's machine with the flags applied: --machine and --iommu override, drives, shares,
 * devices, host devices and raw args add to the config's, --nic replaces its NICs (`--nic none`: no network).
 */
export function applyMachineFlags(machine: MachineDef | undefined, flags: MachineFlags, cwd = process.cwd()): MachineDef | undefined {
  if (machineFlagNames(flags).length === 0) return machine;
  const m: MachineDef = { ...machine };
  if (flags.machine !== undefined) m.type = flags.machine;
  if (flags.iommu !== undefined) m.iommu = oneOf<IommuKind>('--iommu', 'IOMMU', flags.iommu, IOMMU_KINDS);
  if (flags.drive) m.drives = [...(m.drives ?? []), ...flags.drive.map((d) => parseDriveSpec(d, cwd))];
  if (flags.nic) m.nics = flags.nic.map(parseNicSpec);
  if (flags.share) m.shares = [...(m.shares ?? []), ...flags.share.map((s) => parseShareSpec(s, cwd))];
  if (flags.device) m.devices = [...(m.devices ?? []), ...flags.device];
  if (flags.hostDevice) m.hostDevices = [...(m.hostDevices ?? []), ...flags.hostDevice];
  if (flags.qemuArg) m.qemuArgs = [...(m.qemuArgs ?? []), ...flags.qemuArg];
  return m;
}
