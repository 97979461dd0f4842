import { describe, expect, it } from 'vitest';
import { expectedSteps, nextStep, type StepVerdict } from '../../src/bisect/search.js';

/** Commits c1..cN after the good endpoint c0; cN is the bad endpoint. */
const history = (n: number) => Array.from({ length: n }, (_, i) => `c${i + 1}`);

/** Runs the search against a truth (first bad index, skipped commits) and returns the visited commits and the answer. */
function simulate(path: string[], firstBad: number, skip: ReadonlySet<string> = new Set()) {
  const verdicts = new Map<string, StepVerdict>();
  const visited: string[] = [];
  for (let guard = 0; guard < 100; guard++) {
    const next = nextStep(path, verdicts);
    if (next.kind !== 'test') return { visited, answer: next };
    visited.push(next.commit);
    const i = path.indexOf(next.commit);
    verdicts.set(next.commit, skip.has(next.commit) ? 'skip' : i >= firstBad ? 'bad' : 'good');
  }
  throw new Error('search did not end');
}

describe('nextStep', () => {
  it('finds every possible first bad commit of 11 in at most ceil(log2(11)) steps', () => {
    const path = history(11);
    for (let bad = 0; bad < path.length; bad++) {
      const { visited, answer } = simulate(path, bad);
      expect(answer).toEqual({ kind: 'found', commit: path[bad] });
      // The bad endpoint is taken as given, and tested only before it is named the answer.
      const last = bad === path.length - 1;
      expect(visited.includes(path[10]!)).toBe(last);
      expect(visited.length).toBeLessThanOrEqual(expectedSteps(11) + (last ? 1 : 0));
    }
  });

  it('visits the midpoint first, then halves', () => {
    const path = history(8);
    expect(simulate(path, 5).visited).toEqual(['c4', 'c6', 'c5']);
  });

  it('tests the nearest untested neighbour of a skipped midpoint and still finds the answer', () => {
    const path = history(11);
    const { visited, answer } = simulate(path, 7, new Set(['c5']));
    expect(visited[0]).toBe('c5');
    expect(visited[1]).toMatch(/^c(4|6)$/);
    expect(answer).toEqual({ kind: 'found', commit: 'c8' });
    expect(visited.length).toBeLessThanOrEqual(expectedSteps(11) + 2);
  });

  it('names every candidate when only skipped commits separate good from bad', () => {
    const path = history(6);
    const { answer } = simulate(path, 3, new Set(['c3']));
    expect(answer).toEqual({ kind: 'ambiguous', candidates: ['c3', 'c4'] });
  });

  it('resumes from known verdicts without retesting them', () => {
    const path = history(11);
    const verdicts = new Map<string, StepVerdict>([['c6', 'good'], ['c9', 'bad']]);
    const next = nextStep(path, verdicts);
    expect(next).toEqual({ kind: 'test', commit: 'c7', remaining: 3 });
  });

  it('a single commit after good is tested, then named', () => {
    expect(nextStep(['only'], new Map())).toEqual({ kind: 'test', commit: 'only', remaining: 1 });
    expect(nextStep(['only'], new Map([['only', 'bad']]))).toEqual({ kind: 'found', commit: 'only' });
  });

  it('refuses a bad endpoint that tested good', () => {
    expect(() => nextStep(history(3), new Map([['c3', 'good']]))).toThrow(/found good/);
  });
});
