//! Harness for tests that run the real `dataplane` binary and the real `dp-traffic` tool
//! (DPDK virtio_user guests) against each other.
//!
//! Two cores: the dataplane's worker busy-polls one, the traffic tool the other, so tests
//! that start pollers take [`serial`] and run one at a time. Every child gets
//! PR_SET_PDEATHSIG and is stopped by its guard's Drop, so nothing outlives a failed test.
#![allow(dead_code)]

/// Namespaces, veth pairs and processes inside them (the VXLAN interop tests).
pub mod netns;
/// A reader for `tcpdump -w` captures.
pub mod pcap;
/// QEMU guests (the tiny busybox guest of scripts/qemu/build-guest.sh) on vhost-user sockets.
pub mod qemu;

use serde_json::Value;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

static SERIAL: Mutex<()> = Mutex::new(());
static SEQ: AtomicU32 = AtomicU32::new(0);

/// Held while a test runs busy pollers or guests: the in-process lock orders the tests of
/// one binary, the file lock orders test binaries (and scripts) run at the same time from
/// different checkouts, so two sets of pollers never share the two cores.
pub struct Serial {
    _file: Option<std::fs::File>,
    _guard: MutexGuard<'static, ()>,
}

/// The lock file [`serial`] holds; scripts may take it too (`flock /tmp/dataplane-pollers.lock`).
pub const POLLERS_LOCK: &str = "/tmp/dataplane-pollers.lock";

/// Serialises tests that start busy pollers. Poisoning (a failed test) does not matter.
pub fn serial() -> Serial {
    let guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(POLLERS_LOCK)
        .ok();
    if let Some(f) = &file {
        use std::os::fd::AsRawFd;
        // SAFETY: flock on a file descriptor we own; blocks until the lock is ours, and the
        // kernel releases it when the file is closed (also when the process dies).
        unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) };
    }
    Serial {
        _file: file,
        _guard: guard,
    }
}

pub fn dataplane_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_dataplane"))
}

pub fn traffic_bin() -> PathBuf {
    let p = dataplane_bin().with_file_name("dp-traffic");
    assert!(
        p.exists(),
        "{} is missing: build the workspace's binaries first (cargo test --workspace does)",
        p.display()
    );
    p
}

/// A fresh directory and DPDK file-prefix for one test.
pub struct Scratch {
    pub dir: PathBuf,
    pub tag: String,
}

impl Scratch {
    pub fn new(test: &str) -> Scratch {
        let tag = format!(
            "{}-{}-{}",
            test,
            std::process::id(),
            SEQ.fetch_add(1, Ordering::SeqCst)
        );
        let dir = std::env::temp_dir().join(format!("dp-test-{tag}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch { dir, tag }
    }

    pub fn sock(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.sock"))
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        for prefix in [format!("dp-{}", self.tag), format!("tg-{}", self.tag)] {
            let _ = std::fs::remove_dir_all(Path::new("/var/run/dpdk").join(prefix));
        }
    }
}

/// EAL options for the dataplane under test: main lcore 0, worker lcore 1, no hugepages.
pub fn dataplane_eal(s: &Scratch) -> Vec<String> {
    [
        "-l",
        "0-1",
        "--no-pci",
        "--no-huge",
        "-m",
        "256",
        "--log-level",
        "lib.vhost.*:warning",
    ]
    .iter()
    .map(|a| a.to_string())
    .chain(["--file-prefix".to_string(), format!("dp-{}", s.tag)])
    .collect()
}

/// The child gets SIGKILL when the thread that spawned it ends (PR_SET_PDEATHSIG follows
/// the spawning thread): a test thread that panics or a test process that dies takes its
/// children with it.
pub fn die_with_parent(cmd: &mut Command) {
    // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
}

/// A running child that is interrupted, then killed, when dropped.
pub struct Guard {
    pub child: Child,
    pub name: &'static str,
}

impl Guard {
    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, sig) };
    }

    /// Waits up to `limit`; kills the child if it has not exited by then.
    pub fn wait_for(&mut self, limit: Duration) -> Option<ExitStatus> {
        let t = Instant::now();
        while t.elapsed() < limit {
            if let Ok(Some(st)) = self.child.try_wait() {
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        None
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.signal(libc::SIGINT);
            if self.wait_for(Duration::from_secs(5)).is_none() {
                eprintln!("{} did not stop on SIGINT; killed", self.name);
            }
        }
    }
}

/// Lines a child printed, each with the instant it was read, so a test can wait for one and
/// put the events of several processes (dataplane, guests) on one time line.
#[derive(Clone, Default)]
pub struct StampedLines(Arc<(Mutex<StampedInner>, Condvar)>);

#[derive(Default)]
struct StampedInner {
    lines: Vec<(Instant, String)>,
    /// The pipe reached EOF (the child closed it or exited).
    closed: bool,
}

impl StampedLines {
    /// Reads `pipe` line by line on a thread until EOF, stamping each line as it arrives;
    /// a trailing CR (a guest's serial console) is dropped. Every line is also appended to
    /// `copy`, when given, so a file keeps the whole output for diagnostics.
    pub fn collect(
        pipe: impl std::io::Read + Send + 'static,
        mut copy: Option<std::fs::File>,
    ) -> (StampedLines, std::thread::JoinHandle<()>) {
        let lines = StampedLines::default();
        let sink = lines.clone();
        let reader = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let mut r = BufReader::new(pipe);
            // Bytes, not read_line: a guest console may print invalid UTF-8.
            while matches!(r.read_until(b'\n', &mut buf), Ok(n) if n > 0) {
                let at = Instant::now();
                if let Some(f) = copy.as_mut() {
                    let _ = f.write_all(&buf);
                }
                let text = String::from_utf8_lossy(&buf);
                let text = text.trim_end_matches(['\n', '\r']).to_string();
                buf.clear();
                let (m, cv) = &*sink.0;
                m.lock().unwrap().lines.push((at, text));
                cv.notify_all();
            }
            let (m, cv) = &*sink.0;
            m.lock().unwrap().closed = true;
            cv.notify_all();
        });
        (lines, reader)
    }

    /// The first line (in arrival order) at index `from` or later that satisfies `pred`,
    /// with its index; `None` after `limit`, or at once when the pipe is closed and no
    /// such line came.
    pub fn wait_from(
        &self,
        from: usize,
        pred: impl Fn(&str) -> bool,
        limit: Duration,
    ) -> Option<(usize, Instant, String)> {
        let (m, cv) = &*self.0;
        let deadline = Instant::now() + limit;
        let mut inner = m.lock().unwrap();
        loop {
            if let Some((i, (at, l))) = inner
                .lines
                .iter()
                .enumerate()
                .skip(from)
                .find(|(_, (_, l))| pred(l))
            {
                return Some((i, *at, l.clone()));
            }
            let now = Instant::now();
            if now >= deadline || inner.closed {
                return None;
            }
            inner = cv.wait_timeout(inner, deadline - now).unwrap().0;
        }
    }

    /// The first line satisfying `pred`, waiting up to `limit` for it.
    pub fn wait(&self, pred: impl Fn(&str) -> bool, limit: Duration) -> Option<(Instant, String)> {
        self.wait_from(0, pred, limit).map(|(_, at, l)| (at, l))
    }

    /// How many lines have arrived so far (an index for [`StampedLines::wait_from`]).
    pub fn len(&self) -> usize {
        self.0 .0.lock().unwrap().lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every line so far, with its arrival instant.
    pub fn stamped(&self) -> Vec<(Instant, String)> {
        self.0 .0.lock().unwrap().lines.clone()
    }

    /// Every line so far.
    pub fn texts(&self) -> Vec<String> {
        self.0
             .0
            .lock()
            .unwrap()
            .lines
            .iter()
            .map(|(_, l)| l.clone())
            .collect()
    }

    /// Whether the pipe has reached EOF.
    pub fn closed(&self) -> bool {
        self.0 .0.lock().unwrap().closed
    }
}

/// The dataplane under test, with its stdout and its log (stderr) collected line by line,
/// each line stamped when it arrived.
pub struct Dataplane {
    pub guard: Guard,
    /// When the process was spawned.
    pub spawned: Instant,
    lines: StampedLines,
    log: StampedLines,
    /// The stdout reader; it ends at EOF.
    reader: Option<std::thread::JoinHandle<()>>,
    /// The stderr reader (which also fills `<scratch>/dataplane.stderr`).
    log_reader: Option<std::thread::JoinHandle<()>>,
    stderr_path: PathBuf,
}

impl Dataplane {
    /// Starts `dataplane <eal> -- <app>` and waits for its `ready` line.
    pub fn start(s: &Scratch, app: &[String]) -> Dataplane {
        let dp = Self::spawn(s, &dataplane_eal(s), app);
        if !dp.wait_line(|l| l == "ready", Duration::from_secs(60)) {
            panic!("dataplane did not print `ready`:\n{}", dp.diagnostics());
        }
        dp
    }

    pub fn spawn(s: &Scratch, eal: &[String], app: &[String]) -> Dataplane {
        Self::spawn_with(Command::new(dataplane_bin()), s, eal, app)
    }

    /// Starts `cmd` (the dataplane binary, or a wrapper such as `ip netns exec NS` with the
    /// binary as its first argument) with `<eal> -- <app>` appended, its stdout and stderr
    /// collected line by line and its stderr also in `<scratch>/dataplane.stderr`.
    pub fn spawn_with(mut cmd: Command, s: &Scratch, eal: &[String], app: &[String]) -> Dataplane {
        let stderr_path = s.dir.join("dataplane.stderr");
        cmd.args(eal)
            .arg("--")
            .args(app)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        die_with_parent(&mut cmd);
        let spawned = Instant::now();
        let mut child = cmd.spawn().expect("spawn dataplane");
        let (lines, out_reader) = StampedLines::collect(child.stdout.take().unwrap(), None);
        // Appended: a test that restarts the dataplane keeps every run's log in one file.
        let copy = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&stderr_path)
            .unwrap();
        let (log, err_reader) = StampedLines::collect(child.stderr.take().unwrap(), Some(copy));
        Dataplane {
            guard: Guard {
                child,
                name: "dataplane",
            },
            spawned,
            lines,
            log,
            reader: Some(out_reader),
            log_reader: Some(err_reader),
            stderr_path,
        }
    }

    pub fn wait_line(&self, pred: impl Fn(&str) -> bool, limit: Duration) -> bool {
        self.lines.wait(pred, limit).is_some()
    }

    pub fn stdout(&self) -> Vec<String> {
        self.lines.texts()
    }

    /// Stdout, line by line with arrival instants.
    pub fn stdout_lines(&self) -> &StampedLines {
        &self.lines
    }

    /// The log (stderr: EAL, vhost library and our own), line by line with arrival instants.
    pub fn log(&self) -> &StampedLines {
        &self.log
    }

    pub fn diagnostics(&self) -> String {
        format!(
            "--- stdout\n{}\n--- stderr\n{}",
            self.stdout().join("\n"),
            std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
        )
    }

    /// Sends `sig` and waits for exit; returns the status and the `final` counters.
    pub fn stop_with(mut self, sig: i32) -> (ExitStatus, Finals, String) {
        self.guard.signal(sig);
        let st = self.guard.wait_for(Duration::from_secs(30));
        // The readers end at EOF, after the last line the process wrote.
        if st.is_some() {
            for r in [self.reader.take(), self.log_reader.take()]
                .into_iter()
                .flatten()
            {
                let _ = r.join();
            }
        }
        let diag = self.diagnostics();
        let st = st.unwrap_or_else(|| {
            panic!("dataplane did not exit within 30 s of signal {sig}:\n{diag}")
        });
        (st, Finals::parse(&self.stdout()), diag)
    }

    pub fn stop(self) -> (ExitStatus, Finals, String) {
        self.stop_with(libc::SIGINT)
    }
}

/// The `final ...` lines, keyed by what they describe (`port=vhu0`, `bridge=br0`,
/// `mempool`, `worker`), each a map of `key=value` fields.
#[derive(Debug, Default)]
pub struct Finals(pub HashMap<String, HashMap<String, String>>);

impl Finals {
    fn parse(lines: &[String]) -> Finals {
        let mut out = HashMap::new();
        for l in lines.iter().filter(|l| l.starts_with("final ")) {
            let mut words = l.split_whitespace().skip(1);
            let mut fields = HashMap::new();
            let mut key = String::new();
            for w in words.by_ref() {
                match w.split_once('=') {
                    Some((k, v)) => {
                        if key.is_empty() && (k == "port" || k == "bridge") {
                            key = format!("{k}={v}");
                        }
                        fields.insert(k.to_string(), v.to_string());
                    }
                    None => key = w.to_string(),
                }
            }
            out.insert(key, fields);
        }
        Finals(out)
    }

    /// A numeric field of the `final` line for `what` (e.g. "port=vhu0", "bridge=br0", "mempool").
    pub fn get(&self, what: &str, field: &str) -> u64 {
        self.0
            .get(what)
            .and_then(|f| f.get(field))
            .unwrap_or_else(|| panic!("no final `{field}` for {what} in {:?}", self.0))
            .parse()
            .unwrap()
    }
}

/// Runs `cmd` with stdin closed and stdout and stderr collected, killing it after `limit`
/// (and when the calling thread dies). Returns the exit status (`None` if it was killed for
/// running too long) and what it printed.
pub fn run_bounded(
    mut cmd: Command,
    name: &'static str,
    limit: Duration,
) -> (Option<ExitStatus>, Vec<u8>, Vec<u8>) {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    die_with_parent(&mut cmd);
    let child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {name}: {e}"));
    let mut guard = Guard { child, name };
    let reader = |mut pipe: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            pipe.read_to_end(&mut v).ok();
            v
        })
    };
    let out = reader(Box::new(guard.child.stdout.take().unwrap()));
    let err = reader(Box::new(guard.child.stderr.take().unwrap()));
    let status = guard.wait_for(limit);
    (status, out.join().unwrap(), err.join().unwrap())
}

/// Runs the traffic tool as guests on `socks` with the given steps; returns its JSON report.
pub fn traffic(s: &Scratch, socks: &[PathBuf], steps: &[String], extra: &[&str]) -> Value {
    let mut cmd = Command::new(traffic_bin());
    cmd.env("RUST_BACKTRACE", "0");
    cmd.args([
        "-l",
        "0",
        "--no-pci",
        "--no-huge",
        "-m",
        "256",
        "--log-level",
        "*:error",
    ])
    .arg("--file-prefix")
    .arg(format!("tg-{}", s.tag))
    .arg("--");
    for p in socks {
        cmd.arg("--vhost-user").arg(p);
    }
    for st in steps {
        cmd.arg("--step").arg(st);
    }
    cmd.args(extra).arg("--json");
    let (st, out, err) = run_bounded(cmd, "dp-traffic", Duration::from_secs(120));
    let (out, err) = (String::from_utf8_lossy(&out), String::from_utf8_lossy(&err));
    let _ = writeln!(std::io::stderr(), "dp-traffic stderr:\n{err}");
    match st {
        Some(st) if st.success() => {
            serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("bad JSON ({e}): {out}"))
        }
        other => panic!("dp-traffic failed ({other:?}):\n{err}\n{out}"),
    }
}

/// Frames of step `step` that arrived on `port`, asserting they were all intact and unique.
pub fn rx(report: &Value, step: usize, port: usize) -> u64 {
    let r = &report["steps"][step]["received"][port];
    let frames = r["frames"].as_u64().unwrap();
    assert_eq!(
        r["corrupt"].as_u64(),
        Some(0),
        "step {step} port {port}: corrupt frames: {report}"
    );
    assert_eq!(
        r["duplicates"].as_u64(),
        Some(0),
        "step {step} port {port}: duplicates: {report}"
    );
    assert_eq!(
        r["intact"].as_u64(),
        Some(frames),
        "step {step} port {port}: {report}"
    );
    frames
}

/// Frames step `step` sent.
pub fn sent(report: &Value, step: usize) -> u64 {
    report["steps"][step]["sent"].as_u64().unwrap()
}

/// Per-port frames of a step, as a vector indexed by port.
pub fn rx_all(report: &Value, step: usize, n_ports: usize) -> Vec<u64> {
    (0..n_ports).map(|p| rx(report, step, p)).collect()
}

/// `--step` text.
pub fn step(from: usize, src: &str, dst: &str, count: u32, size: usize) -> String {
    format!("from={from},src={src},dst={dst},count={count},size={size}")
}

pub fn vhost_args(socks: &[PathBuf]) -> Vec<String> {
    socks
        .iter()
        .flat_map(|p| ["--vhost-user".to_string(), p.display().to_string()])
        .collect()
}

/// The `in_use=` of a live `stats t=... mempool size=... in_use=N` line.
pub fn live_in_use(line: &str) -> Option<u64> {
    if !line.starts_with("stats ") || !line.contains(" mempool ") {
        return None;
    }
    line.split_whitespace()
        .find_map(|w| w.strip_prefix("in_use="))
        .and_then(|v| v.parse().ok())
}

/// A config with one `mode = "client"` vhost-user port per socket, named `vm1`, `vm2`, …
/// (the guests own the sockets, as QEMU with `server=on`).
pub fn client_ports_config(socks: &[PathBuf]) -> String {
    socks
        .iter()
        .enumerate()
        .map(|(i, p)| {
            format!(
                "[[port]]\nname = \"vm{}\"\ntype = \"vhost-user\"\nmode = \"client\"\npath = \"{}\"\n",
                i + 1,
                p.display()
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}
