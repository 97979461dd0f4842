import { describe, expect, it } from 'vitest';
import { dockerCliEnv, dockerHostString, parseDockerUrl } from '../../src/channels/docker-endpoint.js';
import { EnginePorts } from '../../src/channels/docker-ports.js';
import { InfraError, UsageError } from '../../src/core/errors.js';

describe('parseDockerUrl', () => {
  it('reads tcp, unix and http(s) forms', () => {
    expect(parseDockerUrl('tcp://127.0.0.1:23750')).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 23750 });
    expect(parseDockerUrl('unix:///var/run/docker.sock')).toEqual({ kind: 'unix', socketPath: '/var/run/docker.sock' });
    expect(parseDockerUrl('http://engine.example:4243')).toEqual({ kind: 'tcp', host: 'engine.example', port: 4243 });
    expect(parseDockerUrl('tcp://[::1]:2375')).toEqual({ kind: 'tcp', host: '::1', port: 2375 });
  });

  it("gives a portless TCP address Docker's default port: 2376 with TLS, else 2375", () => {
    expect(parseDockerUrl('tcp://engine')).toMatchObject({ port: 2375 });
    expect(parseDockerUrl('tcp://engine', true)).toMatchObject({ port: 2376 });
    expect(parseDockerUrl('https://engine')).toMatchObject({ port: 2376 });
  });

  it('rejects unsupported forms with a UsageError naming the address and the accepted forms', () => {
    for (const bad of ['127.0.0.1:2375', 'ssh://user@host', 'unix://relative.sock', 'tcp://host:2375/prefix', 'tcp://:2375']) {
      const err = (() => {
        try {
          parseDockerUrl(bad);
        } catch (e) {
          return e;
        }
      })();
      expect(err, bad).toBeInstanceOf(UsageError);
      expect((err as UsageError).message).toContain(`'${bad}'`);
      expect((err as UsageError).fix).toMatch(/tcp:\/\/HOST:PORT or unix:\/\//);
    }
  });
});

describe('dockerCliEnv', () => {
  it('points the CLI at a plain endpoint and blanks TLS settings a caller may carry', () => {
    expect(dockerCliEnv({ url: 'tcp://10.0.0.2:2375' }, '1.41')).toEqual({
      DOCKER_HOST: 'tcp://10.0.0.2:2375', DOCKER_API_VERSION: '1.41', DOCKER_TLS_VERIFY: '', DOCKER_TLS: '', DOCKER_CERT_PATH: '',
    });
  });

  it('turns on verified TLS with the cert folder', () => {
    expect(dockerCliEnv({ url: 'tcp://engine', certPath: '/certs' }, '1.40')).toEqual({
      DOCKER_HOST: 'tcp://engine:2376', DOCKER_API_VERSION: '1.40', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/certs',
    });
  });

  it('writes addresses as DOCKER_HOST does', () => {
    expect(dockerCliEnv({ url: 'unix:///run/docker.sock' }, '1.41').DOCKER_HOST).toBe('unix:///run/docker.sock');
    expect(dockerCliEnv({ url: 'http://h:1' }, '1.41').DOCKER_HOST).toBe('tcp://h:1');
    expect(dockerHostString({ kind: 'tcp', host: '::1', port: 2375 })).toBe('tcp://[::1]:2375');
  });
});

describe('EnginePorts', () => {
  it('lets a direct engine pick host ports, reached at the endpoint host', () => {
    const ports = new EnginePorts(parseDockerUrl('tcp://10.231.0.2:2375'));
    const r = ports.reserve();
    expect(r.hostPort).toBe('');
    r.release();
    expect(ports.reach(32768)).toEqual({ host: '10.231.0.2', port: 32768 });
  });

  it('reaches a unix-socket engine on this host', () => {
    expect(new EnginePorts(parseDockerUrl('unix:///run/docker.sock')).reach(80)).toEqual({ host: '127.0.0.1', port: 80 });
  });

  it('hands out forwarded guest ports one at a time, and reaches them through their host forward', () => {
    const map = new Map([[2375, 40000], [18080, 40001], [18081, 40002]]);
    const ports = new EnginePorts(parseDockerUrl('tcp://127.0.0.1:40000'), map, [18080, 18081]);
    const a = ports.reserve();
    const b = ports.reserve();
    expect([a.hostPort, b.hostPort]).toEqual(['18080', '18081']);
    expect(() => ports.reserve()).toThrow(InfraError);
    expect(() => ports.reserve()).toThrow(/all 2 forwarded guest ports \(18080, 18081\) are in use/);
    a.release();
    a.release(); // twice is harmless: it must not free b's port
    expect(ports.reserve().hostPort).toBe('18080');
    expect(() => ports.reserve()).toThrow(InfraError);
    expect(ports.reach(18081)).toEqual({ host: '127.0.0.1', port: 40002 });
  });

  it('says which port is not forwarded', () => {
    const ports = new EnginePorts(parseDockerUrl('tcp://127.0.0.1:40000'), new Map([[18080, 40001]]), [18080]);
    expect(() => ports.reach(8080)).toThrow(/port 8080 .* not forwarded .*forwarded: 18080/);
  });

  it('refuses publish ports that have no forward', () => {
    expect(() => new EnginePorts(parseDockerUrl('tcp://127.0.0.1:1'), new Map([[18080, 40001]]), [18080, 18081])).toThrow(/18081 have no host forward/);
  });
});
