#!/bin/busybox sh
# tsuite reference guest init (PID 1). Prints the machine-readable boot report on the console,
# then waits for commands from the host on the same console.
/bin/busybox mkdir -p /proc /sys /dev /tmp /run /sbin /usr/bin /usr/sbin
/bin/busybox mount -t proc proc /proc
# The guest's own clock at init, read before anything else costs time.
read -r uptime_s _ < /proc/uptime
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
# devtmpfs makes only /dev/vportNpM; udev would add the named links, so do it here.
mkdir -p /dev/virtio-ports
for port in /sys/class/virtio-ports/*; do
  [ -f "$port/name" ] && ln -sf "/dev/${port##*/}" "/dev/virtio-ports/$(cat "$port/name")"
done
hostname tsuite-guest

# RAM the firmware handed to the kernel: the sum of the "System RAM" ranges.
ram_kb=0
while read -r line; do
  case "$line" in
    *": System RAM") range=${line%% *}; ram_kb=$(( ram_kb + (0x${range#*-} - 0x${range%-*} + 1) / 1024 )) ;;
  esac
done < /proc/iomem
read -r _ mem_total_kb _ < /proc/meminfo

# One write, so kernel messages cannot land in the middle of the report.
printf '%s\n' \
  "tsuite-boot: version=1" \
  "tsuite-boot: release=$(uname -r)" \
  "tsuite-boot: arch=$(uname -m)" \
  "tsuite-boot: cmdline=$(cat /proc/cmdline)" \
  "tsuite-boot: cpus=$(nproc)" \
  "tsuite-boot: mem_total_kb=$mem_total_kb" \
  "tsuite-boot: mem_system_ram_kb=$ram_kb" \
  "tsuite-boot: uptime_s=$uptime_s" \
  "tsuite-boot: ready"

# Host commands arrive on the console, one per line.
while read -r line; do
  case "$line" in
    *tsuite-poweroff*) echo "tsuite-init: powering off"; sync; poweroff -f ;;
  esac
done
# The console closed; PID 1 must never exit.
while :; do sleep 3600; done
