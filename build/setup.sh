#!/usr/bin/env bash
# Idempotent machine set-up for ML.LeastSquaresQuant: does only what is missing, one line per step.
# LSQUANT_SKIP_SYSTEM_SETUP=1 skips the system-wide change (a Debian 13 apt source and its libstdc++6) and prints
# how to make it by hand instead.
set -euo pipefail

say() { printf 'setup: %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else
    say "need root for: $*"; return 1; fi
}

apt_updated=0
apt_update_once() {
  if [ "$apt_updated" -eq 0 ]; then as_root apt-get update -qq >/dev/null; apt_updated=1; fi
}

libstdcxx_path() {
  # awk reads to the end: exiting early would kill ldconfig with SIGPIPE, which pipefail turns into a failure.
  ldconfig -p 2>/dev/null | awk '/libstdc\+\+\.so\.6 .*x86-64/ && !found {print $NF; found = 1}'
}

# 1. TorchSharp 0.107's native library needs GLIBCXX_3.4.32 (GCC 13's libstdc++); Debian 12 ships GCC 12's.
step_libstdcxx() {
  local lib; lib=$(libstdcxx_path)
  if [ -z "$lib" ] || grep -q 'GLIBCXX_3.4.32' "$lib" 2>/dev/null; then
    say "libstdc++ already provides GLIBCXX_3.4.32 (TorchSharp's native library loads): nothing to do"; return
  fi
  if ! command -v apt-get >/dev/null 2>&1 || ! grep -q '^VERSION_CODENAME=bookworm' /etc/os-release 2>/dev/null; then
    say "WARNING: $lib lacks GLIBCXX_3.4.32 and this is not Debian 12; install GCC 13's libstdc++ by hand"; return
  fi
  if [ "${LSQUANT_SKIP_SYSTEM_SETUP:-0}" = "1" ]; then
    say "LSQUANT_SKIP_SYSTEM_SETUP=1: not changing the system. $lib lacks GLIBCXX_3.4.32, so TorchSharp will not load until you,"
    say "  as root, add Debian 13 (trixie) as an apt source pinned to priority 100 (see step_libstdcxx in $0) and run"
    say "  'apt-get update && apt-get install -t trixie libstdc++6' (this also upgrades libc6 to Debian 13's glibc)"
    return
  fi
  # Said before doing it: this changes the whole machine, not just this project.
  say "SYSTEM CHANGE (as root): adding Debian 13's apt source (pinned low) and upgrading libstdc++6, and with it glibc; set LSQUANT_SKIP_SYSTEM_SETUP=1 to do it by hand instead"
  as_root tee /etc/apt/sources.list.d/trixie.sources >/dev/null <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  as_root tee /etc/apt/preferences.d/trixie-low >/dev/null <<'PIN'
Package: *
Pin: release n=trixie
Pin-Priority: 100
PIN
  apt_update_once
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq -t trixie libstdc++6 >/dev/null
  say "installed Debian 13's libstdc++6 (low-priority trixie source) so TorchSharp's native library loads on Debian 12"
}

# 2. Real data: Fashion-MNIST from Debian's archive (the only real image data reachable offline).
step_fashion_mnist() {
  if [ -f /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz ]; then
    say "Fashion-MNIST present in /usr/share/datasets/fashion-mnist: nothing to do"; return
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    say "no apt-get: Fashion-MNIST not installed (tests that need it will say so)"; return
  fi
  apt_update_once
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq dataset-fashion-mnist >/dev/null
  say "installed dataset-fashion-mnist into /usr/share/datasets/fashion-mnist"
}

step_libstdcxx
step_fashion_mnist
