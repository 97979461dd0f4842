import { Bench } from 'tinybench';
import { TestOutcome, type MetricDef, type TestContext } from '../../src/index.js';
import { hostMetric } from './host-metric.js';

/**
 * Times `fn` with tinybench for a fixed number of iterations (no time budget: every boot gives the
 * same number of samples), and records the latencies as `metric`.
 */
export async function timeIt(ctx: TestContext, metric: MetricDef, iterations: number, fn: () => Promise<void>, afterEach?: () => Promise<void>): Promise<void> {
  const bench = new Bench({ name: metric.name, iterations, time: 0, warmupIterations: 1, warmupTime: 0, retainSamples: true, throws: true, signal: ctx.signal });
  bench.add(metric.name, fn, afterEach ? { afterEach } : {});
  const [task] = await bench.run();
  const result = task!.result;
  if (result.state !== 'completed') {
    throw new TestOutcome('failed', `${metric.name} did not complete ${iterations} runs: ${result.state === 'errored' ? result.error.message : result.state}`);
  }
  const samples = result.latency.samples;
  if (!samples || samples.length === 0) throw new TestOutcome('failed', `tinybench kept no samples for ${metric.name}`);
  hostMetric(ctx, { ...metric, samples: [...samples] });
}

