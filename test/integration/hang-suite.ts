/**
 * A user suite (the source of a `*.suite.ts` file) whose one test runs a command over the agent
 * channel that sleeps for two hours: the ssh target tests cut its connection under it and expect
 * an infraError within seconds, never a hang.
 */
export const HANG_SUITE = `import { defineSuite } from 'tsuite';
export default defineSuite({
  name: 'hang',
  description: 'a command whose connection drops',
  explicit: true,
  tests: [{
    name: 'sleeps', title: 'sleeps over the agent', requires: ['agent'], timeoutMs: 120000,
    async run({ session }) { await session.agent.exec(['/bin/sleep', '7394'], { timeoutMs: 100000 }); },
  }],
});
`;
