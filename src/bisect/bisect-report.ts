import type { StepRecord } from './bisect-log.js';
import type { BisectionResult } from './driver.js';
import { describeStep, short } from './driver.js';

/** The hidden marker of a bisection's comment: one comment per bisected range, edited on a rerun. */
export const bisectMarker = (good: string, bad: string, subject: string) => `<!-- tsuite-bisect ${short(good)}..${short(bad)} ${subject.replace(/-->/g, '')} -->`;

/** The answer as plain lines for the terminal, or markdown for a comment. */
export function formatAnswer(
  result: Exclude<BisectionResult, { kind: 'interrupted' }>,
  what: string,
  subjects: ReadonlyMap<string, string>,
  format: 'text' | 'markdown',
): string {
  const md = format === 'markdown';
  const subj = (c: string) => subjects.get(c) ?? '';
  const stepOf = (c: string): StepRecord | undefined => result.steps.find((s) => s.commit === c);
  const lines: string[] = [];
  if (result.answer.kind === 'found') {
    const c = result.answer.commit;
    lines.push(md ? `**First bad commit for ${what}:** \`${short(c)}\` ${subj(c)}` : `first bad commit for ${what}: ${c} ${subj(c)}`);
    const s = stepOf(c);
    lines.push(s ? `evidence: ${describeStep(s)}` : 'evidence: the --bad commit\'s own measurement (its bad-endpoint line in bisect.jsonl), and its parent on the path was good');
  } else {
    lines.push(md ? `**The first bad commit for ${what} is one of these** (the others could not be tested):` : `the first bad commit for ${what} is one of (the others could not be tested):`);
    for (const c of result.answer.candidates) lines.push(`${md ? '- ' : '  '}${md ? `\`${short(c)}\`` : short(c)} ${subj(c)}${stepOf(c) ? ` (${stepOf(c)!.verdict})` : ''}`);
  }
  lines.push(`${result.steps.length} step(s):`);
  result.steps.forEach((s, i) => lines.push(`${md ? '1. ' : `  ${i + 1}. `}${describeStep(s)}`));
  return `${lines.join('\n')}\n`;
}
