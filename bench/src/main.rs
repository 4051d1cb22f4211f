//! `dp-traffic [EAL options] -- --vhost-user PATH... [--step SPEC]... [--duration SECS ...]`
//!
//! Attaches to the dataplane's vhost-user sockets the way guests do (one DPDK virtio_user
//! port per socket, in this process), sends chosen frames and checks what arrives where.
//!
//! * `--step "from=0,src=MAC,dst=MAC,count=N,size=BYTES"` sends N frames out of port `from`
//!   and then listens on every port until the network is quiet; each received frame is
//!   matched back to its step and sequence number and compared byte for byte.
//! * `--duration SECS` runs the generator (see `gen`): both ways between two ports, up to
//!   a million MAC pairs, fixed sizes or IMIX, at a rate or flat out, checking and timing
//!   every frame; it prints a progress line a second and a table (or `--json`).
//! * `--vxlan VNI` (with `--duration`): port 1 is the switch's VXLAN underlay port and the
//!   generator a remote VTEP on it; frames there are wrapped and unwrapped (see `vxlan`).
//! * `--cycles N`: port 0 is a steady guest, port 1 a guest that is hot-plugged, passes
//!   frames both ways through the switch and is unplugged again, N times (see `cycles`).

mod cycles;
mod frames;
mod gen;
mod genframe;
mod vxlan;

use clap::Parser;
use dpdk::{Eal, EthPort, EthQueue, MbufBurst, Mempool, PacketPort};
use frames::{FrameSpec, ETHERTYPE_TEST};
use serde::Serialize;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};
use switch::wire::MacAddr;

/// Descriptors per virtio ring (virtio_user's own default): small rings keep the buffers in
/// flight, and so the generator's working set, inside the L2 cache.
const RING: u16 = 256;

const USAGE: &str = "dp-traffic [EAL options] -- --vhost-user PATH... [--step SPEC]... \
[--duration SECS [--size BYTES|imix] [--flows N] [--rate PPS] [--warmup SECS] \
[--vxlan VNI [--vxlan-local IP] [--vxlan-remote IP] [--vxlan-port PORT] [--vxlan-mac MAC]]] \
[--cycles N [--cycle-frames N] [--cycle-timeout SECS] [--cycle-interval-us USECS] [--size BYTES]] [--json]";

#[derive(Parser, Debug)]
#[command(name = "dp-traffic", version, override_usage = USAGE, about = "Guest-side traffic tool for the dataplane's vhost-user ports")]
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
    /// Do not read port PORT's receive ring until the last step has been sent (a guest that
    /// stopped reading: the switch finds its ring full); then drain it and count (repeatable).
    #[arg(long = "hold-rx", value_name = "PORT")]
    hold_rx: Vec<usize>,
    /// How long to wait for every port's link to come up, in seconds.
    #[arg(long, default_value_t = 20)]
    link_timeout: u64,
    /// Pause after the links are up, before the first frame, in milliseconds.
    #[arg(long, default_value_t = 500)]
    link_settle_ms: u64,
    /// After the steps, run the generator: traffic both ways between the two ports, counted
    /// for SECS seconds (after learning and --warmup).
    #[arg(long, value_name = "SECS")]
    duration: Option<f64>,
    /// Generator: uncounted traffic before the measured window, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 1.0)]
    warmup: f64,
    /// Generator: frame size in bytes without FCS (60..=1518), or "imix" (7x64, 4x576, 1x1518).
    /// Cycles: the size of every frame (no imix).
    #[arg(long, value_name = "BYTES|imix", default_value = "64")]
    size: String,
    /// Generator: distinct MAC pairs (flows); the switch learns two MACs per flow.
    #[arg(long, value_name = "N", default_value_t = 1)]
    flows: u32,
    /// Generator: frames per second per direction (e.g. 500000, 2.5M, 800k); default: as
    /// fast as the ports take them.
    #[arg(long, value_name = "PPS")]
    rate: Option<String>,
    /// Generator: compare every payload byte of every received frame (costs generator speed);
    /// by default the tag, addresses, length and last 8 bytes are checked.
    #[arg(long)]
    verify_payload: bool,
    /// Generator: closed loop instead of open: send N frames per direction, then send every
    /// frame received back out of the port it came in on (as testpmd's mac forwarding does).
    /// The generator then does the least work per frame, so it measures the switch's
    /// capacity rather than its own; --rate does not apply.
    #[arg(long, value_name = "N")]
    reflect: Option<u32>,
    /// Generator: VXLAN mode with this VNI (0..=16777215). Port 1 (the second --vhost-user)
    /// is then the switch's VXLAN underlay port, not a guest: the generator plays a remote
    /// VTEP there. Frames it sends there are wrapped in outer Ethernet/IPv4/UDP/VXLAN (per
    /// flow UDP source port, IPv4 checksum, DF, UDP checksum 0), frames arriving there must
    /// be VXLAN from --vxlan-remote to --vxlan-local with this VNI (else corrupt) and are
    /// unwrapped before the usual checks; ARP for --vxlan-local is answered. Direction 0->1
    /// is encapsulated by the switch, 1->0 decapsulated. --size is the inner frame size
    /// (the underlay carries 50 bytes more: give the switch's VTEP an MTU of at least
    /// size + 36). Steps (--step) are sent as given, not wrapped.
    #[arg(long, value_name = "VNI")]
    vxlan: Option<u32>,
    /// VXLAN mode: the generator's VTEP address (the switch's remote VTEP).
    #[arg(long, value_name = "IP", default_value = "172.31.0.1")]
    vxlan_local: std::net::Ipv4Addr,
    /// VXLAN mode: the switch's VTEP address.
    #[arg(long, value_name = "IP", default_value = "172.31.0.2")]
    vxlan_remote: std::net::Ipv4Addr,
    /// VXLAN mode: the VXLAN UDP destination port.
    #[arg(long, value_name = "PORT", default_value_t = 4789)]
    vxlan_port: u16,
    /// VXLAN mode: the generator's underlay MAC (port 1's; what the switch must resolve
    /// --vxlan-local to, or name in a static neighbour).
    #[arg(long, value_name = "MAC", default_value = "02:31:00:00:00:01")]
    vxlan_mac: MacAddr,
    /// Reconnect cycles instead of steps or the generator: the first --vhost-user socket
    /// gets a steady guest for the whole run, which streams frames to the second guest's
    /// MAC all along; the second socket gets a guest that is hot-plugged (a virtio_user
    /// vdev, rte_dev_probe), started, exchanges frames with the steady one through the
    /// switch until --cycle-frames crossed each way, sends a last burst, and is stopped,
    /// closed and unplugged (rte_dev_remove) while traffic toward it is in flight, N times.
    /// A cycle passes when it attached, frames crossed both ways, it unplugged cleanly and
    /// every mbuf of its pool came back. Prints totals and failures as
    /// `cycles=N attached=.. passed=.. failed=.. ...` (or, with --json, as "cycles").
    #[arg(long, value_name = "N")]
    cycles: Option<u32>,
    /// Cycles: frames that must cross the switch each way before a cycle detaches.
    #[arg(long, value_name = "N", default_value_t = 16)]
    cycle_frames: u32,
    /// Cycles: a cycle that has not attached and passed its frames in SECS fails.
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    cycle_timeout: f64,
    /// Cycles: the pause between two bursts (8 frames) of either guest, in microseconds;
    /// the steady guest's stream never stops, so 8 frames per USECS flow toward the
    /// cycling guest's MAC all along.
    #[arg(long, value_name = "USECS", default_value_t = 50)]
    cycle_interval_us: u64,
    /// Generator: no progress line every second. Cycles: none every 100 cycles.
    #[arg(long)]
    quiet: bool,
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

#[derive(Serialize, Debug)]
struct Report {
    sockets: Vec<String>,
    steps: Vec<StepResult>,
    /// Frames that were not from any step (runts, other traffic), per port.
    foreign: Vec<u64>,
    /// The generator's results (with --duration).
    generator: Option<gen::GenReport>,
    /// The reconnect cycles' results (with --cycles).
    cycles: Option<cycles::CycleReport>,
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
    /// The generator's transmit buffers, kept until the ports that hold some are closed.
    tx_pool: Option<Mempool>,
    foreign: Vec<u64>,
    scratch: Vec<u8>,
    /// Ports whose receive ring is not read for now (`--hold-rx`).
    held: Vec<bool>,
}

impl Rig {
    /// Receives on every port once; hands each frame to `seen(port, bytes)`. Returns the
    /// number of frames received.
    fn poll(&mut self, mut seen: impl FnMut(usize, &[u8])) -> usize {
        let mut total = 0;
        let mut burst = MbufBurst::new();
        for (i, q) in self.queues.iter_mut().enumerate() {
            if self.held[i] {
                continue;
            }
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
            // Drain what has arrived before sending more: the switch forwards faster than
            // this loop, and a step's frames must never overflow a guest's 256-entry ring.
            let mut polls = 0;
            while self.receive(results) > 0 && polls < 64 {
                polls += 1;
            }
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
    if let Some(p) = args.hold_rx.iter().find(|&&p| p >= args.sockets.len()) {
        return Err(format!(
            "--hold-rx {p}: only {} --vhost-user ports (numbered from 0)",
            args.sockets.len()
        ));
    }
    Ok(steps)
}

/// Checks the generator's flags (before EAL); `None` without --duration.
fn parse_gen(args: &Args) -> Result<Option<gen::GenOptions>, String> {
    let Some(duration) = args.duration else {
        if args.vxlan.is_some() {
            return Err("--vxlan is a generator mode: give --duration too".into());
        }
        return Ok(None);
    };
    if !(duration > 0.0 && duration <= 3600.0) {
        return Err(format!(
            "--duration {duration}: give more than 0 and at most 3600 seconds"
        ));
    }
    if !(0.0..=600.0).contains(&args.warmup) {
        return Err(format!("--warmup {}: give 0 to 600 seconds", args.warmup));
    }
    if !(1..=1_000_000).contains(&args.flows) {
        return Err(format!(
            "--flows {}: give 1 to 1000000 MAC pairs",
            args.flows
        ));
    }
    if args.sockets.len() != 2 {
        return Err(format!(
            "--duration: the generator sends between exactly two ports; got {} --vhost-user",
            args.sockets.len()
        ));
    }
    let rate = match &args.rate {
        None => None,
        Some(r) => Some(parse_rate(r)?),
    };
    let vxlan = match args.vxlan {
        None => None,
        Some(vni) if vni > switch::wire::MAX_VNI => {
            return Err(format!(
                "--vxlan {vni}: a VNI is 0 to {} (24 bits)",
                switch::wire::MAX_VNI
            ))
        }
        Some(vni) => {
            let unicast = |a: std::net::Ipv4Addr| {
                !(a.is_unspecified() || a.is_broadcast() || a.is_multicast() || a.is_loopback())
            };
            if !unicast(args.vxlan_local) || !unicast(args.vxlan_remote) {
                return Err("--vxlan-local and --vxlan-remote must be unicast addresses".into());
            }
            if args.vxlan_local == args.vxlan_remote {
                return Err("--vxlan-local and --vxlan-remote must differ".into());
            }
            if args.vxlan_port == 0 {
                return Err("--vxlan-port: give 1 to 65535".into());
            }
            if !args.vxlan_mac.is_learnable() {
                return Err(format!(
                    "--vxlan-mac {}: give a unicast, non-zero MAC",
                    args.vxlan_mac
                ));
            }
            Some(vxlan::VxlanOptions {
                vni,
                local_ip: args.vxlan_local,
                remote_ip: args.vxlan_remote,
                udp_port: args.vxlan_port,
                local_mac: args.vxlan_mac,
            })
        }
    };
    Ok(Some(gen::GenOptions {
        duration,
        warmup: args.warmup,
        sizes: genframe::SizeMix::parse(&args.size)?,
        flows: args.flows,
        rate,
        verify_payload: args.verify_payload,
        progress: !args.quiet,
        reflect: match args.reflect {
            Some(n) if !(1..=8192).contains(&n) => {
                return Err(format!(
                    "--reflect {n}: give 1 to 8192 frames in flight per direction"
                ))
            }
            Some(_) if rate.is_some() => return Err(
                "--reflect and --rate exclude each other: a closed loop runs at the switch's pace"
                    .into(),
            ),
            r => r,
        },
        vxlan,
    }))
}

/// Checks the reconnect cycles' flags (before EAL); `None` without --cycles.
fn parse_cycles(args: &Args) -> Result<Option<cycles::CycleOptions>, String> {
    let Some(n) = args.cycles else {
        return Ok(None);
    };
    if args.sockets.len() != 2 {
        return Err(format!(
            "--cycles: give exactly two --vhost-user sockets (the steady guest's, then the cycling one's); got {}",
            args.sockets.len()
        ));
    }
    if !args.steps.is_empty() || args.duration.is_some() || args.server {
        return Err("--cycles excludes --step, --duration and --server".into());
    }
    if !(1..=1_000_000).contains(&n) {
        return Err(format!("--cycles {n}: give 1 to 1000000"));
    }
    if !(1..=100_000).contains(&args.cycle_frames) {
        return Err(format!(
            "--cycle-frames {}: give 1 to 100000",
            args.cycle_frames
        ));
    }
    let timeout = Duration::try_from_secs_f64(args.cycle_timeout)
        .ok()
        .filter(|t| !t.is_zero() && t.as_secs() <= 3600)
        .ok_or_else(|| {
            format!(
                "--cycle-timeout {}: give more than 0 and at most 3600 seconds",
                args.cycle_timeout
            )
        })?;
    if !(1..=1_000_000).contains(&args.cycle_interval_us) {
        return Err(format!(
            "--cycle-interval-us {}: give 1 to 1000000",
            args.cycle_interval_us
        ));
    }
    let size = match args.size.parse::<usize>() {
        Ok(s) if (frames::MIN_TAGGED_LEN.max(60)..=1518).contains(&s) => s,
        _ => {
            return Err(format!(
                "--size {:?}: with --cycles give one frame size, 60 to 1518 bytes",
                args.size
            ))
        }
    };
    Ok(Some(cycles::CycleOptions {
        cycles: n,
        min_frames: args.cycle_frames,
        timeout,
        send_interval: Duration::from_micros(args.cycle_interval_us),
        size,
        progress_every: if args.quiet { 0 } else { 100 },
    }))
}

/// "500000", "800k", "2.5M" frames per second.
fn parse_rate(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let (num, mult) = match t.char_indices().last() {
        Some((i, 'k' | 'K')) => (&t[..i], 1e3),
        Some((i, 'm' | 'M')) => (&t[..i], 1e6),
        _ => (t, 1.0),
    };
    match num.parse::<f64>() {
        Ok(v) if v * mult >= 1.0 && v * mult <= 1e9 => Ok(v * mult),
        _ => Err(format!(
            "--rate {s:?}: give frames per second per direction, 1 to 1G, e.g. 500000, 800k or 2.5M"
        )),
    }
}

fn run(
    args: &Args,
    steps: Vec<Step>,
    gen_opts: Option<&gen::GenOptions>,
    human: &mut dyn std::io::Write,
) -> Result<Report, String> {
    let pool = Mempool::new_pktmbuf("traffic_mbufs", 16383, 256, Mempool::DEFAULT_DATA_ROOM, -1)
        .map_err(|e| e.to_string())?;
    let mut ports = Vec::new();
    for (i, path) in args.sockets.iter().enumerate() {
        let mut devargs = format!(
            "virtio_user{i},path={},queues=1,queue_size={RING}",
            path.display()
        );
        if i == 1 && gen_opts.is_some_and(|g| g.vxlan.is_some()) {
            // The underlay port answers ARP with this MAC and receives frames sent to it.
            devargs += &format!(",mac={}", args.vxlan_mac);
        }
        if args.server {
            // virtio_user then listens on the path and blocks in probe until the dataplane
            // (a vhost-user client, which retries every second) connects.
            devargs += ",server=1";
        }
        let mut p = EthPort::probe(&devargs, &format!("virtio_user{i}"))
            .map_err(|e| format!("{}: {e}", path.display()))?;
        p.configure(RING, RING, &pool)
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
        tx_pool: None,
        foreign: vec![0; n_ports],
        scratch: Vec::new(),
        held: vec![false; n_ports],
    };
    drain_for(&mut rig, Duration::from_millis(args.link_settle_ms));
    rig.foreign.iter_mut().for_each(|f| *f = 0);
    for &p in &args.hold_rx {
        rig.held[p] = true;
    }

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
    if rig.held.contains(&true) {
        // The held guest reads its ring again: what the switch put there is counted now.
        rig.held.iter_mut().for_each(|h| *h = false);
        rig.settle(
            &mut states,
            Duration::from_millis(args.settle_ms),
            Duration::from_secs(10),
        );
        let _ = writeln!(human, "held ports drained");
    }
    let generator = match gen_opts {
        Some(opts) => {
            // The rig holds the pool before anything is sent, so the rings' buffers stay
            // valid until the ports close, also when the run fails.
            let pool = gen::prefilled_pool()?;
            rig.tx_pool = Some(pool.clone());
            let r = gen::run(&mut rig.queues, &pool, &rig.pool, opts, human)?;
            gen::print_table(human, &r);
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
        generator,
        cycles: None,
    };
    // Ports close (their drop) before the pool is freed.
    let Rig {
        ports,
        queues,
        pool,
        tx_pool,
        ..
    } = rig;
    drop(queues);
    drop(ports);
    drop(pool);
    drop(tx_pool);
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
    let checked = parse_steps(&args).and_then(|s| Ok((s, parse_gen(&args)?, parse_cycles(&args)?)));
    let (steps, gen_opts, cycle_opts) = match checked {
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
    let result = match &cycle_opts {
        Some(opts) => cycles::run(
            &args.sockets[0],
            &args.sockets[1],
            opts,
            Duration::from_secs(args.link_timeout),
            human,
        )
        .map(|r| Report {
            sockets: args
                .sockets
                .iter()
                .map(|p| p.display().to_string())
                .collect(),
            steps: Vec::new(),
            foreign: Vec::new(),
            generator: None,
            cycles: Some(r),
        }),
        None => run(&args, steps, gen_opts.as_ref(), human),
    };
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
