/**
 * The checks, in the order a kubelet meets a plugin: registration, the endpoint, the device list,
 * allocation, a health change, and registration again after a kubelet restart. A check whose
 * precondition failed is skipped, naming the failed step, so one broken rule fails one check.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { DevicePluginOptions, Device, ListAndWatchResponse } from './api.js';
import { checkAllocation } from './allocate-checks.js';
import { CHECK_NAMES, CheckRecorder } from './check-results.js';
import { deviceListProblems, duplicateIdProblems, endpointProblems, healthProblems, resourceNameProblems, versionProblems } from './contract-rules.js';
import type { KubeletRegistration, Registration } from './kubelet-registration.js';
import { PluginClient, type DeviceWatch } from './plugin-client.js';

export interface ContractContext {
  kubelet: KubeletRegistration;
  /** Each wait: for a registration, an answer, a streamed list. */
  timeoutMs: number;
  /** The wait for the first registration: the plugin's start-up as well. */
  startTimeoutMs: number;
  signal?: AbortSignal;
  /** Makes the plugin change a device's health; absent: `health-change` is skipped with `healthTriggerMissing`. */
  triggerHealthChange?: () => Promise<void>;
  healthTriggerMissing: string;
  hostPathExists: (path: string) => Promise<boolean>;
  /** Said in the registration failure: why the plugin may not have registered (it exited). */
  pluginState?: () => string | undefined;
}

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));
const NO_OPTIONS: DevicePluginOptions = { pre_start_required: false, get_preferred_allocation_available: false };

export async function runContractChecks(ctx: ContractContext): Promise<CheckRecorder> {
  const checks = new CheckRecorder();
  const clients: PluginClient[] = [];
  try {
    await firstContact(ctx, checks, clients);
  } finally {
    for (const c of clients) c.close();
  }
  return checks;
}

async function firstContact(ctx: ContractContext, checks: CheckRecorder, clients: PluginClient[]): Promise<void> {
  const { kubelet, signal } = ctx;
  const reg = await kubelet.next(ctx.startTimeoutMs, signal);
  if (!reg) {
    const state = ctx.pluginState?.();
    checks.failed('registration', `registration: no Register call reached ${kubelet.socketPath} within ${ctx.startTimeoutMs} ms${state ? ` (${state})` : ''}`);
    checks.skipRest(CHECK_NAMES, 'the plugin never registered');
    return;
  }
  checks.passed('registration');
  checks.verdict('version', versionProblems(reg.request.version));
  checks.verdict('resource-name', resourceNameProblems(reg.request.resource_name));
  if (reg.refused) {
    checks.skipRest(CHECK_NAMES, `the kubelet refuses this registration (${reg.refused}), so it never dials the plugin`);
    return;
  }

  const dialed = await checkEndpoint(ctx, checks, reg, clients);
  if (!dialed) {
    checks.skipRest(CHECK_NAMES.filter((n) => n !== 're-registration'), "the plugin's endpoint does not serve DevicePlugin");
  } else {
    const registered = reg.request.options ?? NO_OPTIONS;
    const o = dialed.options;
    checks.verdict(
      'options',
      o.pre_start_required === registered.pre_start_required && o.get_preferred_allocation_available === registered.get_preferred_allocation_available
        ? []
        : [`options: GetDevicePluginOptions says ${JSON.stringify(o)} but the plugin registered ${JSON.stringify(registered)}; the kubelet acts on the registered ones`],
    );
    await checkDevices(ctx, checks, dialed.client, registered);
  }
  await checkReRegistration(ctx, checks, clients, dialed !== undefined);
}

/** The endpoint's rules, then a dial and GetDevicePluginOptions. */
async function checkEndpoint(ctx: ContractContext, checks: CheckRecorder, reg: Registration, clients: PluginClient[]) {
  const problems = endpointProblems(reg.request.endpoint);
  if (problems.length) return void checks.failed('endpoint', problems.join('\n'));
  const path = join(ctx.kubelet.pluginDir, reg.request.endpoint);
  const s = await stat(path).catch(() => undefined);
  if (!s?.isSocket()) return void checks.failed('endpoint', `endpoint: ${path} ${s ? 'is not a socket' : 'does not exist'}; the plugin must serve on it before it registers`);
  const client = await PluginClient.dial(path);
  clients.push(client);
  try {
    const options = await client.options(ctx.timeoutMs, ctx.signal);
    checks.passed('endpoint');
    return { client, options };
  } catch (err) {
    return void checks.failed('endpoint', `endpoint: ${path} does not answer GetDevicePluginOptions: ${message(err)}`);
  }
}

async function checkDevices(ctx: ContractContext, checks: CheckRecorder, client: PluginClient, options: DevicePluginOptions): Promise<void> {
  const watch = client.watch();
  let first: ListAndWatchResponse | undefined;
  try {
    first = await watch.next(ctx.timeoutMs, ctx.signal);
    if (!first) checks.failed('list-and-watch/devices', `devices listed: ListAndWatch sent no device list within ${ctx.timeoutMs} ms`);
  } catch (err) {
    checks.failed('list-and-watch/devices', `devices listed: ListAndWatch failed before its first list: ${message(err)}`);
  }
  if (!first) {
    const next = ['list-and-watch/unique-ids', 'list-and-watch/health-values', 'health-change'] as const;
    checks.skipRest(next, 'ListAndWatch sent no device list');
    checks.skipRest(['get-preferred-allocation', 'allocate/answers', 'allocate/device-specs', 'allocate/mounts', 'allocate/envs', 'allocate/cdi-devices', 'allocate/unknown-device', 'pre-start-container'], 'ListAndWatch sent no device list');
    return;
  }
  const devices = first.devices;
  checks.verdict('list-and-watch/devices', deviceListProblems(devices));
  checks.verdict('list-and-watch/unique-ids', duplicateIdProblems(devices));
  checks.verdict('list-and-watch/health-values', healthProblems(devices));

  await checkAllocation({ client, checks, devices, options, timeoutMs: ctx.timeoutMs, signal: ctx.signal, hostPathExists: ctx.hostPathExists });
  await checkHealthChange(ctx, checks, watch, devices);
}

const healthOf = (devices: readonly Device[]) => new Map(devices.map((d) => [d.ID, d.health]));

async function checkHealthChange(ctx: ContractContext, checks: CheckRecorder, watch: DeviceWatch, listed: readonly Device[]): Promise<void> {
  if (!ctx.triggerHealthChange) return checks.skipped('health-change', ctx.healthTriggerMissing);
  if (listed.length === 0) return checks.skipped('health-change', 'the plugin lists no device whose health could change');
  try {
    // Lists streamed since the first one are the state the trigger changes.
    let before = healthOf(listed);
    for (let r = await watch.next(0); r; r = await watch.next(0)) before = healthOf(r.devices);
    await ctx.triggerHealthChange();
    const deadline = Date.now() + ctx.timeoutMs;
    for (;;) {
      const r = await watch.next(Math.max(0, deadline - Date.now()), ctx.signal);
      if (!r) return checks.failed('health-change', `health change: after the health trigger, ListAndWatch streamed no list with a changed device health within ${ctx.timeoutMs} ms`);
      const changed = r.devices.filter((d) => before.has(d.ID) && before.get(d.ID) !== d.health);
      if (changed.length) {
        checks.verdict('health-change', healthProblems(changed).map((p) => `health change: the new ${p}`));
        return;
      }
    }
  } catch (err) {
    checks.failed('health-change', `health change: ${message(err)}`);
  }
}

/** Register again after a kubelet restart; a plugin that served before must serve again (its socket was removed). */
async function checkReRegistration(ctx: ContractContext, checks: CheckRecorder, clients: PluginClient[], servedBefore: boolean): Promise<void> {
  // The old connections go with the old kubelet.
  for (const c of clients.splice(0)) c.close();
  await ctx.kubelet.restart();
  const reg = await ctx.kubelet.next(ctx.timeoutMs, ctx.signal);
  if (!reg) return checks.failed('re-registration', `re-registration: after kubelet.sock was recreated (a kubelet restart), the plugin did not call Register again within ${ctx.timeoutMs} ms`);
  if (reg.refused) return checks.failed('re-registration', `re-registration: the plugin registered again but the kubelet refuses it: ${reg.refused}`);
  // An endpoint that never answered is the endpoint check's failure, not this one's.
  if (!servedBefore) return checks.passed('re-registration');
  if (endpointProblems(reg.request.endpoint).length) return checks.failed('re-registration', `re-registration: the new registration's endpoint ${JSON.stringify(reg.request.endpoint)} is not a file in the plugin folder`);
  const client = await PluginClient.dial(join(ctx.kubelet.pluginDir, reg.request.endpoint));
  clients.push(client);
  try {
    await client.options(ctx.timeoutMs, ctx.signal);
    checks.passed('re-registration');
  } catch (err) {
    checks.failed('re-registration', `re-registration: the plugin registered again but its endpoint ${reg.request.endpoint} does not answer: ${message(err)}`);
  }
}
