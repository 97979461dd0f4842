import { rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { sessionFolder } from '../core/plan.js';
import type { ProvisionRequest, Runner } from '../core/runner.js';
import type { Session } from '../core/session.js';
import { enginesRequired, type SuiteDef } from '../core/suite.js';
import type { SuiteMachineFacts } from '../../suites/manifest.js';
import type { ResolvedTarget } from './target-options.js';
import type { SessionAsk } from './suite-run.js';

/**
 * `tsuite run`'s first machine, booting while the suites' code loads. Loading the suites, the
 * channels they use and the library behind them is a few hundred ms of CPU; a kernel's boot is
 * seconds of waiting for a guest. So the first session's machine is started as soon as the target
 * is ready, from what the suite manifest says the session will ask for, and the suites load while
 * it boots.
 *
 * Nothing is assumed: the dispatcher takes this machine only for the session it was booted for and
 * only when that session's request, built from the real plan, is the very request it was booted
 * with. Otherwise the early machine is stopped (its console log removed: it is evidence of nothing)
 * before the session boots as it always did. A run that never takes it stops it at its end, and a
 * Ctrl-C stops it like any boot.
 */
export interface BootAhead {
  /** The session this machine was booted for. */
  readonly sessionId: string;
  /**
   * This machine, when `asked` is the request it was booted with (then `signal` stops it too);
   * undefined, after stopping it, when the same session asks for anything else; undefined when
   * another session asks, or when it was taken or stopped already.
   */
  take(asked: ProvisionRequest, signal: AbortSignal): Promise<Session | undefined>;
  /** Stops the machine and removes its console log, unless a session took it. */
  discard(): Promise<void>;
}

export function bootAhead(runner: Runner, request: ProvisionRequest, runSignal: AbortSignal): BootAhead {
  const stop = new AbortController();
  const stopOn = (signal: AbortSignal) => {
    if (signal.aborted) stop.abort(signal.reason);
    else signal.addEventListener('abort', () => stop.abort(signal.reason), { once: true });
  };
  stopOn(runSignal);
  const booting = runner.provision(request, stop.signal);
  // Settled by take (the dispatcher sees a failed boot as its own) or by discard: never unhandled.
  booting.catch(() => undefined);
  let state: 'booting' | 'taken' | 'discarded' = 'booting';

  async function discard(): Promise<void> {
    if (state !== 'booting') return;
    state = 'discarded';
    stop.abort(new Error('the early boot was not needed'));
    const session = await booting.catch(() => undefined);
    await session?.[Symbol.asyncDispose]();
    await rm(join(request.dir, 'console.log'), { force: true });
    // The folder goes too when nothing else is in it (a session of the same id boots into it next).
    await rmdir(request.dir).catch(() => undefined);
  }

  return {
    sessionId: request.sessionId,
    async take(asked, signal) {
      if (state !== 'booting' || asked.sessionId !== request.sessionId) return undefined;
      if (!isDeepStrictEqual(asked, request)) {
        await discard();
        return undefined;
      }
      state = 'taken';
      stopOn(signal);
      return booting;
    },
    discard,
  };
}

/** The machine facts of a loaded suite: a user's, or a built-in one to check its manifest entry by. */
export function suiteMachineFacts(suite: SuiteDef): SuiteMachineFacts {
  return { engines: enginesRequired(suite.tests), benchmarks: suite.benchmarks === true, ownMachine: suite.machine !== undefined };
}

/**
 * What the plan's first session will ask of its machine, when that can be known before the
 * suites load: a QEMU target (a cloud runner's machine costs money and is never started on a
 * guess) whose kernel does not end the machine by itself, with at least one planned suite on the
 * target's plain machine (the plan's first session is then theirs), and no benchmark suite (it may
 * share that session under its own clock). The engines are those any planned suite requires
 * outright: the plan waits for them on every boot. Undefined otherwise, and the session boots
 * when the plan reaches it.
 */
export function firstSessionAsk(target: ResolvedTarget, planned: readonly SuiteMachineFacts[]): SessionAsk | undefined {
  if (target.def.runner !== 'qemu') return undefined;
  // A kernel that says how it exits, or that runs its tests in itself (KTAP), may end the machine
  // itself right after its landmark (the fixture kernel 0.2 s into its boot): started early, it
  // would be gone before the tests are loaded, and its end would land in the first of them.
  if (target.def.exitSuccessValue !== undefined || target.def.ktap) return undefined;
  if (planned.some((s) => s.benchmarks) || !planned.some((s) => !s.ownMachine)) return undefined;
  const engines = (['docker', 'cri'] as const).filter((e) => planned.some((s) => s.engines.includes(e)));
  return { id: sessionFolder(target.name, 0), engines };
}
