import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHECK_NAMES } from '../../suites/gpu/device-plugin/check-results.js';
import { checkDevicePlugin } from '../../suites/gpu/device-plugin/check-plugin.js';
import { cdiNameProblems, endpointProblems, preferredAllocationProblems, resourceNameProblems } from '../../suites/gpu/device-plugin/contract-rules.js';
import type { ContainerAllocateResponse } from '../../suites/gpu/device-plugin/api.js';
import { BROKEN_RULES, type BrokenRule } from '../support/device-plugins/broken-rules.js';
import { buildEduPlugin, type BuiltPlugin } from '../support/device-plugins/build-plugin.js';
import { spawnEduPlugin, type SpawnPluginOptions } from '../support/device-plugins/spawn-plugin.js';

/** Short: a check that waits in vain (no registration, no health update) costs one of these. */
const TIMEOUT_MS = 5_000;
/** The plugin's start-up on a busy 2-core host. */
const START_TIMEOUT_MS = 15_000;

let built: BuiltPlugin;
beforeAll(async () => {
  built = await buildEduPlugin();
});
afterAll(() => built?.dispose());

/** How each check's failure message begins: it names the rule. */
const RULE_WORDS: Record<string, string> = {
  registration: 'registration:',
  version: 'version:',
  'resource-name': 'resource name',
  endpoint: 'endpoint',
  options: 'options:',
  'list-and-watch/devices': 'devices listed:',
  'list-and-watch/unique-ids': 'unique device IDs:',
  'list-and-watch/health-values': 'health values:',
  'get-preferred-allocation': 'preferred allocation:',
  'allocate/answers': 'allocate answers:',
  'allocate/device-specs': 'device specs:',
  'allocate/mounts': 'mounts:',
  'allocate/envs': 'envs:',
  'allocate/cdi-devices': 'CDI device names:',
  'allocate/unknown-device': 'unknown device:',
  'pre-start-container': 'pre-start container:',
  'health-change': 'health change:',
  're-registration': 're-registration:',
};

async function runHarness(opts: SpawnPluginOptions & { trigger?: boolean } = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'tsuite-dp-'));
  const log: string[] = [];
  let child: ChildProcess | undefined;
  try {
    const results = await checkDevicePlugin({
      pluginDir: dir,
      start: ({ pluginDir }) => (child = spawnEduPlugin(built, pluginDir, { ...opts, log })),
      timeoutMs: TIMEOUT_MS,
      // Nothing will come for no-register: no use waiting for start-up.
      startTimeoutMs: opts.rule === 'no-register' ? TIMEOUT_MS : START_TIMEOUT_MS,
      ...(opts.trigger === false ? {} : { healthTrigger: 'SIGUSR1' as const }),
    });
    // The harness stopped the plugin, and the plugin and the harness removed their sockets.
    expect(child?.exitCode ?? child?.signalCode, 'the plugin process ended').not.toBeNull();
    expect(await readdir(dir)).toEqual([]);
    const byStatus = (s: string) => results.filter((r) => r.status === s).map((r) => r.name);
    return { results, log: log.join(''), failed: byStatus('failed'), skipped: byStatus('skipped'), passed: byStatus('passed') };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('device plugin harness (the kubelet side of device plugin API v1beta1)', () => {
  it('passes a conforming plugin on every check', async () => {
    const r = await runHarness();
    expect(r.results.map((c) => c.name)).toEqual(CHECK_NAMES);
    expect(r.results.filter((c) => c.status !== 'passed'), r.log).toEqual([]);
  });

  it('skips the optional RPCs a plugin does not advertise, and the health change without a trigger', async () => {
    const r = await runHarness({ advertiseOptions: false, trigger: false });
    expect(r.failed, r.log).toEqual([]);
    expect(r.skipped).toEqual(['get-preferred-allocation', 'pre-start-container', 'health-change']);
    const reason = (n: string) => r.results.find((c) => c.name === n)?.reason;
    expect(reason('get-preferred-allocation')).toBe('plugin does not advertise get_preferred_allocation_available');
    expect(reason('pre-start-container')).toBe('plugin does not advertise pre_start_required');
    expect(reason('health-change')).toMatch(/no health trigger configured \(healthTrigger/);
  });

  it.each(Object.entries(BROKEN_RULES) as [BrokenRule, string][])('a plugin breaking %s fails exactly the %s check, naming the rule', async (rule, check) => {
    const r = await runHarness({ rule });
    expect(r.failed, r.log).toEqual([check]);
    const failure = r.results.find((c) => c.name === check)!;
    expect(failure.error?.message).toContain(RULE_WORDS[check]);
    for (const s of r.results.filter((c) => c.status === 'skipped')) expect(s.reason, s.name).toBeTruthy();
  });

  it('stops the plugin and removes the sockets when the run is aborted', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tsuite-dp-'));
    let child: ChildProcess | undefined;
    try {
      const run = checkDevicePlugin({
        pluginDir: dir,
        start: ({ pluginDir }) => (child = spawnEduPlugin(built, pluginDir, { rule: 'no-register' })),
        timeoutMs: 60_000,
        signal: AbortSignal.timeout(300),
      });
      await expect(run).rejects.toThrow(/abort|timeout/i);
      expect(child?.exitCode ?? child?.signalCode).not.toBeNull();
      expect(await readdir(dir)).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('fails registration, saying so, when the plugin command cannot start', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tsuite-dp-'));
    try {
      const results = await checkDevicePlugin({ pluginDir: dir, start: () => spawn(join(dir, 'no-such-plugin')), timeoutMs: 500 });
      expect(results[0]).toMatchObject({ name: 'registration', status: 'failed' });
      expect(results[0]!.error?.message).toMatch(/the plugin did not start: .*ENOENT/);
      expect(results.slice(1).every((r) => r.status === 'skipped')).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses a plugin folder too long for a unix socket before starting anything', async () => {
    let started = false;
    const start = () => {
      started = true;
      return { stop() {} };
    };
    await expect(checkDevicePlugin({ pluginDir: `/tmp/${'x'.repeat(120)}`, start, timeoutMs: 100 })).rejects.toThrow(/too long for a unix socket/);
    expect(started).toBe(false);
  });
});

describe('device plugin contract rules', () => {
  it('accepts extended resource names and refuses the rest, naming the rule', () => {
    expect(resourceNameProblems('tsuite.dev/edu')).toEqual([]);
    expect(resourceNameProblems('nvidia.com/gpu')).toEqual([]);
    expect(resourceNameProblems('gpu')[0]).toMatch(/vendor-domain\/resourcetype/);
    expect(resourceNameProblems('kubernetes.io/gpu')[0]).toMatch(/kubernetes.io domain is reserved/);
    expect(resourceNameProblems('Vendor.COM/gpu')[0]).toMatch(/DNS subdomain/);
    expect(resourceNameProblems('vendor.com/-gpu')[0]).toMatch(/resource type/);
    expect(resourceNameProblems(`vendor.com/${'g'.repeat(64)}`)[0]).toMatch(/1-63/);
  });

  it('wants the endpoint as a file name inside the plugin folder', () => {
    expect(endpointProblems('edu.sock')).toEqual([]);
    expect(endpointProblems('/var/lib/kubelet/device-plugins/edu.sock')[0]).toMatch(/not an absolute path/);
    expect(endpointProblems('../edu.sock')[0]).toMatch(/inside the plugin folder/);
    expect(endpointProblems('')[0]).toMatch(/empty/);
  });

  it('checks CDI device names are vendor.com/class=name', () => {
    const answer = (...names: string[]): ContainerAllocateResponse => ({ envs: {}, mounts: [], devices: [], annotations: {}, cdi_devices: names.map((name) => ({ name })) });
    expect(cdiNameProblems(answer('nvidia.com/gpu=0', 'tsuite.dev/edu=edu-0', 'vendor.com/class=a:b.c'))).toEqual([]);
    expect(cdiNameProblems(answer('edu-0', 'vendor.com/class', 'vendor.com/=x', '/class=x', 'vendor.com/class=x='))).toHaveLength(5);
  });

  it('checks a preferred allocation against size, availability and must-include', () => {
    expect(preferredAllocationProblems(['a'], ['a', 'b'], ['a'], 1)).toEqual([]);
    expect(preferredAllocationProblems(['a', 'b'], ['a', 'b'], ['a'], 1)[0]).toMatch(/asked for 1/);
    expect(preferredAllocationProblems(['c'], ['a', 'b'], [], 1)[0]).toMatch(/not among the available/);
    expect(preferredAllocationProblems(['b'], ['a', 'b'], ['a'], 1)[0]).toMatch(/must-include/);
  });
});
