# Shell functions shared by tsuite's guest inits (kernel/initramfs/init.sh, kernel/node/node-init.sh),
# installed at /lib/tsuite/guest-lib.sh: the boot report is a contract (src/parsers/boot-report.ts)
# that both guests must print alike. POSIX sh: busybox ash and dash both run it.

# devtmpfs makes only /dev/vportNpM; udev would add the named links (/dev/virtio-ports/<name>),
# so make them here. The host announces the ports a moment after the driver binds: with a virtio
# console device (virtio id 3) present, give them up to 2 s to appear.
tsuite_virtio_port_links() {
  for dev in /sys/bus/virtio/devices/*; do
    [ "$(cat "$dev/device" 2>/dev/null)" = 0x0003 ] || continue
    tries=0
    while [ $tries -lt 20 ] && ! ls /sys/class/virtio-ports/*/name > /dev/null 2>&1; do sleep 0.1; tries=$((tries + 1)); done
  done
  mkdir -p /dev/virtio-ports
  for port in /sys/class/virtio-ports/*; do
    [ -f "$port/name" ] && ln -sf "/dev/${port##*/}" "/dev/virtio-ports/$(cat "$port/name")"
  done
}

# Prints the boot report, ending with the `ready` landmark. Takes the guest's uptime at init
# (read first thing, before anything costs time) and the agent that runs (qemu-ga or none).
tsuite_boot_report() {
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
    "tsuite-boot: uptime_s=$1" \
    "tsuite-boot: agent=$2" \
    "tsuite-boot: ready"
}
