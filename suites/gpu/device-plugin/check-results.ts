/**
 * The harness's checks, by name, in the order they run, and the recorder that turns each into one
 * child result. Every check ends as passed, failed (the problems found, each naming its rule) or
 * skipped (naming exactly what was missing).
 */
import type { ChildResult } from '../../../src/index.js';

export const CHECKS = {
  registration: 'the plugin calls Register on kubelet.sock within the timeout',
  version: 'RegisterRequest.version is v1beta1',
  'resource-name': 'the resource name is an extended resource name (vendor-domain/resourcetype, not kubernetes.io)',
  endpoint: 'the endpoint names a socket file in the plugin folder that serves DevicePlugin',
  options: 'GetDevicePluginOptions answers with the options the plugin registered',
  'list-and-watch/devices': 'the first ListAndWatch response lists at least one device, IDs of 1-63 characters',
  'list-and-watch/unique-ids': 'device IDs are unique',
  'list-and-watch/health-values': 'device health is "Healthy" or "Unhealthy"',
  'get-preferred-allocation': 'GetPreferredAllocation (when advertised) picks the asked number from the available devices, with the must-include ones',
  'allocate/answers': 'Allocate for one healthy device answers one response per container request',
  'allocate/device-specs': "Allocate's device specs name host paths that exist, absolute paths and r/w/m permissions",
  'allocate/mounts': "Allocate's mounts name host paths that exist, with absolute paths",
  'allocate/envs': "Allocate's environment variables have valid names",
  'allocate/cdi-devices': "Allocate's CDI devices are fully qualified names (vendor.com/class=name)",
  'allocate/unknown-device': 'Allocate for a device ID the plugin never listed is refused with an error',
  'pre-start-container': 'PreStartContainer (when advertised) accepts a listed device',
  'health-change': 'a device health change (set off by the health trigger) is streamed on ListAndWatch',
  're-registration': 'after a kubelet restart (kubelet.sock and the folder sockets recreated) the plugin registers again',
} as const;

export type CheckName = keyof typeof CHECKS;
export const CHECK_NAMES = Object.keys(CHECKS) as CheckName[];

export class CheckRecorder {
  private readonly results = new Map<CheckName, ChildResult>();

  passed(name: CheckName): void {
    this.set({ name, title: CHECKS[name], status: 'passed' });
  }

  /** Failed with the problems found (passed when there are none). */
  verdict(name: CheckName, problems: readonly string[]): boolean {
    if (problems.length === 0) {
      this.passed(name);
      return true;
    }
    this.failed(name, problems.join('\n'));
    return false;
  }

  failed(name: CheckName, message: string): void {
    this.set({ name, title: CHECKS[name], status: 'failed', error: { message } });
  }

  skipped(name: CheckName, reason: string): void {
    this.set({ name, title: CHECKS[name], status: 'skipped', reason });
  }

  /** Skips every named check that has no result yet. */
  skipRest(names: readonly CheckName[], reason: string): void {
    for (const n of names) if (!this.results.has(n)) this.skipped(n, reason);
  }

  has(name: CheckName): boolean {
    return this.results.has(name);
  }

  /** Every check, in order; one never reached is skipped, saying so. */
  list(why = 'the harness stopped before this check'): ChildResult[] {
    this.skipRest(CHECK_NAMES, why);
    return CHECK_NAMES.map((n) => this.results.get(n)!);
  }

  private set(r: ChildResult): void {
    this.results.set(r.name as CheckName, r);
  }
}
