#!/usr/bin/env bash
# Where the time goes when the dataplane restarts under QEMU guests: runs the client-mode
# restart test (dataplane/tests/qemu_guests.rs, client_mode_ports_survive_dataplane_kills)
# with real guests, kills the dataplane with SIGKILL N times while guest A pings guest B
# every 100 ms, and prints each restart's time line, in ms after the new process was spawned:
#
#   down_A    SIGKILL to guest A's carrier going down (from the kill, not from the spawn)
#   ready     the dataplane printed `ready` (EAL, mempool, ports registered, worker running)
#   attach_A/B  the vhost library called new_device for guest A's / B's socket
#   link_A/B  the guest saw its carrier come back (gp.watch, polled every 10 ms)
#   tx_A      guest A's first frame taken by the host after that
#   arp_A     guest A's ARP entry for B complete again
#   reply     the first ping reply (seq = its sequence number)
#   in_use0   the first live stats line with the mempool back at its idle count (0)
#
# and the medians. Guest lines are stamped when they reach the host.
#
#   scripts/qemu/restart-gap.sh [--restarts N] [--down-ms MS] [--guest-args 'gp.sysctl=...']
#                               [--trace] [--release]
#
#   --restarts N      restarts (default 10)
#   --down-ms MS      how long the dataplane stays down (default 2000, as in issue 8)
#   --guest-args STR  more guest protocol words for both guests, e.g.
#                     'gp.sysctl=net.ipv4.neigh.eth0.retrans_time_ms=100' (ARP retransmit
#                     every 100 ms instead of 1 s) to see how much of the gap is the guests'
#   --trace           also print every guest and dataplane log line around each restart
#   --release         build the dataplane with the release profile (default: the test
#                     profile CI uses)
#
# Environment: DP_QEMU_GUEST_DIR (default target/qemu-guest, built by build-guest.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."

restarts=10 down_ms=2000 guest_args="" trace="" profile=()
while [ $# -gt 0 ]; do
    case "$1" in
        --restarts) restarts=$2; shift 2 ;;
        --down-ms) down_ms=$2; shift 2 ;;
        --guest-args) guest_args=$2; shift 2 ;;
        --trace) trace=1; shift ;;
        --release) profile=(--release); shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "restart-gap: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done

bash scripts/qemu/build-guest.sh "${DP_QEMU_GUEST_DIR:-target/qemu-guest}"
export DP_QEMU_RESTARTS=$restarts DP_QEMU_RESTART_DELAY_MS=$down_ms DP_QEMU_GUEST_ARGS=$guest_args
[ -n "$trace" ] && export DP_QEMU_TRACE=1
# The test takes the pollers' lock itself and prints its table (and trace) on stderr.
cargo test "${profile[@]}" -q -p dataplane --test qemu_guests -- --nocapture --exact \
    client_mode_ports_survive_dataplane_kills 2>&1 | grep -v '^$'
