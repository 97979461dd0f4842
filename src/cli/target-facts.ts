import type { ChannelKind } from '../core/session.js';
import type { TargetFacts } from '../core/suite.js';
import { isCloudRunner, type TargetDef } from '../core/target.js';
import { profiles } from '../../runners/qemu/profiles/index.js';
import type { ResolvedTarget } from './target-options.js';

/** Why a cloud session cannot power off: not the kernel's gap, the provider's. */
const CLOUD_NO_POWER_OFF = "a cloud instance's serial console is output only: tsuite cannot ask the kernel to power off (the instance is deleted instead)";
/** The local target is the host tsuite runs on: never powered off, never booted by tsuite. */
const LOCAL_NO_POWER_OFF = 'the local target is the host tsuite runs on: tsuite never powers it off';
const LOCAL_NO_BOOT_REPORT = 'the local target is the host tsuite runs on: tsuite did not boot it, so there is no tsuite boot report';
/** An ssh target is a machine someone else booted and owns. */
const SSH_NO_POWER_OFF = 'the ssh target is a machine tsuite did not boot: tsuite never powers it off';
const SSH_NO_BOOT_REPORT = 'the ssh target is a machine tsuite did not boot, so there is no tsuite boot report';

/** The target config facts tests may read (see TargetFacts). */
export function targetFacts(target: ResolvedTarget): TargetFacts {
  return {
    name: target.name,
    arch: target.def.arch,
    ktap: target.def.ktap === true,
    exitSuccessValue: target.def.exitSuccessValue,
    containerImages: target.def.containerImages ?? 'local',
    channels: declaredChannels(target.def),
    powerOff: target.def.powerOffCommand !== undefined && !isCloudRunner(target.def.runner),
    ...(isCloudRunner(target.def.runner) ? { powerOffWhy: CLOUD_NO_POWER_OFF } : {}),
    ...(target.def.runner === 'local' ? { powerOffWhy: LOCAL_NO_POWER_OFF, bootReportWhy: LOCAL_NO_BOOT_REPORT } : {}),
    ...(target.def.runner === 'ssh' ? { powerOffWhy: SSH_NO_POWER_OFF, bootReportWhy: SSH_NO_BOOT_REPORT } : {}),
    allowDestructive: target.def.allowDestructive === true,
    ...(target.def.devicePlugin ? { devicePlugin: target.def.devicePlugin } : {}),
  };
}

/**
 * The channels a target's config promises, known before any boot: what the runner would give a
 * session that came up fully. (Whether each then answers is the session's business.)
 */
export function declaredChannels(def: TargetDef): ChannelKind[] {
  // The docker runner boots nothing: its only channel is the endpoint it was given.
  if (def.runner === 'docker') return ['docker'];
  if (def.runner === 'cri') return ['cri'];
  // The host itself: its kernel log as the console, and the agent implemented here.
  if (def.runner === 'local') return ['console', 'agent'];
  // A machine over SSH: the connection itself, the agent implemented over it, its kernel log as the console.
  if (def.runner === 'ssh') return ['console', 'agent', 'ssh'];
  const channels: ChannelKind[] = ['console'];
  // A cloud instance has its serial console, and the kernel's own APIs only where tsuite shares its network.
  if (isCloudRunner(def.runner)) {
    if (def.cloud?.privateNetwork && def.docker?.port !== undefined) channels.push('docker');
    if (def.cloud?.privateNetwork && def.cri?.port !== undefined) channels.push('cri');
    return channels;
  }
  if (profiles[def.arch]?.exitDevice) channels.push('exit');
  if (def.agent) channels.push('agent');
  // A guest serves the Docker Engine API on a port QEMU forwards (a qemu target's docker.host is unused).
  if (def.docker?.port !== undefined) channels.push('docker');
  // A guest serves CRI's gRPC on a port QEMU forwards.
  if (def.cri?.port !== undefined) channels.push('cri');
  // The shell channel rides on the console, when the target declares its prompt.
  if (def.shell) channels.push('shell');
  return channels;
}
