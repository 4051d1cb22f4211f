#!/usr/bin/env bash
# The demo: installs what is missing, builds, starts the dataplane with two vhost-user
# ports, attaches the traffic tool to both as two guests, checks that frames are switched
# (learning, flooding, forwarding, byte for byte), measures the rate for a few seconds,
# and stops the dataplane with SIGINT so it prints its final counters.
#
#   scripts/demo.sh [SECONDS] [FRAME_SIZE]       (defaults: 5 s, 64 B)
#
# Needs no NIC and no hugepages (--no-huge); with 2 MiB hugepages free it uses them.
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${1:-5}
size=${2:-64}

bash scripts/setup.sh
cargo build --release --bins -q

run=$(mktemp -d /tmp/dataplane-demo.XXXXXX)
tag=demo$$
dp_pid=""
cleanup() {
    if [ -n "$dp_pid" ] && kill -0 "$dp_pid" 2>/dev/null; then
        kill -INT "$dp_pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$dp_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$dp_pid" 2>/dev/null || true
    fi
    rm -rf "$run" "/var/run/dpdk/dp-$tag" "/var/run/dpdk/tg-$tag"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_2m=$(cat /sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages 2>/dev/null || echo 0)
if [ "$free_2m" -ge 768 ]; then
    dp_mem=(--in-memory -m 512)
    tg_mem=(--in-memory --single-file-segments -m 512)
    echo "demo: using hugepages ($free_2m free 2 MiB pages)"
else
    dp_mem=(--no-huge -m 512)
    tg_mem=(--no-huge -m 512)
    echo "demo: no free hugepages, running with --no-huge (see hugepages.md for the faster setup)"
fi

# Worker lcore 1 polls; the main lcore 0 only prints stats. The traffic tool polls lcore 0.
./target/release/dataplane -l 0-1 --no-pci "${dp_mem[@]}" --file-prefix "dp-$tag" \
    --log-level 'lib.vhost.*:warning' -- \
    --vhost-user "$run/vm1.sock" --vhost-user "$run/vm2.sock" --stats-interval 2 \
    > "$run/dataplane.out" 2> "$run/dataplane.err" &
dp_pid=$!

for _ in $(seq 300); do
    grep -qx ready "$run/dataplane.out" 2>/dev/null && break
    kill -0 "$dp_pid" 2>/dev/null || { cat "$run/dataplane.err" >&2; exit 1; }
    sleep 0.1
done
grep -qx ready "$run/dataplane.out" || { echo "demo: dataplane not ready" >&2; cat "$run/dataplane.err" >&2; exit 1; }
echo "demo: dataplane ready (pid $dp_pid) on $run/vm1.sock and $run/vm2.sock"

vm1=02:00:00:00:00:01
vm2=02:00:00:00:00:02
./target/release/dp-traffic -l 0 --no-pci "${tg_mem[@]}" --file-prefix "tg-$tag" --log-level '*:error' -- \
    --vhost-user "$run/vm1.sock" --vhost-user "$run/vm2.sock" \
    --step "from=0,src=$vm1,dst=$vm2,count=1000,size=$size" \
    --step "from=1,src=$vm2,dst=$vm1,count=1000,size=$size" \
    --step "from=0,src=$vm1,dst=$vm2,count=1000,size=$size" \
    --step "from=1,src=$vm2,dst=ff:ff:ff:ff:ff:ff,count=1000,size=$size" \
    --duration "$secs" --size "$size" --reflect 1024 --json > "$run/traffic.json" 2> "$run/traffic.err" || {
    cat "$run/traffic.err" >&2
    exit 1
}
grep -v '^gen t=' "$run/traffic.err"

python3 - "$run/traffic.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
expect = [[0, 1000], [1000, 0], [0, 1000], [1000, 0]]
ok = True
for st, want in zip(r["steps"], expect):
    got = [p["intact"] for p in st["received"]]
    bad = sum(p["corrupt"] + p["duplicates"] for p in st["received"])
    verdict = "ok" if got == want and bad == 0 else "WRONG"
    ok &= verdict == "ok"
    print(f"check step {st['index']}: {st['src']} -> {st['dst']} from port {st['from']}: "
          f"intact per port {got}, expected {want}: {verdict}")
g = r["generator"]
received = sum(d["received"] for d in g["directions"])
p99 = max(d["latency_us"]["p99"] for d in g["directions"])
print(f"check rate: {received:,} frames of {g['size']} B switched in {g['seconds']:.1f} s = "
      f"{g['rx_mpps']:.2f} Mpps ({g['rx_gbps']:.2f} Gbit/s on the wire), lost {g['lost']}, "
      f"corrupt {g['corrupt']}, latency p99 {p99:.1f} us")
sys.exit(0 if ok and received > 0 and g["corrupt"] == 0 else 1)
PY

kill -INT "$dp_pid"
rc=0
wait "$dp_pid" || rc=$?
dp_pid=""
echo "demo: dataplane exited with status $rc; its final counters:"
grep '^final' "$run/dataplane.out"
[ ! -e "$run/vm1.sock" ] && [ ! -e "$run/vm2.sock" ] && echo "demo: sockets removed"
exit "$rc"
