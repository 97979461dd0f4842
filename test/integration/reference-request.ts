import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BootSpec, ProvisionRequest } from '../../src/core/runner.js';
import { BOOT_REPORT_READY } from '../../src/parsers/boot-report.js';
import { LINUX_EVENT_PATTERNS } from '../../src/parsers/kernel-events.js';

/** A ProvisionRequest for the reference guest, as the qemu-x86/qemu-arm64 targets would build it. */
export function referenceRequest(name: string, arch: string, boot: BootSpec, extra: Partial<ProvisionRequest> = {}): ProvisionRequest {
  return {
    sessionId: name,
    dir: mkdtempSync(join(tmpdir(), `tsuite-test-${name}-`)),
    arch,
    boot,
    cpus: 2,
    memoryMb: 512,
    accel: 'auto',
    landmark: BOOT_REPORT_READY,
    bootTimeoutMs: 60_000,
    eventPatterns: LINUX_EVENT_PATTERNS,
    powerOffCommand: 'tsuite-poweroff',
    ...extra,
  };
}
