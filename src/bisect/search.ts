/**
 * The bisection itself, pure: given the commits between a good and a bad one (oldest first, the
 * bad one last) and the verdicts known so far, which commit to test next, or the answer.
 *
 * tsuite does its own binary search over `git rev-list --first-parent` rather than driving
 * `git bisect`: the state is then just the verdicts in the run's log (resuming is replaying the
 * log), nothing is written into the user's repository's bisect state, and a skipped commit is
 * handled here the way `git bisect skip` does: the untested commit nearest the midpoint is tried.
 */

export type StepVerdict = 'good' | 'bad' | 'skip';

export type NextStep =
  /** Test this commit next. */
  | { kind: 'test'; commit: string; /** Commits still suspected (the first bad is among them). */ remaining: number }
  /** The first bad commit: its parent on the path is good (or is the good endpoint). */
  | { kind: 'found'; commit: string }
  /** Only skipped commits lie between the last good and the first bad: the first bad is one of these. */
  | { kind: 'ambiguous'; candidates: string[] };

/**
 * `path`: the commits after the good endpoint up to and including the bad endpoint, oldest first.
 * The endpoints' own verdicts are taken as given (the good one is not in `path`; the last of
 * `path` is bad unless a verdict says otherwise), as `git bisect` takes them, except that the bad
 * one is tested before it is named the answer: a bad endpoint that in fact passes would otherwise
 * be named for a failure it does not have.
 */
export function nextStep(path: readonly string[], verdicts: ReadonlyMap<string, StepVerdict>): NextStep {
  if (path.length === 0) throw new RangeError('nothing to bisect: the good commit is the bad one');
  const v = (i: number): StepVerdict | undefined => (i === path.length - 1 ? verdicts.get(path[i]!) ?? 'bad' : verdicts.get(path[i]!));
  // The last good commit (index -1 is the good endpoint), then the first bad one after it. A bad
  // commit before a good one means the failure comes and goes: the search narrows to the last change.
  let lo = -1;
  for (let i = 0; i < path.length; i++) if (v(i) === 'good') lo = i;
  let hi = path.length - 1;
  for (let i = lo + 1; i < path.length; i++) if (v(i) === 'bad') { hi = i; break; }
  if (v(hi) !== 'bad') {
    // The bad endpoint itself was found good (its test passed): nothing after the last good is bad.
    throw new RangeError(`the bad commit ${path[path.length - 1]} was found good: there is no failure to bisect`);
  }
  const open: number[] = [];
  for (let i = lo + 1; i < hi; i++) if (v(i) === undefined) open.push(i);
  if (open.length === 0) {
    // The answer would be the bad endpoint, which was only taken as given: test it before naming it.
    if (hi === path.length - 1 && !verdicts.has(path[hi]!)) return { kind: 'test', commit: path[hi]!, remaining: hi - lo };
    const skipped = path.slice(lo + 1, hi);
    return skipped.length === 0 ? { kind: 'found', commit: path[hi]! } : { kind: 'ambiguous', candidates: [...skipped, path[hi]!] };
  }
  // The untested commit nearest the midpoint of the suspects; ties go to the older one.
  const mid = (lo + hi) / 2;
  let best = open[0]!;
  for (const i of open) if (Math.abs(i - mid) < Math.abs(best - mid)) best = i;
  return { kind: 'test', commit: path[best]!, remaining: hi - lo };
}

/** How many steps a search over `n` suspects takes without skips: ceil(log2(n)). */
export function expectedSteps(n: number): number {
  return n <= 1 ? 0 : Math.ceil(Math.log2(n));
}
