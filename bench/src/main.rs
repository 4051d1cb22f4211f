//! `dp-traffic [EAL options] -- --vhost-user PATH... [--step SPEC]... [--blast SECS]`
//!
//! Attaches to the dataplane's vhost-user sockets the way guests do (one DPDK virtio_user
//! port per socket, in this process), sends chosen frames and checks what arrives where.
//!
//! * `--step "from=0,src=MAC,dst=MAC,count=N,size=BYTES"` sends N frames out of port `from`
//!   and then listens on every port until the network is quiet; each received frame is
//!   matched back to its step and sequence number and compared byte for byte.
//! * `--blast SECS` sends as fast as it can from every port to the next one's MAC after a
//!   learning round, and reports the rate (the demo's traffic check).

mod frames;

use clap::Parser;
use dpdk::{tsc_hz, tsc_now, Eal, EthPort, EthQueue, MbufBurst, Mempool, PacketPort};
use frames::{FrameSpec, ETHERTYPE_TEST};
use serde::Serialize;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};
use switch::wire::MacAddr;

const USAGE: &str =
    "dp-traffic [EAL options] -- --vhost-user PATH... [--step SPEC]... [--blast SECS] [--json]";

#[derive(Parser, Debug)]
#[command(name = "dp-traffic", override_usage = USAGE, about = "Guest-side traffic tool for the dataplane's vhost-user ports")]
struct Args {
    /// A vhost-user socket to attach to as a guest (repeatable; port index = order given).
    #[arg(long = "vhost-user", value_name = "PATH", required = true)]
    sockets: Vec<PathBuf>,
    /// A step: "from=PORT,src=MAC,dst=MAC[,count=N][,size=BYTES][,ethertype=0xXXXX][,delay_ms=MS]".
    /// Steps run in order; each ends when no frame arrived for --settle-ms.
    #[arg(long = "step", value_name = "SPEC")]
    steps: Vec<String>,
    /// Quiet time that ends a step, in milliseconds.
    #[arg(long, default_value_t = 300)]
    settle_ms: u64,
    /// How long to wait for every port's link to come up, in seconds.
    #[arg(long, default_value_t = 20)]
    link_timeout: u64,
    /// Pause after the links are up, before the first frame, in milliseconds.
    #[arg(long, default_value_t = 500)]
    warmup_ms: u64,
    /// After the steps, send as fast as possible for SECS seconds, port i to port i+1.
    #[arg(long, value_name = "SECS")]
    blast: Option<f64>,
    /// Frame size for --blast, in bytes (without FCS).
    #[arg(long, default_value_t = 64)]
    blast_size: usize,
    /// Print the result as JSON on stdout (human-readable text goes to stderr then).
    #[arg(long)]
    json: bool,
    /// Create the sockets and wait for the dataplane to connect (as QEMU does with
    /// `server=on`), for dataplane ports in `mode = "client"`.
    #[arg(long)]
    server: bool,
}

#[derive(Clone, Debug)]
struct Step {
    from: usize,
    spec: FrameSpec,
    count: u32,
    /// Wait this long (still receiving) before sending: lets MAC entries age in between.
    delay: Duration,
}

#[derive(Serialize, Default, Clone, Debug)]
struct PortRx {
    port: usize,
    /// Frames of this step that arrived on this port.
    frames: u64,
    /// ... of which byte-identical to what was sent.
    intact: u64,
    /// ... of which differed from what was sent.
    corrupt: u64,
    /// ... of which had a sequence number this port had already seen.
    duplicates: u64,
}

#[derive(Serialize, Debug)]
struct StepResult {
    index: usize,
    from: usize,
    src: String,
    dst: String,
    size: usize,
    count: u32,
    sent: u64,
    received: Vec<PortRx>,
}

#[derive(Serialize, Debug, Default)]
struct BlastResult {
    seconds: f64,
    size: usize,
    sent: u64,
    received: u64,
    lost: u64,
    tx_ring_full: u64,
    rx_mpps: f64,
    rx_gbps: f64,
}

#[derive(Serialize, Debug)]
struct Report {
    sockets: Vec<String>,
    steps: Vec<StepResult>,
    /// Frames that were not from any step (runts, other traffic), per port.
    foreign: Vec<u64>,
    blast: Option<BlastResult>,
}

fn parse_step(s: &str) -> Result<Step, String> {
    let mut from = None;
    let (mut src, mut dst) = (None, None);
    let (mut count, mut size, mut ethertype) = (1u32, 64usize, ETHERTYPE_TEST);
    let mut delay_ms = 0u64;
    for kv in s.split(',') {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| format!("step {s:?}: {kv:?} is not key=value"))?;
        let bad = |what: &str| format!("step {s:?}: {k}={v:?} is not {what}");
        match k.trim() {
            "from" => from = Some(v.parse::<usize>().map_err(|_| bad("a port index"))?),
            "src" => src = Some(v.parse::<MacAddr>().map_err(|e| format!("step {s:?}: src: {e}"))?),
            "dst" => dst = Some(v.parse::<MacAddr>().map_err(|e| format!("step {s:?}: dst: {e}"))?),
            "count" => count = v.parse().map_err(|_| bad("a frame count"))?,
            "size" => size = v.parse().map_err(|_| bad("a size in bytes"))?,
            "delay_ms" => delay_ms = v.parse().map_err(|_| bad("milliseconds"))?,
            "ethertype" => {
                ethertype = u16::from_str_radix(v.trim_start_matches("0x"), 16).map_err(|_| bad("a hex EtherType"))?
            }
            other => return Err(format!("step {s:?}: unknown key {other:?} (known: from, src, dst, count, size, ethertype, delay_ms)")),
        }
    }
    let size_ok = (1..=2048).contains(&size);
    if !size_ok {
        return Err(format!("step {s:?}: size must be 1..=2048 bytes"));
    }
    Ok(Step {
        from: from.ok_or_else(|| format!("step {s:?}: from=PORT is required"))?,
        spec: FrameSpec {
            src: src.ok_or_else(|| format!("step {s:?}: src=MAC is required"))?,
            dst: dst.ok_or_else(|| format!("step {s:?}: dst=MAC is required"))?,
            size,
            ethertype,
        },
        count,
        delay: Duration::from_millis(delay_ms),
    })
}

/// The tool's ports and buffers.
struct Rig {
    ports: Vec<EthPort>,
    /// Queue pair 0 of each port, the only handles that poll them.
    queues: Vec<EthQueue>,
    pool: Mempool,
    foreign: Vec<u64>,
    scratch: Vec<u8>,
}

impl Rig {
    /// Receives on every port once; hands each frame to `seen(port, bytes)`. Returns the
    /// number of frames received.
    fn poll(&mut self, mut seen: impl FnMut(usize, &[u8])) -> usize {
        let mut total = 0;
        let mut burst = MbufBurst::new();
        for (i, q) in self.queues.iter_mut().enumerate() {
            let n = q.rx_burst(&mut burst);
            total += n;
            for m in burst.drain() {
                seen(i, m.data());
            }
        }
        total
    }

    /// Sends `count` frames of `step` from its port, retrying while the ring is full and
    /// receiving meanwhile so a flood back to us can never deadlock the exchange.
    fn send_step(
        &mut self,
        index: u16,
        step: &Step,
        results: &mut [StepState],
    ) -> Result<u64, String> {
        let mut burst = MbufBurst::new();
        let mut seq = 0u32;
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut sent = 0u64;
        while seq < step.count || !burst.is_empty() {
            while seq < step.count && !burst.is_full() {
                let mut m = self.pool.alloc().ok_or("mbuf pool exhausted")?;
                let buf = m
                    .append(step.spec.size as u16)
                    .ok_or("frame does not fit an mbuf")?;
                frames::build(buf, &step.spec, index, seq);
                let _ = burst.push(m);
                seq += 1;
            }
            sent += self.queues[step.from].tx_burst(&mut burst) as u64;
            self.receive(results);
            if Instant::now() > deadline {
                let unsent = burst.clear();
                eprintln!("step {index}: {unsent} frames could not be sent in 10 s (tx ring full)");
                break;
            }
        }
        Ok(sent)
    }

    /// Receives once on every port and books each frame to its step.
    fn receive(&mut self, results: &mut [StepState]) -> usize {
        let mut foreign = std::mem::take(&mut self.foreign);
        let mut scratch = std::mem::take(&mut self.scratch);
        let n = self.poll(|port, bytes| match frames::tag(bytes) {
            Some((step, seq))
                if (step as usize) < results.len() && seq < results[step as usize].count =>
            {
                let st = &mut results[step as usize];
                let rx = &mut st.rx[port];
                rx.frames += 1;
                let seen = &mut st.seen[port][seq as usize];
                if *seen {
                    rx.duplicates += 1;
                }
                *seen = true;
                if frames::is_intact(bytes, &st.spec, step, seq, &mut scratch) {
                    rx.intact += 1;
                } else {
                    rx.corrupt += 1;
                }
            }
            _ => foreign[port] += 1,
        });
        self.foreign = foreign;
        self.scratch = scratch;
        n
    }

    /// Receives until nothing arrived for `settle`, or `limit` passed.
    fn settle(&mut self, results: &mut [StepState], settle: Duration, limit: Duration) {
        let start = Instant::now();
        let mut last_rx = Instant::now();
        while last_rx.elapsed() < settle && start.elapsed() < limit {
            if self.receive(results) > 0 {
                last_rx = Instant::now();
            }
        }
    }
}

struct StepState {
    spec: FrameSpec,
    count: u32,
    rx: Vec<PortRx>,
    seen: Vec<Vec<bool>>,
}

fn port_mac(i: usize) -> MacAddr {
    MacAddr([0x02, 0, 0, 0, 0x01, i as u8 + 1])
}

fn blast(
    rig: &mut Rig,
    secs: f64,
    size: usize,
    human: &mut dyn std::io::Write,
) -> Result<BlastResult, String> {
    let n = rig.ports.len();
    if n < 2 {
        return Err("--blast needs at least two --vhost-user ports".into());
    }
    // Learning round: one broadcast from each port's MAC, so the switch knows them all.
    for i in 0..n {
        let mut m = rig.pool.alloc().ok_or("mbuf pool exhausted")?;
        let spec = FrameSpec {
            src: port_mac(i),
            dst: MacAddr::BROADCAST,
            size: 64,
            ethertype: ETHERTYPE_TEST,
        };
        frames::build(m.append(64).ok_or("mbuf too small")?, &spec, u16::MAX, 0);
        let mut b = MbufBurst::new();
        let _ = b.push(m);
        rig.queues[i].tx_burst(&mut b);
    }
    drain_for(rig, Duration::from_millis(300));

    let hz = tsc_hz().max(1);
    let mut res = BlastResult {
        seconds: secs,
        size,
        ..Default::default()
    };
    let mut rx_bytes = 0u64;

    let mut burst = MbufBurst::new();
    let start = tsc_now();
    let end = start + (secs * hz as f64) as u64;
    let mut next_report = start + hz;
    let (mut last_sent, mut last_rx) = (0u64, 0u64);
    loop {
        let now = tsc_now();
        if now >= end {
            break;
        }
        for i in 0..n {
            let spec = FrameSpec {
                src: port_mac(i),
                dst: port_mac((i + 1) % n),
                size,
                ethertype: ETHERTYPE_TEST,
            };
            while !burst.is_full() {
                let Some(mut m) = rig.pool.alloc() else { break };
                let Some(buf) = m.append(size as u16) else {
                    break;
                };
                frames::build(
                    &mut buf[..size.min(frames::MIN_TAGGED_LEN)],
                    &FrameSpec {
                        size: size.min(frames::MIN_TAGGED_LEN),
                        ..spec
                    },
                    u16::MAX - 1,
                    0,
                );
                let _ = burst.push(m);
            }
            res.sent += rig.queues[i].tx_burst(&mut burst) as u64;
            res.tx_ring_full += burst.clear() as u64;
            res.received += rig.poll(|_, bytes| rx_bytes += bytes.len() as u64) as u64;
        }
        if now >= next_report {
            let _ = writeln!(
                human,
                "blast t={:.0}s tx={:.3} Mpps rx={:.3} Mpps",
                (now - start) as f64 / hz as f64,
                (res.sent - last_sent) as f64 / 1e6,
                (res.received - last_rx) as f64 / 1e6
            );
            last_sent = res.sent;
            last_rx = res.received;
            next_report += hz;
        }
    }
    // Collect what is still in flight.
    let t0 = Instant::now();
    let mut quiet = Instant::now();
    while quiet.elapsed() < Duration::from_millis(200) && t0.elapsed() < Duration::from_secs(2) {
        let got = rig.poll(|_, bytes| rx_bytes += bytes.len() as u64);
        if got > 0 {
            quiet = Instant::now();
        }
        res.received += got as u64;
    }
    res.lost = res.sent.saturating_sub(res.received);
    res.rx_mpps = res.received as f64 / secs / 1e6;
    // On-the-wire rate: frame + 4 B FCS + 20 B preamble and inter-frame gap.
    res.rx_gbps = (rx_bytes + res.received * 24) as f64 * 8.0 / secs / 1e9;
    Ok(res)
}

fn drain_for(rig: &mut Rig, d: Duration) {
    let t = Instant::now();
    while t.elapsed() < d {
        rig.poll(|_, _| {});
    }
}

/// Checks the steps and flags; runs before EAL so a typo costs nothing.
fn parse_steps(args: &Args) -> Result<Vec<Step>, String> {
    let steps: Vec<Step> = args
        .steps
        .iter()
        .map(|s| parse_step(s))
        .collect::<Result<_, _>>()?;
    for (i, s) in steps.iter().enumerate() {
        if s.from >= args.sockets.len() {
            return Err(format!(
                "step {i}: from={} but only {} --vhost-user ports",
                s.from,
                args.sockets.len()
            ));
        }
    }
    if !(frames::MIN_TAGGED_LEN..=2048).contains(&args.blast_size) {
        return Err(format!(
            "--blast-size {}: must be {}..=2048 bytes",
            args.blast_size,
            frames::MIN_TAGGED_LEN
        ));
    }
    if let Some(secs) = args.blast {
        if !(secs > 0.0 && secs <= 3600.0) {
            return Err(format!(
                "--blast {secs}: must be more than 0 and at most 3600 seconds"
            ));
        }
    }
    Ok(steps)
}

fn run(args: &Args, steps: Vec<Step>, human: &mut dyn std::io::Write) -> Result<Report, String> {
    let pool = Mempool::new_pktmbuf("traffic_mbufs", 16383, 256, Mempool::DEFAULT_DATA_ROOM, -1)
        .map_err(|e| e.to_string())?;
    let mut ports = Vec::new();
    for (i, path) in args.sockets.iter().enumerate() {
        let mut devargs = format!(
            "virtio_user{i},path={},queues=1,queue_size=1024",
            path.display()
        );
        if args.server {
            // virtio_user then listens on the path and blocks in probe until the dataplane
            // (a vhost-user client, which retries every second) connects.
            devargs += ",server=1";
        }
        let mut p = EthPort::probe(&devargs, &format!("virtio_user{i}"))
            .map_err(|e| format!("{}: {e}", path.display()))?;
        p.configure(1024, 1024, &pool)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        p.start().map_err(|e| format!("{}: {e}", path.display()))?;
        ports.push(p);
    }
    let deadline = Instant::now() + Duration::from_secs(args.link_timeout);
    while !ports.iter().all(|p| p.link().up) {
        if Instant::now() > deadline {
            let down: Vec<_> = args
                .sockets
                .iter()
                .zip(&ports)
                .filter(|(_, p)| !p.link().up)
                .map(|(s, _)| s.display().to_string())
                .collect();
            return Err(format!(
                "link still down after {} s on {}",
                args.link_timeout,
                down.join(", ")
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let n_ports = ports.len();
    let queues = ports
        .iter_mut()
        .map(|p| p.take_queue().expect("a fresh port has its queue"))
        .collect();
    let mut rig = Rig {
        ports,
        queues,
        pool,
        foreign: vec![0; n_ports],
        scratch: Vec::new(),
    };
    drain_for(&mut rig, Duration::from_millis(args.warmup_ms));
    rig.foreign.iter_mut().for_each(|f| *f = 0);

    let mut states: Vec<StepState> = steps
        .iter()
        .map(|s| StepState {
            spec: s.spec,
            count: s.count,
            rx: (0..n_ports)
                .map(|port| PortRx {
                    port,
                    ..Default::default()
                })
                .collect(),
            seen: (0..n_ports)
                .map(|_| vec![false; s.count as usize])
                .collect(),
        })
        .collect();
    let mut sent = Vec::new();
    for (i, s) in steps.iter().enumerate() {
        if !s.delay.is_zero() {
            rig.settle(&mut states, s.delay, s.delay);
        }
        let n = rig.send_step(i as u16, s, &mut states)?;
        sent.push(n);
        rig.settle(
            &mut states,
            Duration::from_millis(args.settle_ms),
            Duration::from_secs(10),
        );
        let got: Vec<String> = states[i]
            .rx
            .iter()
            .map(|r| format!("p{}={}", r.port, r.frames))
            .collect();
        let _ = writeln!(
            human,
            "step {i}: port {} sent {} {} -> {} x{} ({} B); received {}",
            s.from,
            n,
            s.spec.src,
            s.spec.dst,
            s.count,
            s.spec.size,
            got.join(" ")
        );
    }
    let blast = match args.blast {
        Some(secs) => {
            let r = blast(&mut rig, secs, args.blast_size, human)?;
            let _ = writeln!(
                human,
                "blast: {} B frames for {:.1} s: sent {} received {} lost {} ({:.3}%), {:.3} Mpps, {:.2} Gbit/s on the wire (tx ring full {})",
                r.size,
                r.seconds,
                r.sent,
                r.received,
                r.lost,
                if r.sent == 0 { 0.0 } else { 100.0 * r.lost as f64 / r.sent as f64 },
                r.rx_mpps,
                r.rx_gbps,
                r.tx_ring_full
            );
            Some(r)
        }
        None => None,
    };
    let report = Report {
        sockets: args
            .sockets
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
        steps: steps
            .iter()
            .zip(states)
            .zip(sent)
            .enumerate()
            .map(|(index, ((s, st), sent))| StepResult {
                index,
                from: s.from,
                src: s.spec.src.to_string(),
                dst: s.spec.dst.to_string(),
                size: s.spec.size,
                count: s.count,
                sent,
                received: st.rx,
            })
            .collect(),
        foreign: rig.foreign.clone(),
        blast,
    };
    // Ports close (their drop) before the pool is freed.
    let Rig {
        ports,
        queues,
        pool,
        ..
    } = rig;
    drop(queues);
    drop(ports);
    drop(pool);
    Ok(report)
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let argv: Vec<String> = std::env::args().collect();
    let (eal_args, app_argv) = pmd_config::split_eal_args(&argv);
    let args = match Args::try_parse_from(&app_argv) {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let steps = match parse_steps(&args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("dp-traffic: error: {e}");
            return ExitCode::from(2);
        }
    };
    let eal = match Eal::init(&eal_args) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("dp-traffic: error: {e}");
            return ExitCode::from(1);
        }
    };
    let mut stderr = std::io::stderr();
    let mut stdout = std::io::stdout();
    let human: &mut dyn std::io::Write = if args.json { &mut stderr } else { &mut stdout };
    let result = run(&args, steps, human);
    drop(eal);
    match result {
        Ok(report) => {
            if args.json {
                println!(
                    "{}",
                    serde_json::to_string(&report).expect("report serialises")
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("dp-traffic: error: {e}");
            ExitCode::from(1)
        }
    }
}
