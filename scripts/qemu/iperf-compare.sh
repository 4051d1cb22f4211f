#!/usr/bin/env bash
# iperf3 between two QEMU guests through three backends, side by side:
#
#   ours          the release `dataplane` (whatever is built from this tree), two vhost-user
#                 ports in client mode; main lcore 0, worker (polling) lcore 1
#   ovs           Open vSwitch 3.1 with DPDK (Debian's openvswitch-switch-dpdk), started here:
#                 own database/run/log directory, own network namespace, no systemd; a netdev
#                 bridge (NORMAL) with two dpdkvhostuserclient ports; dpdk-lcore-mask=0x1,
#                 pmd-cpu-mask=0x2 (one PMD core, the same split as ours)
#   linux-bridge  a kernel bridge with two TAP devices in a fresh network namespace; QEMU
#                 -netdev tap,vhost=on when /dev/vhost-net is usable, else vhost=off (labelled)
#
# For every repetition and backend (backend order rotates between repetitions): guest B
# (10.0.0.2) serves iperf3, guest A (10.0.0.1) pings B, then runs iperf3 TCP for N seconds
# A->B and then N seconds B->A (iperf3 -R). Both guests use the same flags with every
# backend (q35, 1 vCPU, 256 MiB memfd share=on RAM, virtio-net-pci, MTU 1500; the vhost-user
# backends: QEMU owns the socket, server=on,wait=off). Results are read from the guests'
# serial logs; the report is a markdown table of medians (receiver Mbit/s each direction,
# sender retransmits, ping RTT) with date, machine, versions and the accelerator.
#
#   scripts/qemu/iperf-compare.sh [--backends ours,ovs,linux-bridge] [--secs N] [--reps R]
#                                 [--out FILE] [--pings N] [--ovs-userspace-tso] [--keep]
#
#   --backends LIST      subset and order of ours,ovs,linux-bridge (default: all three)
#   --secs N             iperf3 seconds per direction (default 10)
#   --reps R             repetitions of every backend (default 3)
#   --out FILE           also write the report there (default target/iperf-compare/<UTC time>.md;
#                        the per-run results go next to it as .tsv)
#   --pings N            pings A->B at 0.2 s intervals before iperf3 (default 20)
#   --ovs-userspace-tso  set other_config:userspace-tso-enable=true on OVS (default: OVS's
#                        default, off; the label says which)
#   --pmd-sleep US       let the polling cores sleep up to US microseconds when idle: ours
#                        --pmd-sleep-max US, OVS other_config:pmd-maxsleep=US (default: both
#                        busy-poll, their default). On 2 cores the busy poller takes a core
#                        the TCG guests would use.
#   --keep               keep the run directory (backend and guest logs) and print its path
#
# Environment: GUEST_DIR (default target/qemu-guest, built by build-guest.sh when missing),
# CARGO_TARGET_DIR (where the release dataplane is built), OURS_ARGS (extra dataplane
# options, e.g. "--mbufs 32767"; shown in the label), OURS_TX_RETRIES (tx_retries_max of
# both ports; default the dataplane's, 8), QG_ACCEL=kvm|tcg to force the
# accelerator. Run as root. Installs what it needs (scripts/setup.sh --bench, build-guest.sh).
# Holds /tmp/dataplane-pollers.lock while it runs; stops everything it started, also on
# Ctrl-C. A full run (--secs 10 --reps 3: 9 runs of 28-37 s) takes about 5 minutes under TCG
# on 2 cores (each run: 8-17 s of backend start, boot, pings and stop, plus 2 x --secs).
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }

backends="ours,ovs,linux-bridge"
secs=10 reps=3 out="" pings=20 ovs_tso=0 keep=0 pmd_sleep=0
while [ $# -gt 0 ]; do
    case "$1" in
        --backends) backends=${2:?}; shift 2 ;;
        --secs) secs=${2:?}; shift 2 ;;
        --reps) reps=${2:?}; shift 2 ;;
        --out) out=${2:?}; shift 2 ;;
        --pings) pings=${2:?}; shift 2 ;;
        --ovs-userspace-tso) ovs_tso=1; shift ;;
        --pmd-sleep) pmd_sleep=${2:?}; shift 2 ;;
        --keep) keep=1; shift ;;
        -h | --help) usage; exit 0 ;;
        *) echo "iperf-compare: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
cmdline="scripts/qemu/iperf-compare.sh --backends $backends --secs $secs --reps $reps"
[ "$ovs_tso" = 0 ] || cmdline+=" --ovs-userspace-tso"
[ "$pmd_sleep" = 0 ] || cmdline+=" --pmd-sleep $pmd_sleep"
[[ "$pmd_sleep" =~ ^[0-9]+$ ]] || { echo "iperf-compare: --pmd-sleep takes microseconds (0 = busy-poll)" >&2; exit 2; }
for n in "$secs" "$reps" "$pings"; do
    [[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "iperf-compare: --secs, --reps and --pings take positive integers" >&2; exit 2; }
done
IFS=, read -r -a backend_list <<< "$backends"
for b in "${backend_list[@]}"; do
    case "$b" in ours | ovs | linux-bridge) ;; *)
        echo "iperf-compare: unknown backend '$b' (ours, ovs, linux-bridge)" >&2; exit 2 ;;
    esac
done
[ "$(id -u)" -eq 0 ] || { echo "iperf-compare: run as root (DPDK, OVS, network namespaces, TAP)" >&2; exit 2; }

say() { echo "iperf-compare: $*" >&2; }

# --- prerequisites --------------------------------------------------------------------------
export GUEST_DIR=${GUEST_DIR:-$repo/target/qemu-guest}
QG_GUEST_DIR=$GUEST_DIR
# shellcheck source=scripts/qemu/lib.sh
. scripts/qemu/lib.sh
bash scripts/setup.sh --bench
bash scripts/qemu/build-guest.sh "$GUEST_DIR"
case ",$backends," in *,ours,*)
    say "building the release dataplane"
    cargo build --release -p dataplane -q
    ;;
esac
dp_bin=${CARGO_TARGET_DIR:-$repo/target}/release/dataplane
ovs_vswitchd=/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk
ovs_schema=/usr/share/openvswitch/vswitch.ovsschema

# --- cleanup: everything started here, by PID ------------------------------------------------
run="" tag=ipc$$
qa_pid="" qb_pid="" dp_pid="" ovs_pid="" ovs_dir="" ovs_ns="" lb_ns=""
stop_ovs() {
    [ -n "$ovs_dir" ] || return 0
    if [ -n "$ovs_pid" ] && kill -0 "$ovs_pid" 2>/dev/null; then
        timeout 30 ovs-appctl -t "$ovs_dir/ovs-vswitchd.ctl" exit --cleanup >/dev/null 2>&1 || true
    fi
    qg_stop "$ovs_pid" TERM
    ovs_pid=""
    if [ -s "$ovs_dir/ovsdb-server.pid" ]; then
        local p
        p=$(cat "$ovs_dir/ovsdb-server.pid")
        kill -TERM "$p" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null || true
    fi
    [ -z "$ovs_ns" ] || ip netns del "$ovs_ns" 2>/dev/null || true
    ovs_dir="" ovs_ns=""
}
stop_all() {
    qg_stop "$qa_pid" TERM; qa_pid=""
    qg_stop "$qb_pid" TERM; qb_pid=""
    qg_stop "$dp_pid" INT; dp_pid=""
    stop_ovs
    [ -z "$lb_ns" ] || ip netns del "$lb_ns" 2>/dev/null || true
    lb_ns=""
    rm -rf "/var/run/dpdk/$tag-ours" "/var/run/dpdk/$tag-ovs"
}
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_all
    if [ -z "$run" ]; then
        :
    elif [ "$keep" = 1 ] || [ "$rc" != 0 ]; then
        say "logs in $run"
    else
        rm -rf "$run"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

qg_pollers_lock
# (process names as the kernel keeps them: at most 15 characters)
for p in dataplane dp-traffic dpdk-testpmd ovs-vswitchd ovs-vswitchd-dp qemu-system-x86; do
    others=$(pgrep -x "$p" | tr '\n' ' ' || true)
    [ -z "$others" ] || say "warning: $p already running (pid $others): the numbers will be noisy"
done
qg_pick_accel

t_start=$SECONDS
stamp=$(date -u +%Y%m%d-%H%M%S)
[ -n "$out" ] || out=$repo/target/iperf-compare/$stamp.md
mkdir -p "$(dirname "$out")"
tsv=${out%.md}.tsv
run=$(mktemp -d /tmp/iperf-compare.XXXXXX)

# --- backends: each sets net_a / net_b (qg_boot NET strings) and a label --------------------
net_a="" net_b="" backend_note=""

start_ours() { # dir
    local d=$1
    mkdir -p "$d/sock"
    cat > "$d/dataplane.toml" <<EOF
[[port]]
name = "vmA"
type = "vhost-user"
path = "$d/sock/a.sock"
mode = "client"

[[port]]
name = "vmB"
type = "vhost-user"
path = "$d/sock/b.sock"
mode = "client"
EOF
    if [ -n "${OURS_TX_RETRIES:-}" ]; then
        sed -i "/^mode = \"client\"\$/a tx_retries_max = $OURS_TX_RETRIES" "$d/dataplane.toml"
    fi
    "$dp_bin" -l 0-1 --no-pci --no-huge -m 512 --file-prefix "$tag-ours" -- \
        --config "$d/dataplane.toml" --stats-interval 5 --pmd-sleep-max "$pmd_sleep" ${OURS_ARGS:-} \
        > "$d/dataplane.out" 2> "$d/dataplane.err" < /dev/null &
    dp_pid=$!
    for _ in $(seq 300); do
        grep -qx ready "$d/dataplane.out" 2>/dev/null && break
        kill -0 "$dp_pid" 2>/dev/null || { say "dataplane exited before ready: see $d/dataplane.err"; return 1; }
        sleep 0.1
    done
    grep -qx ready "$d/dataplane.out" || { say "dataplane not ready after 30 s"; return 1; }
    net_a="vhost-user-server:$d/sock/a.sock" net_b="vhost-user-server:$d/sock/b.sock"
}
stop_ours() { # dir: SIGINT; the exit status and the final mempool line go into the notes
    local d=$1 rc=0
    [ -n "$dp_pid" ] || return 0
    kill -INT "$dp_pid" 2>/dev/null || true
    for _ in $(seq 300); do kill -0 "$dp_pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$dp_pid" 2>/dev/null; then
        backend_note+="dataplane ignored SIGINT for 30 s; "
        qg_stop "$dp_pid" KILL
    else
        wait "$dp_pid" || rc=$?
        [ "$rc" = 0 ] || backend_note+="dataplane exit status $rc; "
    fi
    dp_pid=""
    grep -Eq '^final mempool .*in_use=0( |$)' "$d/dataplane.out" || backend_note+="no final mempool in_use=0; "
    local drops
    drops=$(awk '/^final .*port=/ { for (i = 1; i <= NF; i++) { if ($i ~ /^port=/) p = substr($i, 6); if ($i ~ /^drop_[a-z_]+=[1-9]/) printf "%s %s, ", p, $i } }' "$d/dataplane.out")
    [ -z "$drops" ] || backend_note+="dataplane drops: ${drops%, }; "
}

start_ovs() { # dir
    local d=$1/ovs
    mkdir -p "$d" "$1/sock"
    ovs_dir=$d ovs_ns=$tag-ovs
    # Everything OVS writes stays in $d (database, pidfiles, control sockets, logs); its
    # network namespace keeps br0's internal port off the host's network, and `ip netns
    # exec` also gives it a private mount namespace (a fresh /sys). No systemd, no
    # /etc/openvswitch, no /var/run/openvswitch.
    export OVS_RUNDIR=$d OVS_LOGDIR=$d OVS_DBDIR=$d OVS_SYSCONFDIR=$d OVS_PKGDATADIR=/usr/share/openvswitch
    ip netns add "$ovs_ns"
    ovsdb-tool create "$d/conf.db" "$ovs_schema"
    ip netns exec "$ovs_ns" ovsdb-server "$d/conf.db" --remote="punix:$d/db.sock" \
        --pidfile="$d/ovsdb-server.pid" --unixctl="$d/ovsdb-server.ctl" \
        --log-file="$d/ovsdb-server.log" --detach --no-chdir 2> "$d/ovsdb-server.out"
    local vsctl=(ovs-vsctl --db="unix:$d/db.sock" --timeout=60)
    "${vsctl[@]}" --no-wait init
    # No hugepages on these machines: 4 KiB pages, legacy memory, a fixed size (OVS 3.1 adds
    # --in-memory itself). OVS's shared mempool wants 262144 mbufs for MTU 1500 and does not
    # retry smaller on this error: -m 1024 fails with ENOBUFS when the first guest attaches. One PMD on CPU 1, OVS's other threads on CPU 0, as ours.
    local tso=()
    [ "$ovs_tso" = 0 ] || tso=(other_config:userspace-tso-enable=true)
    [ "$pmd_sleep" = 0 ] || tso+=("other_config:pmd-maxsleep=$pmd_sleep")
    "${vsctl[@]}" --no-wait set Open_vSwitch . \
        other_config:dpdk-init=true \
        other_config:dpdk-lcore-mask=0x1 \
        other_config:pmd-cpu-mask=0x2 \
        other_config:n-handler-threads=1 \
        other_config:n-revalidator-threads=1 \
        "${tso[@]}" \
        "other_config:dpdk-extra=\"--no-pci --file-prefix=$tag-ovs --no-huge --legacy-mem -m 1536\""
    ip netns exec "$ovs_ns" "$ovs_vswitchd" "unix:$d/db.sock" \
        --pidfile="$d/ovs-vswitchd.pid" --unixctl="$d/ovs-vswitchd.ctl" \
        --log-file="$d/ovs-vswitchd.log" --no-chdir \
        > "$d/ovs-vswitchd.out" 2>&1 < /dev/null &
    ovs_pid=$!
    # Without --no-wait, ovs-vsctl returns once ovs-vswitchd has applied the change.
    "${vsctl[@]}" add-br br0 -- set bridge br0 datapath_type=netdev
    "${vsctl[@]}" add-port br0 vhuA -- set Interface vhuA type=dpdkvhostuserclient \
        "options:vhost-server-path=$1/sock/a.sock"
    "${vsctl[@]}" add-port br0 vhuB -- set Interface vhuB type=dpdkvhostuserclient \
        "options:vhost-server-path=$1/sock/b.sock"
    kill -0 "$ovs_pid" 2>/dev/null || { say "ovs-vswitchd exited: see $d/ovs-vswitchd.log"; return 1; }
    net_a="vhost-user-server:$1/sock/a.sock" net_b="vhost-user-server:$1/sock/b.sock"
}
stop_ovs_run() { # dir: keep what OVS says about its ports and PMD, then stop it
    local d=$1/ovs
    if [ -n "$ovs_pid" ] && kill -0 "$ovs_pid" 2>/dev/null; then
        ovs-appctl -t "$d/ovs-vswitchd.ctl" dpif-netdev/pmd-stats-show > "$d/pmd-stats.txt" 2>&1 || true
        ovs-vsctl --db="unix:$d/db.sock" --timeout=10 list Interface vhuA vhuB > "$d/interfaces.txt" 2>&1 || true
    else
        backend_note+="ovs-vswitchd died during the run; "
    fi
    stop_ovs
    local errs
    errs=$(grep -c '|ERR|' "$d/ovs-vswitchd.log" || true)
    [ "${errs:-0}" = 0 ] || backend_note+="ovs-vswitchd.log has $errs ERR lines, first: $(grep -m 1 '|ERR|' "$d/ovs-vswitchd.log" | cut -d'|' -f5-); "
}

start_linux_bridge() { # dir
    lb_ns=$tag-lb
    ip netns add "$lb_ns"
    local ns=(ip netns exec "$lb_ns")
    "${ns[@]}" ip link add br0 type bridge stp_state 0
    "${ns[@]}" ip link set br0 up
    for t in tapA tapB; do
        "${ns[@]}" ip tuntap add dev "$t" mode tap
        "${ns[@]}" ip link set "$t" master br0
        "${ns[@]}" ip link set "$t" up
    done
    net_a="tap:tapA@$lb_ns" net_b="tap:tapB@$lb_ns"
}
stop_linux_bridge() {
    [ -n "$lb_ns" ] || return 0
    # What the guests handed the TAPs: an average above the MTU means TSO/GSO frames went
    # through (QEMU opens the TAPs with vnet_hdr), the reason this path is fast without a poller.
    local t avg=""
    for t in tapA tapB; do
        # shellcheck disable=SC2016 # awk's own $1
        avg+=$(ip netns exec "$lb_ns" awk -v t="$t" 'NR == 1 { b = $1 } NR == 2 { p = $1 } END { if (p) printf "%s %d frames, avg %d B, ", t, p, b / p }' \
            "/sys/class/net/$t/statistics/rx_bytes" "/sys/class/net/$t/statistics/rx_packets" 2>/dev/null || true)
    done
    [ -z "$avg" ] || backend_note+="from the guests: ${avg%, }; "
    ip netns del "$lb_ns" 2>/dev/null || true
    lb_ns=""
}

label_of() {
    case "$1" in
        ours) echo "ours (vhost-user client ports, 1 worker lcore, --pmd-sleep-max $pmd_sleep${OURS_TX_RETRIES:+, tx_retries_max $OURS_TX_RETRIES}${OURS_ARGS:+, $OURS_ARGS})" ;;
        ovs)
            if [ "$ovs_tso" = 1 ]; then
                echo "ovs-dpdk 3.1 (dpdkvhostuserclient, 1 PMD, pmd-maxsleep=$pmd_sleep, userspace-tso-enable=true)"
            else
                echo "ovs-dpdk 3.1 (dpdkvhostuserclient, 1 PMD, pmd-maxsleep=$pmd_sleep, userspace TSO off: OVS default)"
            fi
            ;;
        linux-bridge)
            if qg_vhost_net_usable; then
                echo "linux-bridge (tap, vhost=on: vhost-net)"
            else
                echo "linux-bridge (tap, vhost=off: no /dev/vhost-net on this host)"
            fi
            ;;
    esac
}

# --- one run ----------------------------------------------------------------------------------
printf 'backend\trep\tok\ta2b_sender\ta2b_receiver\ta2b_retr\tb2a_sender\tb2a_receiver\tb2a_retr\tping_min\tping_avg\tping_max\tping_loss_pct\tready_secs\trun_secs\tnotes\n' > "$tsv"

# iperf3 summary lines of the Nth iperf3c test in a serial log: "sender receiver retr" (Mbit/s;
# retransmits from the sender line, "-" when the line has none).
iperf_section() { # log N
    awk -v want="$2" '
        /GP-TEST-BEGIN iperf3c/ { n++; next }
        /GP-TEST-END iperf3c/ { next }
        n == want && /Mbits\/sec/ && / sender$/ {
            for (i = 1; i <= NF; i++) if ($i == "Mbits/sec") { s = $(i - 1); r = ($(i + 1) == "sender") ? "-" : $(i + 1) }
        }
        n == want && /Mbits\/sec/ && / receiver$/ {
            for (i = 1; i <= NF; i++) if ($i == "Mbits/sec") rc = $(i - 1)
        }
        END { printf "%s %s %s\n", (s == "" ? "-" : s), (rc == "" ? "-" : rc), (r == "" ? "-" : r) }
    ' "$1"
}

run_one() { # backend rep
    local b=$1 rep=$2
    local d=$run/$b-$rep
    local t0=$SECONDS ok=1 notes=""
    mkdir -p "$d"
    backend_note=""
    say "rep $rep/$reps: $b"
    case "$b" in
        ours) start_ours "$d" ;;
        ovs) start_ovs "$d" ;;
        linux-bridge) start_linux_bridge "$d" ;;
    esac
    local a_tests="ping:10.0.0.2:$pings:0.2,iperf3c:10.0.0.2:$secs,iperf3c:10.0.0.2:$secs:-R"
    qg_boot B "$d" "$net_b" 52:54:00:00:00:02 "gp.ip=10.0.0.2/24 gp.test=iperf3s:2"
    qb_pid=$QG_PID
    qg_boot A "$d" "$net_a" 52:54:00:00:00:01 "gp.ip=10.0.0.1/24 gp.test=$a_tests"
    qa_pid=$QG_PID
    local ready_secs="-"
    if qg_wait_marker "$qa_pid" "$d/A.serial.log" 'GP-READY' 120; then
        ready_secs=$((SECONDS - t0))
    fi
    # Boot + pings + both iperf3 runs, with room. A guest that cannot reach its peer (it
    # tries for 60 s per test) has failed the run: stop it then instead of waiting it out.
    local limit=$((150 + 2 * secs + pings)) found=0
    qg_wait_marker "$qa_pid" "$d/A.serial.log" 'GP-DONE|GP-WARN .*not reachable' "$limit" || found=$?
    if [ "$found" = 0 ] && ! grep -q 'GP-DONE' "$d/A.serial.log"; then
        notes+="A could not reach B; "
        ok=0
        qg_stop "$qa_pid" TERM
    elif ! qg_wait_exit "$qa_pid" 30; then
        notes+="guest A still running after ${limit} s; "
        ok=0
        qg_stop "$qa_pid" TERM
    elif [ "$QG_RC" != 0 ]; then
        notes+="QEMU A exit status $QG_RC ($(tail -n 1 "$d/A.qemu.log" | cut -c1-160)); "
        ok=0
    fi
    qa_pid=""
    if [ "$ok" = 0 ]; then
        qg_stop "$qb_pid" TERM
    elif ! qg_wait_exit "$qb_pid" 20; then
        notes+="guest B did not finish serving; "
        ok=0
        qg_stop "$qb_pid" TERM
    fi
    qb_pid=""
    case "$b" in
        ours) stop_ours "$d" ;;
        ovs) stop_ovs_run "$d" ;;
        linux-bridge) stop_linux_bridge ;;
    esac
    qg_clean_serial "$d/A.serial.log" "$d/B.serial.log"
    if ! grep -q 'GP-DONE fails=0' "$d/A.serial.log" 2>/dev/null; then
        local why
        why=$(grep -hoE 'GP-(WARN|TEST-END [a-z0-9]+ rc=[1-9][0-9]*).*' "$d/A.serial.log" 2>/dev/null | sed 's/ up=.*//' | paste -sd, || true)
        notes+="guest A: ${why:-no GP-DONE fails=0}; "
        ok=0
    fi
    local a2b_s a2b_r a2b_t b2a_s b2a_r b2a_t
    read -r a2b_s a2b_r a2b_t <<< "$(iperf_section "$d/A.serial.log" 1)"
    read -r b2a_s b2a_r b2a_t <<< "$(iperf_section "$d/A.serial.log" 2)"
    if [ "$b2a_t" = - ]; then
        # iperf3 -R: the client may not print the server's retransmits; B's own summary has them.
        b2a_t=$(awk '/Mbits\/sec/ && / sender$/ { for (i = 1; i <= NF; i++) if ($i == "Mbits/sec") r = $(i + 1) } END { print (r == "" || r == "sender") ? "-" : r }' "$d/B.serial.log")
    fi
    { [ "$a2b_r" != - ] && [ "$b2a_r" != - ]; } || { notes+="iperf3 summary missing; "; ok=0; }
    local pmin=- pavg=- pmax=- ploss=-
    read -r pmin pavg pmax <<< "$(sed -n 's|.*round-trip min/avg/max = \([0-9.]*\)/\([0-9.]*\)/\([0-9.]*\) ms.*|\1 \2 \3|p' "$d/A.serial.log" | tail -n 1)"
    ploss=$(sed -n 's/.* \([0-9.]*\)% packet loss.*/\1/p' "$d/A.serial.log" | tail -n 1)
    notes+=$backend_note
    notes=${notes%; }
    [ "$ok" = 1 ] || [ "$keep" = 1 ] || cp -r "$d" "$run/failed-$b-$rep" 2>/dev/null || true
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
        "$b" "$rep" "$ok" "$a2b_s" "$a2b_r" "$a2b_t" "$b2a_s" "$b2a_r" "$b2a_t" \
        "${pmin:--}" "${pavg:--}" "${pmax:--}" "${ploss:--}" "$ready_secs" "$((SECONDS - t0))" "${notes:--}" >> "$tsv"
    say "  $b rep $rep: A->B ${a2b_r} Mbit/s (retr $a2b_t), B->A ${b2a_r} Mbit/s (retr $b2a_t), ping avg ${pavg:--} ms, $((SECONDS - t0)) s${notes:+; $notes}"
}

machine_cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
started=$(date -u '+%Y-%m-%d %H:%M')
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
n=${#backend_list[@]}
for rep in $(seq "$reps"); do
    for i in $(seq 0 $((n - 1))); do
        b=${backend_list[$(((i + rep - 1) % n))]}
        run_one "$b" "$rep"
    done
done
finished=$(date -u '+%H:%M UTC')
total_secs=$((SECONDS - t_start))

# --- report -----------------------------------------------------------------------------------
labels=""
for b in "${backend_list[@]}"; do labels+="$b=$(label_of "$b")"$'\n'; done
dp_commit=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)
# Only what the dataplane binary is built from counts (docs and scripts do not change it).
git -C "$repo" diff --quiet HEAD -- Cargo.toml Cargo.lock ffi dpdk switch pmd-config dataplane 2>/dev/null ||
    dp_commit+=" (with uncommitted changes to its sources)"
export IPC_TSV=$tsv IPC_LABELS=$labels IPC_BACKENDS=$backends IPC_CMD=$cmdline
# shellcheck disable=SC2089,SC2090 # a text for the report, never a command
IPC_HEADER="Measured $started-$finished ($total_secs s) with \`$cmdline\`.

Machine: $(nproc) CPUs, $machine_cpu, kernel $(uname -r), load average before $load_before.
QEMU $(qemu-system-x86_64 --version | sed -n '1s/QEMU emulator version //p'), accel $QG_ACCEL ($QG_ACCEL_WHY$([ "$QG_ACCEL" = tcg ] && echo ', -cpu max, virtio-net-pci vectors=0')), \
DPDK $(pkg-config --modversion libdpdk 2>/dev/null || echo '?'), \
$("$ovs_vswitchd" --version 2>/dev/null | head -n 1 | sed 's/ovs-vswitchd-dpdk (Open vSwitch)/Open vSwitch/' || echo 'Open vSwitch ?'), \
dataplane $dp_commit; guest kernel $(cat "$GUEST_DIR/kernel-version" 2>/dev/null || echo '?'), \
iperf3 $(iperf3 --version 2>/dev/null | awk 'NR==1 {print $2}').
Guests: q35, 1 vCPU, 256 MiB memfd RAM (share=on), one virtio-net-pci NIC, MTU 1500; iperf3 TCP $secs s A->B, then $secs s B->A (-R), after $pings pings A->B at 0.2 s.
Cores: ours and OVS poll on CPU 1 (main/other threads on CPU 0); the guests' QEMU threads float over both CPUs. The Linux bridge has no poller."
# shellcheck disable=SC2090
export IPC_HEADER
python3 - "$out" <<'PY'
import csv, os, statistics, sys

rows = list(csv.DictReader(open(os.environ["IPC_TSV"]), delimiter="\t"))
labels = dict(l.split("=", 1) for l in os.environ["IPC_LABELS"].splitlines() if l)
order = os.environ["IPC_BACKENDS"].split(",")

def num(v):
    try:
        return float(v)
    except ValueError:
        return None

def med(b, key):
    vals = [num(r[key]) for r in rows if r["backend"] == b and r["ok"] == "1"]
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None

def span(b, key):
    vals = [num(r[key]) for r in rows if r["backend"] == b and r["ok"] == "1"]
    vals = [v for v in vals if v is not None]
    return f"{min(vals):.0f}-{max(vals):.0f}" if len(vals) > 1 else ""

def fmt(v, nd=0):
    return "-" if v is None else f"{v:.{nd}f}"

out = [os.environ["IPC_HEADER"], ""]
out.append("| backend | runs ok | A->B Mbit/s | B->A Mbit/s | retransmits A->B | retransmits B->A | ping avg ms (min / max) | ping loss % |")
out.append("|---|---|---|---|---|---|---|---|")
for b in order:
    n_all = sum(1 for r in rows if r["backend"] == b)
    n_ok = sum(1 for r in rows if r["backend"] == b and r["ok"] == "1")
    a2b, b2a = med(b, "a2b_receiver"), med(b, "b2a_receiver")
    sa, sb = span(b, "a2b_receiver"), span(b, "b2a_receiver")
    out.append(f"| {labels[b]} | {n_ok}/{n_all} | **{fmt(a2b)}**{f' ({sa})' if sa else ''} | "
               f"**{fmt(b2a)}**{f' ({sb})' if sb else ''} | {fmt(med(b, 'a2b_retr'))} | {fmt(med(b, 'b2a_retr'))} | "
               f"{fmt(med(b, 'ping_avg'), 2)} ({fmt(med(b, 'ping_min'), 2)} / {fmt(med(b, 'ping_max'), 2)}) | "
               f"{fmt(med(b, 'ping_loss_pct'))} |")
out.append("")
out.append("Mbit/s: iperf3's receiver figure, median over the runs that completed (range in brackets); "
           "retransmits: the sender's, median; ping: medians of the per-run min/avg/max. "
           "Per run, \"A ready s\" is the time from the backend's start to guest A's network being up (GP-READY).")
if "ours" in order:
    targets = []
    for other, want, name in (("ovs", 2.0, "OVS-DPDK"), ("linux-bridge", 1.0, "the Linux bridge")):
        if other not in order:
            continue
        for key, d in (("a2b_receiver", "A->B"), ("b2a_receiver", "B->A")):
            o, u = med(other, key), med("ours", key)
            if o and u is not None:
                r = u / o
                targets.append(f"| ours >= {want:g}x {name}, {d} | {r:.2f}x ({u:.0f} / {o:.0f}) | {'met' if r >= want else '**not met**'} |")
    if targets:
        out += ["", "| target | ratio of medians | |", "|---|---|---|"] + targets
out += ["", "Per run:", "",
        "| backend | rep | ok | A->B sender / receiver | retr | B->A sender / receiver | retr | ping avg ms | loss % | A ready s | run s | notes |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|"]
for r in rows:
    out.append(f"| {r['backend']} | {r['rep']} | {'yes' if r['ok'] == '1' else 'NO'} | {r['a2b_sender']} / {r['a2b_receiver']} | {r['a2b_retr']} | "
               f"{r['b2a_sender']} / {r['b2a_receiver']} | {r['b2a_retr']} | {r['ping_avg']} | {r['ping_loss_pct']} | "
               f"{r['ready_secs']} | {r['run_secs']} | {r['notes'].replace('|', '/')} |")
text = "\n".join(out) + "\n"
open(sys.argv[1], "w").write(text)
print(text)
PY
say "report: $out (per run: $tsv); total $total_secs s"
bad=$(awk -F'\t' 'NR > 1 && $3 != 1' "$tsv" | wc -l)
[ "$bad" = 0 ] || { say "$bad run(s) failed: see the notes column"; exit 1; }
