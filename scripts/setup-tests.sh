#!/usr/bin/env bash
# Prepares a fresh Debian machine for tsuite's own tests (`npm run setup:tests`), the README's second
# quick-start line and .ci/run alike: `tsuite setup` (QEMU, kernels, guests, images), plus what only
# the tests use. Idempotent: a second run installs nothing.
#
# Debian's Chromium is the browser the HTML report's Playwright test drives (playwright-core downloads
# no browser of its own). The containers tests start Debian's dockerd on this host (docker.io, which
# `setup` installs for its client) in a network namespace of their own (iproute2, nsenter from
# util-linux), reached over TLS with certificates made by openssl. The cri tests start Debian's
# containerd (a docker.io dependency) the same way, giving pods networks with the CNI plugins.
# qemu-img (qemu-utils) is the independent reader the fixed-VHD tests check tsuite's VHDs against.
# The ssh target's tests start Debian's sshd (openssh-server) with a config, host key and
# authorized_keys of their own in a network namespace of their own; on a machine with systemd,
# installing the package also enables and starts the host's own sshd (on a container image with
# policy-rc.d, it does not).
set -euo pipefail
cd "$(dirname "$0")/.."

TEST_PACKAGES=(chromium openssl iproute2 util-linux containernetworking-plugins qemu-utils openssh-server)
missing=()
for p in "${TEST_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  as_root=()
  [ "$(id -u)" -eq 0 ] || as_root=(sudo)
  "${as_root[@]}" apt-get update -qq
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The CLI is built by `npm ci` (prepare); build again in case the sources changed since.
[ -f dist/bundle/cli.js ] || npm run build
npx tsuite setup
