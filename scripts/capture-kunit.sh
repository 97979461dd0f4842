#!/usr/bin/env bash
# Captures the real KUnit console logs under fixtures/ktap/ (see fixtures/ktap/README.md), from a
# KUnit kernel built from Debian's linux-source-6.1: Debian's own kernels are built without KUnit.
#
#   scripts/capture-kunit.sh            # everything, in $WORK (default /var/tmp/kunit)
#   scripts/capture-kunit.sh modules    # some phases: builtin builtin-oops modules
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
PHASES=${*:-builtin builtin-oops modules}

log() { printf '== %s\n' "$*" >&2; }

extract() {
  [ -d "$SRC" ] && return
  mkdir -p "$WORK"
  log "extracting /usr/src/linux-source-6.1.tar.xz into $WORK"
  tar -C "$WORK" -xf /usr/src/linux-source-6.1.tar.xz
}

# kunit_tool's x86_64 build; $1 is the kunitconfig, $2 what the tsuite_oops suite is built as.
kbuild() {
  mkdir -p "$BUILD"
  (cd "$SRC" && nice -n 10 ./tools/testing/kunit/kunit.py build --arch=x86_64 --jobs="$JOBS" \
    --build_dir="$BUILD" --kunitconfig="$1" --make_options="TSUITE_OOPS_TEST=${2:-}")
}

# A KUnit suite whose second case writes through NULL: with oops=panic the kernel dies mid-suite,
# as a kernel under test does when a test takes it down. It goes into lib/kunit/ (linked right
# after the `example` suite), built only when make is given TSUITE_OOPS_TEST=y or =m.
add_oops_suite() {
  cat > "$SRC/lib/kunit/tsuite_oops_test.c" <<'C'
// SPDX-License-Identifier: GPL-2.0
#include <kunit/test.h>

static void tsuite_oops_before(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, 2, 1 + 1);
}

static void tsuite_oops_null_deref(struct kunit *test)
{
	int *volatile p = NULL;

	kunit_info(test, "writing through a NULL pointer\n");
	*p = 1;
}

static void tsuite_oops_never_runs(struct kunit *test)
{
}

static struct kunit_case tsuite_oops_cases[] = {
	KUNIT_CASE(tsuite_oops_before),
	KUNIT_CASE(tsuite_oops_null_deref),
	KUNIT_CASE(tsuite_oops_never_runs),
	{}
};

static struct kunit_suite tsuite_oops_suite = {
	.name = "tsuite_oops",
	.test_cases = tsuite_oops_cases,
};
kunit_test_suite(tsuite_oops_suite);

MODULE_LICENSE("GPL");
C
  grep -q tsuite_oops_test "$SRC/lib/kunit/Makefile" ||
    echo 'obj-$(TSUITE_OOPS_TEST) += tsuite_oops_test.o' >> "$SRC/lib/kunit/Makefile"
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
  cp "$WORK/builtin.log" "$OUT/kunit-builtin-x86_64.log"
}

builtin_oops() {
  add_oops_suite
  kbuild "$WORK/builtin.kunitconfig" y
  cp "$BUILD/arch/x86/boot/bzImage" "$WORK/bzImage-builtin-oops"
  log "booting the built-in kernel with the tsuite_oops suite and oops=panic"
  boot "$WORK/bzImage-builtin-oops" "$WORK/builtin-oops-panic.log" 'console=ttyS0 kunit_shutdown=reboot oops=panic panic=-1'
  cp "$WORK/builtin-oops-panic.log" "$OUT/kunit-builtin-oops-panic-x86_64.log"
}

# A static busybox initramfs whose /init insmods the modules named by `kunit_modules=a,b` on the
# kernel command line (unknown parameters reach init as environment variables), then reboots (which ends QEMU).
initramfs() { # out-cpio.gz
  local stage=$WORK/initramfs
  rm -rf "$stage" && mkdir -p "$stage"/{bin,dev,proc,sys,lib/modules}
  cp /bin/busybox "$stage/bin/busybox"
  find "$WORK/modroot" -name '*.ko' -exec cp {} "$stage/lib/modules/" \;
  cat > "$stage/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $(echo "$kunit_modules" | tr , ' '); do
  echo "tsuite-capture: insmod $m"
  insmod "/lib/modules/$m.ko"
done
# No ACPI in this kernel: power-off would only halt; QEMU (-no-reboot) exits on a reboot.
reboot -f
INIT
  chmod 755 "$stage/init" "$stage/bin/busybox"
  # As kernel/initramfs/build-initramfs.ts packCpio does: newc, owned by root, sorted.
  (cd "$stage" && find . -mindepth 1 | sort | cpio --quiet -o -H newc -R 0:0 --reproducible) | gzip -9 > "$1"
}

modules() {
  cat > "$WORK/modules.kunitconfig" <<'CFG'
CONFIG_KUNIT=y
# CONFIG_KUNIT_ALL_TESTS is not set
CONFIG_KUNIT_TEST=m
CONFIG_KUNIT_EXAMPLE_TEST=m
CONFIG_LIST_KUNIT_TEST=m
CONFIG_TIME_KUNIT_TEST=m
CONFIG_FAT_KUNIT_TEST=m
CONFIG_PRINTK_TIME=y
CONFIG_MSDOS_FS=y
CONFIG_MODULES=y
CONFIG_MODULE_UNLOAD=y
CONFIG_BLK_DEV_INITRD=y
CONFIG_DEVTMPFS=y
CONFIG_BINFMT_SCRIPT=y
CFG
  add_oops_suite
  kbuild "$WORK/modules.kunitconfig" m
  cp "$BUILD/arch/x86/boot/bzImage" "$WORK/bzImage-modules"
  cp "$BUILD/.config" "$WORK/config-modules"
  rm -rf "$WORK/modroot"
  make -s -C "$SRC" O="$BUILD" ARCH=x86_64 TSUITE_OOPS_TEST=m INSTALL_MOD_PATH="$WORK/modroot" \
    INSTALL_MOD_STRIP=1 modules_install

  initramfs "$WORK/modules.cpio.gz"

  log "booting the modules kernel: the tests load one module after another"
  boot "$WORK/bzImage-modules" "$WORK/modules.log" \
    'console=ttyS0 panic=-1 kunit_modules=kunit-example-test,list-test,time_test,fat_test,kunit-test' "$WORK/modules.cpio.gz"
  log "booting the modules kernel again: a suite oopses and oops=panic takes the kernel down"
  boot "$WORK/bzImage-modules" "$WORK/modules-oops-panic.log" \
    'console=ttyS0 panic=-1 oops=panic kunit_modules=kunit-example-test,list-test,tsuite_oops_test,time_test' "$WORK/modules.cpio.gz"
  cp "$WORK/modules.log" "$OUT/kunit-modules-x86_64.log"
  cp "$WORK/modules-oops-panic.log" "$OUT/kunit-modules-oops-panic-x86_64.log"
}

# The unpatched built-in kernel first: adding the oops suite to the tree comes after it.
case " $PHASES " in *" builtin "*) extract; builtin ;; esac
case " $PHASES " in *" builtin-oops "*) extract; builtin_oops ;; esac
case " $PHASES " in *" modules "*) extract; modules ;; esac
