#!/bin/sh
# tsuite container host init: PID 1 of the node rootfs (Debian userland, no systemd). Mounts what
# the engines need, starts the guest agent, prints the same boot report as the initramfs init
# (kernel/initramfs/init.sh), then starts containerd (with its CRI plugin: the Kubernetes node
# runtime), dockerd and sshd side by side, and says on the console when each answers.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# tini becomes PID 1 so the containerd shims that re-parent to it are reaped (a shell blocked in
# `read` reaps nothing); this script then runs as its child, with the console as its stdio.
if [ "$$" = 1 ] && [ -x /usr/bin/tini ]; then
  mount -t proc proc /proc
  exec /usr/bin/tini -- /sbin/tsuite-node-init "$@"
fi
mountpoint -q /proc || mount -t proc proc /proc
# The guest's own clock at init, read before anything else costs time.
read -r uptime_s _ < /proc/uptime

mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm /dev/mqueue
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /dev/shm
mount -t mqueue mqueue /dev/mqueue
mount -t tmpfs -o mode=755,nosuid,nodev tmpfs /run
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp
mkdir -p /run/lock /var/log
# cgroup v2 with every controller delegated to children: dockerd (cgroupfs driver) puts each
# container in /sys/fs/cgroup/docker/<id> and sets memory, cpu and pids limits there.
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup || echo "tsuite-node: cgroup2 mount failed"
for c in $(cat /sys/fs/cgroup/cgroup.controllers); do
  echo "+$c" > /sys/fs/cgroup/cgroup.subtree_control || echo "tsuite-node: enabling cgroup controller $c failed"
done
mountpoint -q /sys/kernel/security || mount -t securityfs securityfs /sys/kernel/security 2>/dev/null

# Modules: virtio transport (the cloud kernel has it as a module), the console and network
# devices, and what dockerd's bridge network, overlay2 and iptables-nft use. The rest load on
# demand through /sbin/modprobe (the rootfs holds the kernel's modules and modules.dep).
# One modprobe for all (each process start is costly under TCG); one by one only to name a failure.
modules="virtio_pci virtio_console virtio_net overlay bridge br_netfilter veth nf_tables nft_compat nft_chain_nat
  nf_nat nf_conntrack xt_MASQUERADE xt_addrtype xt_conntrack xt_nat ip_tables iptable_nat iptable_filter"
if ! modprobe -q -a $modules; then
  for m in $modules; do modprobe -q "$m" || echo "tsuite-node: modprobe $m failed"; done
fi

. /lib/tsuite/guest-lib.sh
tsuite_virtio_port_links

hostname tsuite-node
# QEMU user-mode networking: the guest is 10.0.2.15, the gateway 10.0.2.2, DNS 10.0.2.3.
ip link set lo up || echo "tsuite-node: loopback up failed"
if ip link show eth0 > /dev/null 2>&1; then
  ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0 && ip route add default via 10.0.2.2 \
    || echo "tsuite-node: eth0 setup failed"
else
  echo "tsuite-node: no eth0 (the machine has no network device)"
fi
sysctl -q -w net.ipv4.ip_forward=1 || echo "tsuite-node: enabling IP forwarding failed"

# The guest agent answers the host on its virtio-serial port; it starts before the boot report, so
# it is already coming up when the host sees `ready`. Not daemonized (-d sets umask 077 for every
# command it runs).
agent=none
if [ -x /usr/sbin/qemu-ga ] && [ -e /dev/virtio-ports/org.qemu.guest_agent.0 ]; then
  setsid /usr/sbin/qemu-ga -m virtio-serial -p /dev/virtio-ports/org.qemu.guest_agent.0 -t /run -f /run/qemu-ga.pid < /dev/null > /dev/null &
  agent=qemu-ga
fi

tsuite_boot_report "$uptime_s" "$agent"

# containerd (/etc/containerd/config.toml: CRI on TCP 10010, streaming server on 10011) and dockerd
# on plain TCP: --tls=false, since without it dockerd sleeps 15 s on purpose to warn about an
# unauthenticated API. dockerd keeps the containerd it starts for itself: pointed at the system one
# (--containerd) it took 45-85 s to answer under TCG instead of ~12 s. The host waits for each
# `ready` line before connecting (QEMU's port forward accepts before anything listens, and that
# connection hangs).
DOCKERD_WAIT_S=180
CONTAINERD_WAIT_S=120
# Uptime in centiseconds ("12.34" -> 1234; the 1 prefix keeps "0.05" from reading as octal).
uptime_cs() { read -r t _ < /proc/uptime; echo $(( ${t%.*} * 100 + 1${t#*.} - 100 )); }
# A process that exited but is not yet reaped still answers kill -0: read its state instead.
running() { [ -r "/proc/$1/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status"; }
start_containerd() {
  t0=$(uptime_cs)
  mkdir -p /run/containerd
  setsid containerd --config /etc/containerd/config.toml < /dev/null >> /var/log/containerd.log 2>&1 &
  pid=$!
  echo "$pid" > /run/tsuite-containerd.pid
  n=0
  while [ $n -lt $((CONTAINERD_WAIT_S * 5)) ]; do
    if ! running "$pid"; then containerd_failed "containerd exited"; return 1; fi
    if ctr version > /dev/null 2>&1; then
      # A CRI plugin that failed to load leaves containerd up without the Kubernetes API: say why.
      cri=$(ctr plugins ls 2>&1 | awk '$1 == "io.containerd.grpc.v1" && $2 == "cri" { print $NF }')
      if [ "$cri" != ok ]; then
        grep -i 'cri' /var/log/containerd.log | grep -iE 'level=(error|fatal|warning)' | tail -n 6 | while read -r l; do echo "tsuite-node: containerd.log: $l"; done
        containerd_failed "its CRI plugin did not load (ctr plugins ls: ${cri:-absent})"; return 1
      fi
      # The pod sandbox image, built by tsuite: imported, never pulled (there is no internet).
      if ! out=$(ctr -n k8s.io images import /usr/share/tsuite/pause.tar 2>&1); then
        containerd_failed "importing the pause image failed: $out"; return 1
      fi
      dt=$(( $(uptime_cs) - t0 ))
      echo "tsuite-node: containerd ready after $((dt / 100)).$((dt % 100 / 10)) s ($(containerd --version))"
      return 0
    fi
    sleep 0.2
    n=$((n + 1))
  done
  containerd_failed "the API did not answer within $CONTAINERD_WAIT_S s"
  return 1
}
containerd_failed() {
  tail -n 8 /var/log/containerd.log | while read -r l; do echo "tsuite-node: containerd.log: $l"; done
  echo "tsuite-node: containerd failed: $1"
}
start_dockerd() {
  t0=$(uptime_cs)
  setsid dockerd -H unix:///run/docker.sock -H tcp://0.0.0.0:2375 --tls=false < /dev/null >> /var/log/dockerd.log 2>&1 &
  pid=$!
  echo "$pid" > /run/tsuite-dockerd.pid
  n=0
  while [ $n -lt $((DOCKERD_WAIT_S * 5)) ]; do
    if ! running "$pid"; then dockerd_failed "dockerd exited"; return; fi
    if curl -sf --max-time 2 -o /dev/null http://127.0.0.1:2375/_ping; then
      dt=$(( $(uptime_cs) - t0 ))
      echo "tsuite-node: dockerd ready after $((dt / 100)).$((dt % 100 / 10)) s ($(dockerd --version))"
      return
    fi
    sleep 0.2
    n=$((n + 1))
  done
  dockerd_failed "the API did not answer within $DOCKERD_WAIT_S s"
}
dockerd_failed() {
  tail -n 8 /var/log/dockerd.log | while read -r l; do echo "tsuite-node: dockerd.log: $l"; done
  echo "tsuite-node: dockerd failed: $1 (last log line: $(tail -n 1 /var/log/dockerd.log))"
}
# Debian's OpenSSH server, for `ssh` targets pointed at this guest (through a forwarded port). The
# image holds no host key (the rootfs builder removes the ones openssh-server's postinst made, or
# every boot of the cached image would share them): an ed25519 key is made here, fresh at each boot
# (a few ms, where RSA would take seconds under TCG), and only it is served (-h). Root logs in by
# key only; the key arrives through the guest agent (/root/.ssh/authorized_keys). sshd writes its
# pid file once it listens: that is when its line goes on the console, with the key's fingerprint
# for the host to pin.
SSHD_WAIT_S=60
start_sshd() {
  if [ ! -x /usr/sbin/sshd ]; then echo "tsuite-node: sshd failed: /usr/sbin/sshd is not installed"; return; fi
  t0=$(uptime_cs)
  key=/run/tsuite-sshd/ssh_host_ed25519_key
  mkdir -p /run/sshd /run/tsuite-sshd && chmod 0755 /run/sshd && chmod 0700 /run/tsuite-sshd
  if ! out=$(ssh-keygen -q -t ed25519 -N '' -C tsuite-node -f "$key" 2>&1); then
    echo "tsuite-node: sshd failed: ssh-keygen: $out"; return
  fi
  if ! /usr/sbin/sshd -h "$key" -o PidFile=/run/tsuite-sshd/sshd.pid -o PermitRootLogin=prohibit-password \
      -o PasswordAuthentication=no -o KbdInteractiveAuthentication=no -o UseDNS=no -E /var/log/sshd.log \
      < /dev/null >> /var/log/sshd.log 2>&1; then
    sshd_failed "sshd exited at start"; return
  fi
  n=0
  while [ $n -lt $((SSHD_WAIT_S * 10)) ]; do
    if [ -s /run/tsuite-sshd/sshd.pid ]; then
      fp=$(ssh-keygen -l -f "$key.pub" | awk '{ print $2 }')
      dt=$(( $(uptime_cs) - t0 ))
      echo "tsuite-node: sshd ready on port 22, host key $fp ($((dt / 100)).$((dt % 100 / 10)) s)"
      return
    fi
    sleep 0.1
    n=$((n + 1))
  done
  sshd_failed "no pid file within $SSHD_WAIT_S s (it never listened)"
}
sshd_failed() {
  tail -n 4 /var/log/sshd.log | while read -r l; do echo "tsuite-node: sshd.log: $l"; done
  echo "tsuite-node: sshd failed: $1"
}
start_containerd &
start_dockerd &
start_sshd &

# Host commands arrive on the console, one per line.
while read -r line; do
  case "$line" in
    *tsuite-poweroff*)
      echo "tsuite-node: powering off"
      # A short grace for dockerd; the disk is a throwaway overlay, so nothing needs flushing for
      # the next boot, but containers get their SIGTERM.
      for f in /run/tsuite-dockerd.pid /run/tsuite-containerd.pid; do
        [ -f "$f" ] || continue
        pid=$(cat "$f")
        kill -TERM "$pid" 2> /dev/null
        n=0
        while [ $n -lt 30 ] && running "$pid"; do sleep 0.1; n=$((n + 1)); done
      done
      sync
      busybox poweroff -f ;;
  esac
done
# The console closed; the init must never exit.
while :; do sleep 3600; done
