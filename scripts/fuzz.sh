#!/usr/bin/env bash
# Fuzzes the switch logic (no DPDK, no EAL) with libFuzzer through cargo-fuzz.
#   scripts/fuzz.sh [SECONDS]      (default 60)
# cargo-fuzz needs nightly-only rustc flags; RUSTC_BOOTSTRAP=1 lets the stable toolchain
# (the only one on these machines) accept them.
set -euo pipefail
cd "$(dirname "$0")/../switch/fuzz"
secs=${1:-60}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
for target in $(RUSTC_BOOTSTRAP=1 cargo fuzz list); do
    echo "fuzz: $target for $secs s"
    RUSTC_BOOTSTRAP=1 cargo fuzz run "$target" -- -max_total_time="$secs" 2>&1 | tail -n 1
done
