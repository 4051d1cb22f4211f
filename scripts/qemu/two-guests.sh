#!/usr/bin/env bash
# End-to-end check of the README's QEMU usage with our dataplane: two busybox guests under
# QEMU (TCG) on two vhost-user ports of the dataplane; guest A pings guest B and runs an
# iperf3 TCP client against it, then both power off and the dataplane is stopped with SIGINT.
#
#   scripts/qemu/two-guests.sh
#
# Environment: GUEST_DIR (default target/qemu-guest: kernel + initramfs, built once by
# build-guest.sh), PINGS (10), IPERF_SECS (8), GUEST_TIMEOUT (180 s), KEEP_RUN=1 keeps
# the temporary run directory (logs) instead of removing it.
#
# Exit 0 only if: ping got replies, iperf3 client rc=0, and the dataplane exited 0 with
# `final mempool ... in_use=0`.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)

guest_dir=${GUEST_DIR:-$repo/target/qemu-guest}
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

run=$(mktemp -d /tmp/dp-qemu.XXXXXX)
tag=dpq$$
dp_pid="" qa_pid="" qb_pid=""

stop_pid() { # stop_pid PID SIGNAL: signal, wait up to 10 s, then SIGKILL
    local pid=$1 sig=$2
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
    kill "-$sig" "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_pid "$qa_pid" TERM
    stop_pid "$qb_pid" TERM
    stop_pid "$dp_pid" INT
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
./target/release/dataplane -l 0-1 --no-pci --no-huge -m 512 --file-prefix "$tag" -- \
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
# The README's line, adapted for TCG: KVM is not usable here (-accel tcg -cpu max), and QEMU
# 7.2 under TCG needs vectors=0 (no MSI-X) on virtio-net-pci or it segfaults.
accel=(-accel tcg -cpu max)
vectors=",vectors=0"
boot_guest() { # boot_guest NAME SOCK MAC APPEND
    local name=$1 sock=$2 mac=$3 append=$4
    qemu-system-x86_64 -name "$name" -machine q35 "${accel[@]}" -smp 1 -m 256M \
        -object memory-backend-memfd,id=mem,size=256M,share=on -numa node,memdev=mem \
        -chardev "socket,id=c0,path=$sock,reconnect=1" \
        -netdev type=vhost-user,id=n0,chardev=c0 \
        -device "virtio-net-pci,netdev=n0,mac=$mac,romfile=$vectors" \
        -nodefaults -no-user-config -display none -no-reboot -msg timestamp=on \
        -serial "file:$run/$name.serial.log" \
        -kernel "$guest_dir/vmlinuz" -initrd "$guest_dir/initramfs.gz" \
        -append "console=ttyS0 quiet panic=-1 $append" \
        < /dev/null > "$run/$name.qemu.log" 2>&1 &
}
boot_guest B "$run/vm2.sock" 52:54:00:00:00:02 "gp.ip=10.0.0.2/24 gp.test=iperf3s"
qb_pid=$!
boot_guest A "$run/vm1.sock" 52:54:00:00:00:01 \
    "gp.ip=10.0.0.1/24 gp.test=ping:10.0.0.2:$pings,iperf3c:10.0.0.2:$iperf_secs"
qa_pid=$!
say "guests started: A pid $qa_pid (10.0.0.1, vm1.sock), B pid $qb_pid (10.0.0.2, vm2.sock)"

deadline=$(($(date +%s) + guest_timeout))
qa_rc="" qb_rc=""
while [ -z "$qa_rc" ] || [ -z "$qb_rc" ]; do
    if [ -z "$qa_rc" ] && ! kill -0 "$qa_pid" 2>/dev/null; then
        qa_rc=0; wait "$qa_pid" || qa_rc=$?; qa_pid=""
        say "guest A powered off (qemu rc=$qa_rc) at $(elapsed) s"
    fi
    if [ -z "$qb_rc" ] && ! kill -0 "$qb_pid" 2>/dev/null; then
        qb_rc=0; wait "$qb_pid" || qb_rc=$?; qb_pid=""
        say "guest B powered off (qemu rc=$qb_rc) at $(elapsed) s"
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
        fail "guests still running after ${guest_timeout} s"
    fi
    sleep 0.5
done

# The serial console writes CRLF line ends.
sed -i 's/\r$//' "$run/A.serial.log" "$run/B.serial.log"

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
