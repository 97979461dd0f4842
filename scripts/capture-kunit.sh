#!/usr/bin/env bash
# Captures the real KUnit console logs under fixtures/ktap/ (see fixtures/ktap/README.md), from a
# KUnit kernel built from Debian's linux-source-6.1: Debian's own kernels are built without KUnit.
#
#   scripts/capture-kunit.sh            # everything, in $WORK (default /var/tmp/kunit)
#   scripts/capture-kunit.sh builtin    # one phase: builtin | modules
#
# Needs (Debian 12): apt-get install -y --no-install-recommends linux-source-6.1 flex bison \
#   libelf-dev bc libssl-dev qemu-system-x86 qemu-system-data busybox-static cpio gcc make
# Both kernels are built by kunit_tool in ONE build directory: the built-in config already has
# CONFIG_MODULES and the initramfs options, so switching tests to =m afterwards rebuilds little.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WORK:-/var/tmp/kunit}
OUT=${OUT:-$REPO/fixtures/ktap}
SRC=$WORK/linux-source-6.1
BUILD=$WORK/build
JOBS=${JOBS:-2}
PHASES=${*:-builtin modules}

log() { printf '== %s\n' "$*" >&2; }

extract() {
  [ -d "$SRC" ] && return
  mkdir -p "$WORK"
  log "extracting /usr/src/linux-source-6.1.tar.xz into $WORK"
  tar -C "$WORK" -xf /usr/src/linux-source-6.1.tar.xz
}

# kunit_tool's x86_64 build; $1 is the kunitconfig.
kbuild() {
  mkdir -p "$BUILD"
  (cd "$SRC" && nice -n 10 ./tools/testing/kunit/kunit.py build --arch=x86_64 --jobs="$JOBS" \
    --build_dir="$BUILD" --kunitconfig="$1")
}

# QEMU as kunit_tool runs it (qemu_configs/x86_64.py), but the serial port goes to a file so the
# log is every byte the kernel printed, timestamps and boot messages included.
boot() { # kernel log-file append [initrd]
  local initrd=()
  [ -n "${4:-}" ] && initrd=(-initrd "$4")
  timeout 600 qemu-system-x86_64 -nodefaults -m 1024 -accel tcg -kernel "$1" "${initrd[@]}" \
    -append "$3" -no-reboot -nographic -monitor none -serial "file:$2" -bios qboot.rom || true
}

builtin() {
  cat > "$WORK/builtin.kunitconfig" <<'CFG'
# kunit_tool's default.config ...
CONFIG_KUNIT=y
CONFIG_KUNIT_EXAMPLE_TEST=y
CONFIG_KUNIT_ALL_TESTS=y
# ... plus timestamps on the console, and FAT so that fat_test (parameterised: a real third
# KTAP level) is built in.
CONFIG_PRINTK_TIME=y
CONFIG_MSDOS_FS=y
# Shared with the modules kernel (see the top of this file).
CONFIG_MODULES=y
CONFIG_MODULE_UNLOAD=y
CONFIG_BLK_DEV_INITRD=y
CONFIG_DEVTMPFS=y
CONFIG_BINFMT_SCRIPT=y
CFG
  kbuild "$WORK/builtin.kunitconfig"
  cp "$BUILD/arch/x86/boot/bzImage" "$WORK/bzImage-builtin"
  cp "$BUILD/.config" "$WORK/config-builtin"
  log "booting the built-in kernel"
  boot "$WORK/bzImage-builtin" "$WORK/builtin.log" 'console=ttyS0 kunit_shutdown=reboot'
}

case " $PHASES " in *" builtin "*) extract; builtin ;; esac
