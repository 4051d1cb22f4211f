//! Real Linux peers for interop tests: network namespaces, veth pairs, processes running
//! inside them (`ip netns exec`), and a small UDP probe written in Python.
//!
//! Everything created here is removed by a guard's Drop, also when the test panics: a
//! [`Netns`] deletes its namespace (and so every veth, bridge, VXLAN device and TAP in it)
//! after killing whatever still runs inside it; a [`Proc`] is interrupted, then killed.
//! Declare namespaces before the processes that run in them, so the processes are dropped
//! (stopped) first. Names carry the test process's pid; namespaces left by an earlier test
//! process that was SIGKILLed (no Drop ran) are swept on first use.
//!
//! Nothing here touches the root namespace's interfaces or routing: every interface is
//! created inside a namespace of ours (`ip -n NS link add ... peer name ... netns OTHER`).

use super::{die_with_parent, Dataplane, Guard, Scratch};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex, Once};
use std::time::{Duration, Instant};

/// Prefix of every namespace these tests create: `dpvx-<pid>-<seq>-<role>`.
const PREFIX: &str = "dpvx-";
static NS_SEQ: AtomicU32 = AtomicU32::new(0);
static SWEEP: Once = Once::new();

/// Deadline for a condition the tests wait on (a link appearing, a line printed, an ARP
/// entry resolved): generous, because CI runs on a loaded two-core VM.
pub const WAIT: Duration = Duration::from_secs(60);
/// How often such a condition is polled.
pub const POLL: Duration = Duration::from_millis(100);

/// Polls `cond` every [`POLL`] until it holds (true) or `limit` passes (false).
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(POLL);
    }
}

/// What a finished command did.
#[derive(Debug)]
pub struct Run {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
    pub what: String,
}

impl Run {
    /// Panics with the command and its output unless it succeeded; returns its stdout.
    #[track_caller]
    pub fn ok(self) -> String {
        assert!(
            self.ok,
            "`{}` failed:\n{}\n{}",
            self.what, self.stderr, self.stdout
        );
        self.stdout
    }
}

/// Runs `argv` to completion (killed after [`WAIT`]), stdin closed, output collected.
pub fn run(argv: &[&str]) -> Run {
    let mut cmd = Command::new(argv[0]);
    cmd.args(&argv[1..]);
    run_cmd(cmd, argv.join(" "))
}

fn run_cmd(cmd: Command, what: String) -> Run {
    let (st, out, err) = super::run_bounded(cmd, "helper command", WAIT);
    Run {
        ok: st.is_some_and(|s| s.success()),
        stdout: String::from_utf8_lossy(&out).into_owned(),
        stderr: format!(
            "{}{}",
            String::from_utf8_lossy(&err),
            if st.is_none() {
                "\n(killed: still running after 60 s)"
            } else {
                ""
            }
        ),
        what,
    }
}

/// Panics, naming what is missing, unless every tool these tests drive is installed.
fn require_tools() {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let missing: Vec<&str> = [
        "ip", "bridge", "ethtool", "ping", "tcpdump", "sysctl", "python3",
    ]
    .into_iter()
    .filter(|t| !std::env::split_paths(&path).any(|d| d.join(t).is_file()))
    .collect();
    assert!(
        missing.is_empty(),
        "not installed: {missing:?}; scripts/setup.sh installs them \
         (apt-get install iproute2 ethtool iputils-ping tcpdump procps python3)"
    );
}

/// Whether `pid` names a process that is gone (and is not us).
fn is_gone(pid: u32) -> bool {
    pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists()
}

/// Deletes what an earlier test process that was SIGKILLed (so no Drop ran) left: its
/// namespaces, and the scratch and DPDK runtime directories of the interop tests (their
/// test names start with `vx`: `dp-test-vx…-<pid>-<seq>`, `dp-vx…-<pid>-<seq>`).
fn sweep_stale() {
    let dirs = [
        (std::env::temp_dir(), "dp-test-vx"),
        (PathBuf::from("/var/run/dpdk"), "dp-vx"),
    ];
    for (parent, prefix) in dirs {
        let Ok(entries) = std::fs::read_dir(&parent) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.starts_with(prefix) {
                continue;
            }
            let pid = name.rsplit('-').nth(1).and_then(|p| p.parse::<u32>().ok());
            if pid.is_some_and(is_gone) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    sweep_stale_namespaces();
}

/// Deletes namespaces named by an earlier test process that no longer exists.
fn sweep_stale_namespaces() {
    let listed = run(&["ip", "netns", "list"]);
    for line in listed.stdout.lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        let Some(rest) = name.strip_prefix(PREFIX) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if is_gone(pid) {
            eprintln!("netns: removing {name}, left by test process {pid} which is gone");
            kill_inside(name);
            let _ = run(&["ip", "netns", "del", name]);
        }
    }
}

/// SIGKILLs every process inside namespace `name`: only processes these tests started can
/// be in a namespace these tests created.
fn kill_inside(name: &str) {
    let pids = run(&["ip", "netns", "pids", name]);
    for pid in pids
        .stdout
        .split_whitespace()
        .filter_map(|p| p.parse::<i32>().ok())
    {
        // SAFETY: kill(2) on a pid listed inside our own namespace.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
}

/// A network namespace of ours, deleted on Drop.
pub struct Netns {
    pub name: String,
}

impl Netns {
    /// Creates `dpvx-<pid>-<seq>-<role>` with `lo` up and IPv6 off (no router
    /// solicitations or MLD reports: the only frames on the wires are the test's).
    pub fn new(role: &str) -> Netns {
        require_tools();
        SWEEP.call_once(sweep_stale);
        let name = format!(
            "{PREFIX}{}-{}-{role}",
            std::process::id(),
            NS_SEQ.fetch_add(1, Ordering::SeqCst)
        );
        run(&["ip", "netns", "add", &name]).ok();
        // The guard exists from here on: a failure below still removes the namespace.
        let ns = Netns { name };
        ns.ip("link set lo up");
        ns.run(&[
            "sysctl",
            "-qw",
            "net.ipv6.conf.all.disable_ipv6=1",
            "net.ipv6.conf.default.disable_ipv6=1",
        ]);
        ns
    }

    /// `ip netns exec NAME argv...` (which execs in place: the child's pid is argv's).
    pub fn command(&self, argv: &[&str]) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name]).args(argv);
        cmd
    }

    /// Runs `argv` inside the namespace to completion.
    pub fn try_run(&self, argv: &[&str]) -> Run {
        run_cmd(
            self.command(argv),
            format!("ip netns exec {} {}", self.name, argv.join(" ")),
        )
    }

    /// Runs `argv` inside the namespace; panics unless it succeeds; returns its stdout.
    #[track_caller]
    pub fn run(&self, argv: &[&str]) -> String {
        self.try_run(argv).ok()
    }

    /// `ip -n NAME <args>` (args split on whitespace); panics unless it succeeds.
    #[track_caller]
    pub fn ip(&self, args: &str) -> String {
        self.try_ip(args).ok()
    }

    pub fn try_ip(&self, args: &str) -> Run {
        let mut argv = vec!["ip", "-n", &self.name];
        argv.extend(args.split_whitespace());
        run(&argv)
    }

    /// Starts `argv` inside the namespace with its output collected line by line.
    pub fn spawn(&self, argv: &[&str], name: &'static str) -> Proc {
        Proc::spawn(self.command(argv), name)
    }

    /// Turns off checksum and segmentation offloads on a veth end. With them on, the
    /// kernel hands af_packet frames with unfinished checksums (CHECKSUM_PARTIAL) and
    /// GSO super-frames, which a DPDK port passes on as they are and the receiving
    /// kernel drops (dpdk-facts.md §2.5). `rx off` also makes the receiving kernel verify
    /// every checksum in software, so a wrong one written by the dataplane fails the test.
    #[track_caller]
    pub fn offloads_off(&self, dev: &str) {
        self.run(&[
            "ethtool", "-K", dev, "rx", "off", "tx", "off", "tso", "off", "gso", "off", "gro",
            "off",
        ]);
    }

    /// Whether `dev` exists in the namespace.
    pub fn has_link(&self, dev: &str) -> bool {
        self.try_ip(&format!("link show dev {dev}")).ok
    }

    /// The MAC address of `dev`, lower case.
    #[track_caller]
    pub fn mac(&self, dev: &str) -> String {
        let out = self.ip(&format!("-j link show dev {dev}"));
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        v[0]["address"]
            .as_str()
            .unwrap_or_else(|| panic!("no address for {dev} in {out}"))
            .to_lowercase()
    }

    /// The link-layer address the neighbour table holds for `ip` on `dev`, if any
    /// (incomplete and failed entries have none).
    pub fn neigh_lladdr(&self, ip: &str, dev: &str) -> Option<String> {
        let out = self.ip(&format!("-j neigh show {ip} dev {dev}"));
        let v: serde_json::Value = serde_json::from_str(&out).ok()?;
        v.as_array()?
            .iter()
            .find_map(|e| e["lladdr"].as_str().map(str::to_lowercase))
    }

    /// `bridge fdb show dev DEV`, one entry per line.
    pub fn fdb(&self, dev: &str) -> Vec<String> {
        let out = run(&["bridge", "-n", &self.name, "fdb", "show", "dev", dev]).ok();
        out.lines().map(str::to_string).collect()
    }

    /// Pings `dst` (one request at a time, each waited for up to 2 s) until one is
    /// answered (the first ARP resolutions may still be in flight), for at most [`WAIT`].
    /// Panics if none ever is.
    #[track_caller]
    pub fn ping_until_answered(&self, dst: &str) {
        let mut last = None;
        let answered = wait_until(WAIT, || {
            let r = self.try_run(&["ping", "-n", "-c", "1", "-W", "2", dst]);
            let ok = r.ok;
            last = Some(r);
            ok
        });
        assert!(
            answered,
            "{}: no reply from {dst} within {WAIT:?}: {last:?}",
            self.name
        );
    }

    /// `ping -c COUNT` with `extra` options; returns (transmitted, received, output).
    pub fn ping(&self, dst: &str, count: u32, extra: &[&str]) -> (u32, u32, String) {
        let count = count.to_string();
        let mut argv = vec!["ping", "-n", "-c", &count, "-W", "5"];
        argv.extend_from_slice(extra);
        argv.push(dst);
        let r = self.try_run(&argv);
        let text = format!("{}\n{}", r.stdout, r.stderr);
        let stat = |what: &str| -> u32 {
            text.lines()
                .find(|l| l.contains("packets transmitted"))
                .and_then(|l| {
                    l.split(',')
                        .find(|part| part.contains(what))
                        .and_then(|part| part.split_whitespace().next())
                        .and_then(|n| n.parse().ok())
                })
                .unwrap_or(0)
        };
        (stat("transmitted"), stat("received"), text)
    }

    /// Asserts that `count` echo requests to `dst` are all answered.
    #[track_caller]
    pub fn ping_all_answered(&self, dst: &str, count: u32) {
        let (tx, rx, text) = self.ping(dst, count, &[]);
        assert_eq!(
            (tx, rx),
            (count, count),
            "{}: ping {dst}: every request must be answered:\n{text}",
            self.name
        );
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        kill_inside(&self.name);
        let r = run(&["ip", "netns", "del", &self.name]);
        if !r.ok {
            eprintln!("netns: could not delete {}: {}", self.name, r.stderr);
        }
    }
}

/// A veth pair with one end in each namespace, both up.
#[track_caller]
pub fn veth(a: &Netns, a_dev: &str, b: &Netns, b_dev: &str) {
    a.ip(&format!(
        "link add name {a_dev} type veth peer name {b_dev} netns {}",
        b.name
    ));
    a.ip(&format!("link set {a_dev} up"));
    b.ip(&format!("link set {b_dev} up"));
}

#[derive(Default)]
struct Lines {
    out: Vec<String>,
    err: Vec<String>,
    /// Streams that reached EOF.
    closed: u32,
}

/// A running helper process (a receiver, tcpdump) whose stdout and stderr are collected
/// line by line. Interrupted, then killed, when dropped; dies with the test thread.
pub struct Proc {
    pub guard: Guard,
    lines: Arc<(Mutex<Lines>, Condvar)>,
}

impl Proc {
    pub fn spawn(mut cmd: Command, name: &'static str) -> Proc {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        die_with_parent(&mut cmd);
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {name}: {e}"));
        let lines = Arc::new((Mutex::new(Lines::default()), Condvar::new()));
        let reader = |pipe: Box<dyn Read + Send>, is_err: bool| {
            let sink = lines.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    let (m, cv) = &*sink;
                    let mut l = m.lock().unwrap();
                    let v = if is_err { &mut l.err } else { &mut l.out };
                    v.push(line);
                    cv.notify_all();
                }
                let (m, cv) = &*sink;
                m.lock().unwrap().closed += 1;
                cv.notify_all();
            })
        };
        reader(Box::new(child.stdout.take().unwrap()), false);
        reader(Box::new(child.stderr.take().unwrap()), true);
        Proc {
            guard: Guard { child, name },
            lines,
        }
    }

    /// Waits until a line on stdout or stderr satisfies `pred`; false after `limit` or if
    /// the process closed both streams (exited) without printing one.
    pub fn wait_line(&self, pred: impl Fn(&str) -> bool, limit: Duration) -> bool {
        let (m, cv) = &*self.lines;
        let deadline = Instant::now() + limit;
        let mut l = m.lock().unwrap();
        loop {
            if l.out.iter().chain(&l.err).any(|s| pred(s)) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline || l.closed == 2 {
                return false;
            }
            l = cv.wait_timeout(l, deadline - now).unwrap().0;
        }
    }

    pub fn stdout(&self) -> Vec<String> {
        self.lines.0.lock().unwrap().out.clone()
    }

    pub fn stderr(&self) -> Vec<String> {
        self.lines.0.lock().unwrap().err.clone()
    }

    pub fn diagnostics(&self) -> String {
        format!(
            "--- {} stdout\n{}\n--- stderr\n{}",
            self.guard.name,
            self.stdout().join("\n"),
            self.stderr().join("\n")
        )
    }

    /// Waits up to `limit` for the process to exit by itself (killed after that), then
    /// for its output to be read to the end.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let st = self.guard.wait_for(limit);
        let (m, cv) = &*self.lines;
        let mut l = m.lock().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while l.closed < 2 && Instant::now() < deadline {
            l = cv.wait_timeout(l, Duration::from_millis(100)).unwrap().0;
        }
        st
    }

    /// Sends `sig`, then waits as [`Proc::wait_exit`] does.
    pub fn stop_with(&mut self, sig: i32, limit: Duration) -> Option<ExitStatus> {
        if let Ok(None) = self.guard.child.try_wait() {
            self.guard.signal(sig);
        }
        self.wait_exit(limit)
    }
}

impl Dataplane {
    /// Starts `dataplane <eal> -- <app>` inside `ns` and waits (up to [`WAIT`]) for its
    /// `ready` line; panics with its output if it exits or never gets ready.
    /// `ip netns exec` execs in place, so the guard's pid is the dataplane's own and
    /// signals reach it directly. Its stderr goes to `<scratch>/dataplane.stderr`.
    pub fn start_in(ns: &Netns, s: &Scratch, eal: &[String], app: &[String]) -> Dataplane {
        let mut cmd = ns.command(&[]);
        cmd.arg(super::dataplane_bin());
        let mut dp = Dataplane::spawn_with(cmd, s, eal, app);
        let mut exited = None;
        let ready = wait_until(WAIT, || {
            if let Ok(Some(st)) = dp.guard.child.try_wait() {
                exited = Some(st);
                return true;
            }
            dp.stdout().iter().any(|l| l == "ready")
        });
        if let Some(st) = exited {
            if let Some(r) = dp.reader.take() {
                let _ = r.join();
            }
            panic!(
                "dataplane in {} exited ({st}) before `ready`:\n{}",
                ns.name,
                dp.diagnostics()
            );
        }
        assert!(
            ready,
            "dataplane in {} did not print `ready` within {WAIT:?}:\n{}",
            ns.name,
            dp.diagnostics()
        );
        dp
    }
}

/// The UDP probe: `recv BIND PORT TAG` prints `listening`, then `got SRCIP SRCPORT HEX`
/// per datagram until the `END TAG` datagram (`end`) or 60 s without it (`timeout`);
/// `send DST PORT TAG SIZES SPORTS BCAST` sends one datagram per size (distinct payloads:
/// the tag, the index, then a pattern), round-robin over the source ports, 10 ms apart,
/// printing `sent SPORT HEX` for each, then `END TAG` from the first port.
const UDP_PROBE: &str = r#"
import socket, sys, time

def recv(bind, port, tag):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind((bind, int(port)))
    print("listening", flush=True)
    end = b"END " + tag.encode()
    deadline = time.monotonic() + 60
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            print("timeout", flush=True)
            return
        s.settimeout(left)
        try:
            data, (ip, sport) = s.recvfrom(65535)
        except socket.timeout:
            continue
        if data == end:
            print("end", flush=True)
            return
        print("got", ip, sport, data.hex(), flush=True)

def send(dst, port, tag, sizes, sports, bcast):
    socks = []
    for p in sports.split(","):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        if bcast == "1":
            s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        s.bind(("0.0.0.0", int(p)))
        socks.append((int(p), s))
    for i, n in enumerate(int(x) for x in sizes.split(",")):
        head = ("%s:%04d:" % (tag, i)).encode()
        body = bytes(((i * 131) + (j * 7) + (j >> 8)) & 0xFF for j in range(max(0, int(n) - len(head))))
        data = (head + body)[: max(int(n), len(head))]
        p, s = socks[i % len(socks)]
        s.sendto(data, (dst, int(port)))
        print("sent", p, data.hex(), flush=True)
        time.sleep(0.01)
    socks[0][1].sendto(b"END " + tag.encode(), (dst, int(port)))
    print("done", flush=True)

if sys.argv[1] == "recv":
    recv(*sys.argv[2:5])
else:
    send(*sys.argv[2:8])
"#;

/// The Python interpreter for the probe: the system one when present (CI's Debian).
fn python() -> &'static str {
    if Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    }
}

/// Writes the UDP probe into the scratch directory; returns its path.
pub fn udp_probe(s: &Scratch) -> PathBuf {
    s.write("udp_probe.py", UDP_PROBE)
}

/// A datagram as the probe printed it: source port (the sender's, or what the receiver
/// saw) and payload.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Datagram {
    pub src_ip: String,
    pub sport: u16,
    pub payload: Vec<u8>,
}

fn unhex(h: &str) -> Vec<u8> {
    (0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
        .collect()
}

/// A UDP receiver running inside a namespace.
pub struct UdpReceiver {
    pub proc: Proc,
    pub ns: String,
}

impl UdpReceiver {
    /// Starts the probe's receiver bound to `bind:port` inside `ns` and waits until it
    /// listens. `tag` names the exchange (and its END datagram).
    pub fn start(ns: &Netns, probe: &Path, bind: &str, port: u16, tag: &str) -> UdpReceiver {
        let probe = probe.display().to_string();
        let port = port.to_string();
        let proc = ns.spawn(
            &[python(), &probe, "recv", bind, &port, tag],
            "udp receiver",
        );
        assert!(
            proc.wait_line(|l| l == "listening", WAIT),
            "UDP receiver in {} did not start:\n{}",
            ns.name,
            proc.diagnostics()
        );
        UdpReceiver {
            proc,
            ns: ns.name.clone(),
        }
    }

    /// Waits for the receiver to finish (END seen, or its own 60 s timeout) and returns
    /// every datagram it got, in arrival order.
    pub fn finish(mut self) -> Vec<Datagram> {
        let st = self.proc.wait_exit(Duration::from_secs(90));
        assert!(
            st.is_some_and(|s| s.success()),
            "UDP receiver in {} failed ({st:?}):\n{}",
            self.ns,
            self.proc.diagnostics()
        );
        let out = self.proc.stdout();
        if !out.iter().any(|l| l == "end") {
            eprintln!(
                "UDP receiver in {}: the END datagram never came (timed out)",
                self.ns
            );
        }
        out.iter()
            .filter_map(|l| l.strip_prefix("got "))
            .map(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                Datagram {
                    src_ip: w[0].to_string(),
                    sport: w[1].parse().unwrap(),
                    payload: unhex(w.get(2).copied().unwrap_or("")),
                }
            })
            .collect()
    }
}

/// Sends one datagram per entry of `sizes` from `ns` to `dst:port`, round-robin from the
/// source ports `sports`, then the END datagram; returns what was sent (src_ip empty).
#[allow(clippy::too_many_arguments)]
#[track_caller]
pub fn udp_send(
    ns: &Netns,
    probe: &Path,
    dst: &str,
    port: u16,
    tag: &str,
    sizes: &[usize],
    sports: &[u16],
    broadcast: bool,
) -> Vec<Datagram> {
    let join = |v: Vec<String>| v.join(",");
    let sizes = join(sizes.iter().map(|n| n.to_string()).collect());
    let sports = join(sports.iter().map(|n| n.to_string()).collect());
    let probe = probe.display().to_string();
    let port = port.to_string();
    let out = ns.run(&[
        python(),
        &probe,
        "send",
        dst,
        &port,
        tag,
        &sizes,
        &sports,
        if broadcast { "1" } else { "0" },
    ]);
    assert!(out.lines().any(|l| l == "done"), "UDP sender: {out}");
    out.lines()
        .filter_map(|l| l.strip_prefix("sent "))
        .map(|l| {
            let (p, h) = l.split_once(' ').unwrap();
            Datagram {
                src_ip: String::new(),
                sport: p.parse().unwrap(),
                payload: unhex(h),
            }
        })
        .collect()
}

/// Asserts that `got` holds exactly the datagrams in `sent`, each once, byte for byte,
/// from `src_ip` and the source port it was sent from.
#[track_caller]
pub fn assert_same_datagrams(what: &str, sent: &[Datagram], got: &[Datagram], src_ip: &str) {
    let mut want: Vec<Datagram> = sent
        .iter()
        .map(|d| Datagram {
            src_ip: src_ip.to_string(),
            ..d.clone()
        })
        .collect();
    let mut have = got.to_vec();
    want.sort();
    have.sort();
    let summary = |v: &[Datagram]| {
        v.iter()
            .map(|d| format!("{}:{} {} B", d.src_ip, d.sport, d.payload.len()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    assert!(
        want == have,
        "{what}: {} datagrams sent, {} received; every one must arrive once, byte-identical\n\
         sent: {}\nreceived: {}",
        want.len(),
        have.len(),
        summary(&want),
        summary(&have)
    );
}
