import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';

const OVMF_CODE = '/usr/share/OVMF/OVMF_CODE_4M.fd';
const OVMF_VARS = '/usr/share/OVMF/OVMF_VARS_4M.fd';

export interface QemuExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface QemuMachine {
  /** QEMU's own pid (the group's leader is its watchdog). */
  readonly pid: number;
  /** Settles when QEMU has exited, however that happened. */
  readonly exited: Promise<QemuExit>;
  /** Stops the machine's whole process group: SIGTERM, then SIGKILL after a grace period. */
  kill(): Promise<QemuExit>;
}

export interface QemuLaunch {
  /** The instance's own folder: the serial log, the UEFI variable store, QEMU's stderr. */
  dir: string;
  /** The imported image's disk: opened with snapshot=on, never written. */
  disk: string;
  /** QEMU's format for it: `raw` (GCE's disk.raw, EC2's RAW snapshot) or `vpc` (Azure's fixed VHD). Default raw. */
  diskFormat?: 'raw' | 'vpc';
  uefi: boolean;
  memoryMb: number;
  /** The address the instance's record shows; the guest's user-mode network hands out the same. */
  networkIP: string;
  /** The subnet and gateway of that address (default GCE's: 10.128.0.0/20 via 10.128.0.1). */
  subnet?: { cidr: string; gateway: string };
  /** Put in QEMU's `-name`: the marker an orphan sweep and `pgrep -f` find it by. */
  tag: string;
}

/**
 * QEMU runs under this guard, its process group's leader: it prints QEMU's pid, exits with QEMU's
 * status as soon as QEMU ends, and a background watcher kills QEMU if the owning Node process
 * disappears (SIGKILL, OOM), which no handler in Node can see. `wait` is repeated because a
 * trapped signal interrupts it; QEMU is gone once `kill -0` fails after a wait (a wait reaps it).
 */
const WATCHDOG = [
  'owner=$1; shift',
  '"$@" & q=$!',
  'echo "$q"',
  '( while kill -0 "$owner" 2>/dev/null; do sleep 0.5; done; kill -KILL "$q" 2>/dev/null ) & w=$!',
  "trap 'kill -TERM \"$q\" 2>/dev/null' TERM",
  'while :; do wait "$q"; rc=$?; kill -0 "$q" 2>/dev/null || break; done',
  'kill "$w" 2>/dev/null',
  'exit "$rc"',
].join('\n');

/**
 * Every QEMU group alive in this process. If the process exits without close() (a crash, a thrown
 * error in a test), they are killed on the way out: no machine outlives the stand-in.
 */
const live = new Set<number>();
process.on('exit', () => {
  for (const pgid of live) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

/**
 * Boots an instance's disk as a small cloud VM would be: q35, TCG, no default devices, the disk on
 * virtio-scsi, a virtio-net NIC, the first serial port into `<dir>/serial.log`. UEFI is OVMF with a
 * private copy of the variable store; a disk without UEFI_COMPATIBLE boots under SeaBIOS, as GCE
 * boots such an image with BIOS. `-no-reboot` makes a guest reboot or panic end the machine.
 * QEMU and its watchdog form their own process group, stopped together.
 */
export async function startQemu(launch: QemuLaunch): Promise<QemuMachine> {
  const serial = join(launch.dir, 'serial.log');
  const args = [
    '-name', `guest=${launch.tag}`,
    '-M', 'q35', '-accel', 'tcg', '-m', String(launch.memoryMb), '-smp', '1',
    '-nodefaults', '-display', 'none', '-no-reboot',
  ];
  if (launch.uefi) {
    const vars = join(launch.dir, 'OVMF_VARS_4M.fd');
    await copyFile(OVMF_VARS, vars);
    args.push('-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${OVMF_CODE}`, '-drive', `if=pflash,format=raw,unit=1,file=${vars}`);
  }
  args.push(
    '-device', 'virtio-scsi-pci,id=scsi0',
    // A VHD's size is its footer's current size, as Azure reads it: QEMU otherwise trusts the
    // footer only from makers it knows and derives the size from the CHS geometry (short of the end).
    '-drive', `if=none,id=boot,format=${launch.diskFormat ?? 'raw'},${launch.diskFormat === 'vpc' ? 'force_size_calc=current_size,' : ''}snapshot=on,file=${launch.disk}`,
    '-device', 'scsi-hd,drive=boot,bus=scsi0.0,bootindex=1',
    // The provider's subnet (GCE's default in a region unless said). No option ROM: no PXE detour.
    '-netdev', `user,id=net0,net=${launch.subnet?.cidr ?? '10.128.0.0/20'},host=${launch.subnet?.gateway ?? '10.128.0.1'},dhcpstart=${launch.networkIP}`,
    '-device', 'virtio-net-pci,netdev=net0,romfile=',
    '-serial', `file:${serial}`,
  );
  // Synchronous from spawn to the listeners below: no event of the child can slip past them.
  const stderr = openSync(join(launch.dir, 'qemu-stderr.log'), 'w');
  let child: ChildProcess;
  try {
    child = spawn('sh', ['-c', WATCHDOG, 'tsuite-standin-watchdog', String(process.pid), 'qemu-system-x86_64', ...args], {
      detached: true,
      stdio: ['ignore', 'pipe', stderr],
    });
  } finally {
    closeSync(stderr);
  }
  // Tracked from the first moment (no await in between): a machine group is never untracked.
  const pgid = child.pid;
  if (pgid !== undefined) live.add(pgid);
  const exited = new Promise<QemuExit>((resolve) => {
    child.on('exit', (code, signal) => {
      if (pgid !== undefined) live.delete(pgid);
      resolve({ code, signal });
    });
    child.on('error', () => resolve({ code: null, signal: null }));
  });
  const qemuPid = new Promise<number | undefined>((resolve) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(Number(out.split('\n')[0]));
    });
    child.once('error', () => resolve(undefined));
    void exited.then(() => resolve(undefined));
  });
  const pid = await qemuPid;
  if (pgid === undefined || pid === undefined) {
    const exit = await exited;
    throw new Error(`qemu-system-x86_64 could not start (exit ${exit.signal ?? exit.code}); see ${join(launch.dir, 'qemu-stderr.log')}`);
  }
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pgid, sig);
    } catch {
      // the group is gone
    }
  };
  return {
    pid,
    exited,
    kill: async () => {
      if (!live.has(pgid)) return exited;
      signal('SIGTERM');
      const grace = setTimeout(() => signal('SIGKILL'), 3000);
      const result = await exited;
      clearTimeout(grace);
      signal('SIGKILL'); // anything left in the group
      return result;
    },
  };
}
