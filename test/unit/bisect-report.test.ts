import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { appendRecord } from '../../src/bisect/bisect-log.js';
import { bisectMarker, formatAnswer } from '../../src/bisect/bisect-report.js';
import type { StepRecord } from '../../src/bisect/bisect-log.js';
import { postTarget, resumedFlags } from '../../src/cli/bisect-run.js';
import { UsageError } from '../../src/core/errors.js';

const step = (commit: string, verdict: StepRecord['verdict'], status: string, message?: string): StepRecord => ({
  kind: 'step', commit, subject: `subject ${commit}`, verdict, evidence: { status, ...(message ? { message } : {}) }, at: '',
});

describe('bisect answer and --post', () => {
  const subjects = new Map([['b'.repeat(40), 'the culprit'], ['a'.repeat(40), 'fine']]);
  const steps = [step('a'.repeat(40), 'good', 'passed'), step('b'.repeat(40), 'bad', 'failed', 'KTAP result: failed\nsyscall_add: expected 5')];

  it('prints the first bad commit with its subject and its step\'s evidence', () => {
    const text = formatAnswer({ kind: 'found', answer: { kind: 'found', commit: 'b'.repeat(40) }, steps, tested: 2 }, 'test k/x', subjects, 'text');
    expect(text).toContain(`first bad commit for test k/x: ${'b'.repeat(40)} the culprit`);
    expect(text).toContain('evidence: bbbbbbbbbbbb subject bbb');
    expect(text).toContain('bad (failed: KTAP result: failed: syscall_add: expected 5)');
    const md = formatAnswer({ kind: 'ambiguous', answer: { kind: 'ambiguous', candidates: ['a'.repeat(40), 'b'.repeat(40)] }, steps, tested: 2 }, 'test k/x', subjects, 'markdown');
    expect(md).toContain('**The first bad commit for test k/x is one of these**');
    expect(md).toContain('- `bbbbbbbbbbbb` the culprit (bad)');
  });

  it('--post takes owner/repo#n and a token from the environment, never from the command line', () => {
    expect(postTarget('octo/kern#42', { GITHUB_TOKEN: 'secret' })).toMatchObject({ owner: 'octo', repo: 'kern', number: 42, baseUrl: 'https://api.github.com' });
    expect(() => postTarget('octo/kern', { GITHUB_TOKEN: 'secret' })).toThrow(UsageError);
    expect(() => postTarget('octo/kern#1', {})).toThrow(/GITHUB_TOKEN is not set/);
    expect(bisectMarker('a'.repeat(40), 'b'.repeat(40), 'x-->y')).not.toMatch(/x-->/);
  });

  it('--resume reuses the logged flags; flags given now win', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bisect-resume-'));
    await expect(resumedFlags({ resume: dir })).rejects.toThrow(/holds no bisect.jsonl/);
    await appendRecord(dir, { kind: 'start', version: 1, mode: 'test', subject: 'k/x', good: 'g', bad: 'b', path: [], at: '', flags: { good: 'v1', bad: 'v2', test: 'k/x', build: 'make' } });
    expect(await resumedFlags({ resume: dir, build: 'make -j8' })).toMatchObject({ good: 'v1', bad: 'v2', test: 'k/x', build: 'make -j8', resume: dir });
  });
});
