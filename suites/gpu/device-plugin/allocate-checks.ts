/**
 * The allocation checks: what a kubelet asks of a plugin when a container gets a device
 * (GetPreferredAllocation, Allocate, PreStartContainer), and a refusal for a device never listed.
 */
import { randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { HEALTHY, type ContainerAllocateResponse, type DevicePluginOptions, type Device } from './api.js';
import type { CheckRecorder } from './check-results.js';
import { cdiNameProblems, deviceSpecShapeProblems, envProblems, mountShapeProblems, preferredAllocationProblems } from './contract-rules.js';
import { PluginRpcError, type PluginClient } from './plugin-client.js';

export interface AllocateContext {
  client: PluginClient;
  checks: CheckRecorder;
  devices: readonly Device[];
  options: DevicePluginOptions;
  timeoutMs: number;
  signal?: AbortSignal;
  /** Whether a path exists on the host the plugin runs on (this host by default). */
  hostPathExists: (path: string) => Promise<boolean>;
}

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

export async function checkAllocation(ctx: AllocateContext): Promise<void> {
  const { client, checks, timeoutMs, signal } = ctx;
  const healthy = ctx.devices.filter((d) => d.health === HEALTHY).map((d) => d.ID);

  if (!ctx.options.get_preferred_allocation_available) checks.skipped('get-preferred-allocation', 'plugin does not advertise get_preferred_allocation_available');
  else if (healthy.length === 0) checks.skipped('get-preferred-allocation', 'the plugin lists no healthy device to choose from');
  else {
    // One device, which must be the last healthy one: the answer is fully determined.
    const must = [healthy[healthy.length - 1]!];
    try {
      const r = await client.preferredAllocation([{ available_deviceIDs: healthy, must_include_deviceIDs: must, allocation_size: 1 }], timeoutMs, signal);
      if (r.container_responses.length !== 1) checks.failed('get-preferred-allocation', `preferred allocation: asked for 1 container, got ${r.container_responses.length} container responses`);
      else checks.verdict('get-preferred-allocation', preferredAllocationProblems(r.container_responses[0]!.deviceIDs, healthy, must, 1));
    } catch (err) {
      checks.failed('get-preferred-allocation', `preferred allocation: the plugin advertises GetPreferredAllocation but the call failed: ${message(err)}`);
    }
  }

  const ALLOCATE_PARTS = ['allocate/answers', 'allocate/device-specs', 'allocate/mounts', 'allocate/envs', 'allocate/cdi-devices'] as const;
  const id = healthy[0];
  if (id === undefined) checks.skipRest(ALLOCATE_PARTS, 'the plugin lists no healthy device to allocate');
  else {
    let answer: ContainerAllocateResponse | undefined;
    try {
      const r = await client.allocate([[id]], timeoutMs, signal);
      if (r.container_responses.length !== 1) checks.failed('allocate/answers', `allocate answers: one container request for ${id} got ${r.container_responses.length} container responses; there must be one per request`);
      else {
        answer = r.container_responses[0]!;
        checks.passed('allocate/answers');
      }
    } catch (err) {
      checks.failed('allocate/answers', `allocate answers: Allocate of the listed healthy device ${id} failed: ${message(err)}`);
    }
    if (!answer) checks.skipRest(ALLOCATE_PARTS, `Allocate gave no container response for ${id}`);
    else await checkAnswer(ctx, id, answer);
  }

  // A device ID the plugin never listed: the kubelet never asks for one, so a plugin that grants it hands out nothing real.
  const unknown = `tsuite-unlisted-${randomBytes(4).toString('hex')}`;
  try {
    await client.allocate([[unknown]], timeoutMs, signal);
    checks.failed('allocate/unknown-device', `unknown device: Allocate for ${unknown}, a device the plugin never listed, succeeded; it must be refused with an error`);
  } catch (err) {
    if (err instanceof PluginRpcError && err.code !== grpc.status.DEADLINE_EXCEEDED) checks.passed('allocate/unknown-device');
    else checks.failed('allocate/unknown-device', `unknown device: Allocate for ${unknown} was not refused: ${message(err)}`);
  }

  if (!ctx.options.pre_start_required) checks.skipped('pre-start-container', 'plugin does not advertise pre_start_required');
  else if (id === undefined) checks.skipped('pre-start-container', 'the plugin lists no healthy device to start a container with');
  else {
    try {
      await client.preStartContainer([id], timeoutMs, signal);
      checks.passed('pre-start-container');
    } catch (err) {
      checks.failed('pre-start-container', `pre-start container: the plugin advertises pre_start_required but PreStartContainer for ${id} failed: ${message(err)}`);
    }
  }
}

async function checkAnswer(ctx: AllocateContext, id: string, a: ContainerAllocateResponse): Promise<void> {
  const { checks } = ctx;
  const missing = async (paths: string[], what: string) => {
    const out: string[] = [];
    for (const p of paths) if (!(await ctx.hostPathExists(p))) out.push(`${what}: host_path ${p} does not exist on the plugin's host`);
    return out;
  };
  if (a.devices.length === 0) checks.skipped('allocate/device-specs', `the Allocate answer for ${id} has no device specs`);
  else checks.verdict('allocate/device-specs', [...deviceSpecShapeProblems(a), ...(await missing(a.devices.map((d) => d.host_path), 'device specs'))]);
  if (a.mounts.length === 0) checks.skipped('allocate/mounts', `the Allocate answer for ${id} has no mounts`);
  else checks.verdict('allocate/mounts', [...mountShapeProblems(a), ...(await missing(a.mounts.map((m) => m.host_path), 'mounts'))]);
  if (Object.keys(a.envs).length === 0) checks.skipped('allocate/envs', `the Allocate answer for ${id} sets no environment variables`);
  else checks.verdict('allocate/envs', envProblems(a));
  if (a.cdi_devices.length === 0) checks.skipped('allocate/cdi-devices', `the Allocate answer for ${id} names no CDI devices`);
  else checks.verdict('allocate/cdi-devices', cdiNameProblems(a));
}
