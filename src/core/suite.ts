import type { BootReport } from '../parsers/boot-report.js';
import type { Metric } from './result.js';
import type { ChannelKind, Session } from './session.js';

/**
 * What a test may require. A session that lacks one makes the test `skipped` with the reason,
 * never `failed`.
 *  - a channel kind: the target must offer that channel;
 *  - `boot-report`: the kernel printed the tsuite boot report;
 *  - `live`: a running machine (not a replayed console log);
 *  - `power-off`: the guest powers off when asked.
 */
export type Requirement = ChannelKind | 'boot-report' | 'live' | 'power-off';

export interface TestContext {
  readonly session: Session;
  /** Present whenever the test requires `boot-report`. */
  readonly bootReport: BootReport | undefined;
  readonly signal: AbortSignal;
  metric(metric: Metric): void;
  /** Ends the test as skipped. Only for conditions found at run time; static ones belong in `requires`. */
  skip(reason: string): never;
}

export interface TestDef {
  /** Kebab-case; the test id is `<suite>/<name>`. */
  name: string;
  title: string;
  requires?: readonly Requirement[];
  timeoutMs?: number;
  /** The test ends the machine (e.g. shutdown): it runs last in its session. */
  endsSession?: boolean;
  run(ctx: TestContext): Promise<void> | void;
}

export interface SuiteDef {
  name: string;
  description: string;
  tests: readonly TestDef[];
}

export function defineSuite(suite: SuiteDef): SuiteDef {
  return suite;
}

/** Thrown by `ctx.skip`. */
export class SkipTest extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'SkipTest';
  }
}

/** Why a requirement is not met, or undefined when it is. */
export function unmetRequirement(req: Requirement, session: Session, report: BootReport | undefined): string | undefined {
  switch (req) {
    case 'live':
      return session.spec ? undefined : 'needs a running machine; this is a replayed console log';
    case 'power-off':
      return session.canPowerOff ? undefined : 'the target has no power-off command (powerOffCommand in its config)';
    case 'boot-report':
      return report
        ? undefined
        : 'the kernel printed no tsuite boot report (`tsuite-boot:` lines); boot it with the tsuite initramfs (--initrd tsuite) to run this test';
    default:
      return session.channels.has(req) ? undefined : `target offers no '${req}' channel`;
  }
}
