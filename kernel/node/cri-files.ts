/**
 * The files that make the container host a Kubernetes node runtime: containerd's config with its
 * CRI plugin reachable from the host, and a CNI network for pods. Pure: the rootfs builder writes
 * what these return, and their text is part of the rootfs cache key.
 */

/** Guest ports the host forwards: CRI's gRPC on TCP and the CRI streaming server (exec, attach, port-forward). */
export const NODE_CRI_PORT = 10010;
export const NODE_CRI_STREAM_PORT = 10011;
/** The guest's fixed address on QEMU's user-mode network: streaming URLs name it, and the host rewrites them. */
export const NODE_GUEST_IP = '10.0.2.15';
/** The pod network: a bridge of its own beside Docker's docker0 (172.17/16) and the user-mode 10.0.2/24. */
export const NODE_POD_SUBNET = '10.88.0.0/16';
/** Where the image tar of the sandbox image lies in the rootfs; the init imports it into `k8s.io`. */
export const NODE_PAUSE_TAR = '/usr/share/tsuite/pause.tar';
/** containerd reads a `hosts.toml` per registry here (tsuite writes them for its local registry). */
export const NODE_REGISTRY_CONFIG_DIR = '/etc/containerd/certs.d';

/**
 * containerd's config (version 2): the CRI plugin with the sandbox image tsuite built (imported at
 * boot, so nothing is pulled), Debian's CNI plugin folder, per-registry hosts.toml files, gRPC on
 * TCP for the host, and the streaming server on a fixed port so QEMU can forward it. dockerd shares
 * this containerd (its own namespace, `moby`).
 */
export function containerdConfig(pauseRef: string): string {
  return `# tsuite container host: containerd with its CRI plugin (kernel/node/cri-files.ts)
version = 2

[grpc]
  address = "/run/containerd/containerd.sock"
  # Plain TCP for the host's CRI client through QEMU's forward (the guest's network is private to QEMU).
  tcp_address = "0.0.0.0:${NODE_CRI_PORT}"

[plugins."io.containerd.grpc.v1.cri"]
  # The CRI plugin serves only the unix socket unless told: tcp_address alone carries containerd's own API.
  disable_tcp_service = false
  sandbox_image = "${pauseRef}"
  stream_server_address = "${NODE_GUEST_IP}"
  stream_server_port = "${NODE_CRI_STREAM_PORT}"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "/etc/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "${NODE_REGISTRY_CONFIG_DIR}"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        # No systemd in the guest: cgroupfs paths under the pod's cgroup_parent.
        SystemdCgroup = false
`;
}

/**
 * The pod network: a bridge with host-local addresses, masquerading out through the guest, and
 * portmap for pod host ports (CRI adds the loopback plugin itself).
 */
export function cniConflist(): string {
  return `${JSON.stringify({
    cniVersion: '1.0.0',
    name: 'tsuite-pods',
    plugins: [
      { type: 'bridge', bridge: 'cni0', isGateway: true, ipMasq: true, hairpinMode: true, ipam: { type: 'host-local', ranges: [[{ subnet: NODE_POD_SUBNET }]], routes: [{ dst: '0.0.0.0/0' }] } },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  }, null, 2)}\n`;
}
