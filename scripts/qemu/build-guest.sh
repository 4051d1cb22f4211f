#!/usr/bin/env bash
# Build a tiny busybox guest for QEMU: a Debian 6.1 cloud kernel and an initramfs with
# busybox, the virtio_net module chain, iperf3 (with its libraries) and an /init that runs
# the small guest protocol below from the kernel command line.
#
#   scripts/qemu/build-guest.sh OUTDIR
#
# Writes OUTDIR/vmlinuz and OUTDIR/initramfs.gz (plus OUTDIR/kernel-version). Idempotent:
# if OUTDIR already holds a guest built by this same script, nothing is done.
# Installs qemu-system-x86, busybox-static, iperf3, cpio and kmod with apt if missing; the
# kernel package is only downloaded and unpacked (dpkg-deb -x), never installed.
#
# Guest protocol (kernel command line, read by /init):
#   gp.ip=ADDR/PFX         address for eth0 (CONFIG_IP_PNP is off in Debian: ip= does nothing)
#   gp.mtu=N               MTU for eth0
#   gp.nopoweroff          stay up after the tests (default: poweroff -f, QEMU exits 0)
#   gp.sysctl=K=V[,K=V]    sysctl -w each, once eth0 exists (e.g.
#                          net.ipv4.neigh.eth0.retrans_time_ms=100)
#   gp.watch=DST           from GP-READY on, report link and neighbour events in the
#                          background, polled every 10 ms (no fork per poll):
#                            GP-LINK carrier=N        eth0's carrier changed (guest sees link down/up)
#                            GP-NEIGH DST none|incomplete|complete   the ARP entry for DST changed
#                            GP-FIRST-TX / GP-FIRST-RX   first packet sent / received after
#                                                     the carrier came up (tx counts when the
#                                                     host has taken the frame from the ring)
#   gp.test=T1,T2,...      run in order:
#       ping:DST[:COUNT[:INTERVAL]]        waits until DST answers, then ping -c COUNT
#       iperf3s[:N]                        serve N iperf3 clients (default 1)
#       iperf3c:DST[:SECS[:more:args]]     waits until DST answers, then iperf3 -c DST -t SECS
#       sleep:S | hold | shell
# Serial-log markers (each with the guest uptime): GP-INIT, GP-NET ... carrier=N, GP-READY,
# GP-REACHABLE DST, GP-TEST-BEGIN kind, GP-TEST-END kind rc=N, GP-WARN ..., GP-DONE fails=N
# (and the gp.watch events above). `up=` is the guest's uptime in seconds.
set -euo pipefail

case "${1:-}" in
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
esac
[ $# -eq 1 ] || { echo "usage: $0 OUTDIR (see --help)" >&2; exit 2; }
out=$1
self=$(readlink -f "$0")
mkdir -p "$out"
out=$(cd "$out" && pwd)

stamp="$out/.built-by"
want_stamp=$(sha256sum "$self" | cut -d' ' -f1)
if [ -s "$out/vmlinuz" ] && [ -s "$out/initramfs.gz" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want_stamp" ]; then
    echo "build-guest: $out is up to date (kernel $(cat "$out/kernel-version"))" >&2
    exit 0
fi

log() { echo "build-guest: $*" >&2; }

# --- host packages -----------------------------------------------------------------------
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
need_pkgs=(qemu-system-x86 busybox-static iperf3 cpio kmod)
missing=()
for p in "${need_pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
updated=0
apt_update() { [ "$updated" = 1 ] || { $SUDO apt-get update -qq; updated=1; }; }
if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    apt_update
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- kernel: newest linux-image-6.1.0-N-cloud-amd64 the archive offers ---------------------
pick_kernel() {
    apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-cloud-amd64$' 2>/dev/null |
        awk '{print $1}' | sort -V | tail -n 1
}
kpkg=$(pick_kernel)
if [ -z "$kpkg" ]; then
    apt_update
    kpkg=$(pick_kernel)
fi
[ -n "$kpkg" ] || { log "no linux-image-6.1.0-*-cloud-amd64 package in the apt lists"; exit 1; }
kver=${kpkg#linux-image-}
log "kernel package $kpkg"

work="$out/work"
rm -rf "$work"
mkdir -p "$work/deb" "$work/kroot"
deb=$(ls "$out"/"${kpkg}"_*.deb 2>/dev/null | head -n 1 || true)
if [ -z "$deb" ]; then
    (cd "$out" && apt-get download -q -o APT::Sandbox::User=root "$kpkg" >/dev/null)
    deb=$(ls "$out"/"${kpkg}"_*.deb | head -n 1)
fi
dpkg-deb -x "$deb" "$work/kroot"
[ -f "$work/kroot/boot/vmlinuz-$kver" ] || { log "no boot/vmlinuz-$kver in $deb"; exit 1; }
depmod -b "$work/kroot" "$kver"

# Module chain for virtio_pci + virtio_net, in dependency order (modprobe resolves it).
mods=()
while read -r kw path _; do
    [ "$kw" = insmod ] || continue
    case " ${mods[*]:-} " in *" $path "*) ;; *) mods+=("$path") ;; esac
done < <(modprobe -d "$work/kroot" -S "$kver" --show-depends -a virtio_pci virtio_net)
((${#mods[@]})) || { log "modprobe found no virtio modules"; exit 1; }

# --- initramfs tree ------------------------------------------------------------------------
root="$work/root"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,run,root,lib/gp-modules}
cp /bin/busybox "$root/bin/busybox"
for a in $("$root/bin/busybox" --list); do
    [ -e "$root/bin/$a" ] || ln -s busybox "$root/bin/$a"
done

: > "$root/lib/gp-modules/order"
for m in "${mods[@]}"; do
    name=$(basename "$m")
    case "$name" in
        *.ko) cp "$m" "$root/lib/gp-modules/$name" ;;
        *.ko.xz) name=${name%.xz}; xz -dc "$m" > "$root/lib/gp-modules/$name" ;;
        *.ko.zst) name=${name%.zst}; zstd -qdc "$m" > "$root/lib/gp-modules/$name" ;;
        *.ko.gz) name=${name%.gz}; gzip -dc "$m" > "$root/lib/gp-modules/$name" ;;
        *) log "unexpected module file $m"; exit 1 ;;
    esac
    echo "$name" >> "$root/lib/gp-modules/order"
done

# iperf3 is dynamically linked (Debian has no static build): copy it with every library.
cp -L /usr/bin/iperf3 "$root/usr/bin/iperf3"
while read -r lib; do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
done < <(ldd /usr/bin/iperf3 | grep -o '/[^ ]*' | sort -u)

mknod -m 600 "$root/dev/console" c 5 1
mknod -m 666 "$root/dev/null" c 1 3
echo 'root:x:0:0:root:/root:/bin/sh' > "$root/etc/passwd"
echo 'root:x:0:' > "$root/etc/group"
printf '127.0.0.1 localhost\n' > "$root/etc/hosts"

cat > "$root/init" <<'INIT'
#!/bin/sh
# Guest protocol /init (see scripts/qemu/build-guest.sh for the kernel command line).
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
exec </dev/console >/dev/console 2>&1

# Builtins only (no fork): the gp.watch loop marks events every few milliseconds.
mark() {
    read -r up _ < /proc/uptime
    echo "$* up=$up"
}

ip_cidr="" mtu="" poweroff=1 tests="" watch_dst="" sysctls=""
for w in $(cat /proc/cmdline); do
    case "$w" in
        gp.ip=*) ip_cidr=${w#gp.ip=} ;;
        gp.mtu=*) mtu=${w#gp.mtu=} ;;
        gp.nopoweroff) poweroff=0 ;;
        gp.test=*) tests=${w#gp.test=} ;;
        gp.watch=*) watch_dst=${w#gp.watch=} ;;
        gp.sysctl=*) sysctls=${w#gp.sysctl=} ;;
    esac
done
mark "GP-INIT ip=${ip_cidr:-none} test=${tests:-none}"

finish() {
    mark "GP-DONE fails=$fails"
    if [ "$poweroff" = 1 ]; then
        sync
        poweroff -f
    fi
    while :; do sleep 3600; done
}
fails=0

for m in $(cat /lib/gp-modules/order); do
    insmod "/lib/gp-modules/$m" || mark "GP-WARN insmod $m failed"
done

ip link set lo up
dev=""
for i in $(seq 100); do
    for d in /sys/class/net/*; do
        n=${d##*/}
        [ "$n" = lo ] || { dev=$n; break; }
    done
    [ -n "$dev" ] && break
    sleep 0.1
done
if [ -z "$dev" ]; then
    mark "GP-WARN no network device"
    fails=$((fails + 1))
    finish
fi
[ -n "$mtu" ] && ip link set "$dev" mtu "$mtu"
for kv in $(echo "$sysctls" | tr , ' '); do
    sysctl -w "$kv" > /dev/null || mark "GP-WARN sysctl $kv failed"
done
ip link set "$dev" up
[ -n "$ip_cidr" ] && ip addr add "$ip_cidr" dev "$dev"
carrier=0
for i in $(seq 300); do
    carrier=$(cat "/sys/class/net/$dev/carrier" 2>/dev/null || echo 0)
    [ "$carrier" = 1 ] && break
    sleep 0.1
done
mark "GP-NET $dev mac=$(cat /sys/class/net/$dev/address) addr=${ip_cidr:-none} mtu=$(cat /sys/class/net/$dev/mtu) carrier=$carrier"
mark "GP-READY"

# gp.watch: link and neighbour events, for timing a backend restart from inside the guest.
watch() {
    dst=$1 dev=$2
    stats=/sys/class/net/$dev/statistics
    # read -t on a fifo that nobody writes is a sleep without a fork.
    mkfifo /tmp/gp-watch.fifo
    exec 3<>/tmp/gp-watch.fifo
    carrier=1 neigh="" tx0="" rx0=""
    while :; do
        read -r -t 0.01 _ <&3
        read -r c < "/sys/class/net/$dev/carrier" || c=0
        if [ "$c" != "$carrier" ]; then
            carrier=$c
            mark "GP-LINK carrier=$c"
            if [ "$c" = 1 ]; then
                read -r tx0 < "$stats/tx_packets"
                read -r rx0 < "$stats/rx_packets"
            fi
        fi
        if [ -n "$tx0" ]; then
            read -r n < "$stats/tx_packets"
            [ "$n" = "$tx0" ] || { mark "GP-FIRST-TX"; tx0=""; }
        fi
        if [ -n "$rx0" ]; then
            read -r n < "$stats/rx_packets"
            [ "$n" = "$rx0" ] || { mark "GP-FIRST-RX"; rx0=""; }
        fi
        state=none
        while read -r a _ flags _; do
            [ "$a" = "$dst" ] || continue
            if [ "$flags" = 0x0 ]; then state=incomplete; else state=complete; fi
        done < /proc/net/arp
        [ "$state" = "$neigh" ] || { neigh=$state; mark "GP-NEIGH $dst $state"; }
    done
}
[ -n "$watch_dst" ] && watch "$watch_dst" "$dev" &

# Wait until DST answers a ping (up to 60 s).
reach() {
    for i in $(seq 60); do
        if ping -c 1 -W 1 "$1" >/dev/null 2>&1; then
            mark "GP-REACHABLE $1"
            return 0
        fi
    done
    mark "GP-WARN $1 not reachable"
    return 1
}

run_test() {
    kind=$1
    shift
    case "$kind" in
        ping)
            dst=$1 count=${2:-10} interval=${3:-1}
            reach "$dst" || return 1
            ping -c "$count" -i "$interval" "$dst"
            ;;
        iperf3s)
            n=${1:-1}
            rc=0
            for i in $(seq "$n"); do
                iperf3 -s -1 -f m || rc=$?
            done
            return $rc
            ;;
        iperf3c)
            dst=$1 secs=${2:-10}
            shift
            [ $# -gt 0 ] && shift
            reach "$dst" || return 1
            # The server may not be listening yet: retry a refused connection.
            for attempt in 1 2 3 4 5 6 7 8 9 10; do
                iperf3 -c "$dst" -t "$secs" -f m "$@" > /tmp/iperf3c.out 2>&1
                rc=$?
                cat /tmp/iperf3c.out
                grep -qi 'connection refused' /tmp/iperf3c.out || return $rc
                sleep 1
            done
            return $rc
            ;;
        sleep) sleep "${1:-1}" ;;
        hold) while :; do sleep 3600; done ;;
        shell) setsid cttyhack sh ;;
        *) echo "unknown test $kind"; return 2 ;;
    esac
}

IFS_SAVE=$IFS
IFS=,
set -- $tests
IFS=$IFS_SAVE
for t in "$@"; do
    [ -n "$t" ] || continue
    kind=${t%%:*}
    args=""
    [ "$kind" != "$t" ] && args=${t#*:}
    mark "GP-TEST-BEGIN $kind"
    IFS=:
    set -- $args
    IFS=$IFS_SAVE
    run_test "$kind" "$@"
    rc=$?
    [ $rc = 0 ] || fails=$((fails + 1))
    mark "GP-TEST-END $kind rc=$rc"
done
finish
INIT
chmod 755 "$root/init"

(cd "$root" && find . | sort | cpio -o -H newc --quiet | gzip -9) > "$out/initramfs.gz.tmp"
mv "$out/initramfs.gz.tmp" "$out/initramfs.gz"
cp "$work/kroot/boot/vmlinuz-$kver" "$out/vmlinuz"
echo "$kver" > "$out/kernel-version"
rm -rf "$work"
echo "$want_stamp" > "$stamp"
log "built $out/vmlinuz ($kver) and $out/initramfs.gz ($(du -h "$out/initramfs.gz" | cut -f1)), modules: ${mods[*]##*/}"
