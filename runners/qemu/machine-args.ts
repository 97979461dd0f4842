import { extname } from 'node:path';
import type { ResolvedDrive, ResolvedMachine, ResolvedNic } from '../../src/core/machine.js';
import { hasNoNetwork, resolveMachine } from '../../src/core/machine.js';
import { UsageError } from '../../src/core/errors.js';
import type { ProvisionRequest } from '../../src/core/runner.js';
import type { ArchProfile } from './arch-profile.js';

/** QEMU splits option values on ',' and reads ',,' as a literal comma. */
const optionValue = (path: string) => path.replace(/,/g, ',,');

/** Guest port → host port, for user-mode networking. */
export type PortMap = ReadonlyMap<number, number>;

/** The ports tsuite itself forwards: the guest's Docker Engine API, the ports tests publish on, and those asked for. */
function ownGuestPorts(req: Pick<ProvisionRequest, 'forwardPorts' | 'docker' | 'cri'>): number[] {
  const docker = req.docker ? [req.docker.guestPort, ...req.docker.publishPorts] : [];
  const cri = req.cri ? [req.cri.guestPort, ...(req.cri.streamGuestPort ? [req.cri.streamGuestPort] : []), ...req.cri.hostPorts] : [];
  return [...new Set([...(req.forwardPorts ?? []), ...docker, ...cri])];
}

/**
 * The guest ports that need a free host port, each once: tsuite's own (docker) and the machine's
 * NIC forwards that leave the host port out.
 */
export function forwardedGuestPorts(req: Pick<ProvisionRequest, 'forwardPorts' | 'docker' | 'cri' | 'machine'>): number[] {
  const fromNics = (req.machine?.nics ?? []).flatMap((n) => n.forwards.filter((f) => f.host === undefined).map((f) => f.guest));
  return [...new Set([...ownGuestPorts(req), ...fromNics])];
}

/**
 * The machine exactly as it boots, host ports filled in: the target's machine, tsuite's own
 * forwards (docker) on its first NIC (or on a virtio-net NIC of their own when it has none), and the
 * drives tsuite attaches for `image` and `rootfs`, marked by their role. This is what results.json records.
 */
export function concreteMachine(req: ProvisionRequest, profile: Pick<ArchProfile, 'arch' | 'machine'>, ports: PortMap = new Map()): ResolvedMachine {
  const base = req.machine ?? resolveMachine(undefined, profile.arch, profile.machine);
  const nics: ResolvedNic[] = base.nics.map((n) => ({
    model: n.model,
    forwards: n.forwards.map((f) => ({ ...f, ...(f.host === undefined && ports.has(f.guest) && { host: ports.get(f.guest) }) })),
  }));
  // Every allocated port no NIC forward claims is tsuite's own (the docker API, published ports).
  const own = [...ports.keys()].filter((g) => !base.nics.some((n) => n.forwards.some((f) => f.guest === g)));
  if (own.length > 0) {
    if (base.noNetwork) {
      throw new UsageError('the machine has no network (nics: none), but the target serves the Docker Engine API over a forwarded port',
        "drop nics: [{ model: 'none' }], or give a NIC such as { model: 'virtio-net' }");
    }
    const forwards = own.map((guest) => ({ guest, host: ports.get(guest)!, protocol: 'tcp' as const }));
    if (nics.length > 0) nics[0] = { ...nics[0]!, forwards: [...nics[0]!.forwards, ...forwards] };
    else nics.push({ model: 'virtio-net', forwards });
  }
  const tsuiteDrives: ResolvedDrive[] = [];
  if (req.boot.image) {
    const iso = (req.boot.imageKind ?? (extname(req.boot.image).toLowerCase() === '.iso' ? 'iso' : 'raw')) === 'iso';
    tsuiteDrives.push({ file: req.boot.image, interface: iso ? 'scsi' : 'virtio', format: 'raw', media: iso ? 'cdrom' : 'disk', readOnly: iso, writable: false, snapshot: !iso, role: 'image' });
  }
  if (req.boot.rootfs) {
    tsuiteDrives.push({ file: req.boot.rootfs, interface: 'nvme', format: 'raw', media: 'disk', readOnly: false, writable: false, snapshot: true, role: 'rootfs' });
  }
  return { ...base, drives: [...tsuiteDrives, ...base.drives], nics };
}

/** `-M` with what the IOMMU needs: intel-iommu's interrupt remapping wants a split irqchip under KVM. */
export function machineOption(m: ResolvedMachine, accel: 'kvm' | 'tcg'): string {
  return m.iommu === 'intel-iommu' && accel === 'kvm' ? `${m.type},kernel-irqchip=split` : m.type;
}

/** The IOMMU goes before every other device, so it translates for all of them. */
export function iommuArgs(m: ResolvedMachine): string[] {
  if (m.iommu === 'intel-iommu') return ['-device', 'intel-iommu,intremap=on'];
  if (m.iommu === 'virtio-iommu') return ['-device', 'virtio-iommu-pci'];
  return [];
}

/** The devices of the machine (drives without a role, NICs, shares, extras, host passthrough) and its raw arguments last. */
export function machineArgs(m: ResolvedMachine): string[] {
  return [...driveArgs(m), ...nicArgs(m), ...shareArgs(m), ...m.devices.flatMap((d) => ['-device', d]), ...hostDeviceArgs(m), ...m.qemuArgs];
}

/** Each host PCI function through VFIO; the host side was checked before boot (vfio-host.ts). */
export function hostDeviceArgs(m: Pick<ResolvedMachine, 'hostDevices'>): string[] {
  return (m.hostDevices ?? []).flatMap((address, i) => ['-device', `vfio-pci,host=${address},id=hostdev${i}`]);
}

const NIC_DEVICE: Readonly<Record<ResolvedNic['model'], string>> = Object.freeze({
  'virtio-net': 'virtio-net-pci', e1000: 'e1000', e1000e: 'e1000e', rtl8139: 'rtl8139', ne2k_pci: 'ne2k_pci',
  pcnet: 'pcnet', i82559er: 'i82559er', vmxnet3: 'vmxnet3',
});

/** One user-mode (slirp) network per NIC; forwards listen on loopback only. */
function nicArgs(m: ResolvedMachine): string[] {
  return m.nics.flatMap((n, i) => {
    const fwd = n.forwards.map((f) => {
      if (f.host === undefined) throw new Error(`no host port for guest port ${f.guest}: the runner allocates one before building arguments`);
      return `,hostfwd=${f.protocol}:127.0.0.1:${f.host}-:${f.guest}`;
    }).join('');
    const device = m.type === 'microvm' && n.model === 'virtio-net' ? 'virtio-net-device' : NIC_DEVICE[n.model];
    return ['-netdev', `user,id=net${i}${fwd}`, '-device', `${device},netdev=net${i}`];
  });
}

function shareArgs(m: ResolvedMachine): string[] {
  const device = m.type === 'microvm' ? 'virtio-9p-device' : 'virtio-9p-pci';
  return m.shares.flatMap((s, i) => [
    // security_model=none: files keep the host's ownership; the guest cannot chown them.
    '-fsdev', `local,id=fs${i},path=${optionValue(s.path)},security_model=none${s.readOnly ? ',readonly=on' : ''}`,
    '-device', `${device},fsdev=fs${i},mount_tag=${optionValue(s.tag)}`,
  ]);
}

/** The AHCI ports q35 has on its own ICH9 controller. */
const Q35_AHCI_PORTS = 6;

/**
 * Each drive on its controller. Controllers are added only when used: ich9-ahci (6 ports each;
 * q35 has one built in), one virtio-scsi and one xHCI for all their drives, one SDHCI per card.
 */
function driveArgs(m: ResolvedMachine): string[] {
  const args: string[] = [];
  const added = new Set<string>();
  const controller = (id: string, device: string) => {
    if (added.has(id)) return;
    added.add(id);
    args.push('-device', device);
  };
  let ide = 0;
  let ahci = 0;
  let floppy = 0;
  m.drives.forEach((d, i) => {
    if (d.role) return; // image and rootfs drives are attached by the boot itself
    const id = `drive${i}`;
    const cd = d.media === 'cdrom';
    args.push('-drive', [`file=${optionValue(d.file)}`, `format=${d.format}`, 'if=none', `id=${id}`,
      ...(cd ? ['media=cdrom'] : []), ...(d.readOnly ? ['readonly=on'] : []), ...(d.snapshot ? ['snapshot=on'] : [])].join(','));
    const boot = d.bootIndex !== undefined ? `,bootindex=${d.bootIndex}` : '';
    const ata = cd ? 'ide-cd' : 'ide-hd';
    switch (d.interface) {
      case 'ide': {
        // The pc board's PIIX IDE: primary master, primary slave, secondary master, secondary slave.
        args.push('-device', `${ata},drive=${id},bus=ide.${ide >> 1},unit=${ide & 1}${boot}`);
        ide++;
        break;
      }
      case 'ahci': {
        let bus: string;
        if (m.type === 'q35' && ahci < Q35_AHCI_PORTS) bus = `ide.${ahci}`;
        else {
          const n = m.type === 'q35' ? ahci - Q35_AHCI_PORTS : ahci;
          const c = `ahci${Math.floor(n / 6)}`;
          controller(c, `ich9-ahci,id=${c}`);
          bus = `${c}.${n % 6}`;
        }
        args.push('-device', `${ata},drive=${id},bus=${bus}${boot}`);
        ahci++;
        break;
      }
      case 'virtio':
        args.push('-device', `${m.type === 'microvm' ? 'virtio-blk-device' : 'virtio-blk-pci'},drive=${id}${boot}`);
        break;
      case 'nvme':
        args.push('-device', `nvme,serial=tsuite-${id},drive=${id}${boot}`);
        break;
      case 'scsi':
        controller('scsi0', 'virtio-scsi-pci,id=scsi0');
        args.push('-device', `${cd ? 'scsi-cd' : 'scsi-hd'},drive=${id},bus=scsi0.0${boot}`);
        break;
      case 'usb':
        controller('xhci0', 'qemu-xhci,id=xhci0');
        args.push('-device', `usb-storage,drive=${id},bus=xhci0.0${boot}`);
        break;
      case 'floppy':
        args.push('-device', `floppy,drive=${id},unit=${floppy}${boot}`);
        floppy++;
        break;
      case 'sd':
        args.push('-device', `sdhci-pci,id=sdhci${i}`, '-device', `sd-card,drive=${id}`);
        break;
    }
  });
  return args;
}
