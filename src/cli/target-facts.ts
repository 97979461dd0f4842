import type { TargetFacts } from '../core/suite.js';
import type { ResolvedTarget } from './target-options.js';

/** The target config facts tests may read (see TargetFacts). */
export function targetFacts(target: ResolvedTarget): TargetFacts {
  return {
    name: target.name,
    arch: target.def.arch,
    ktap: target.def.ktap === true,
    exitSuccessValue: target.def.exitSuccessValue,
    containerImages: target.def.containerImages ?? 'local',
  };
}
