import { describe, expect, it } from 'vitest';
import { grpcTarget, parseCriEndpoint, rewriteStreamUrl } from '../../src/channels/cri-endpoint.js';
import { UsageError } from '../../src/core/errors.js';

describe('CRI endpoints', () => {
  it('reads unix sockets (with or without the scheme) and TCP addresses', () => {
    expect(parseCriEndpoint('unix:///run/containerd/containerd.sock')).toEqual({ kind: 'unix', socketPath: '/run/containerd/containerd.sock' });
    expect(parseCriEndpoint('/run/crio/crio.sock')).toEqual({ kind: 'unix', socketPath: '/run/crio/crio.sock' });
    expect(parseCriEndpoint('tcp://10.0.0.5:10010')).toEqual({ kind: 'tcp', host: '10.0.0.5', port: 10010 });
    expect(parseCriEndpoint('tcp://[fd00::1]:10010')).toEqual({ kind: 'tcp', host: 'fd00::1', port: 10010 });
  });

  it('refuses what is not an endpoint, naming the forms', () => {
    for (const bad of ['http://x:1', 'tcp://host', 'unix://relative.sock', 'containerd.sock', 'tcp://h:1/path']) {
      expect(() => parseCriEndpoint(bad), bad).toThrow(UsageError);
    }
    expect(() => parseCriEndpoint('tcp://host')).toThrow(/needs a port/);
  });

  it('gives gRPC targets', () => {
    expect(grpcTarget({ kind: 'unix', socketPath: '/s.sock' })).toBe('unix:///s.sock');
    expect(grpcTarget({ kind: 'tcp', host: '127.0.0.1', port: 5 })).toBe('127.0.0.1:5');
    expect(grpcTarget({ kind: 'tcp', host: 'fd00::1', port: 5 })).toBe('[fd00::1]:5');
  });

  it("rewrites a guest's streaming URL to its forward, keeping the path and token", () => {
    const forwards = new Map([[10011, 40123]]);
    expect(rewriteStreamUrl('http://10.0.2.15:10011/exec/AbC_d-1', forwards)).toBe('http://127.0.0.1:40123/exec/AbC_d-1');
    expect(rewriteStreamUrl('http://10.0.2.15:10011/portforward/tok?x=1', forwards)).toBe('http://127.0.0.1:40123/portforward/tok?x=1');
    // A port that is not forwarded, or no forwards at all: the runtime's own URL.
    expect(rewriteStreamUrl('http://10.232.0.2:35000/exec/t', forwards)).toBe('http://10.232.0.2:35000/exec/t');
    expect(rewriteStreamUrl('http://10.0.2.15:10011/exec/t', new Map())).toBe('http://10.0.2.15:10011/exec/t');
    expect(rewriteStreamUrl('not a url', forwards)).toBe('not a url');
  });
});
