#!/usr/bin/env python3
"""Side-by-side throughput of three vhost-user backends under one generator.

Backends, each given the same single polling core (CPU 1; its main/control threads on CPU 0):
  testpmd  dpdk-testpmd io forwarding between two net_vhost ports (no switching at all)
  ovs      Open vSwitch 3.1 with DPDK: netdev bridge, NORMAL action, two dpdkvhostuser ports
  ours     our dataplane, two vhost-user ports on one learning bridge

VXLAN cases (--cases vxlan), each backend a VTEP with one guest port and one underlay port:
  ovs      Open vSwitch 3.1 userspace VXLAN: br-int (netdev, NORMAL) with a dpdkvhostuser guest
           port and a type=vxlan port (remote_ip 172.31.0.1, key 123); br-phy (netdev) with
           the dpdkvhostuser uplink and its internal port holding 172.31.0.2/24
  ours     our dataplane: [vtep] on the uplink port, bridge with vni = 123
Here the generator's port 1 is the underlay (dp-traffic --vxlan 123): it plays the remote VTEP
172.31.0.1, so direction 0->1 is encapsulated by the backend and 1->0 decapsulated, both at
once. Sizes are inner frame sizes.

The generator (dp-traffic, CPU 0) attaches to the backend's two sockets as two guests
(virtio_user) and sends both ways. Every repetition runs every case (frame size x MAC count)
through every backend, the backend order rotating from one repetition to the next. Around each
run dp-pingpong measures the cache-line round trip between the two CPUs: on a VM the host may
place them near (fast state) or far (slow state), which changes every vhost-user figure about
2x, so runs are labelled and compared like with like.

Invoked by scripts/bench-compare.sh, which installs and builds what this needs.
"""

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RELEASE = ROOT / "target" / "release"
OVS_VSWITCHD = "/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk"
OVS_SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema"
BACKENDS = ("testpmd", "ovs", "ours")
# Backends that can be a VXLAN VTEP (testpmd io forwarding cannot).
VXLAN_BACKENDS = ("ovs", "ours")
CASES = ("plain", "vxlan")
TAG = f"bc{os.getpid()}"
# The VXLAN setup: the generator is the remote VTEP, the backend the local one.
VNI = 123
GEN_VTEP_IP = "172.31.0.1"
GEN_VTEP_MAC = "02:31:00:00:00:01"  # dp-traffic --vxlan-mac default
BACKEND_VTEP_IP = "172.31.0.2"
# Underlay MTU: 1518-byte inner frames (without FCS) need 1518 + 36 = 1554.
UNDERLAY_MTU = 1600


def log(msg):
    print(msg, file=sys.stderr, flush=True)


class Runner:
    """Starts processes and guarantees they are gone afterwards, also on Ctrl-C."""

    def __init__(self, workdir: Path, mem: list, verbose: bool):
        self.workdir = workdir
        self.mem = mem  # EAL memory flags for the backends
        self.verbose = verbose
        self.procs = []  # Popen objects still to reap
        self.cleanups = []  # callables, run in reverse order

    def spawn(self, argv, name, **kw):
        out = open(self.workdir / f"{name}.out", "w")
        err = open(self.workdir / f"{name}.err", "w")
        if self.verbose:
            log("+ " + " ".join(map(str, argv)))
        p = subprocess.Popen([str(a) for a in argv], stdout=out, stderr=err, **kw)
        self.procs.append(p)
        return p

    def stop(self, p, sig=signal.SIGINT, timeout=15):
        if p.poll() is None:
            try:
                p.send_signal(sig)
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if p in self.procs:
            self.procs.remove(p)
        return p.returncode

    def cleanup(self):
        while self.cleanups:
            fn = self.cleanups.pop()
            try:
                fn()
            except Exception as e:  # keep cleaning up
                log(f"cleanup: {e}")
        for p in list(self.procs):
            self.stop(p, signal.SIGKILL, 5)
        for d in Path("/var/run/dpdk").glob(f"{TAG}*"):
            shutil.rmtree(d, ignore_errors=True)


def wait_for(pred, timeout, what):
    t = time.monotonic()
    while time.monotonic() - t < timeout:
        if pred():
            return
        time.sleep(0.05)
    raise RuntimeError(f"timed out after {timeout} s waiting for {what}")


def pingpong():
    out = subprocess.run(
        [RELEASE / "dp-pingpong", "--json", "--samples", "5", "--round-trips", "20000"],
        capture_output=True, text=True, check=True,
    ).stdout
    return json.loads(out)["round_trip_ns"]


# ---------------------------------------------------------------- backends

def start_testpmd(r: Runner, sock_dir: Path):
    fifo = sock_dir / "testpmd.cmd"
    os.mkfifo(fifo)
    argv = [
        "dpdk-testpmd", "-l", "0-1", "--main-lcore", "0", "--no-pci", *r.mem,
        "--file-prefix", f"{TAG}-tp", "--log-level", "lib.vhost.*:warning",
        "--vdev", f"net_vhost0,iface={sock_dir}/s0,queues=1",
        "--vdev", f"net_vhost1,iface={sock_dir}/s1,queues=1",
        "--", "-i", "--auto-start", "--forward-mode=io", "--nb-cores=1",
        "--rxd=1024", "--txd=1024", "--total-num-mbufs=32768",
    ]
    # Interactive mode with commands from a fifo: the main lcore then sleeps in read()
    # instead of polling for stats, leaving CPU 0 to the generator.
    fd = os.open(fifo, os.O_RDWR)
    p = r.spawn(argv, "testpmd", stdin=fd)
    os.close(fd)

    def stop():
        if p.poll() is None:
            with open(fifo, "w") as f:
                f.write("stop\nquit\n")
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                pass
        return r.stop(p)

    wait_for(lambda: (sock_dir / "s1").exists() or p.poll() is not None, 30, "testpmd sockets")
    if p.poll() is not None:
        raise RuntimeError(f"testpmd exited: see {r.workdir}/testpmd.err")
    return [sock_dir / "s0", sock_dir / "s1"], stop, {}


def start_ours(r: Runner, sock_dir: Path):
    cfg = sock_dir / "dataplane.toml"
    cfg.write_text(
        "[bridge]\nname = \"br0\"\nmac_table_size = 1000000\n"
        f"[[port]]\nname = \"vhu0\"\ntype = \"vhost-user\"\npath = \"{sock_dir}/s0\"\n"
        f"[[port]]\nname = \"vhu1\"\ntype = \"vhost-user\"\npath = \"{sock_dir}/s1\"\n"
    )
    return start_dataplane(r, sock_dir, cfg, [sock_dir / "s0", sock_dir / "s1"])


def start_dataplane(r: Runner, sock_dir: Path, cfg: Path, socks):
    argv = [
        RELEASE / "dataplane", "-l", "0-1", "--main-lcore", "0", "--no-pci", *r.mem,
        "--file-prefix", f"{TAG}-dp", "--log-level", "lib.vhost.*:warning",
        "--", "--config", cfg, "--stats-interval", "0",
    ]
    p = r.spawn(argv, "dataplane")
    out = r.workdir / "dataplane.out"
    wait_for(lambda: "ready" in out.read_text() or p.poll() is not None, 30, "dataplane ready")
    if p.poll() is not None:
        raise RuntimeError(f"dataplane exited: see {r.workdir}/dataplane.err")
    extra = {}

    def stop():
        rc = r.stop(p)
        for line in out.read_text().splitlines():
            if line.startswith("final worker"):
                extra.update(kv.split("=", 1) for kv in line.split()[2:] if "=" in kv)
            if line.startswith("final mempool"):
                extra["mempool"] = line
            if line.startswith("final ") and " vtep " in line:
                # Non-zero drop counters of the VTEP, and what it did.
                kv = dict(w.split("=", 1) for w in line.split() if "=" in w)
                extra["vtep"] = {k: int(v) for k, v in kv.items()
                                 if v.isdigit() and (k in ("encapsulated", "decapsulated")
                                                     or (k.startswith("drop_") and v != "0"))}
            if line.startswith("final ") and " port=" in line:
                kv = dict(w.split("=", 1) for w in line.split() if "=" in w)
                drops = {k: int(v) for k, v in kv.items() if k.startswith("drop_") and v != "0"}
                if drops:
                    extra.setdefault("port_drops", {})[kv["port"]] = drops
        return rc

    return socks, stop, extra


def ours_vxlan_config(sock_dir: Path) -> str:
    """The bench's VXLAN config for our dataplane (also in dataplane/tests/generator.rs)."""
    return (
        f'[[port]]\nname = "vm"\ntype = "vhost-user"\npath = "{sock_dir}/vm.sock"\n'
        f'[[port]]\nname = "uplink"\ntype = "vhost-user"\npath = "{sock_dir}/uplink.sock"\n'
        f'[vtep]\nport = "uplink"\nip = "{BACKEND_VTEP_IP}/24"\nmtu = {UNDERLAY_MTU}\n'
        f'[bridge]\nports = ["vm"]\nvni = {VNI}\nremote_vteps = ["{GEN_VTEP_IP}"]\n'
        "mac_table_size = 1000000\n"
    )


def start_ours_vxlan(r: Runner, sock_dir: Path):
    cfg = sock_dir / "dataplane.toml"
    cfg.write_text(ours_vxlan_config(sock_dir))
    return start_dataplane(r, sock_dir, cfg, [sock_dir / "vm.sock", sock_dir / "uplink.sock"])


def start_ovs(r: Runner, sock_dir: Path, vxlan=False):
    d = sock_dir / "ovs"
    d.mkdir()
    env = dict(os.environ, OVS_RUNDIR=str(d), OVS_LOGDIR=str(d), OVS_DBDIR=str(d),
               OVS_SYSCONFDIR=str(d), OVS_PKGDATADIR="/usr/share/openvswitch")
    db = f"unix:{d}/db.sock"

    def run(*argv):
        return subprocess.run([str(a) for a in argv], env=env, check=True, capture_output=True,
                              text=True, timeout=60).stdout

    def appctl(*args):
        return run("ovs-appctl", "-t", f"{d}/ovs-vswitchd.ctl", *args)

    def vsctl(*args):
        run("ovs-vsctl", f"--db={db}", "--timeout=30", *args)

    run("ovsdb-tool", "create", d / "conf.db", OVS_SCHEMA)
    run("ovsdb-server", d / "conf.db", f"--remote=punix:{d}/db.sock",
        f"--pidfile={d}/ovsdb-server.pid", f"--unixctl={d}/ovsdb-server.ctl",
        f"--log-file={d}/ovsdb-server.log", "--detach")
    ns = f"{TAG}-ovs"
    p = None

    extra = {}

    def stop():
        rc = None
        if vxlan and p is not None and p.poll() is None:
            try:
                extra["tunnel_check"] = ovs_tunnel_check(appctl)
            except Exception as e:  # a failed check must not keep OVS running
                extra["tunnel_check"] = {"error": str(e)}
        if p is not None:
            if p.poll() is None:
                subprocess.run(["ovs-appctl", "-t", f"{d}/ovs-vswitchd.ctl", "exit", "--cleanup"],
                               env=env, check=False, capture_output=True, timeout=30)
            rc = r.stop(p, signal.SIGTERM)
        kill_pidfile("ovsdb-server")
        subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)
        if stop in r.cleanups:
            r.cleanups.remove(stop)
        return rc

    # Until the run's own stop, an interrupted or failed run is cleaned up from here.
    r.cleanups.append(stop)

    def kill_pidfile(name):
        pf = d / f"{name}.pid"
        if pf.exists():
            try:
                os.kill(int(pf.read_text().strip()), signal.SIGTERM)
            except (ProcessLookupError, ValueError):
                pass

    vsctl("--no-wait", "init")
    # OVS 3.1 adds --in-memory to its EAL arguments itself; without hugepages it needs
    # legacy memory and an explicit size instead of dpdk-socket-mem.
    if "--in-memory" in r.mem:
        mem, sized = [], ["other_config:dpdk-socket-mem=1024", "other_config:dpdk-socket-limit=2048"]
    else:
        mem, sized = ["--no-huge", "--legacy-mem", "-m", "1536"], []
    vsctl("--no-wait", "set", "Open_vSwitch", ".",
          "other_config:dpdk-init=true",
          "other_config:dpdk-lcore-mask=0x1",
          "other_config:pmd-cpu-mask=0x2",
          *sized,
          "other_config:n-handler-threads=1",
          "other_config:n-revalidator-threads=1",
          "other_config:flow-limit=1000000",
          f'other_config:dpdk-extra="--no-pci --file-prefix={TAG}-ovs {" ".join(mem)}"')
    # Its own network namespace keeps the bridge's internal tap device off the host.
    subprocess.run(["ip", "netns", "add", ns], check=True)
    p = r.spawn(["ip", "netns", "exec", ns, OVS_VSWITCHD, db,
                 f"--pidfile={d}/ovs-vswitchd.pid", f"--unixctl={d}/ovs-vswitchd.ctl",
                 f"--log-file={d}/ovs-vswitchd.log"], "ovs-vswitchd", env=env)
    if not vxlan:
        # A NORMAL bridge sized like ours (1M MACs), the usual OVS-DPDK vhost-user setup.
        vsctl("add-br", "br0", "--", "set", "bridge", "br0", "datapath_type=netdev",
              "other_config:mac-table-size=1000000")
        for i in (0, 1):
            vsctl("add-port", "br0", f"vhu{i}", "--", "set", "Interface", f"vhu{i}",
                  "type=dpdkvhostuser")
        socks = [d / "vhu0", d / "vhu1"]
    else:
        # OVS-DPDK's userspace VXLAN as its documentation sets it up: the guest and the
        # tunnel port on br-int, the physical (here: vhost-user) uplink on br-phy, whose
        # internal port holds the tunnel endpoint's address; route and neighbour of the
        # remote VTEP in OVS's own tables.
        vsctl("add-br", "br-int", "--", "set", "bridge", "br-int", "datapath_type=netdev",
              "other_config:mac-table-size=1000000")
        vsctl("add-port", "br-int", "vm", "--", "set", "Interface", "vm", "type=dpdkvhostuser")
        vsctl("add-port", "br-int", "vxlan0", "--", "set", "Interface", "vxlan0", "type=vxlan",
              f"options:remote_ip={GEN_VTEP_IP}", f"options:key={VNI}",
              f"options:local_ip={BACKEND_VTEP_IP}")
        vsctl("add-br", "br-phy", "--", "set", "bridge", "br-phy", "datapath_type=netdev",
              "other_config:mac-table-size=1000000", "--", "set", "Interface", "br-phy",
              f"mtu_request={UNDERLAY_MTU}")
        vsctl("add-port", "br-phy", "uplink", "--", "set", "Interface", "uplink",
              "type=dpdkvhostuser", f"mtu_request={UNDERLAY_MTU}")
        socks = [d / "vm", d / "uplink"]

        def in_ns(*argv):
            return subprocess.run(["ip", "netns", "exec", ns, *map(str, argv)], check=True,
                                  capture_output=True, text=True, timeout=30).stdout

        wait_for(lambda: subprocess.run(["ip", "netns", "exec", ns, "ip", "link", "show", "br-phy"],
                                        capture_output=True).returncode == 0
                 or p.poll() is not None, 60, "br-phy's internal port")
        # No IPv6 chatter (router solicitations, MLD) from the internal port on the underlay.
        in_ns("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
        in_ns("sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1")
        in_ns("ip", "addr", "add", f"{BACKEND_VTEP_IP}/24", "dev", "br-phy")
        in_ns("ip", "link", "set", "br-phy", "up")
        # OVS also picks the connected route up from its namespace; the explicit one and the
        # static neighbour are what its documentation prescribes.
        appctl("ovs/route/add", f"{GEN_VTEP_IP}/24", "br-phy")
        appctl("tnl/arp/set", "br-phy", GEN_VTEP_IP, GEN_VTEP_MAC)
    wait_for(lambda: all(s.exists() for s in socks) or p.poll() is not None, 60,
             "OVS vhost-user sockets")
    if p.poll() is not None:
        raise RuntimeError(f"ovs-vswitchd exited: see {d}/ovs-vswitchd.log")
    return socks, stop, extra


def ovs_tunnel_check(appctl):
    """What OVS says about its tunnel after a run: the route and neighbour of the remote
    VTEP, and whether the datapath flows really push and pop VXLAN headers."""
    route = appctl("ovs/route/show")
    arp = appctl("tnl/arp/show")
    flows = appctl("dpctl/dump-flows").splitlines()
    push = [f for f in flows if "tnl_push(" in f]
    pop = [f for f in flows if "tnl_pop(" in f]
    stats = appctl("dpif-netdev/pmd-stats-show")
    cpp = next((l.split(":", 1)[1].split()[0] for l in stats.splitlines()
                if "avg processing cycles per packet" in l), None)
    return {
        "route": [l.strip() for l in route.splitlines() if GEN_VTEP_IP.rsplit(".", 1)[0] in l],
        "arp": [l.strip() for l in arp.splitlines() if GEN_VTEP_IP in l],
        "dp_flows": len(flows),
        "tnl_push_flows": len(push),
        "tnl_pop_flows": len(pop),
        "tnl_push_example": push[0][:600] if push else None,
        "tnl_pop_example": pop[0][:400] if pop else None,
        "pmd_avg_cycles_per_pkt": float(cpp) if cpp else None,
    }


def start_ovs_vxlan(r: Runner, sock_dir: Path):
    return start_ovs(r, sock_dir, vxlan=True)


START = {
    ("plain", "testpmd"): start_testpmd,
    ("plain", "ovs"): start_ovs,
    ("plain", "ours"): start_ours,
    ("vxlan", "ovs"): start_ovs_vxlan,
    ("vxlan", "ours"): start_ours_vxlan,
}


# ---------------------------------------------------------------- one run

def run_once(r: Runner, mode, backend, size, macs, args):
    sock_dir = Path(tempfile.mkdtemp(prefix=f"{TAG}-{mode}-{backend}-", dir=r.workdir))
    before = pingpong()
    socks, stop, extra = START[(mode, backend)](r, sock_dir)
    gen = None
    try:
        argv = [
            RELEASE / "dp-traffic", "-l", "0", "--no-pci", *args.gen_mem,
            "--file-prefix", f"{TAG}-gen", "--log-level", "*:error", "--",
            "--vhost-user", socks[0], "--vhost-user", socks[1],
            "--duration", args.duration, "--warmup", args.warmup, "--size", size,
            "--flows", max(1, macs // 2), "--json", "--quiet",
        ]
        if args.reflect:
            argv += ["--reflect", args.reflect]
        if mode == "vxlan":
            # Port 1 is the backend's underlay; the generator the remote VTEP behind it.
            argv += ["--vxlan", VNI, "--vxlan-local", GEN_VTEP_IP, "--vxlan-remote", BACKEND_VTEP_IP,
                     "--vxlan-mac", GEN_VTEP_MAC]
        gen = r.spawn(argv, "generator")
        try:
            # Learning 1M MACs through OVS (an upcall each) takes a while.
            gen.wait(args.duration + args.warmup + 300)
        except subprocess.TimeoutExpired:
            r.stop(gen, signal.SIGKILL)
            raise RuntimeError("generator did not finish")
        r.procs.remove(gen)
        if gen.returncode != 0:
            raise RuntimeError(
                f"generator failed ({gen.returncode}): "
                + (r.workdir / "generator.err").read_text()[-2000:])
        report = json.loads((r.workdir / "generator.out").read_text())["generator"]
    finally:
        rc = stop()
        if gen is not None and gen.poll() is None:
            r.stop(gen, signal.SIGKILL)
    after = pingpong()
    if backend == "ours" and rc != 0:
        raise RuntimeError(f"dataplane exited with {rc}: {extra.get('mempool')}")
    if backend == "ours":
        # Keep our dataplane's final lines with the results: drops show which counter.
        shutil.copy(r.workdir / "dataplane.out", r.workdir / f"last-{mode}-ours.out")
    shutil.rmtree(sock_dir, ignore_errors=True)
    state = ("near" if max(before, after) < args.near_ns
             else "far" if min(before, after) >= args.near_ns else "mixed")
    lat = max(d["latency_us"]["p99"] for d in report["directions"])
    res = {
        "mode": mode, "backend": backend, "size": size, "macs": macs,
        "mpps": report["rx_mpps"], "gbps": report["rx_gbps"],
        # Per direction; VXLAN: [0] guest -> underlay (encapsulated by the backend),
        # [1] underlay -> guest (decapsulated).
        "mpps_dir": [d["rx_mpps"] for d in report["directions"]],
        "lost": report["lost"], "corrupt": report["corrupt"],
        "loss_pct": 100.0 * report["lost"] / max(1, sum(d["sent"] for d in report["directions"])),
        "p99_us": lat,
        "pingpong_ns": [round(before), round(after)], "state": state,
        "worker": {k: extra[k] for k in ("busy_pct", "pkts_per_burst", "cycles_per_pkt") if k in extra},
    }
    for k in ("vtep", "port_drops", "tunnel_check"):
        if k in extra:
            res[k] = extra[k]
    if report.get("vxlan"):
        v = report["vxlan"]
        res["gen_vxlan"] = {k: v[k] for k in ("remote_mac", "arp_requests_sent",
                                               "arp_requests_answered", "outer_errors")}
    return res


# ---------------------------------------------------------------- summary

def med(xs):
    return statistics.median(xs) if xs else None


def fmt(x, nd=2):
    return "-" if x is None else f"{x:.{nd}f}"


def ratio(a, b):
    return None if a is None or b in (None, 0) else a / b


def rate_table(results, mode, backends, cases, vxlan):
    """The per-case table of one mode; returns its lines, the best rate and the per-state
    medians by (size, macs, backend[, state])."""
    lines = []
    head = ("| size | MACs | backend | runs (near/far/mixed) | median Mpps near | median Mpps far "
            "| median all | best |")
    rule = "|---|---|---|---|---|---|---|---|"
    if vxlan:
        head += " encap Mpps 0->1 (best run) | decap Mpps 1->0 (best run) |"
        rule += "---|---|"
    lines.append(head + " Gbit/s (best) | p99 us (median) | loss % (median) |")
    lines.append(rule + "---|---|---|")
    best, state_med = {}, {}
    for size, macs in cases:
        for b in backends:
            rs = [x for x in results
                  if (x.get("mode", "plain"), x["size"], x["macs"], x["backend"]) == (mode, size, macs, b)]
            if not rs:
                continue
            by = {st: [x["mpps"] for x in rs if x["state"] == st] for st in ("near", "far", "mixed")}
            top = max(rs, key=lambda x: x["mpps"])
            best[(size, macs, b)] = top["mpps"]
            for st in ("near", "far"):
                state_med[(size, macs, b, st)] = med(by[st])
            row = (f"| {size} | {macs:,} | {b} | {len(by['near'])}/{len(by['far'])}/{len(by['mixed'])} "
                   f"| {fmt(med(by['near']))} | {fmt(med(by['far']))} | {fmt(med([x['mpps'] for x in rs]))} "
                   f"| {fmt(top['mpps'])} |")
            if vxlan:
                d = top.get("mpps_dir") or [None, None]
                row += f" {fmt(d[0])} | {fmt(d[1])} |"
            row += (f" {fmt(top['gbps'], 1)} | {fmt(med([x['p99_us'] for x in rs]), 0)} "
                    f"| {fmt(med([x['loss_pct'] for x in rs]), 3)} |")
            lines.append(row)
    return lines, best, state_med


def change_lines(best, sizes, macs, backends):
    """2 -> 1M MACs change of the best rate, per backend and size."""
    lines = []
    if len(macs) > 1:
        lo, hi = min(macs), max(macs)
        for size in sizes:
            for b in backends:
                a, z = best.get((size, lo, b)), best.get((size, hi, b))
                if a and z:
                    lines.append(f"- {b}, {size} B: {lo:,} -> {hi:,} MACs changes the best rate by "
                                 f"{100.0 * (z / a - 1):+.1f}% ({a:.2f} -> {z:.2f} Mpps)")
    return lines


def our_cycles(results, mode, size, macs):
    rs = [x for x in results if x["backend"] == "ours" and x["worker"]
          and (x.get("mode", "plain"), x["size"], x["macs"]) == (mode, size, macs)]
    if not rs:
        return None, None
    return (med([float(x["worker"]["cycles_per_pkt"]) for x in rs]),
            med([float(x["worker"]["pkts_per_burst"]) for x in rs]))


def summarise(results, args):
    lines = []
    cases = [(s, m) for s in args.sizes for m in args.macs]
    plain_backends = [b for b in args.backends if any(
        x["backend"] == b and x.get("mode", "plain") == "plain" for x in results)]
    if plain_backends:
        if "vxlan" in args.cases:
            lines.append("### Plain switching (two guest ports)")
            lines.append("")
        t, best, state_med = rate_table(results, "plain", plain_backends, cases, vxlan=False)
        lines += t
        others = [o for o in ("testpmd", "ovs") if o in plain_backends]
        if "ours" in plain_backends and others:
            lines.append("")
            hdr = "| size | MACs |"
            for other in others:
                hdr += f" us/{'OVS' if other == 'ovs' else other} near | far | best |"
            lines.append(hdr)
            lines.append("|---|---|" + "---|---|---|" * len(others))
            for size, macs in cases:
                row = [f"{size}", f"{macs:,}"]
                for other in others:
                    for st in ("near", "far"):
                        row.append(fmt(ratio(state_med.get((size, macs, "ours", st)),
                                             state_med.get((size, macs, other, st)))))
                    row.append(fmt(ratio(best.get((size, macs, "ours")), best.get((size, macs, other)))))
                lines.append("| " + " | ".join(row) + " |")
        ch = change_lines(best, args.sizes, args.macs, plain_backends)
        if ch:
            lines.append("")
            lines += ch
        rows = [(size, macs, *our_cycles(results, "plain", size, macs)) for size, macs in cases]
        rows = [r for r in rows if r[2] is not None]
        if rows:
            lines.append("")
            lines.append("Our worker's self-measurement (median over runs, whole run incl. idle start/stop):")
            for size, macs, cpp, ppb in rows:
                lines.append(f"- {size} B, {macs:,} MACs: {cpp:.0f} cycles/packet, {ppb:.1f} packets/burst")
    vx_backends = [b for b in VXLAN_BACKENDS if b in args.backends and any(
        x["backend"] == b and x.get("mode") == "vxlan" for x in results)]
    if vx_backends:
        if lines:
            lines.append("")
        lines.append("### VXLAN: encapsulation and decapsulation at once")
        lines.append("")
        lines.append("The generator's port 1 is the backend's underlay port and the generator the remote VTEP "
                     f"{GEN_VTEP_IP} behind it (dp-traffic --vxlan {VNI}): direction 0->1 (guest -> underlay) "
                     "is encapsulated by the backend, 1->0 (underlay -> guest) decapsulated. Sizes and Gbit/s "
                     "are of the inner frames; the underlay carries 50 bytes more per frame.")
        lines.append("")
        t, best, state_med = rate_table(results, "vxlan", vx_backends, cases, vxlan=True)
        lines += t
        targets = []
        if "ours" in vx_backends and "ovs" in vx_backends:
            lines.append("")
            lines.append("| size | MACs | us/OVS near | us/OVS far | us/OVS best |")
            lines.append("|---|---|---|---|---|")
            for size, macs in cases:
                near = ratio(state_med.get((size, macs, "ours", "near")),
                             state_med.get((size, macs, "ovs", "near")))
                far = ratio(state_med.get((size, macs, "ours", "far")),
                            state_med.get((size, macs, "ovs", "far")))
                top = ratio(best.get((size, macs, "ours")), best.get((size, macs, "ovs")))
                lines.append(f"| {size} | {macs:,} | {fmt(near)} | {fmt(far)} | {fmt(top)} |")
                judged = near if near is not None else top
                if judged is not None:
                    targets.append((f"VXLAN {size} B, {macs:,} MACs: >= 1.3x OVS-DPDK",
                                    judged >= 1.3,
                                    f"{judged:.2f}x {'near' if near is not None else 'best'}"
                                    + (f", {top:.2f}x best" if near is not None and top is not None else "")))
        ch = change_lines(best, args.sizes, args.macs, vx_backends)
        if ch:
            lines.append("")
            lines += ch
        if len(args.macs) > 1 and "ours" in vx_backends:
            lo, hi = min(args.macs), max(args.macs)
            for size in args.sizes:
                a, z = best.get((size, lo, "ours")), best.get((size, hi, "ours"))
                if a and z:
                    c = 100.0 * (z / a - 1)
                    targets.append((f"VXLAN {size} B: {lo:,} -> {hi:,} MACs within 20 %",
                                    abs(c) <= 20.0, f"{c:+.1f} % best to best"))
        rows = []
        for size, macs in cases:
            vcpp, vppb = our_cycles(results, "vxlan", size, macs)
            pcpp, _ = our_cycles(results, "plain", size, macs)
            if vcpp is not None:
                rows.append((size, macs, vcpp, vppb, pcpp))
                if pcpp is not None:
                    targets.append((f"VXLAN {size} B, {macs:,} MACs: <= 60 cycles/packet over plain switching",
                                    vcpp - pcpp <= 60.0, f"{vcpp - pcpp:+.0f} ({pcpp:.0f} -> {vcpp:.0f})"))
        if rows:
            lines.append("")
            lines.append("Our worker's self-measurement, VXLAN against plain switching (median over runs; "
                         "a packet is one received by the worker, from the guest or the underlay):")
            lines.append("")
            lines.append("| size | MACs | VXLAN cycles/packet | plain cycles/packet | VXLAN - plain | VXLAN packets/burst |")
            lines.append("|---|---|---|---|---|---|")
            for size, macs, vcpp, vppb, pcpp in rows:
                lines.append(f"| {size} | {macs:,} | {vcpp:.0f} | {fmt(pcpp, 0)} "
                             f"| {fmt(None if pcpp is None else vcpp - pcpp, 0)} | {vppb:.1f} |")
        checks = []
        for x in results:
            if x.get("mode") != "vxlan":
                continue
            tag = f"{x['backend']} {x['size']} B {x['macs']:,} MACs rep {x.get('rep', 0)}"
            if x.get("vtep") is not None:
                v = x["vtep"]
                drops = {k: n for k, n in v.items() if k.startswith("drop_")}
                checks.append(f"- {tag}: VTEP encapsulated {v.get('encapsulated', 0):,}, decapsulated "
                              f"{v.get('decapsulated', 0):,}, drops {drops or 'none'}; port drops "
                              f"{x.get('port_drops') or 'none'}")
            tc = x.get("tunnel_check")
            if tc:
                if "error" in tc:
                    checks.append(f"- {tag}: tunnel check failed: {tc['error']}")
                else:
                    checks.append(f"- {tag}: datapath flows {tc['dp_flows']:,}, with tnl_push "
                                  f"{tc['tnl_push_flows']:,}, with tnl_pop {tc['tnl_pop_flows']:,}; "
                                  f"route {tc['route']}; neighbour {tc['arp']}; PMD avg cycles/packet "
                                  f"{fmt(tc['pmd_avg_cycles_per_pkt'], 0)}")
            g = x.get("gen_vxlan")
            if g and (g.get("outer_errors") or not g.get("remote_mac")):
                checks.append(f"- {tag}: generator: outer header errors {g.get('outer_errors')}, "
                              f"backend VTEP MAC {g.get('remote_mac')}")
        if checks:
            lines.append("")
            lines.append("Tunnel checks per run (our VTEP's final counters; OVS's ovs/route/show, tnl/arp/show "
                         "and dpctl/dump-flows after the run):")
            lines += checks
        if targets:
            lines.append("")
            lines.append("| VXLAN target | met | result |")
            lines.append("|---|---|---|")
            for what, ok, got in targets:
                lines.append(f"| {what} | {'yes' if ok else '**no**'} | {got} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=8, help="repetitions (default 8)")
    ap.add_argument("--duration", type=float, default=4.0, help="measured seconds per run (default 4)")
    ap.add_argument("--warmup", type=float, default=1.0, help="uncounted seconds before (default 1)")
    ap.add_argument("--sizes", default="64,1518", help="frame sizes, comma separated (default 64,1518)")
    ap.add_argument("--macs", default="2,1000000", help="MAC counts, comma separated (default 2,1000000)")
    ap.add_argument("--backends", default=",".join(BACKENDS), help="subset of testpmd,ovs,ours")
    ap.add_argument("--cases", default="plain,vxlan",
                    help="plain (two guest ports, every backend) and/or vxlan (a guest port and an "
                         "underlay port, encapsulation and decapsulation at once; ovs and ours); "
                         "default both. --cases vxlan still runs ours plain as the baseline of the "
                         "cycles-per-packet difference unless --no-baseline")
    ap.add_argument("--no-baseline", action="store_true",
                    help="with --cases vxlan: no plain-switching runs of ours")
    ap.add_argument("--reflect", type=int, default=1024,
                    help="closed loop seeded with this many frames per direction (default 1024; the rings keep about 450 in flight); "
                         "0 = open loop, the generator sending as fast as it can")
    ap.add_argument("--near-ns", type=float, default=300.0,
                    help="round trip below which a run counts as near state (default 300)")
    ap.add_argument("--hugepages", action="store_true", help="backends and generator on hugepages")
    ap.add_argument("--out", default=str(ROOT / "target" / "bench-compare"), help="results directory")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    args.sizes = [s.strip() for s in args.sizes.split(",")]
    args.macs = [int(m) for m in args.macs.split(",")]
    args.backends = [b.strip() for b in args.backends.split(",")]
    for b in args.backends:
        if b not in BACKENDS:
            ap.error(f"--backends: unknown backend {b!r}; choose from {', '.join(BACKENDS)}")
    args.cases = [c.strip() for c in args.cases.split(",")]
    for c in args.cases:
        if c not in CASES:
            ap.error(f"--cases: unknown case {c!r}; choose from {', '.join(CASES)}")
    # (mode, backends) in running order.
    args.plan = []
    if "plain" in args.cases:
        args.plan.append(("plain", args.backends))
    elif "ours" in args.backends and not args.no_baseline:
        args.plan.append(("plain", ["ours"]))
    if "vxlan" in args.cases:
        vb = [b for b in args.backends if b in VXLAN_BACKENDS]
        if not vb:
            ap.error("--cases vxlan needs ovs or ours in --backends (testpmd cannot be a VTEP)")
        args.plan.append(("vxlan", vb))
    for m in args.macs:
        if not 2 <= m <= 1_000_000 or m % 2:
            ap.error(f"--macs {m}: give even counts from 2 to 1000000 (two MACs per flow)")
    if args.reps < 1:
        ap.error("--reps: at least 1")
    if args.hugepages:
        mem = ["--in-memory"]
        args.gen_mem = ["--in-memory", "--single-file-segments"]
    else:
        mem = ["--no-huge", "-m", "1024"]
        args.gen_mem = ["--no-huge", "-m", "1024"]

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix=f"{TAG}-"))
    r = Runner(workdir, mem, args.verbose)

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    results = []
    started = datetime.now(timezone.utc)
    cases = [(s, m) for s in args.sizes for m in args.macs]
    total = args.reps * len(cases) * sum(len(bs) for _, bs in args.plan)
    try:
        for rep in range(args.reps):
            for mode, backends in args.plan:
                order = backends[rep % len(backends):] + backends[:rep % len(backends)]
                for size, macs in cases:
                    for b in order:
                        res = run_once(r, mode, b, size, macs, args)
                        res["rep"] = rep
                        results.append(res)
                        dirs = (f" (0->1 encap {res['mpps_dir'][0]:.2f}, 1->0 decap {res['mpps_dir'][1]:.2f})"
                                if mode == "vxlan" else "")
                        log(f"[{len(results)}/{total}] rep {rep} {mode:<5} {size:>4} B {macs:>7} MACs {b:<7} "
                            f"{res['mpps']:6.2f} Mpps{dirs} {res['gbps']:6.2f} Gbit/s loss {res['loss_pct']:.3f}% "
                            f"p99 {res['p99_us']:.0f} us  pingpong {res['pingpong_ns']} ns ({res['state']})"
                            + (f"  worker {res['worker']}" if res["worker"] else "")
                            + (f"  vtep {res['vtep']}" if res.get("vtep") else "")
                            + (f"  port drops {res['port_drops']}" if res.get("port_drops") else "")
                            + (f"  tunnel {({k: v for k, v in res['tunnel_check'].items() if 'example' not in k})}"
                               if res.get("tunnel_check") else ""))
    except KeyboardInterrupt:
        log("interrupted: stopping everything this run started")
        r.cleanup()
        shutil.rmtree(workdir, ignore_errors=True)
        return 130
    except Exception:
        log(f"failed; logs kept in {workdir}")
        r.cleanup()
        raise
    r.cleanup()
    shutil.rmtree(workdir, ignore_errors=True)

    machine = {
        "cpu": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?"),
        "cpus": os.cpu_count(),
        "kernel": os.uname().release,
        "dpdk": subprocess.run(["pkg-config", "--modversion", "libdpdk"], capture_output=True, text=True).stdout.strip(),
        "ovs": subprocess.run(["ovs-vsctl", "--version"], capture_output=True, text=True).stdout.splitlines()[0],
    }
    table = summarise(results, args)
    cmd = os.environ.get("BENCH_COMPARE_CMD", "scripts/bench_compare.py " + " ".join(sys.argv[1:]))
    header = (f"# bench-compare {started:%Y-%m-%d %H:%M} UTC\n\n`{cmd.strip()}`\n\n"
              f"machine: {machine['cpu']}, {machine['cpus']} CPUs, kernel {machine['kernel']}, "
              f"DPDK {machine['dpdk']}, {machine['ovs']}; memory: {' '.join(mem)}; "
              f"{args.duration:g} s measured after {args.warmup:g} s warm-up per run; "
              f"near state = cache-line round trip < {args.near_ns:g} ns before and after the run\n\n"
              "Mpps = frames received by the generator per second, both directions together; "
              + (f"closed loop, {args.reflect} frames seeded per direction (dp-traffic --reflect).\n\n"
                 if args.reflect else "open loop, generator sending as fast as it can.\n\n"))
    stamp = f"{started:%Y%m%d-%H%M%S}"
    (out / f"{stamp}.json").write_text(json.dumps(
        {"command": cmd, "machine": machine, "args": {k: v for k, v in vars(args).items()},
         "results": results}, indent=1, default=str))
    (out / f"{stamp}.md").write_text(header + table + "\n")
    print(header + table)
    log(f"results: {out}/{stamp}.md and .json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
