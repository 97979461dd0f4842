import type { TargetFacts } from '../core/suite.js';
import type { ResolvedTarget } from './target-options.js';

/** The target config facts tests may read (see TargetFacts). */
export function targetFacts(target: ResolvedTarget): TargetFacts {
  const def = target.def as ResolvedTarget['def'] & { ktap?: boolean; exitSuccessValue?: number };
  return { name: target.name, ktap: def.ktap === true, exitSuccessValue: def.exitSuccessValue };
}
