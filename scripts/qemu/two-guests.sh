#!/usr/bin/env bash
# End-to-end check of the README's QEMU usage with our dataplane: two busybox guests under
# QEMU (KVM when usable, else TCG; started by scripts/qemu/lib.sh) on two vhost-user ports
# of the dataplane; guest A pings guest B and runs an iperf3 TCP client against it, then
# both power off and the dataplane is stopped with SIGINT.
#
#   scripts/qemu/two-guests.sh [--help]
#
# Environment: GUEST_DIR (default target/qemu-guest: kernel + initramfs, built once by
# build-guest.sh), PINGS (10), IPERF_SECS (8), GUEST_TIMEOUT (180 s), KEEP_RUN=1 keeps
# the temporary run directory (logs) instead of removing it, QG_ACCEL=kvm|tcg forces the
# accelerator. Holds /tmp/dataplane-pollers.lock while the dataplane and guests run.
#
# Exit 0 only if: ping got replies, iperf3 client rc=0, and the dataplane exited 0 with
# `final mempool ... in_use=0`.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)
case "${1:-}" in
    -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    "") ;;
    *) echo "two-guests: no arguments (see --help)" >&2; exit 2 ;;
esac

guest_dir=${GUEST_DIR:-$repo/target/qemu-guest}
QG_GUEST_DIR=$guest_dir
# shellcheck source=scripts/qemu/lib.sh
. scripts/qemu/lib.sh
pings=${PINGS:-10}
iperf_secs=${IPERF_SECS:-8}
guest_timeout=${GUEST_TIMEOUT:-180}
t_start=$(date +%s.%N)

say() { echo "two-guests: $*" >&2; }
elapsed() { awk -v a="$t_start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

for p in $(pgrep -x dataplane 2>/dev/null || true) $(pgrep -x dp-traffic 2>/dev/null || true); do
    say "warning: another poller is running (pid $p); TCG guests will be slow"
done

bash scripts/setup.sh
bash scripts/qemu/build-guest.sh "$guest_dir"
cargo build --release -p dataplane -q
dp_bin=${CARGO_TARGET_DIR:-$repo/target}/release/dataplane
qg_pollers_lock
qg_pick_accel

run=$(mktemp -d /tmp/dp-qemu.XXXXXX)
tag=dpq$$
dp_pid="" qa_pid="" qb_pid=""

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    qg_stop "$qa_pid" TERM
    qg_stop "$qb_pid" TERM
    qg_stop "$dp_pid" INT
    rm -rf "/var/run/dpdk/$tag"
    if [ "${KEEP_RUN:-0}" = 1 ]; then
        say "logs kept in $run"
    else
        rm -rf "$run"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

dump_logs() {
    for f in dataplane.out dataplane.err A.qemu.log B.qemu.log A.serial.log B.serial.log; do
        [ -s "$run/$f" ] || continue
        echo "----- $f (last 25 lines)" >&2
        tail -n 25 "$run/$f" >&2
    done
}
fail() { say "FAIL: $*"; dump_logs; exit 1; }

# --- dataplane ------------------------------------------------------------------------------
"$dp_bin" -l 0-1 --no-pci --no-huge -m 512 --file-prefix "$tag" -- \
    --vhost-user "$run/vm1.sock" --vhost-user "$run/vm2.sock" --stats-interval 5 \
    > "$run/dataplane.out" 2> "$run/dataplane.err" < /dev/null &
dp_pid=$!
for _ in $(seq 300); do
    grep -qx ready "$run/dataplane.out" 2>/dev/null && break
    kill -0 "$dp_pid" 2>/dev/null || fail "dataplane exited before ready"
    sleep 0.1
done
grep -qx ready "$run/dataplane.out" || fail "dataplane not ready after 30 s"
say "dataplane ready (pid $dp_pid) on $run/vm1.sock, $run/vm2.sock after $(elapsed) s"

# --- guests ---------------------------------------------------------------------------------
# The README's line (scripts/qemu/lib.sh): KVM when usable, else -accel tcg -cpu max and
# vectors=0 on virtio-net-pci (QEMU 7.2 under TCG segfaults with MSI-X). QEMU dials the
# dataplane's server sockets with reconnect=1.
qg_boot B "$run" "vhost-user:$run/vm2.sock" 52:54:00:00:00:02 "gp.ip=10.0.0.2/24 gp.test=iperf3s"
qb_pid=$QG_PID
qg_boot A "$run" "vhost-user:$run/vm1.sock" 52:54:00:00:00:01 \
    "gp.ip=10.0.0.1/24 gp.test=ping:10.0.0.2:$pings,iperf3c:10.0.0.2:$iperf_secs"
qa_pid=$QG_PID
say "guests started ($QG_ACCEL: $QG_ACCEL_WHY): A pid $qa_pid (10.0.0.1, vm1.sock), B pid $qb_pid (10.0.0.2, vm2.sock)"

# Both guests power off after their tests (A after iperf3, B after serving one client).
deadline=$((SECONDS + guest_timeout))
qg_wait_exit "$qa_pid" "$guest_timeout" || fail "guest A still running after ${guest_timeout} s"
qa_rc=$QG_RC qa_pid=""
say "guest A powered off (qemu rc=$qa_rc) at $(elapsed) s"
qg_wait_exit "$qb_pid" $((deadline > SECONDS ? deadline - SECONDS : 1)) || fail "guest B still running after ${guest_timeout} s"
qb_rc=$QG_RC qb_pid=""
say "guest B powered off (qemu rc=$qb_rc) at $(elapsed) s"

qg_clean_serial "$run/A.serial.log" "$run/B.serial.log"

echo "== guest markers"
grep -h -E 'GP-(READY|REACHABLE|TEST-END|DONE|WARN)' "$run/A.serial.log" | sed 's/^/A: /' || true
grep -h -E 'GP-(READY|REACHABLE|TEST-END|DONE|WARN)' "$run/B.serial.log" | sed 's/^/B: /' || true
echo "== ping A -> B"
grep -E 'packets transmitted|round-trip' "$run/A.serial.log" || true
echo "== iperf3 A -> B (client side)"
grep -E '(sender|receiver)$' "$run/A.serial.log" || true
echo "== iperf3 A -> B (server side)"
grep -E 'receiver$' "$run/B.serial.log" || true

# --- stop the dataplane ---------------------------------------------------------------------
kill -INT "$dp_pid"
dp_rc=""
for _ in $(seq 300); do
    kill -0 "$dp_pid" 2>/dev/null || break
    sleep 0.1
done
if kill -0 "$dp_pid" 2>/dev/null; then
    fail "dataplane did not exit within 30 s of SIGINT"
fi
dp_rc=0; wait "$dp_pid" || dp_rc=$?; dp_pid=""
echo "== dataplane (exit status $dp_rc)"
grep '^final' "$run/dataplane.out" || true

# --- verdict --------------------------------------------------------------------------------
ok=1
received=$(sed -n 's/.* \([0-9][0-9]*\) packets received.*/\1/p' "$run/A.serial.log" | tail -n 1)
[ "${received:-0}" -gt 0 ] || { say "ping: no replies"; ok=0; }
grep -q 'GP-TEST-END iperf3c rc=0' "$run/A.serial.log" || { say "iperf3 client did not succeed"; ok=0; }
[ "$dp_rc" = 0 ] || { say "dataplane exit status $dp_rc"; ok=0; }
grep -Eq '^final mempool .*in_use=0( |$)' "$run/dataplane.out" || { say "no 'final mempool ... in_use=0'"; ok=0; }
[ "$ok" = 1 ] || fail "see above"
say "PASS in $(elapsed) s"
