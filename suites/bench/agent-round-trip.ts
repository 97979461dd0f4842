import { Bench } from 'tinybench';
import { InfraError, TestOutcome, type TestContext } from '../../src/index.js';
import { AGENT_PING_SAMPLES, AGENT_ROUND_TRIP } from './metrics.js';
import { hostMetric } from './host-metric.js';

/**
 * Times `guest-ping` round trips from the host with tinybench: the cost of one agent request
 * through QEMU's virtio-serial port and the guest's agent. A fixed number of iterations (no time
 * budget) so every boot gives the same number of samples.
 */
export async function measureAgentRoundTrip(ctx: TestContext): Promise<void> {
  const agent = ctx.session.agent;
  if (!agent) throw new InfraError('the session has no agent channel', 'boot a target whose guest runs qemu-ga');
  const bench = new Bench({
    name: 'agent',
    iterations: AGENT_PING_SAMPLES,
    time: 0,
    warmupIterations: 20,
    warmupTime: 0,
    retainSamples: true,
    throws: true,
    signal: ctx.signal,
  });
  bench.add('guest-ping', () => agent.ping());
  const [task] = await bench.run();
  const result = task!.result;
  if (result.state !== 'completed') {
    const why = result.state === 'errored' ? result.error.message : result.state;
    throw new TestOutcome('failed', `guest-ping did not complete ${AGENT_PING_SAMPLES} round trips: ${why}`);
  }
  const samples = result.latency.samples;
  if (!samples || samples.length === 0) throw new TestOutcome('failed', 'tinybench kept no latency samples for guest-ping');
  hostMetric(ctx, { ...AGENT_ROUND_TRIP, samples: [...samples] });
}
