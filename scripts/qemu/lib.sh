# shellcheck shell=bash
# Globals set here (QG_*) are read by the scripts that source this file.
# shellcheck disable=SC2034
# Guest launcher library for the tiny busybox guest of scripts/qemu/build-guest.sh.
# Source it from bash (`. scripts/qemu/lib.sh`); it defines functions and sets nothing else.
#
#   qg_pick_accel                      KVM when usable, else TCG; sets QG_ACCEL (kvm|tcg),
#                                      QG_ACCEL_WHY, QG_ACCEL_ARGS (array), QG_NIC_OPTS
#   qg_boot NAME RUNDIR NET MAC APPEND start one guest in the background; QG_PID is its QEMU
#                                      (serial console: RUNDIR/NAME.serial.log, QEMU's own
#                                      output: RUNDIR/NAME.qemu.log, command: RUNDIR/NAME.cmd)
#       NET: vhost-user:PATH           the backend serves PATH, QEMU dials it (reconnect=1)
#            vhost-user-server:PATH    QEMU creates PATH (server=on,wait=off), the backend dials
#            tap:IFNAME[@NETNS]        an existing TAP device (in network namespace NETNS);
#                                      vhost=on when /dev/vhost-net is usable, else vhost=off
#   qg_wait_marker PID LOG REGEX SECS  wait until LOG has a line matching REGEX (extended);
#                                      returns 0 found, 1 timed out, 2 QEMU PID exited first
#   qg_wait_exit PID SECS              wait for QEMU PID to exit on its own (the guest powers
#                                      off after its tests); QG_RC = its exit status; returns 1
#                                      on time-out (PID still running)
#   qg_stop PID [SIGNAL]               signal (TERM), wait up to 10 s, then SIGKILL, reap
#   qg_clean_serial LOG...             the serial console writes CRLF: strip the CRs
#   qg_pollers_lock                    take /tmp/dataplane-pollers.lock (as the tests do) for
#                                      the rest of the script, unless an ancestor holds it
#   qg_vhost_net_usable                0 when /dev/vhost-net can be opened (TAP vhost=on)
#
# Guest flags (the ones users know): q35, -m QG_MEM (256M), -smp QG_SMP (1),
# `-object memory-backend-memfd,id=mem,size=...,share=on -numa node,memdev=mem`,
# `-chardev socket,... -netdev type=vhost-user,... -device virtio-net-pci,...`.
# QG_GUEST_DIR (default: target/qemu-guest of the repository) holds vmlinuz and initramfs.gz.
# QG_ACCEL=kvm|tcg forces the accelerator instead of detecting it. QG_NIC_EXTRA appends
# virtio-net-pci properties to every guest NIC (e.g. ",host_tso4=off,host_tso6=off").
# The guest protocol (gp.ip=, gp.test=, the GP-* serial markers) is documented in
# build-guest.sh.

QG_REPO=${QG_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
QG_GUEST_DIR=${QG_GUEST_DIR:-$QG_REPO/target/qemu-guest}
QG_MEM=${QG_MEM:-256M}
QG_SMP=${QG_SMP:-1}
QG_PID=""
QG_RC=""

# KVM only when it can really run a stock guest kernel: /dev/kvm opens, it is not the nested
# PVM of some cloud VMs (/sys/module/kvm_pvm: runs only PVM-enabled guest kernels; QEMU
# aborts on MSR 0x10a or the kernel hangs), and the CPU has hardware virtualisation.
qg_pick_accel() {
    local forced=${QG_ACCEL:-}
    QG_ACCEL="" QG_ACCEL_WHY=""
    if [ "$forced" = kvm ] || [ "$forced" = tcg ]; then
        QG_ACCEL=$forced QG_ACCEL_WHY="forced by QG_ACCEL=$forced"
    elif [ -n "$forced" ]; then
        echo "qg_pick_accel: QG_ACCEL must be kvm or tcg, not '$forced'" >&2
        return 2
    elif ! [ -c /dev/kvm ] || ! { : <> /dev/kvm; } 2>/dev/null; then
        QG_ACCEL=tcg QG_ACCEL_WHY="/dev/kvm cannot be opened"
    elif [ -d /sys/module/kvm_pvm ]; then
        QG_ACCEL=tcg QG_ACCEL_WHY="/dev/kvm is the nested PVM (kvm_pvm), which runs no stock kernel"
    elif ! grep -qwE 'vmx|svm' /proc/cpuinfo; then
        QG_ACCEL=tcg QG_ACCEL_WHY="no vmx/svm in /proc/cpuinfo"
    else
        QG_ACCEL=kvm QG_ACCEL_WHY="/dev/kvm usable"
    fi
    if [ "$QG_ACCEL" = kvm ]; then
        QG_ACCEL_ARGS=(-accel kvm -cpu host)
        QG_NIC_OPTS=""
    else
        # QEMU 7.2 under TCG segfaults in vhost_net_start -> msix_set_vector_notifiers when
        # the guest starts a vhost-user NIC with MSI-X: vectors=0 makes it use INTx.
        QG_ACCEL_ARGS=(-accel tcg -cpu max)
        QG_NIC_OPTS=",vectors=0"
    fi
}

# (-c first: `<>` would create a missing path as a regular file.)
qg_vhost_net_usable() {
    [ -c /dev/vhost-net ] && { : <> /dev/vhost-net; } 2>/dev/null
}

# shellcheck disable=SC2054 # QEMU's option lists are comma-separated on purpose
qg_boot() {
    local name=$1 rundir=$2 net=$3 mac=$4 append=$5
    local netargs=() prefix=()
    [ -n "${QG_ACCEL:-}" ] || qg_pick_accel || return
    if [ ! -s "$QG_GUEST_DIR/vmlinuz" ] || [ ! -s "$QG_GUEST_DIR/initramfs.gz" ]; then
        echo "qg_boot: no guest in $QG_GUEST_DIR (run scripts/qemu/build-guest.sh $QG_GUEST_DIR)" >&2
        return 1
    fi
    case "$net" in
        vhost-user:*)
            netargs=(-chardev "socket,id=c0,path=${net#vhost-user:},reconnect=1"
                -netdev type=vhost-user,id=n0,chardev=c0)
            ;;
        vhost-user-server:*)
            netargs=(-chardev "socket,id=c0,path=${net#vhost-user-server:},server=on,wait=off"
                -netdev type=vhost-user,id=n0,chardev=c0)
            ;;
        tap:*)
            local ifname=${net#tap:} ns="" vhost=off
            if [ "${ifname#*@}" != "$ifname" ]; then
                ns=${ifname#*@}
                ifname=${ifname%@*}
                prefix=(ip netns exec "$ns")
            fi
            qg_vhost_net_usable && vhost=on
            netargs=(-netdev "tap,id=n0,ifname=$ifname,script=no,downscript=no,vhost=$vhost")
            ;;
        *)
            echo "qg_boot: NET must be vhost-user:PATH, vhost-user-server:PATH or tap:IFNAME[@NETNS], not '$net'" >&2
            return 2
            ;;
    esac
    local cmd=("${prefix[@]}" qemu-system-x86_64 -name "$name" -machine q35 "${QG_ACCEL_ARGS[@]}"
        -smp "$QG_SMP" -m "$QG_MEM"
        -object "memory-backend-memfd,id=mem,size=$QG_MEM,share=on" -numa node,memdev=mem
        "${netargs[@]}"
        -device "virtio-net-pci,netdev=n0,mac=$mac,romfile=$QG_NIC_OPTS${QG_NIC_EXTRA:-}"
        -nodefaults -no-user-config -display none -no-reboot -msg timestamp=on
        -serial "file:$rundir/$name.serial.log"
        -kernel "$QG_GUEST_DIR/vmlinuz" -initrd "$QG_GUEST_DIR/initramfs.gz"
        -append "console=ttyS0 quiet panic=-1 $append")
    local arg line=""
    for arg in "${cmd[@]}"; do # readable, copy-pasteable: quote only what needs it
        if [[ -z "$arg" || "$arg" =~ [^A-Za-z0-9_./:=,@+-] ]]; then line+="'$arg' "; else line+="$arg "; fi
    done
    echo "${line% }" > "$rundir/$name.cmd"
    # `ip netns exec` execs QEMU in place, so $! is QEMU's PID in every case. No -daemonize:
    # it would send QEMU's later errors to /dev/null.
    "${cmd[@]}" < /dev/null > "$rundir/$name.qemu.log" 2>&1 &
    QG_PID=$!
}

qg_wait_marker() {
    local pid=$1 log=$2 regex=$3 secs=$4
    local deadline=$((SECONDS + secs))
    while :; do
        grep -qE "$regex" "$log" 2>/dev/null && return 0
        kill -0 "$pid" 2>/dev/null || {
            grep -qE "$regex" "$log" 2>/dev/null && return 0
            return 2
        }
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.2
    done
}

qg_wait_exit() {
    local pid=$1 secs=$2
    local deadline=$((SECONDS + secs))
    QG_RC=""
    while kill -0 "$pid" 2>/dev/null; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.2
    done
    QG_RC=0
    wait "$pid" 2>/dev/null || QG_RC=$?
}

qg_stop() {
    local pid=$1 sig=${2:-TERM}
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
    kill "-$sig" "$pid" 2>/dev/null || true
    local _
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

qg_clean_serial() {
    local f
    for f in "$@"; do
        [ -f "$f" ] && sed -i 's/\r$//' "$f"
    done
    return 0
}

# The lock the Rust test harness (dataplane/tests/common) holds while pollers or guests run,
# so two checkouts never put two sets of pollers on the same two cores. Held on fd 9 until
# the script exits. When `flock /tmp/dataplane-pollers.lock script` already holds it for us
# (an ancestor process in /proc/locks), taking it again would deadlock: skip.
qg_pollers_lock() {
    local lock=/tmp/dataplane-pollers.lock
    exec 9>>"$lock"
    flock -n 9 && return 0
    local ino holders p
    ino=$(stat -c %i "$lock")
    holders=$(awk -v ino="$ino" '$2 == "FLOCK" { split($6, a, ":"); if (a[3] == ino) printf "%s ", $5 }' /proc/locks)
    p=$$
    while [ -n "$p" ] && [ "$p" -gt 1 ]; do
        case " $holders" in *" $p "*)
            exec 9>&-
            return 0 ;;
        esac
        p=$(awk '/^PPid:/ {print $2}' "/proc/$p/status" 2>/dev/null)
    done
    echo "waiting for $lock (held by pid ${holders% }): other pollers or guests are running" >&2
    # Polling, not a blocking `flock 9`: a signal then reaches the script's traps at once and
    # leaves no waiting flock process behind.
    until flock -n 9; do sleep 1; done
}
