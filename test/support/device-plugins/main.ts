/**
 * The test device plugin as a process (compiled by build-plugin.ts), with DP_PLUGIN_DIR (the
 * plugin folder holding kubelet.sock), DP_PROTO_FILE (the API definition), TSUITE_BROKEN_RULE (one rule to break, or unset) and
 * TSUITE_PLUGIN_OPTIONS=none (advertise no optional RPC). SIGUSR1 flips a device's health;
 * SIGTERM removes its socket and temp files and exits.
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { brokenRule } from './broken-rules.js';
import { EduPlugin } from './edu-plugin.js';

const pluginDir = process.env.DP_PLUGIN_DIR;
if (!pluginDir) throw new Error('DP_PLUGIN_DIR is not set: the plugin folder holding kubelet.sock');
const proto = process.env.DP_PROTO_FILE;
if (!proto) throw new Error('DP_PROTO_FILE is not set: the device plugin API .proto');
const def = await protoLoader.load(proto, { keepCase: true, longs: Number, enums: String, defaults: true });
const pkg = grpc.loadPackageDefinition(def) as unknown as { v1beta1: Record<string, grpc.ServiceClientConstructor> };
const plugin = new EduPlugin({
  pluginDir,
  rule: brokenRule(process.env.TSUITE_BROKEN_RULE),
  advertiseOptions: process.env.TSUITE_PLUGIN_OPTIONS !== 'none',
  services: { Registration: pkg.v1beta1.Registration!, DevicePlugin: pkg.v1beta1.DevicePlugin! },
});
process.on('SIGUSR1', () => plugin.flipHealth());
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.on(sig, () => void plugin.stop().finally(() => process.exit(0)));
}
await plugin.start();
