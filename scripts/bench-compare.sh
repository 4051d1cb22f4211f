#!/usr/bin/env bash
# Throughput of our dataplane side by side with testpmd io forwarding and Open vSwitch with
# DPDK, on one machine, in one run. See bench/README.md for what it measures and how to read
# it. Options go to scripts/bench_compare.py (--help); --no-hugepages runs everything on
# 4 KiB pages instead of reserving 2 MiB hugepages for the run.
#
#   scripts/bench-compare.sh                      # 8 repetitions, 64/1518 B x 2/1M MACs, plain
#                                                 # switching and VXLAN (encap + decap), ~40 min
#   scripts/bench-compare.sh --reps 2 --duration 2 --macs 2   # a quick look, ~3 min
#   scripts/bench-compare.sh --cases vxlan        # VXLAN only (and ours plain as the baseline)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
    echo "bench-compare: run as root (DPDK, Open vSwitch and network namespaces need it)" >&2
    exit 2
fi
if pgrep -x ovs-vswitchd >/dev/null; then
    echo "bench-compare: note: a system ovs-vswitchd is running; if it polls with DPDK, stop it first" >&2
fi
for busy in dataplane dpdk-testpmd dp-traffic; do
    if pgrep -x "$busy" >/dev/null; then
        echo "bench-compare: a $busy process is running (pid $(pgrep -x "$busy" | tr '\n' ' ')); stop it first: two pollers on two CPUs make every figure meaningless" >&2
        exit 2
    fi
done

scripts/setup.sh --bench
cargo build --release --workspace --bins >&2

hugepages=1
args=()
for a in "$@"; do
    if [ "$a" = "--no-hugepages" ]; then hugepages=0; else args+=("$a"); fi
done

nr=/proc/sys/vm/nr_hugepages
restore=""
cleanup() {
    if [ -n "$restore" ]; then
        echo "$restore" > "$nr"
        echo "bench-compare: hugepages back to $restore" >&2
    fi
}
trap cleanup EXIT
if [ "$hugepages" = 1 ]; then
    # OVS alone grows to about 1.3 GB of hugepages; the generator and the other backends
    # need far less, and only one backend runs at a time.
    need=1536
    free=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)
    if [ "$free" -lt "$need" ]; then
        restore=$(cat "$nr")
        echo $(( restore + need - free )) > "$nr"
        free=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)
    fi
    if [ "$free" -ge "$need" ]; then
        args+=(--hugepages)
    else
        echo "bench-compare: could not reserve $need hugepages ($free free); running on 4 KiB pages" >&2
    fi
fi
# The command as the user typed it, for the report (the script adds --hugepages itself).
export BENCH_COMPARE_CMD="scripts/bench-compare.sh $*"
python3 scripts/bench_compare.py "${args[@]}"
