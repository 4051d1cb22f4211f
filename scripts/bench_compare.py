#!/usr/bin/env python3
"""Side-by-side throughput of three vhost-user backends under one generator.

Backends, each given the same single polling core (CPU 1; its main/control threads on CPU 0):
  testpmd  dpdk-testpmd io forwarding between two net_vhost ports (no switching at all)
  ovs      Open vSwitch 3.1 with DPDK: netdev bridge, NORMAL action, two dpdkvhostuser ports
  ours     our dataplane, two vhost-user ports on one learning bridge

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
TAG = f"bc{os.getpid()}"


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
        return rc

    return [sock_dir / "s0", sock_dir / "s1"], stop, extra


def start_ovs(r: Runner, sock_dir: Path):
    d = sock_dir / "ovs"
    d.mkdir()
    env = dict(os.environ, OVS_RUNDIR=str(d), OVS_LOGDIR=str(d), OVS_DBDIR=str(d),
               OVS_SYSCONFDIR=str(d), OVS_PKGDATADIR="/usr/share/openvswitch")
    db = f"unix:{d}/db.sock"

    def run(*argv):
        subprocess.run([str(a) for a in argv], env=env, check=True, capture_output=True,
                       text=True, timeout=60)

    def vsctl(*args):
        run("ovs-vsctl", f"--db={db}", "--timeout=30", *args)

    run("ovsdb-tool", "create", d / "conf.db", OVS_SCHEMA)
    run("ovsdb-server", d / "conf.db", f"--remote=punix:{d}/db.sock",
        f"--pidfile={d}/ovsdb-server.pid", f"--unixctl={d}/ovsdb-server.ctl",
        f"--log-file={d}/ovsdb-server.log", "--detach")
    ns = f"{TAG}-ovs"
    p = None

    def stop():
        rc = None
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
    # A NORMAL bridge sized like ours (1M MACs), the usual OVS-DPDK vhost-user setup.
    vsctl("add-br", "br0", "--", "set", "bridge", "br0", "datapath_type=netdev",
          "other_config:mac-table-size=1000000")
    for i in (0, 1):
        vsctl("add-port", "br0", f"vhu{i}", "--", "set", "Interface", f"vhu{i}",
              "type=dpdkvhostuser")
    socks = [d / "vhu0", d / "vhu1"]
    wait_for(lambda: all(s.exists() for s in socks) or p.poll() is not None, 60,
             "OVS vhost-user sockets")
    if p.poll() is not None:
        raise RuntimeError(f"ovs-vswitchd exited: see {d}/ovs-vswitchd.log")
    return socks, stop, {}


START = {"testpmd": start_testpmd, "ovs": start_ovs, "ours": start_ours}


# ---------------------------------------------------------------- one run

def run_once(r: Runner, backend, size, macs, args):
    sock_dir = Path(tempfile.mkdtemp(prefix=f"{TAG}-{backend}-", dir=r.workdir))
    before = pingpong()
    socks, stop, extra = START[backend](r, sock_dir)
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
        gen = r.spawn(argv, "generator")
        try:
            gen.wait(args.duration + args.warmup + 120)
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
    shutil.rmtree(sock_dir, ignore_errors=True)
    state = ("near" if max(before, after) < args.near_ns
             else "far" if min(before, after) >= args.near_ns else "mixed")
    lat = max(d["latency_us"]["p99"] for d in report["directions"])
    return {
        "backend": backend, "size": size, "macs": macs,
        "mpps": report["rx_mpps"], "gbps": report["rx_gbps"],
        "lost": report["lost"], "corrupt": report["corrupt"],
        "loss_pct": 100.0 * report["lost"] / max(1, sum(d["sent"] for d in report["directions"])),
        "p99_us": lat,
        "pingpong_ns": [round(before), round(after)], "state": state,
        "worker": {k: extra[k] for k in ("busy_pct", "pkts_per_burst", "cycles_per_pkt") if k in extra},
    }


# ---------------------------------------------------------------- summary

def med(xs):
    return statistics.median(xs) if xs else None


def fmt(x, nd=2):
    return "-" if x is None else f"{x:.{nd}f}"


def ratio(a, b):
    return None if a is None or b in (None, 0) else a / b


def summarise(results, args):
    lines = []
    cases = [(s, m) for s in args.sizes for m in args.macs]
    lines.append("| size | MACs | backend | runs (near/far/mixed) | median Mpps near | median Mpps far "
                 "| median all | best | Gbit/s (best) | p99 us (median) | loss % (median) |")
    lines.append("|---|---|---|---|---|---|---|---|---|---|---|")
    best = {}
    state_med = {}
    for size, macs in cases:
        for b in args.backends:
            rs = [x for x in results if (x["size"], x["macs"], x["backend"]) == (size, macs, b)]
            if not rs:
                continue
            by = {st: [x["mpps"] for x in rs if x["state"] == st] for st in ("near", "far", "mixed")}
            top = max(rs, key=lambda x: x["mpps"])
            best[(size, macs, b)] = top["mpps"]
            for st in ("near", "far"):
                state_med[(size, macs, b, st)] = med(by[st])
            lines.append(
                f"| {size} | {macs:,} | {b} | {len(by['near'])}/{len(by['far'])}/{len(by['mixed'])} "
                f"| {fmt(med(by['near']))} | {fmt(med(by['far']))} | {fmt(med([x['mpps'] for x in rs]))} "
                f"| {fmt(top['mpps'])} | {fmt(top['gbps'], 1)} | {fmt(med([x['p99_us'] for x in rs]), 0)} "
                f"| {fmt(med([x['loss_pct'] for x in rs]), 3)} |")
    lines.append("")
    lines.append("| size | MACs | us/testpmd near | us/testpmd far | us/testpmd best | "
                 "us/OVS near | us/OVS far | us/OVS best |")
    lines.append("|---|---|---|---|---|---|---|---|")
    for size, macs in cases:
        row = [f"{size}", f"{macs:,}"]
        for other in ("testpmd", "ovs"):
            for st in ("near", "far"):
                row.append(fmt(ratio(state_med.get((size, macs, "ours", st)),
                                     state_med.get((size, macs, other, st)))))
            row.append(fmt(ratio(best.get((size, macs, "ours")), best.get((size, macs, other)))))
        lines.append("| " + " | ".join(row) + " |")
    if len(args.macs) > 1:
        lo, hi = min(args.macs), max(args.macs)
        lines.append("")
        for size in args.sizes:
            for b in args.backends:
                a, z = best.get((size, lo, b)), best.get((size, hi, b))
                if a and z:
                    lines.append(f"- {b}, {size} B: {lo:,} -> {hi:,} MACs changes the best rate by "
                                 f"{100.0 * (z / a - 1):+.1f}% ({a:.2f} -> {z:.2f} Mpps)")
    ours = [x for x in results if x["backend"] == "ours" and x["worker"]]
    if ours:
        lines.append("")
        lines.append("Our worker's self-measurement (median over runs, whole run incl. idle start/stop):")
        for size, macs in cases:
            rs = [x for x in ours if (x["size"], x["macs"]) == (size, macs)]
            if rs:
                cpp = med([float(x["worker"]["cycles_per_pkt"]) for x in rs])
                ppb = med([float(x["worker"]["pkts_per_burst"]) for x in rs])
                lines.append(f"- {size} B, {macs:,} MACs: {cpp:.0f} cycles/packet, {ppb:.1f} packets/burst")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=8, help="repetitions (default 8)")
    ap.add_argument("--duration", type=float, default=4.0, help="measured seconds per run (default 4)")
    ap.add_argument("--warmup", type=float, default=1.0, help="uncounted seconds before (default 1)")
    ap.add_argument("--sizes", default="64,1518", help="frame sizes, comma separated (default 64,1518)")
    ap.add_argument("--macs", default="2,1000000", help="MAC counts, comma separated (default 2,1000000)")
    ap.add_argument("--backends", default=",".join(BACKENDS), help="subset of testpmd,ovs,ours")
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
    total = args.reps * len(cases) * len(args.backends)
    try:
        for rep in range(args.reps):
            order = args.backends[rep % len(args.backends):] + args.backends[:rep % len(args.backends)]
            for size, macs in cases:
                for b in order:
                    res = run_once(r, b, size, macs, args)
                    res["rep"] = rep
                    results.append(res)
                    log(f"[{len(results)}/{total}] rep {rep} {size:>4} B {macs:>7} MACs {b:<7} "
                        f"{res['mpps']:6.2f} Mpps {res['gbps']:6.2f} Gbit/s loss {res['loss_pct']:.3f}% "
                        f"p99 {res['p99_us']:.0f} us  pingpong {res['pingpong_ns']} ns ({res['state']})"
                        + (f"  worker {res['worker']}" if res["worker"] else ""))
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
