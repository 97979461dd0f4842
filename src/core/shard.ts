import { createHash } from 'node:crypto';
import { UsageError } from './errors.js';
import type { SessionPlan } from './plan.js';
import type { RunResult } from './result.js';

/**
 * `--shard i/n`: one plan split by session across n runs (a CI matrix), merged afterwards by
 * `tsuite merge`. Every shard computes the same split from the same plan, so no coordinator is
 * needed; the split must never depend on anything a shard sees alone.
 */

export interface ShardSpec {
  /** 1-based, as Playwright's `--shard` is. */
  index: number;
  total: number;
}

/** What a shard's results.json records about it (`run.shard`); `tsuite merge` checks blobs against it. */
export interface ShardInfo extends ShardSpec {
  /** sha256 of the whole plan: every session's id and key and every test id, in order. */
  planDigest: string;
  /** Every session id of the whole plan, in plan order. */
  planSessions: string[];
  /** The sessions this shard ran. */
  sessions: string[];
  /** How sessions were spread: by the recorded durations of an earlier run, or round-robin in plan order. */
  balancedBy: 'durations' | 'plan-order';
}

const SHARD_FIX = '--shard takes <index>/<total>, 1 <= index <= total, e.g. --shard 1/3 (the first of three)';

export function parseShard(value: string): ShardSpec {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(value);
  if (!m) throw new UsageError(`--shard '${value}' is not <index>/<total>`, SHARD_FIX);
  const index = Number(m[1]);
  const total = Number(m[2]);
  if (total < 1) throw new UsageError(`--shard '${value}': the total must be at least 1`, SHARD_FIX);
  if (index < 1 || index > total) throw new UsageError(`--shard '${value}': the index must be between 1 and ${total}`, SHARD_FIX);
  return { index, total };
}

/** Identifies the plan: blobs of one plan have the same digest whichever shard ran them. */
export function planDigest(plan: readonly SessionPlan[]): string {
  const shape = plan.map((s) => [s.id, s.key, s.tests.map((t) => t.id)]);
  return createHash('sha256').update(JSON.stringify(shape)).digest('hex');
}

/**
 * How long each session took in an earlier run (boot plus its tests), by session id. Session ids
 * are plan positions (`<target>-<n>`), stable while the plan is. A shard's own results are never
 * used: they know only part of the plan, and shards must all see the same durations.
 */
export function sessionDurations(result: RunResult): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of result.sessions) out.set(s.id, s.bootMs ?? 0);
  for (const t of result.tests) out.set(t.session, (out.get(t.session) ?? 0) + t.durationMs);
  return out;
}

/**
 * Assigns every session of the plan to exactly one shard (0-based shard numbers, by plan order).
 * With durations for some sessions: greedy longest-first, each session onto the least loaded
 * shard (ties: the lower shard); a session with no recorded duration counts as the median of the
 * known ones. With none known: round-robin in plan order. Deterministic: equal inputs, equal split.
 */
export function assignShards(sessionIds: readonly string[], total: number, durations?: ReadonlyMap<string, number>): { shardOf: number[]; balancedBy: ShardInfo['balancedBy'] } {
  const known = sessionIds.map((id) => durations?.get(id)).filter((d): d is number => d !== undefined);
  if (known.length === 0) return { shardOf: sessionIds.map((_, i) => i % total), balancedBy: 'plan-order' };
  const sorted = [...known].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)]!;
  const cost = sessionIds.map((id) => durations!.get(id) ?? median);
  const order = sessionIds.map((_, i) => i).sort((a, b) => cost[b]! - cost[a]! || a - b);
  const load = new Array<number>(total).fill(0);
  const shardOf = new Array<number>(sessionIds.length).fill(0);
  for (const i of order) {
    let best = 0;
    for (let s = 1; s < total; s++) if (load[s]! < load[best]!) best = s;
    shardOf[i] = best;
    load[best]! += cost[i]!;
  }
  return { shardOf, balancedBy: 'durations' };
}

/** The sessions of the plan that shard `spec.index` runs, in plan order, and what to record about them. */
export function shardPlan(plan: readonly SessionPlan[], spec: ShardSpec, durations?: ReadonlyMap<string, number>): { sessions: SessionPlan[]; info: ShardInfo } {
  const ids = plan.map((s) => s.id);
  const { shardOf, balancedBy } = assignShards(ids, spec.total, durations);
  const sessions = plan.filter((_, i) => shardOf[i] === spec.index - 1);
  return {
    sessions,
    info: { ...spec, planDigest: planDigest(plan), planSessions: ids, sessions: sessions.map((s) => s.id), balancedBy },
  };
}
