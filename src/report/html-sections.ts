/**
 * The report's sections that need no script: run summary, failures with their console excerpts,
 * conformance matrices, the bench run's numbers. Every piece of text is escaped here.
 */

import { describeClock, displayUnit } from '../bench/clock.js';
import type { BenchRun } from '../bench/model.js';
import type { HistoryProblem } from '../bench/history.js';
import { TEST_STATUSES, failsRun, type RunResult, type TestResult } from '../core/result.js';
import { formatDuration, plainText } from '../reporters/format.js';
import { escapeHtml as h } from './html-escape.js';

/** A number for people: 4 significant digits, no exponent for ordinary magnitudes. */
export const num = (v: number): string => (Number.isFinite(v) ? String(Number(v.toPrecision(4))) : String(v));

const row = (label: string, value: string | undefined) => (value ? `<tr><th>${h(label)}</th><td>${h(value)}</td></tr>` : '');
const badge = (status: string) => `<span class="badge s-${h(status)}">${h(status)}</span>`;

export function runSummary(r: RunResult): string {
  const { run, summary } = r;
  const failing = r.tests.filter(failsRun).length;
  const verdict = run.infraError ? 'infraError' : failing > 0 ? 'failed' : run.interrupted ? 'interrupted' : 'passed';
  const k = run.kernel;
  const counts = TEST_STATUSES.filter((s) => summary[s] > 0)
    .map((s) => `<li>${badge(s)} ${summary[s]}</li>`)
    .join('');
  const extra = [
    summary.expectedFailures ? `<li>${badge('expected-failure')} ${summary.expectedFailures}</li>` : '',
    summary.unexpectedPasses ? `<li>${badge('unexpected-pass')} ${summary.unexpectedPasses}</li>` : '',
  ].join('');
  const notes = [
    run.interrupted && `<p class="warn">Interrupted by ${h(run.interrupted.signal)}: the results are partial.</p>`,
    run.infraError &&
      `<p class="warn">Harness error: ${h(run.infraError.message)}${run.infraError.fix ? `<br>fix: ${h(run.infraError.fix)}` : ''}</p>`,
    run.expectations?.stale.length &&
      `<p class="warn">Stale entries in ${h(run.expectations.file)} (they match no test; remove them): ${r.run.expectations!.stale.map((s) => `<code>${h(s)}</code>`).join(', ')}</p>`,
  ]
    .filter(Boolean)
    .join('');
  return `<section id="summary"><h2>Run ${h(run.id)} ${badge(verdict)}</h2>
<ul class="counts">${counts}${extra}<li>${summary.total} tests in ${h(formatDuration(summary.durationMs))}</li></ul>${notes}
<table class="facts">${row('target', run.target)}${row('kernel', [k.source, k.package, k.version, k.revision].filter(Boolean).join(' ') || k.path)}${row('kernel file', k.path)}${row('cmdline', k.cmdline)}${row('accelerator', run.accel + (run.accelReason ? ` (${run.accelReason})` : ''))}${row('QEMU', run.qemuVersion)}${row('host', `${run.host.hostname}: ${run.host.cpuModel}, ${run.host.cpus} CPUs, ${run.host.memoryMb} MiB, ${run.host.platform} ${run.host.arch}`)}${row('started', run.startedAt)}${row('finished', run.finishedAt)}${row('tsuite', run.tsuiteVersion)}</table>
</section>`;
}

/** Failing tests (those that fail the run) and harness errors, each linking to its console excerpt. */
export function failures(r: RunResult): string {
  const failing = r.tests.filter(failsRun);
  const harness = r.tests.filter((t) => t.status === 'infraError');
  if (failing.length === 0 && harness.length === 0) return `<section id="failures"><h2>Failures</h2><p class="ok">No failing tests.</p></section>`;
  const listed = [...failing, ...harness];
  const items = (from: number, to: number) => listed.slice(from, to).map((t, k) => failureItem(t, from + k, r)).join('');
  const excerpts = listed
    .map((t, i) =>
      t.error?.consoleExcerpt
        ? `<article class="excerpt" id="excerpt-${i}"><h3><code>${h(t.id)}</code></h3><pre>${h(plainText(t.error.consoleExcerpt))}</pre><a href="#failure-${i}">back to the failure</a></article>`
        : '',
    )
    .join('\n');
  return `<section id="failures"><h2>Failures (${failing.length})</h2>
${failing.length ? `<ol class="failures">${items(0, failing.length)}</ol>` : '<p class="ok">No failing tests.</p>'}
${harness.length ? `<h3>Harness errors (${harness.length}): the host or harness failed, not the kernel</h3><ol class="failures">${items(failing.length, listed.length)}</ol>` : ''}
${excerpts ? `<h2 id="console-excerpts">Console excerpts</h2>\n${excerpts}` : ''}</section>`;
}

function failureItem(t: TestResult, i: number, r: RunResult): string {
  const session = r.sessions.find((s) => s.id === t.session);
  const why =
    t.expectation?.outcome === 'unexpected-pass'
      ? `unexpectedly passing: remove it from the expectations file (listed because: ${t.expectation.reason})`
      : (t.error?.message ?? t.reason ?? '');
  const link = t.error?.consoleExcerpt ? `<a class="to-excerpt" href="#excerpt-${i}">console excerpt</a>` : '<span class="muted">no console excerpt</span>';
  const log = session ? ` <span class="muted">full log: ${h(session.consoleLog)}</span>` : '';
  return `<li id="failure-${i}" data-test="${h(t.id)}">${badge(t.expectation?.outcome === 'unexpected-pass' ? 'unexpected-pass' : t.status)} <code>${h(t.id)}</code> ${link}${log}${why ? `<pre class="message">${h(plainText(why))}</pre>` : ''}</li>`;
}

/** One collapsible table per suite: a matrix can have hundreds of rows. */
export function conformance(r: RunResult): string {
  const suites = Object.entries(r.conformance ?? {});
  if (suites.length === 0) return '';
  const blocks = suites.map(([suite, m]) => {
    const count = (s: string) => m.items.filter((i) => i.status === s).length;
    const failed = count('fail');
    // Failures first: in a few hundred rows they are what the reader is looking for.
    const rank = { fail: 0, 'expected-fail': 1, unimplemented: 2, skip: 3, pass: 4 } as const;
    const rows = [...m.items]
      .sort((a, b) => rank[a.status] - rank[b.status])
      .map((i) => {
        const details = Object.entries(i.details ?? {})
          .map(([k, v]) => `${k}=${v}`)
          .join(' ');
        return `<tr class="s-${h(i.status)}"><td><code>${h(i.item)}</code></td><td>${badge(i.status)}</td><td>${i.passed}</td><td>${i.failed}</td><td>${i.skipped}</td><td>${h(i.reasons.join('; '))}</td><td>${h(details)}</td></tr>`;
      })
      .join('');
    return `<details class="matrix" data-suite="${h(suite)}"${failed ? ' open' : ''}><summary><b>${h(suite)}</b>: ${m.items.length} ${h(m.itemKind)}s, ${m.covered} covered — ${count('pass')} pass, ${failed} fail, ${count('skip')} skip, ${count('expected-fail')} expected-fail${count('unimplemented') ? `, ${count('unimplemented')} unimplemented` : ''}</summary>
<table class="grid"><thead><tr><th>${h(m.itemKind)}</th><th>status</th><th>passed</th><th>failed</th><th>skipped</th><th>reasons</th><th>details</th></tr></thead><tbody>${rows}</tbody></table></details>`;
  });
  return `<section id="conformance"><h2>Conformance</h2>\n${blocks.join('\n')}</section>`;
}

/** The bench run's own numbers: mean ± margin of error across boots. */
export function benchSummary(b: BenchRun): string {
  const fp = b.fingerprint;
  const rows = b.metrics
    .map(
      (m) =>
        `<tr><td><code>${h(m.name)}</code></td><td>${num(m.stats.mean)} ± ${num(m.stats.moe)} ${h(displayUnit(m.unit, m.clock))}</td><td>${num(m.stats.rme)}%</td><td>${num(m.stats.min)} – ${num(m.stats.max)}</td><td>${m.samples.length}</td><td>${h(m.better)} is better</td></tr>`,
    )
    .join('');
  const problems = b.problems.map((p) => `<li>${badge(p.status)} <code>${h(p.benchmark)}</code>: ${h(p.reason)}</li>`).join('');
  return `<section id="bench"><h2>Benchmark run ${h(b.runId)}</h2>
<table class="facts">${row('target', b.target)}${row('date', b.date)}${row('commit', b.commit)}${row('ref', b.ref)}${row('kernel', `${b.kernel.source} ${b.kernel.version ?? ''} (${b.kernel.id})`)}${row('cmdline', b.kernel.cmdline)}${row('machine', `${fp.cpuModel}, ${fp.cores} cores, ${fp.accel}, QEMU ${fp.qemuVersion}, ${fp.runner}/${fp.instanceType} (fingerprint ${fp.id})`)}${row('boots', String(b.boots))}${row('clock', describeClock(b.clock ?? 'time'))}</table>
<table class="grid"><thead><tr><th>metric</th><th>mean ± moe</th><th>rme</th><th>min – max</th><th>boots</th><th></th></tr></thead><tbody>${rows}</tbody></table>
${problems ? `<h3>Benchmarks without numbers</h3><ul>${problems}</ul>` : ''}</section>`;
}

export function historyProblems(problems: readonly HistoryProblem[]): string {
  if (problems.length === 0) return '';
  const items = problems.map((p) => `<li><code>${h(p.file)}:${p.line}</code> ${h(p.message)}</li>`).join('');
  return `<section id="history-problems"><h2>History lines skipped (${problems.length})</h2><ul>${items}</ul></section>`;
}
