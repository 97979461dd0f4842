#!/bin/busybox sh
# tsuite reference guest init (PID 1). Prints the machine-readable boot report on the console,
# then waits for commands from the host on the same console.
/bin/busybox mkdir -p /proc /sys /dev /tmp /run /sbin /usr/bin /usr/sbin
/bin/busybox mount -t proc proc /proc
# The guest's own clock at init, read before anything else costs time. /proc/uptime counts in
# centiseconds, too coarse for a benchmark that counts instructions (one step is 0.6% of a boot);
# /proc/timer_list's "now at N nsecs" (the monotonic clock) has nanoseconds, where the kernel has it.
read -r uptime_s _ < /proc/uptime
now_ns=$(/bin/busybox sed -n '/^now at /{s/^now at \([0-9]*\) nsecs.*/\1/p;q;}' /proc/timer_list 2>/dev/null)
if [ -n "$now_ns" ]; then
  uptime_s="$((now_ns / 1000000000)).$(/bin/busybox printf %09d $((now_ns % 1000000000)))"
fi
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin

# Like any initramfs, honour init=: hand PID 1 over to it. If it cannot run, PID 1 exits and
# the kernel panics, which is exactly what a user asking for init=/nonexistent should see.
for arg in $(cat /proc/cmdline); do
  case "$arg" in init=*) handoff="${arg#init=}" ;; esac
done
if [ -n "$handoff" ]; then
  echo "tsuite-init: handing over to init=$handoff"
  exec "$handoff"
fi

# Modules in dependency order, as the builder resolved them.
if [ -f /lib/modules/load-order ]; then
  while read -r mod; do
    insmod "/lib/modules/$mod.ko" || echo "tsuite-init: insmod $mod failed"
  done < /lib/modules/load-order
fi
. /lib/tsuite/guest-lib.sh
tsuite_virtio_port_links
hostname tsuite-guest

# What the probes and agent-based suites expect of the guest (the probe contract in the README):
# a writable /tmp, cgroup v2 with the memory and pids controllers delegated, loopback up, and an
# unprivileged user `tsuite` (uid/gid 1000).
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t cgroup2 cgroup2 /sys/fs/cgroup || echo "tsuite-init: cgroup2 mount failed"
echo "+memory +pids" > /sys/fs/cgroup/cgroup.subtree_control || echo "tsuite-init: enabling cgroup controllers failed"
ip link set lo up || echo "tsuite-init: loopback up failed"
mkdir -p /etc /root
printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'tsuite:x:1000:1000:tsuite:/tmp:/bin/sh' > /etc/passwd
printf '%s\n' 'root:x:0:' 'tsuite:x:1000:' > /etc/group
printf '%s\n' 'ID=tsuite' 'NAME="tsuite reference guest"' 'PRETTY_NAME="tsuite reference guest (busybox initramfs)"' > /etc/os-release
# qemu-ga's guest-shutdown runs `/sbin/shutdown -P|-H|-r +0 <message>`; busybox has no shutdown.
printf '%s\n' '#!/bin/sh' 'sync' 'case "$1" in -r) exec reboot -f ;; -H) exec halt -f ;; *) exec poweroff -f ;; esac' > /sbin/shutdown
chmod 755 /sbin/shutdown

# The guest agent, when the image holds it, answers the host on its virtio-serial port. It starts
# before the boot report, so it is already coming up when the host sees `ready`. Not daemonized
# (-d would set umask 077 for every command it runs); its own errors go to the console.
agent=none
if [ -x /usr/sbin/qemu-ga ] && [ -e /dev/virtio-ports/org.qemu.guest_agent.0 ]; then
  mkdir -p /run /var && ln -sfn /run /var/run
  setsid /usr/sbin/qemu-ga -m virtio-serial -p /dev/virtio-ports/org.qemu.guest_agent.0 -t /run -f /run/qemu-ga.pid < /dev/null > /dev/null &
  agent=qemu-ga
fi

tsuite_boot_report "$uptime_s" "$agent"

# Host commands arrive on the console, one per line.
while read -r line; do
  case "$line" in
    *tsuite-poweroff*) echo "tsuite-init: powering off"; sync; poweroff -f ;;
  esac
done
# The console closed; PID 1 must never exit.
while :; do sleep 3600; done
