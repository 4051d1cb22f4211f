#!/usr/bin/env bash
# Install what building and testing the dataplane needs on a fresh Debian 12 machine.
# Idempotent: packages already present are not fetched again.
set -euo pipefail

need_pkgs=(dpdk dpdk-dev libdpdk-dev libclang-dev pkg-config python3)
# The VXLAN interop tests (dataplane/tests/vxlan_interop.rs): peers in network namespaces
# (ip netns, veth, the kernel vxlan driver; sysctl), offloads off on veths, ping, an underlay capture.
need_pkgs+=(iproute2 procps ethtool tcpdump iputils-ping)
# --bench: what scripts/bench-compare.sh also runs (Open vSwitch with DPDK, ip netns).
if [ "${1:-}" = "--bench" ]; then
    need_pkgs+=(openvswitch-switch-dpdk iproute2)
fi
missing=()
for p in "${need_pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}" >&2
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
    echo "setup: cargo not found; install a Rust toolchain (rustup) first" >&2
    exit 1
fi

ver=$(pkg-config --modversion libdpdk)
echo "setup: DPDK $ver, $(cargo --version)" >&2
