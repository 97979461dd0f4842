import { describe, expect, it } from 'vitest';
import { hideSecrets } from '../../suites/containers/registry-pull.js';
import { registryTests } from '../../suites/containers/registry.js';
import { addInsecure, restoreInsecure, trustedRegistry } from '../../suites/containers/registry-trust.js';

describe('daemon.json for the plain registry', () => {
  it('adds the host to insecure-registries and keeps every other setting', () => {
    const original = JSON.stringify({ 'log-level': 'warn', 'insecure-registries': ['10.0.0.0/8'] });
    expect(JSON.parse(addInsecure(original, ['10.0.2.2:5000']))).toEqual({ 'log-level': 'warn', 'insecure-registries': ['10.0.0.0/8', '10.0.2.2:5000'] });
    expect(JSON.parse(addInsecure(undefined, ['10.0.2.2:5000']))).toEqual({ 'insecure-registries': ['10.0.2.2:5000'] });
    expect(JSON.parse(addInsecure(addInsecure('', ['h:1']), ['h:1']))).toEqual({ 'insecure-registries': ['h:1'] });
  });

  it('undoes with the original list, or an explicit empty one (a reload keeps the list when the key is absent)', () => {
    expect(JSON.parse(restoreInsecure(undefined))).toEqual({ 'insecure-registries': [] });
    expect(JSON.parse(restoreInsecure('{"debug":true}'))).toEqual({ debug: true, 'insecure-registries': [] });
    expect(JSON.parse(restoreInsecure('{"insecure-registries":["a:1"]}'))).toEqual({ 'insecure-registries': ['a:1'] });
  });

  it('refuses a daemon.json that is not a JSON object, naming the file', () => {
    expect(() => addInsecure('{not json', ['h:1'])).toThrow(/\/etc\/docker\/daemon\.json is not JSON/);
    expect(() => addInsecure('[1]', ['h:1'])).toThrow(/not a JSON object/);
  });
});

describe('registry tests', () => {
  it('are named registry-<behaviour> and need the docker channel', () => {
    expect(registryTests.length).toBeGreaterThanOrEqual(8);
    for (const t of registryTests) {
      expect(t.name).toMatch(/^registry-[a-z-]+$/);
      expect(t.requires).toEqual(['docker']);
    }
    expect(registryTests.some((t) => t.name.includes('cli'))).toBe(true);
  });

  it('skip on an engine without a guest agent, saying what it must be configured with', async () => {
    const session = { docker: { api: {} }, channels: new Set(['docker']) };
    const ctx = { session, runId: 'r', target: { name: 'docker', arch: 'x86_64', ktap: false, containerImages: 'local' }, signal: new AbortController().signal };
    const t = await trustedRegistry(ctx as never, session.docker as never);
    expect('missing' in t && t.missing).toMatch(/target 'docker' has no guest agent.*\/etc\/docker\/certs\.d\/<host:port>\/ca\.crt.*insecure-registries of \/etc\/docker\/daemon\.json/);
    let skipped: string | undefined;
    const skipCtx = { ...ctx, skip: (reason: string) => { skipped = reason; throw new Error('skipped'); } };
    await expect(registryTests[0]!.run(skipCtx as never)).rejects.toThrow('skipped');
    expect(skipped).toMatch(/has no guest agent/);
  });

  it('hide every secret in a message', () => {
    expect(hideSecrets('user:pa55 and pa55 and other', ['pa55', '', 'other'])).toBe('user:*** and *** and ***');
  });
});
