import { describe, expect, it } from 'vitest';
import { targetFacts } from '../../src/cli/target-facts.js';
import { resolveTarget, type TargetFlags } from '../../src/cli/target-options.js';
import type { ResolvedConfig } from '../../src/config/define-config.js';

const config: ResolvedConfig = { targets: {}, suites: ['boot'], reporters: ['console'], outputDir: '/tmp/x', defaultTarget: 'qemu-x86', testTimeoutMs: 60000 } as ResolvedConfig;
const facts = (flags: TargetFlags) => targetFacts(resolveTarget(config, flags, {}));

describe('targetFacts: what a target offers, known before any boot', () => {
  it('the reference guests: console, the exit device where the arch profile has one, the agent, power-off', () => {
    expect(facts({ target: 'qemu-x86' })).toMatchObject({ channels: ['console', 'exit', 'agent'], powerOff: true, ktap: false });
    expect(facts({ target: 'qemu-arm64' })).toMatchObject({ channels: ['console', 'agent'], powerOff: true });
    expect(facts({ target: 'qemu-x86-node' }).channels).toEqual(['console', 'exit', 'agent', 'docker', 'cri']);
  });

  it("the fixture kernel: its console and the exit device only, KTAP, no power-off", () => {
    expect(facts({ target: 'qemu-x86', kernel: 'fixture' })).toMatchObject({ channels: ['console', 'exit'], powerOff: false, ktap: true });
  });

  it('a kernel that declares an agent, a Docker port or a shell prompt offers that channel', () => {
    expect(facts({ kernel: '/k', landmark: 'up', agent: true }).channels).toEqual(['console', 'exit', 'agent']);
    expect(facts({ kernel: '/k', landmark: 'up', dockerPort: 2375 }).channels).toEqual(['console', 'exit', 'docker']);
    expect(facts({ kernel: '/k', landmark: 'up', shellPrompt: '> $' }).channels).toEqual(['console', 'exit', 'shell']);
    expect(facts({ kernel: '/k', landmark: 'up' })).toMatchObject({ channels: ['console', 'exit'], powerOff: false });
  });

  it('the docker target boots nothing: its endpoint is its only channel', () => {
    expect(facts({ target: 'docker', dockerHost: 'tcp://127.0.0.1:2375' })).toMatchObject({ channels: ['docker'], powerOff: false });
  });

  it('the cri target boots nothing: its runtime is its only channel', () => {
    expect(facts({ target: 'cri', criEndpoint: 'unix:///run/containerd/containerd.sock' })).toMatchObject({ channels: ['cri'], powerOff: false });
  });
});
