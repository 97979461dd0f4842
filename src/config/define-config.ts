import type { BenchClockChoice } from '../bench/clock.js';
import type { TargetDef } from '../core/target.js';

/** What `tsuite.config.ts` default-exports. Every field is optional; CLI flags override them. */
export interface TsuiteConfig {
  /** Extra targets, or overrides of built-in ones' fields (e.g. memoryMb of qemu-x86). */
  targets?: Record<string, Partial<TargetDef>>;
  /** Suites `tsuite run` runs when --suite is not given. Default: every built-in and user suite but the `explicit` ones such as `bench` (`tsuite bench` runs it). */
  suites?: string[];
  /**
   * Suite files of your own (each default-exports `defineSuite(...)` or an array of suites), as paths
   * or globs relative to this file's folder. Default: every `*.suite.ts` (or .mts, .js, .mjs) file under `tsuite/`.
   * Their suites run beside the built-in ones and may be named in `suites` and `--suite`.
   */
  suiteFiles?: string[];
  /**
   * Default ['console', 'json', 'tap', 'junit']. A name that is a path (`./my-reporter.ts`, relative
   * to this file's folder) loads a custom reporter: its default export is a `ReporterFactory` or a class.
   */
  reporters?: string[];
  /** Parent of each run's output folder; default 'reports' (a run writes reports/<run-id>/). */
  outputDir?: string;
  /** Target used when --target is not given. Default 'qemu-x86'. */
  defaultTarget?: string;
  /** Per-test time limit in ms. Default 60000. */
  testTimeoutMs?: number;
  /** `tsuite bench` / `tsuite compare` settings. */
  bench?: Partial<BenchSettings>;
}

export interface BenchSettings {
  /**
   * The benchmark clock: `instructions` (QEMU icount, deterministic), `time` (real time), or
   * `auto`: instructions under TCG, time under KVM and on cloud instances. Default auto.
   */
  clock: BenchClockChoice;
  /** Independent boots per measurement (and per side of an A/B comparison) in time mode. Default 8. */
  boots: number;
  /** The same in instruction mode, whose counts repeat from boot to boot (to ±0.5% at most, measured). Default 5. */
  instructionBoots: number;
  /**
   * The most boots per side an A/B comparison in time mode may grow to while a metric is still
   * undecided (adaptive boots; the re-measurement of a suspected change is not counted). Default
   * 20. Instruction mode grows only when --max-boots asks: its counts repeat from boot to boot.
   */
  maxBoots: number;
  /** The smallest relative change reported as a regression or improvement, in real time. Default 0.05 (5%). */
  minEffect: number;
  /**
   * The same for instruction counts. Default 0.02 (2%): paths with several processes or deferred
   * work (IPC, fork+exec, file creation) still vary by about 0.3–0.5% from boot to boot when
   * counted (interrupt timing moves scheduling; memory layout differs).
   */
  minEffectInstructions: number;
  /** False discovery rate across all metrics compared at once (Benjamini–Hochberg). Default 0.05. */
  alpha: number;
  /** The history folder (append-only JSONL). Default 'bench-history', beside the config file. */
  history: string;
}

/** The config after loading: every field filled in, paths absolute. */
export interface ResolvedConfig {
  /**
   * Configured targets as written (overrides stay partial; merge with `findTarget`), with relative
   * `kernel`/`initrd` paths made absolute against the config file's folder.
   */
  targets: Record<string, Partial<TargetDef>>;
  suites: string[];
  /** The suite-file patterns searched (absolute): `--suite-files`, `suiteFiles`, or the default. */
  suiteFiles: string[];
  /** Built-in reporter names, and absolute paths of reporter files. */
  reporters: string[];
  /** Absolute: resolved against the config file's folder (the cwd when there is no file). */
  outputDir: string;
  defaultTarget: string;
  testTimeoutMs: number;
  /** `history` is absolute. */
  bench: BenchSettings;
  /** Absolute path of the config file loaded; undefined when none was found. */
  file?: string;
}

export const DEFAULT_REPORTERS: readonly string[] = Object.freeze(['console', 'json', 'tap', 'junit']);
export const DEFAULT_OUTPUT_DIR = 'reports';
export const DEFAULT_TARGET = 'qemu-x86';
export const DEFAULT_TEST_TIMEOUT_MS = 60_000;
export const DEFAULT_BENCH: Readonly<BenchSettings> = Object.freeze({
  clock: 'auto',
  boots: 8,
  instructionBoots: 5,
  maxBoots: 20,
  minEffect: 0.05,
  minEffectInstructions: 0.02,
  alpha: 0.05,
  history: 'bench-history',
});

/** Identity function: gives `tsuite.config.ts` type checking and editor completion. */
export function defineConfig(config: TsuiteConfig): TsuiteConfig {
  return config;
}
