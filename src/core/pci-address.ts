/**
 * PCI addresses as Linux names them in /sys/bus/pci/devices: `DDDD:BB:DD.F` (domain, bus, device,
 * function, hex). lspci prints the short `BB:DD.F` for domain 0; both are accepted and recorded in
 * the full, lower-case form QEMU's `vfio-pci,host=` and sysfs use.
 */
const PCI_ADDRESS = /^(?:([0-9a-f]{4}):)?([0-9a-f]{2}):([0-1][0-9a-f])\.([0-7])$/i;

/** `01:00.0` → `0000:01:00.0`; undefined when it is not a PCI address. */
export function normalizePciAddress(value: string): string | undefined {
  const m = PCI_ADDRESS.exec(value.trim());
  if (!m) return undefined;
  return `${(m[1] ?? '0000').toLowerCase()}:${m[2]!.toLowerCase()}:${m[3]!.toLowerCase()}.${m[4]}`;
}
