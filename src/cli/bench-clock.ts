import type { BenchClock } from '../bench/clock.js';
import { resolveClock } from '../bench/clock.js';
import type { BenchSettings } from '../config/define-config.js';
import { chooseAccel } from '../../runners/qemu/accel.js';
import { profileFor } from '../../runners/qemu/profiles/index.js';
import type { ResolvedTarget } from './target-options.js';

/**
 * The clock a target's benchmark boots will most likely run, known before booting: it decides how
 * many boots a measurement needs. The boots themselves record the clock they really ran (a KVM
 * that fails at boot falls back to TCG, which then counts instructions under `auto`).
 */
export async function plannedClock(target: ResolvedTarget): Promise<BenchClock> {
  if (target.benchClock !== 'auto') return target.benchClock;
  if (target.def.runner !== 'qemu') return 'time';
  const { accel } = await chooseAccel(target.def.accel, profileFor(target.def.arch));
  return resolveClock('auto', accel, target.def.runner);
}

/** Boots per measurement: instruction counts repeat from boot to boot, so fewer suffice. */
export function defaultBoots(settings: BenchSettings, clock: BenchClock): number {
  return clock === 'instructions' ? settings.instructionBoots : settings.boots;
}
