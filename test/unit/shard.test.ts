import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import type { SessionPlan } from '../../src/core/plan.js';
import type { RunResult } from '../../src/core/result.js';
import { assignShards, parseShard, planDigest, sessionDurations, shardPlan } from '../../src/core/shard.js';

/** A plan of n sessions, each with two tests; only ids and keys matter to the split. */
function plan(n: number, key = 'k'): SessionPlan[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `t-${i + 1}`,
    key,
    tests: [`a${i}`, `b${i}`].map((name) => ({ id: `s/${name}`, suite: { name: 's' }, test: { name } })),
  })) as unknown as SessionPlan[];
}

describe('--shard i/n parsing', () => {
  it('accepts i/n with 1 <= i <= n', () => {
    expect(parseShard('1/3')).toEqual({ index: 1, total: 3 });
    expect(parseShard('3/3')).toEqual({ index: 3, total: 3 });
    expect(parseShard('1/1')).toEqual({ index: 1, total: 1 });
  });
  it.each(['0/3', '4/3', 'a/b', '1/0', '1', '1/3/2', '-1/3', ''])('refuses %j with the fix', (v) => {
    const err = (() => {
      try {
        parseShard(v);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).fix).toMatch(/--shard 1\/3/);
  });
});

describe('splitting a plan by session', () => {
  const every = (sessions: number, total: number, durations?: Map<string, number>) =>
    Array.from({ length: total }, (_, i) => shardPlan(plan(sessions), { index: i + 1, total }, durations));

  it('puts every session on exactly one shard, in plan order, for many sizes', () => {
    for (const sessions of [1, 2, 3, 5, 8, 13]) {
      for (const total of [1, 2, 3, 4, 7]) {
        for (const durations of [undefined, new Map(plan(sessions).map((s, i) => [s.id, ((i * 37) % 11) * 100]))]) {
          const shards = every(sessions, total, durations);
          const ids = shards.flatMap((s) => s.sessions.map((p) => p.id));
          expect(ids.sort()).toEqual(plan(sessions).map((s) => s.id).sort());
          for (const s of shards) {
            const positions = s.sessions.map((p) => Number(p.id.split('-')[1]));
            expect(positions).toEqual([...positions].sort((a, b) => a - b));
            expect(s.info.sessions).toEqual(s.sessions.map((p) => p.id));
          }
        }
      }
    }
  });

  it('is deterministic: the same plan and durations give the same split', () => {
    const d = new Map([['t-1', 500], ['t-4', 100]]);
    expect(every(6, 3, d).map((s) => s.info.sessions)).toEqual(every(6, 3, d).map((s) => s.info.sessions));
  });

  it('round-robins in plan order when no durations are known', () => {
    expect(every(7, 3).map((s) => s.info.sessions)).toEqual([['t-1', 't-4', 't-7'], ['t-2', 't-5'], ['t-3', 't-6']]);
    expect(every(7, 3)[0]!.info.balancedBy).toBe('plan-order');
    // Unknown session ids count as not known.
    expect(assignShards(['x', 'y'], 2, new Map([['z', 5]])).balancedBy).toBe('plan-order');
  });

  it('balances by recorded durations, longest first', () => {
    // One long session and five short: round-robin would put the long one with a short one.
    const d = new Map([['t-1', 600], ['t-2', 100], ['t-3', 100], ['t-4', 100], ['t-5', 100], ['t-6', 100], ['t-7', 100]]);
    const shards = every(7, 2, d);
    const load = (ids: string[]) => ids.reduce((sum, id) => sum + d.get(id)!, 0);
    expect(shards.map((s) => load(s.info.sessions))).toEqual([600, 600]);
    expect(shards[0]!.info.balancedBy).toBe('durations');
    // Round-robin would not have balanced it: the check can fail.
    const rr = every(7, 2);
    expect(rr.map((s) => load(s.info.sessions))).not.toEqual([600, 600]);
  });

  it('counts a session with no recorded duration as the median of the known ones', () => {
    const { shardOf } = assignShards(['a', 'b', 'c', 'd'], 2, new Map([['a', 10], ['b', 30], ['c', 30]]));
    // Costs 10, 30, 30, 30 (median): b, c, d longest first onto shards 0, 1, 0; then a onto 1.
    expect(shardOf).toEqual([1, 0, 1, 0]);
  });

  it('leaves a shard empty when there are fewer sessions than shards', () => {
    const shards = every(2, 3);
    expect(shards.map((s) => s.sessions.length)).toEqual([1, 1, 0]);
  });

  it('digests the whole plan the same on every shard, and differently for another plan', () => {
    const shards = every(5, 3);
    expect(new Set(shards.map((s) => s.info.planDigest)).size).toBe(1);
    expect(shards[0]!.info.planSessions).toEqual(['t-1', 't-2', 't-3', 't-4', 't-5']);
    expect(planDigest(plan(5))).not.toBe(planDigest(plan(4)));
    expect(planDigest(plan(5))).not.toBe(planDigest(plan(5, 'other-kernel')));
    const renamed = plan(5);
    renamed[2]!.tests[0]!.id = 's/renamed';
    expect(planDigest(renamed)).not.toBe(planDigest(plan(5)));
  });

  it('reads session durations from an earlier run: boot plus tests', () => {
    const result = {
      sessions: [{ id: 't-1', bootMs: 1000 }, { id: 't-2' }],
      tests: [{ session: 't-1', durationMs: 5 }, { session: 't-1', durationMs: 7 }, { session: 't-2', durationMs: 3 }, { session: 't-3', durationMs: 0 }],
    } as unknown as RunResult;
    expect([...sessionDurations(result)]).toEqual([['t-1', 1012], ['t-2', 3], ['t-3', 0]]);
  });
});
