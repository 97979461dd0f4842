import type { MachineProblem } from './machine.js';
import { normalizePciAddress } from './pci-address.js';

/** Host PCI functions: well-formed, each once, on a machine with PCIe (q35 on x86_64, virt on aarch64). */
export function hostDeviceProblems(addresses: readonly string[], arch: string, type: string | undefined): MachineProblem[] {
  const problems: MachineProblem[] = [];
  const seen = new Set<string>();
  addresses.forEach((raw, i) => {
    const address = normalizePciAddress(raw);
    if (!address) {
      problems.push({ path: `hostDevices[${i}]`, message: `'${raw}' is not a PCI address`, fix: "write it as /sys/bus/pci/devices names it, e.g. '0000:01:00.0' (lspci -D lists them)" });
      return;
    }
    if (seen.has(address)) problems.push({ path: `hostDevices[${i}]`, message: `${address} is passed through twice`, fix: 'give each host device once' });
    seen.add(address);
  });
  if (addresses.length > 0 && arch === 'x86_64' && type !== 'q35') {
    problems.push({
      path: 'hostDevices',
      message: type === 'microvm' ? 'microvm has no PCI bus for a passed-through device' : `a passed-through PCI device needs q35 (PCIe, with extended config space a GPU driver reads), not ${type}`,
      fix: "set machine type 'q35', or leave the type out (tsuite then picks q35)",
    });
  }
  return problems;
}
