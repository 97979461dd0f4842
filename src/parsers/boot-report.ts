/**
 * The boot report the tsuite init prints: `tsuite-boot: key=value` lines ending in
 * `tsuite-boot: ready`. A prefix before the marker (console timestamps) is ignored, so the same
 * parser reads a live console and a saved log.
 */

export interface BootReport {
  version: number;
  release?: string;
  arch?: string;
  cmdline?: string;
  cpus?: number;
  memTotalKb?: number;
  memSystemRamKb?: number;
  /** The guest's uptime when init started: the guest's own measure of boot time. */
  uptimeS?: number;
  /** Index of the `ready` line: the boot landmark of the reference guest. */
  readyLine: number;
}

export const BOOT_REPORT_READY = /tsuite-boot: ready\b/;
const FIELD = /tsuite-boot: ([a-z_]+)=(.*)$/;

const num = (v: string | undefined) => (v !== undefined && /^\d+(\.\d+)?$/.test(v.trim()) ? Number(v) : undefined);

/** The first complete report in `lines`, or undefined if the kernel printed none (or no `ready`). */
export function parseBootReport(lines: readonly string[]): BootReport | undefined {
  const fields = new Map<string, string>();
  for (let i = 0; i < lines.length; i++) {
    // Serial consoles end lines with \r\n; a saved log keeps the \r.
    const line = lines[i]!.replace(/\r/g, '');
    if (BOOT_REPORT_READY.test(line)) {
      if (!fields.has('version')) return undefined;
      return {
        version: num(fields.get('version')) ?? 0,
        release: fields.get('release'),
        arch: fields.get('arch'),
        cmdline: fields.get('cmdline'),
        cpus: num(fields.get('cpus')),
        memTotalKb: num(fields.get('mem_total_kb')),
        memSystemRamKb: num(fields.get('mem_system_ram_kb')),
        uptimeS: num(fields.get('uptime_s')),
        readyLine: i,
      };
    }
    const m = FIELD.exec(line);
    if (m) fields.set(m[1]!, m[2]!.trimEnd());
  }
  return undefined;
}
