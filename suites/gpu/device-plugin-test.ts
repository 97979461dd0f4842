import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InfraError, type TestContext } from '../../src/index.js';

/**
 * The device plugin API (v1beta1) contract, with tsuite as the kubelet: the target's configured
 * plugin is started on this host in a private plugin folder, and each check is a child result.
 * Only on the local target: the plugin's unix socket must be reachable from here, and the paths
 * its Allocate answers with must exist where it runs.
 */
export async function runDevicePluginChecks(ctx: TestContext): Promise<void> {
  const settings = ctx.target.devicePlugin;
  if (!settings) ctx.skip("the target names no device plugin (devicePlugin: { command: ['./my-plugin', '{pluginDir}'] } in its config)");
  if (ctx.session.agent?.scratchRoot === undefined) {
    ctx.skip('the device plugin harness starts the plugin on this host: run it on the local target (--target local), where the plugin and its devices are');
  }
  // Short: a unix socket path holds at most 107 bytes.
  const dir = await mkdtemp(join(tmpdir(), 'tsuite-dp-'));
  try {
    const [cmd, ...args] = settings.command.map((w) => w.replaceAll('{pluginDir}', dir));
    // The device-plugin client (gRPC) loads here, not with the suite catalog at every start-up.
    const { checkDevicePlugin } = await import('./device-plugin/check-plugin.js');
    const results = await checkDevicePlugin({
      pluginDir: dir,
      start: ({ pluginDir }) => spawn(cmd!, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, DP_PLUGIN_DIR: pluginDir } }),
      timeoutMs: settings.timeoutMs ?? 10_000,
      startTimeoutMs: (settings.timeoutMs ?? 10_000) * 3,
      signal: ctx.signal,
      ...(settings.healthSignal ? { healthTrigger: settings.healthSignal as NodeJS.Signals } : {}),
    });
    for (const r of results) ctx.emit({ ...r, name: `device-plugin/${r.name}` });
  } catch (err) {
    if (ctx.signal.aborted) throw err;
    throw new InfraError(`the device plugin harness could not run: ${(err as Error).message}`, 'check devicePlugin.command in the target config');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
