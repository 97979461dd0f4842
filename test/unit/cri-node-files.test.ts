import { describe, expect, it } from 'vitest';
import { cniConflist, containerdConfig, NODE_CRI_PORT, NODE_CRI_STREAM_PORT, NODE_GUEST_IP } from '../../kernel/node/cri-files.js';
import { hostsToml } from '../../suites/cri/registry-hosts.js';

describe('the node runtime files', () => {
  it('containerd serves CRI on TCP and streams on a fixed guest port, with the sandbox image it is given', () => {
    const toml = containerdConfig('docker.io/tsuite/pause:abc');
    expect(toml).toContain(`tcp_address = "0.0.0.0:${NODE_CRI_PORT}"`);
    expect(toml).toContain('disable_tcp_service = false');
    expect(toml).toContain(`stream_server_address = "${NODE_GUEST_IP}"`);
    expect(toml).toContain(`stream_server_port = "${NODE_CRI_STREAM_PORT}"`);
    expect(toml).toContain('sandbox_image = "docker.io/tsuite/pause:abc"');
    expect(toml).toContain('bin_dir = "/usr/lib/cni"');
    expect(toml).toContain('config_path = "/etc/containerd/certs.d"');
  });

  it('the pod network is a bridge with host-local addresses and portmap', () => {
    const c = JSON.parse(cniConflist()) as { plugins: { type: string; capabilities?: Record<string, boolean> }[] };
    expect(c.plugins.map((p) => p.type)).toEqual(['bridge', 'portmap']);
    expect(c.plugins[1]!.capabilities).toEqual({ portMappings: true });
  });

  it('hosts.toml points a registry at its scheme and, for TLS, the CA', () => {
    expect(hostsToml('http://10.0.2.2:5000')).toBe('server = "http://10.0.2.2:5000"\n\n[host."http://10.0.2.2:5000"]\n  capabilities = ["pull", "resolve"]\n');
    expect(hostsToml('https://10.0.2.2:5001', '/etc/containerd/certs.d/10.0.2.2:5001/ca.crt')).toContain('  ca = "/etc/containerd/certs.d/10.0.2.2:5001/ca.crt"');
  });
});
