/**
 * The device plugin harness's one entry: tsuite plays the kubelet (device plugin API v1beta1) in a
 * plugin folder, starts the plugin under test, runs the contract checks against it, and always
 * stops the plugin and removes kubelet.sock, whatever happened.
 */
import { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ChildResult } from '../../../src/index.js';
import { KUBELET_SOCKET } from './api.js';
import { runContractChecks } from './contract-checks.js';
import { KubeletRegistration } from './kubelet-registration.js';

/** A started plugin the harness can end: a child process (SIGTERM, then SIGKILL) or anything with `stop`. */
export type StartedPlugin = ChildProcess | { stop(): Promise<void> | void };

export interface CheckDevicePluginOptions {
  /**
   * The device plugin folder: kubelet.sock is served there and the plugin's endpoint socket is
   * expected there (a real kubelet's is /var/lib/kubelet/device-plugins). Created when missing.
   */
  pluginDir: string;
  /** Starts the plugin, told to use `pluginDir`; called once kubelet.sock is being served. */
  start: (env: { pluginDir: string; kubeletSocket: string }) => StartedPlugin | Promise<StartedPlugin>;
  /** Limit on each wait (a registration, an answer, a streamed list). */
  timeoutMs: number;
  /** Limit on the first registration, which includes the plugin's start-up; default `timeoutMs`. */
  startTimeoutMs?: number;
  signal?: AbortSignal;
  /**
   * How to make the plugin change one device's health: a signal sent to the started child process
   * (the test plugins flip a device on SIGUSR1), or a function. Absent: `health-change` is skipped.
   */
  healthTrigger?: NodeJS.Signals | ((plugin: StartedPlugin) => Promise<void> | void);
  /** Whether a host path exists where the plugin runs; default: this host's file system. */
  hostPathExists?: (path: string) => Promise<boolean>;
}

/** The longest unix socket path Linux takes (sun_path is 108 bytes with its NUL). */
const MAX_SOCKET_PATH = 107;
const STOP_GRACE_MS = 3_000;

/** Runs every check; returns one result per check (see CHECKS), in order. */
export async function checkDevicePlugin(opts: CheckDevicePluginOptions): Promise<ChildResult[]> {
  const socket = join(opts.pluginDir, KUBELET_SOCKET);
  if (Buffer.byteLength(socket) > MAX_SOCKET_PATH) {
    throw new Error(`device plugin folder ${opts.pluginDir} is too long for a unix socket (${socket} is over ${MAX_SOCKET_PATH} bytes): use a shorter path`);
  }
  await mkdir(opts.pluginDir, { recursive: true });
  const kubelet = await KubeletRegistration.start(opts.pluginDir);
  let plugin: StartedPlugin | undefined;
  try {
    plugin = await opts.start({ pluginDir: opts.pluginDir, kubeletSocket: socket });
    const started = plugin;
    // A command that cannot start (ENOENT) emits 'error': said in the registration failure, not thrown.
    let spawnError: Error | undefined;
    if (isChild(started)) started.on('error', (err) => (spawnError = err));
    const trigger = healthTrigger(opts.healthTrigger, started);
    const checks = await runContractChecks({
      kubelet,
      timeoutMs: opts.timeoutMs,
      startTimeoutMs: opts.startTimeoutMs ?? opts.timeoutMs,
      signal: opts.signal,
      triggerHealthChange: trigger.run,
      healthTriggerMissing: trigger.missing,
      hostPathExists: opts.hostPathExists ?? ((p) => stat(p).then(() => true, () => false)),
      pluginState: () => (spawnError ? `the plugin did not start: ${spawnError.message}` : exitState(started)),
    });
    return checks.list();
  } finally {
    if (plugin) await stopPlugin(plugin);
    await kubelet.close();
  }
}

function healthTrigger(t: CheckDevicePluginOptions['healthTrigger'], plugin: StartedPlugin): { run?: () => Promise<void>; missing: string } {
  if (t === undefined) return { missing: 'no health trigger configured (healthTrigger: a signal for the plugin process, or a function), so no health change can be asked for' };
  if (typeof t === 'function') return { run: async () => void (await t(plugin)), missing: '' };
  if (!isChild(plugin)) return { missing: `healthTrigger is the signal ${t}, but start() returned a handle, not a child process to send it to` };
  return { run: async () => void plugin.kill(t), missing: '' };
}

const isChild = (p: StartedPlugin): p is ChildProcess => p instanceof ChildProcess;

function exitState(p: StartedPlugin): string | undefined {
  if (!isChild(p)) return undefined;
  if (p.exitCode !== null) return `the plugin exited with code ${p.exitCode}`;
  if (p.signalCode !== null) return `the plugin was ended by ${p.signalCode}`;
  return undefined;
}

async function stopPlugin(p: StartedPlugin): Promise<void> {
  if (!isChild(p)) return void (await p.stop());
  if (p.exitCode !== null || p.signalCode !== null || p.pid === undefined) return;
  const exited = once(p, 'exit');
  p.kill('SIGTERM');
  const timer = setTimeout(() => p.kill('SIGKILL'), STOP_GRACE_MS);
  try {
    await exited;
  } finally {
    clearTimeout(timer);
  }
}
