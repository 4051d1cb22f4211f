//! The generator and sink: two guest ports, traffic both ways (port 0 -> port 1 and back),
//! one busy loop on one lcore that sends a burst per direction, receives on both ports and
//! checks every frame.
//!
//! A run is three phases: *learn* (one frame per flow and direction, so the switch knows
//! every MAC before anything is counted), *warm-up* (full traffic, not counted), *measure*
//! (counted). Frames carry their phase, so frames of one phase that arrive during the next
//! are never miscounted. After the measured window the generator stops sending and drains.

use crate::genframe::{self, Phase, RxError, SizeMix, Tag};
use crate::vxlan::{ArpAction, OuterError, VxlanOptions, OUTER_LEN};
use dpdk::{tsc_hz, tsc_now, EthQueue, Mbuf, MbufBurst, Mempool, PacketPort, BURST_SIZE};
use hdrhistogram::Histogram;
use serde::Serialize;
use std::io::Write;

/// What to send.
#[derive(Clone, Debug)]
pub struct GenOptions {
    /// Length of the measured window, in seconds.
    pub duration: f64,
    /// Uncounted traffic before it, in seconds.
    pub warmup: f64,
    pub sizes: SizeMix,
    /// Distinct MAC pairs: flow i is MAC (side 0, i) <-> MAC (side 1, i).
    pub flows: u32,
    /// Frames per second per direction; `None` sends as fast as the ports take them.
    pub rate: Option<f64>,
    /// Compare every payload byte of every frame (slower), not only the tag and the tail.
    pub verify_payload: bool,
    /// Print a progress line every second.
    pub progress: bool,
    /// Closed loop with this many frames in flight per direction (see `Sink::reflect`).
    pub reflect: Option<u32>,
    /// Port 1 is the switch's VXLAN underlay port and the generator a remote VTEP there
    /// (see `crate::vxlan`).
    pub vxlan: Option<VxlanOptions>,
}

/// Learning frames per direction sent but not yet received back: well inside the receiving
/// guest's 256-descriptor ring.
const LEARN_WINDOW: u64 = 128;
/// Give up learning when the ports take no frame for this long (the switch went away).
const LEARN_GIVE_UP_SECS: u64 = 5;
/// Mbufs of the transmit pool (pre-filled with the payload pattern).
const TX_POOL: u32 = 16383;
/// After the last frame is sent, receive until nothing arrived for this long.
const DRAIN_QUIET_SECS: f64 = 0.1;
const DRAIN_MAX_SECS: f64 = 2.0;
/// VXLAN mode: how long to listen for the switch's VTEP to resolve the generator's address
/// itself (its ARP requests are answered) before asking for its MAC.
const ARP_LISTEN_SECS: f64 = 1.2;
/// VXLAN mode: how long (listening included) to wait for the switch's VTEP MAC before
/// sending to broadcast.
const ARP_WAIT_SECS: f64 = 4.0;
/// ... asking this often.
const ARP_RETRY_SECS: f64 = 0.2;

/// One direction's results over the measured window.
#[derive(Serialize, Debug, Clone)]
pub struct DirReport {
    pub direction: String,
    pub sent: u64,
    pub received: u64,
    /// Sent in the window but never received.
    pub lost: u64,
    pub loss_pct: f64,
    /// Frames that arrived after a later frame of the same flow (reordered or duplicated).
    pub late: u64,
    /// Frames whose tag, addresses, length or payload were wrong.
    pub corrupt: u64,
    /// Good frames that arrived on the port they were sent from.
    pub misdelivered: u64,
    /// Times the transmit ring was full (open loop: the frames were sent later, not lost).
    pub tx_ring_full: u64,
    /// Closed loop: good frames of this direction the generator could not send back
    /// because its own transmit ring was full (they left the loop; not switch loss).
    pub not_reflected: u64,
    /// Frames of this direction sent and not yet received when the measured window began
    /// (closed loop: what the rings really held of the frames seeded).
    pub in_flight_at_start: u64,
    pub tx_mpps: f64,
    pub rx_mpps: f64,
    /// Received bits per second on the wire (frame + FCS + preamble + inter-frame gap).
    pub rx_gbps: f64,
    pub latency_us: Latency,
}

/// One-way latency from the sender's TSC stamp to the receiver's, microseconds.
#[derive(Serialize, Debug, Clone, Default)]
pub struct Latency {
    pub samples: u64,
    pub min: f64,
    pub p50: f64,
    pub p99: f64,
    pub p99_9: f64,
    pub max: f64,
}

#[derive(Serialize, Debug, Clone)]
pub struct GenReport {
    pub size: String,
    pub flows: u32,
    /// MAC addresses the switch has to learn: two per flow.
    pub macs: u64,
    pub target_pps_per_direction: Option<f64>,
    /// Closed loop: frames seeded per direction, each received frame sent back.
    pub reflect: Option<u32>,
    pub warmup_s: f64,
    pub seconds: f64,
    pub directions: Vec<DirReport>,
    /// Both directions together.
    pub rx_mpps: f64,
    pub rx_gbps: f64,
    pub lost: u64,
    pub corrupt: u64,
    /// Frames that were not the generator's (per port), any phase.
    pub foreign: Vec<u64>,
    /// Learning frames received (both directions), out of 2 x flows sent.
    pub learn_received: u64,
    /// VXLAN mode: the tunnel and what happened on it.
    pub vxlan: Option<VxlanReport>,
}

/// VXLAN mode's own figures. Direction 0->1 is encapsulated by the switch (guest port in,
/// underlay out), 1->0 decapsulated (underlay in, guest port out).
#[derive(Serialize, Debug, Clone)]
pub struct VxlanReport {
    pub vni: u32,
    pub local_ip: String,
    pub local_mac: String,
    pub remote_ip: String,
    pub udp_port: u16,
    /// The switch VTEP's MAC as learned (ARP or its first VXLAN frame); `None`: never heard
    /// from, everything was sent to broadcast.
    pub remote_mac: Option<String>,
    pub encapsulated_by_switch: String,
    pub decapsulated_by_switch: String,
    /// ARP requests the generator sent for the switch's VTEP address.
    pub arp_requests_sent: u64,
    /// ARP requests for the generator's address answered.
    pub arp_requests_answered: u64,
    /// Other ARP messages received (replies to ours, requests for other addresses).
    pub arp_other: u64,
    /// Frames on the underlay port that failed the outer check (counted as corrupt in
    /// direction 0->1 too), by reason; only non-zero reasons.
    pub outer_errors: std::collections::BTreeMap<String, u64>,
}

/// Per-direction sending state.
struct TxDir {
    port: usize,
    /// Frames sent so far (all phases); frame k belongs to flow `k % flows`.
    frames: u64,
    /// Frames sent in the current phase (for pacing) and in the measured window.
    sent_in_phase: u64,
    sent_measured: u64,
    ring_full: u64,
    /// The next full burst, allocated and prefetched ahead (see `send`).
    staged: MbufBurst,
}

/// Per-direction receiving state (frames of direction d arrive on port 1 - d).
struct RxDir {
    /// Per flow: the next flow sequence number expected (highest seen + 1).
    next_flow_seq: Vec<u64>,
    received: u64,
    bytes: u64,
    late: u64,
    corrupt: u64,
    misdelivered: u64,
    learn_received: u64,
    warmup_received: u64,
    /// Closed loop: good frames received that the generator could not send back (its
    /// transmit ring was full); they leave the loop.
    not_reflected: u64,
    /// Latency in TSC ticks.
    latency: Histogram<u64>,
}

impl RxDir {
    /// Good frames of this direction received in any phase.
    fn received_any(&self) -> u64 {
        self.learn_received + self.warmup_received + self.received
    }
}

struct Progress {
    at: u64,
    sent: [u64; 2],
    received: [u64; 2],
}

/// Runs the three phases over `queues` (exactly two) and returns the measured results.
/// `tx_pool` is the pre-filled pool of [`prefilled_pool`]; `ctl_pool` gives the buffers of
/// VXLAN mode's ARP requests (never the pre-filled ones, whose pattern they would overwrite).
pub fn run(
    queues: &mut [EthQueue],
    tx_pool: &Mempool,
    ctl_pool: &Mempool,
    opts: &GenOptions,
    human: &mut dyn Write,
) -> Result<GenReport, String> {
    if queues.len() != 2 {
        return Err("the generator needs exactly two --vhost-user ports".into());
    }
    let hz = tsc_hz().max(1);
    let schedule = genframe::SizeMix::schedule(&opts.sizes);
    let flows = opts.flows.max(1);
    let mut tx: Vec<TxDir> = (0..2)
        .map(|d| TxDir {
            port: d,
            frames: 0,
            sent_in_phase: 0,
            sent_measured: 0,
            ring_full: 0,
            staged: MbufBurst::new(),
        })
        .collect();
    let mut rx: Vec<RxDir> = (0..2)
        .map(|_| {
            Ok(RxDir {
                next_flow_seq: vec![0; flows as usize],
                received: 0,
                bytes: 0,
                late: 0,
                corrupt: 0,
                misdelivered: 0,
                learn_received: 0,
                warmup_received: 0,
                not_reflected: 0,
                latency: Histogram::new_with_bounds(1, hz.saturating_mul(10).max(2), 3)
                    .map_err(|e| format!("latency histogram: {e}"))?,
            })
        })
        .collect::<Result<_, String>>()?;
    let mut foreign = [0u64; 2];
    let mut sink = Sink {
        flows: flows as u64,
        verify_payload: opts.verify_payload,
        reflect: opts.reflect.is_some(),
        flow_stride: opts.reflect.unwrap_or(0) as u64 % flows as u64,
        burst: MbufBurst::new(),
        vx: opts.vxlan.map(|o| VxState {
            vtep: crate::vxlan::Vtep::new(o),
            outer_errors: [0; OuterError::ALL.len()],
            arp_requests_sent: 0,
            arp_requests_answered: 0,
            arp_other: 0,
        }),
    };
    if sink.vx.is_some() {
        resolve_peer(
            queues,
            ctl_pool,
            &mut sink,
            &mut rx,
            &mut foreign,
            hz,
            human,
        )?;
    }

    // Learn: every flow once per direction, at most LEARN_WINDOW unanswered frames per
    // direction at a time (more would overflow the receiving guest's ring, and a lost
    // learning frame is a MAC the switch does not know); then drain.
    let stall = hz / 20;
    let mut progress_at = tsc_now();
    let mut answered = 0;
    let (mut sent_before, mut sent_at) = (0, progress_at);
    while tx.iter().any(|d| d.frames < flows as u64) {
        let now = tsc_now();
        let sent: u64 = tx.iter().map(|d| d.frames).sum();
        if sent != sent_before {
            (sent_before, sent_at) = (sent, now);
        } else if now - sent_at > LEARN_GIVE_UP_SECS * hz {
            return Err(format!(
                "learning stalled: the ports took no frame for {LEARN_GIVE_UP_SECS} s ({sent} of {} sent); is the switch still running?",
                2 * flows as u64
            ));
        }
        let got: u64 = rx.iter().map(|r| r.learn_received).sum();
        if got != answered {
            answered = got;
            progress_at = now;
        }
        // A frame the switch dropped never answers: after a quiet spell, send regardless.
        let stalled = now - progress_at > stall;
        for d in 0..2 {
            let left = (flows as u64).saturating_sub(tx[d].frames);
            let unanswered = tx[d].frames.saturating_sub(rx[d].learn_received);
            let room = if stalled {
                BURST_SIZE as u64
            } else {
                LEARN_WINDOW.saturating_sub(unanswered)
            };
            send(
                &mut queues[tx[d].port],
                tx_pool,
                &mut tx[d],
                d as u8,
                Phase::Learn,
                left.min(room),
                &schedule,
                flows,
                sink.outer(d),
            )?;
        }
        if stalled {
            progress_at = now;
        }
        for (p, q) in queues.iter_mut().enumerate() {
            sink.receive(q, p, &mut rx, &mut foreign);
        }
    }
    drain(queues, &mut sink, &mut rx, &mut foreign, hz);

    // Warm-up, then the measured window, in one loop so the pipeline never empties between.
    let warmup_ticks = (opts.warmup * hz as f64) as u64;
    let measure_ticks = (opts.duration * hz as f64) as u64;
    let started = tsc_now();
    let measure_from = started + warmup_ticks;
    let measure_to = measure_from + measure_ticks;
    let mut phase = if warmup_ticks == 0 {
        Phase::Measure
    } else {
        Phase::Warmup
    };
    let mut phase_start = started;
    // Pacing counts from here: the learning frames are not owed to the rate.
    tx.iter_mut().for_each(|d| d.sent_in_phase = 0);
    let ticks_per_frame = opts.rate.map(|r| hz as f64 / r);
    if let Some(in_flight) = opts.reflect {
        // Seed the loop: `in_flight` frames per direction, reflecting what comes back
        // meanwhile. What the rings cannot hold is dropped by the switch during warm-up;
        // the report says how many frames were really in flight when measuring began.
        let seeded: Vec<u64> = tx.iter().map(|d| d.frames + in_flight as u64).collect();
        while (0..2).any(|d| tx[d].frames < seeded[d]) {
            for (p, q) in queues.iter_mut().enumerate() {
                sink.reflect(q, p, phase, &mut rx, &mut tx[p], &mut foreign);
            }
            for d in 0..2 {
                let left = seeded[d].saturating_sub(tx[d].frames);
                send(
                    &mut queues[tx[d].port],
                    tx_pool,
                    &mut tx[d],
                    d as u8,
                    phase,
                    left,
                    &schedule,
                    flows,
                    sink.outer(d),
                )?;
            }
            if tsc_now() >= measure_to {
                return Err("could not seed the closed loop before the run ended".into());
            }
        }
    }
    let mut progress = Progress {
        at: started,
        sent: [tx[0].frames, tx[1].frames],
        received: [rx[0].received_any(), rx[1].received_any()],
    };
    let mut in_flight_at_start = [0u64; 2];
    if phase == Phase::Measure {
        in_flight_at_start = in_flight(&tx, &rx);
    }
    loop {
        let now = tsc_now();
        if now >= measure_to {
            break;
        }
        if phase == Phase::Warmup && now >= measure_from {
            phase = Phase::Measure;
            phase_start = now;
            tx.iter_mut().for_each(|d| d.sent_in_phase = 0);
            in_flight_at_start = in_flight(&tx, &rx);
        }
        if opts.reflect.is_some() {
            for (p, q) in queues.iter_mut().enumerate() {
                sink.reflect(q, p, phase, &mut rx, &mut tx[p], &mut foreign);
            }
            if opts.progress && now - progress.at >= hz {
                report_progress(human, &mut progress, now, started, hz, phase, &tx, &rx);
            }
            continue;
        }
        for d in 0..2 {
            let budget = match ticks_per_frame {
                None => BURST_SIZE as u64,
                Some(t) => {
                    let due = ((now - phase_start) as f64 / t) as u64;
                    due.saturating_sub(tx[d].sent_in_phase)
                        .min(BURST_SIZE as u64)
                }
            };
            if budget > 0 {
                send(
                    &mut queues[tx[d].port],
                    tx_pool,
                    &mut tx[d],
                    d as u8,
                    phase,
                    budget,
                    &schedule,
                    flows,
                    sink.outer(d),
                )?;
            }
        }
        for (p, q) in queues.iter_mut().enumerate() {
            sink.receive(q, p, &mut rx, &mut foreign);
        }
        if opts.progress && now - progress.at >= hz {
            report_progress(human, &mut progress, now, started, hz, phase, &tx, &rx);
        }
    }
    let window = (tsc_now() - measure_from) as f64 / hz as f64;
    drain(queues, &mut sink, &mut rx, &mut foreign, hz);
    let vxlan = sink.vx.as_ref().map(vxlan_report);
    drop(sink);
    let mut report = summarise(opts, flows, window, hz, &tx, &rx, foreign);
    report.vxlan = vxlan;
    for (d, r) in report.directions.iter_mut().enumerate() {
        r.in_flight_at_start = in_flight_at_start[d];
    }
    Ok(report)
}

/// Frames of each direction sent but not (yet) received back, in any phase.
fn in_flight(tx: &[TxDir], rx: &[RxDir]) -> [u64; 2] {
    [0, 1].map(|d| tx[d].frames.saturating_sub(rx[d].received_any()))
}

/// A transmit pool whose every buffer already holds the payload pattern up to the largest
/// frame, so a frame costs only its header to build. The ports hold sent buffers until they
/// close, so the caller keeps the pool until then.
pub fn prefilled_pool() -> Result<Mempool, String> {
    let pool = Mempool::new_pktmbuf("gen_tx", TX_POOL, 256, Mempool::DEFAULT_DATA_ROOM, -1)
        .map_err(|e| e.to_string())?;
    let mut all = Vec::with_capacity(TX_POOL as usize);
    while let Some(mut m) = pool.alloc() {
        let buf = m
            .append(genframe::MAX_FRAME as u16)
            .ok_or("an mbuf cannot hold a 1518-byte frame")?;
        genframe::fill_payload(buf);
        all.push(m);
    }
    // Every buffer comes back reset (data offset = headroom), so the pattern sits where the
    // next frame's bytes will be.
    drop(all);
    Ok(pool)
}

/// VXLAN mode: before learning, finds the switch VTEP's MAC. First listens a while: a VTEP
/// that resolves its remotes at start asks for the generator's address, and the answer
/// resolves it the ordinary way. Then asks itself (ARP), still answering; the request also
/// tells the switch where the generator's VTEP is (a VTEP learns the sender of a request for
/// its own address), so its first encapsulated frames need not wait for ARP. Without an
/// answer frames go to broadcast until the switch's VTEP sends something.
fn resolve_peer(
    queues: &mut [EthQueue],
    ctl_pool: &Mempool,
    sink: &mut Sink,
    rx: &mut [RxDir],
    foreign: &mut [u64; 2],
    hz: u64,
    human: &mut dyn Write,
) -> Result<(), String> {
    let start = tsc_now();
    let retry = (ARP_RETRY_SECS * hz as f64) as u64;
    let mut next = start + (ARP_LISTEN_SECS * hz as f64) as u64;
    loop {
        let Some(vx) = sink.vx.as_mut() else {
            return Ok(());
        };
        if vx.vtep.peer().is_some() {
            return Ok(());
        }
        let now = tsc_now();
        if now - start > (ARP_WAIT_SECS * hz as f64) as u64 {
            let o = vx.vtep.opts;
            let _ = writeln!(
                human,
                "gen: no ARP reply from the switch's VTEP {} in {ARP_WAIT_SECS} s; sending to broadcast until it sends something",
                o.remote_ip
            );
            return Ok(());
        }
        if now >= next {
            next = now + retry;
            let mut m = ctl_pool.alloc().ok_or("no buffer for an ARP request")?;
            let req = vx.vtep.arp_request();
            m.append(req.len() as u16)
                .ok_or("no room for an ARP request")?
                .copy_from_slice(&req);
            let mut b = MbufBurst::new();
            let _ = b.push(m);
            if queues[1].tx_burst(&mut b) == 1 {
                vx.arp_requests_sent += 1;
            }
            b.clear();
        }
        for (p, q) in queues.iter_mut().enumerate() {
            sink.receive(q, p, rx, foreign);
        }
        // No need to spin here: a backend whose control thread shares this CPU (OVS
        // answers ARP through its internal port, served by its main thread) needs it.
        std::thread::sleep(std::time::Duration::from_micros(200));
    }
}

/// Sends up to `budget` frames of direction `dir` in one burst. Only frames the port took
/// consume sequence numbers, so a full ring never shows up as loss.
#[allow(clippy::too_many_arguments)]
#[inline]
fn send(
    q: &mut EthQueue,
    pool: &Mempool,
    d: &mut TxDir,
    dir: u8,
    phase: Phase,
    budget: u64,
    schedule: &[usize],
    flows: u32,
    outer: Option<&crate::vxlan::Vtep>,
) -> Result<(), String> {
    let n = budget.min(BURST_SIZE as u64) as usize;
    if n == 0 {
        return Ok(());
    }
    // The buffers' data lines were last read by the switch on the other CPU, so writing
    // them waits for that CPU to let go. Full bursts are therefore allocated one call ahead
    // and their lines claimed (PREFETCHW) then, so the wait overlaps the rest of the loop.
    let mut burst = MbufBurst::new();
    if n == BURST_SIZE && d.staged.is_full() {
        std::mem::swap(&mut burst, &mut d.staged);
    } else if !pool.alloc_bulk(&mut burst, n) {
        // Every buffer is on a ring: the peer is not draining. Try again next loop.
        d.ring_full += 1;
        return Ok(());
    }
    // Frame k of a direction is flow k % flows, round k / flows: flows take turns, so a
    // flow's own sequence number is the round. Two divisions per burst, none per frame.
    let flows = flows as u64;
    let (mut flow, mut round) = (d.frames % flows, d.frames / flows);
    let mut size_at = (d.frames % schedule.len() as u64) as usize;
    let now = tsc_now();
    for i in 0..n {
        let m = burst.get_mut(i).expect("i < n");
        let size = schedule[size_at];
        let frame = m.append(size as u16).ok_or("mbuf too small")?;
        genframe::write_header(
            frame,
            &Tag {
                dir,
                phase,
                flow: flow as u32,
                seq: round,
                tsc: now,
            },
        );
        if let Some(v) = outer {
            // Into the headroom, so the pre-filled payload pattern stays where it is.
            let frame = m
                .prepend(OUTER_LEN as u16)
                .ok_or("no headroom for the outer header")?;
            v.write(frame, size, flow as u32);
        }
        flow += 1;
        if flow == flows {
            flow = 0;
            round += 1;
        }
        size_at += 1;
        if size_at == schedule.len() {
            size_at = 0;
        }
    }
    let sent = q.tx_burst(&mut burst) as u64;
    if sent < n as u64 {
        d.ring_full += 1;
    }
    // Unsent frames are freed; their sequence numbers are used by the next burst.
    burst.clear();
    if n == BURST_SIZE && d.staged.is_empty() && pool.alloc_bulk(&mut d.staged, BURST_SIZE) {
        for i in 0..BURST_SIZE {
            if let Some(m) = d.staged.get(i) {
                m.prefetch_data_for_write();
            }
        }
    }
    d.frames += sent;
    d.sent_in_phase += sent;
    if phase == Phase::Measure {
        d.sent_measured += sent;
    }
    Ok(())
}

struct Sink {
    flows: u64,
    verify_payload: bool,
    /// Closed loop: frames are counted per flow hop, not per flow sequence (see `reflect`).
    reflect: bool,
    /// Closed loop: each hop moves a frame this many flows on (frames in flight, modulo the
    /// flow count), so the frames in flight visit every flow, not just the first few.
    flow_stride: u64,
    burst: MbufBurst,
    /// VXLAN mode: the generator's VTEP on port 1.
    vx: Option<VxState>,
}

/// VXLAN mode's state: the VTEP and its counters.
struct VxState {
    vtep: crate::vxlan::Vtep,
    outer_errors: [u64; OuterError::ALL.len()],
    arp_requests_sent: u64,
    arp_requests_answered: u64,
    arp_other: u64,
}

/// What arrived on the underlay port, once its outer header was looked at.
enum Unwrapped {
    /// Good VXLAN: the inner frame follows the outer header.
    Inner,
    /// An ARP request for us, rewritten into the reply: send it back.
    Reply,
    /// Counted (ARP, foreign, bad outer header) and done with.
    Done,
}

impl Sink {
    /// VXLAN mode: the outer header writer for frames sent out of port `port`.
    #[inline]
    fn outer(&self, port: usize) -> Option<&crate::vxlan::Vtep> {
        match &self.vx {
            Some(v) if port == 1 => Some(&v.vtep),
            _ => None,
        }
    }

    /// VXLAN mode, port 1: checks the outer header of `m`; answers ARP for us; counts
    /// everything that is not good VXLAN.
    #[inline]
    fn unwrap(&mut self, m: &mut Mbuf, rx: &mut [RxDir], foreign: &mut [u64; 2]) -> Unwrapped {
        let Some(vx) = self.vx.as_mut() else {
            return Unwrapped::Inner;
        };
        match vx.vtep.check(m.data()) {
            Ok(()) => Unwrapped::Inner,
            Err(OuterError::Arp) => {
                let Some(data) = m.data_mut() else {
                    return Unwrapped::Done;
                };
                match vx.vtep.arp(data) {
                    ArpAction::Reply => {
                        vx.arp_requests_answered += 1;
                        Unwrapped::Reply
                    }
                    ArpAction::Consumed | ArpAction::Malformed => {
                        vx.arp_other += 1;
                        Unwrapped::Done
                    }
                }
            }
            Err(OuterError::NotIpv4) => {
                foreign[1] += 1;
                Unwrapped::Done
            }
            Err(e) => {
                vx.outer_errors[e as usize] += 1;
                // Frames arriving on port 1 are direction 0's.
                rx[0].corrupt += 1;
                Unwrapped::Done
            }
        }
    }

    /// VXLAN mode, port 1: receives one burst, unwraps and books every frame, answers ARP.
    #[inline]
    fn receive_underlay(
        &mut self,
        q: &mut EthQueue,
        rx: &mut [RxDir],
        foreign: &mut [u64; 2],
    ) -> usize {
        let n = self.fetch(q);
        if n == 0 {
            return 0;
        }
        let now = tsc_now();
        let mut burst = std::mem::take(&mut self.burst);
        let mut replies = MbufBurst::new();
        for mut m in burst.drain() {
            match self.unwrap(&mut m, rx, foreign) {
                Unwrapped::Inner => {
                    let _ = self.book(&m.data()[OUTER_LEN..], 1, now, rx, foreign);
                }
                Unwrapped::Reply => {
                    let _ = replies.push(m);
                }
                Unwrapped::Done => {}
            }
        }
        self.burst = burst;
        send_replies(q, &mut replies);
        n
    }

    /// Receives one burst on `port` and books every frame.
    #[inline]
    fn receive(
        &mut self,
        q: &mut EthQueue,
        port: usize,
        rx: &mut [RxDir],
        foreign: &mut [u64; 2],
    ) -> usize {
        if port == 1 && self.vx.is_some() {
            return self.receive_underlay(q, rx, foreign);
        }
        let n = self.fetch(q);
        if n == 0 {
            return 0;
        }
        let now = tsc_now();
        for i in 0..n {
            let frame = self.burst.get(i).expect("i < n").data();
            let _ = self.book(frame, port, now, rx, foreign);
        }
        self.burst.clear();
        n
    }

    /// Closed loop: receives one burst on `port`, books every frame and sends the good ones
    /// straight back out of the same port as frames of the opposite direction, re-stamped
    /// (like testpmd's mac forwarding). Every frame then costs the generator one receive,
    /// one 44-byte header write and one send, and no buffer allocation.
    #[inline]
    fn reflect(
        &mut self,
        q: &mut EthQueue,
        port: usize,
        phase: Phase,
        rx: &mut [RxDir],
        tx: &mut TxDir,
        foreign: &mut [u64; 2],
    ) -> usize {
        let n = self.fetch(q);
        if n == 0 {
            return 0;
        }
        let now = tsc_now();
        let mut back = MbufBurst::new();
        let mut replies = MbufBurst::new();
        let mut burst = std::mem::take(&mut self.burst);
        // VXLAN mode, port 1: frames come and go with an outer header, rewritten in place.
        let underlay = port == 1 && self.vx.is_some();
        let off = if underlay { OUTER_LEN } else { 0 };
        for mut m in burst.drain() {
            if underlay {
                match self.unwrap(&mut m, rx, foreign) {
                    Unwrapped::Inner => {}
                    Unwrapped::Reply => {
                        let _ = replies.push(m);
                        continue;
                    }
                    Unwrapped::Done => continue,
                }
            }
            // Foreign, corrupt and misdelivered frames are counted and freed here.
            let Some(tag) = self.book(&m.data()[off..], port, now, rx, foreign) else {
                continue;
            };
            // Frames sent out of port p are direction p.
            let Some(frame) = m.data_mut() else { continue };
            let mut flow = tag.flow as u64 + self.flow_stride;
            if flow >= self.flows {
                flow -= self.flows;
            }
            genframe::write_header(
                &mut frame[off..],
                &Tag {
                    dir: port as u8,
                    phase,
                    flow: flow as u32,
                    seq: tag.seq + 1,
                    tsc: now,
                },
            );
            if let (true, Some(vx)) = (underlay, &self.vx) {
                let inner_len = frame.len() - OUTER_LEN;
                vx.vtep.write(frame, inner_len, flow as u32);
            }
            let _ = back.push(m);
        }
        self.burst = burst;
        send_replies(q, &mut replies);
        let offered = back.len() as u64;
        let sent = q.tx_burst(&mut back) as u64;
        if sent < offered {
            // Frames the ring had no room for leave the loop (counted, not switch loss).
            tx.ring_full += 1;
            rx[1 - port].not_reflected += offered - sent;
        }
        back.clear();
        tx.frames += sent;
        if phase == Phase::Measure {
            tx.sent_measured += sent;
        }
        n
    }

    /// Receives a burst into `self.burst` and starts loading every frame's first line.
    #[inline]
    fn fetch(&mut self, q: &mut EthQueue) -> usize {
        let n = q.rx_burst(&mut self.burst);
        for i in 0..n {
            if let Some(m) = self.burst.get(i) {
                m.prefetch_data();
            }
        }
        n
    }

    /// Checks one frame that arrived on `port` and counts it; returns its tag if it is a
    /// good frame that belongs here.
    #[inline]
    fn book(
        &self,
        frame: &[u8],
        port: usize,
        now: u64,
        rx: &mut [RxDir],
        foreign: &mut [u64; 2],
    ) -> Option<Tag> {
        // Frames of direction d are sent toward port 1 - d.
        let expected_dir = 1 - port;
        let tag = match genframe::parse(frame, self.verify_payload) {
            Ok(t) => t,
            Err(RxError::Foreign) => {
                foreign[port] += 1;
                return None;
            }
            Err(RxError::Corrupt) => {
                rx[expected_dir].corrupt += 1;
                return None;
            }
        };
        // The check word covers the length, flow and sequence number as sent, so a
        // truncated or re-labelled frame already failed above.
        let r = &mut rx[tag.dir as usize];
        if tag.dir as usize != expected_dir || tag.flow as u64 >= self.flows {
            r.misdelivered += 1;
            return None;
        }
        // In the closed loop a frame's sequence number counts its hops, so per-flow order
        // means nothing there.
        let late = !self.reflect && {
            let next = &mut r.next_flow_seq[tag.flow as usize];
            let late = tag.seq < *next;
            if !late {
                *next = tag.seq + 1;
            }
            late
        };
        match tag.phase {
            Phase::Learn => r.learn_received += 1,
            Phase::Warmup => r.warmup_received += 1,
            Phase::Measure => {
                r.received += 1;
                r.bytes += frame.len() as u64;
                r.late += late as u64;
                r.latency
                    .saturating_record(now.saturating_sub(tag.tsc).max(1));
            }
        }
        Some(tag)
    }
}

/// Sends the ARP replies of a burst (rare: the switch resolving the generator's VTEP).
#[inline]
fn send_replies(q: &mut EthQueue, replies: &mut MbufBurst) {
    if !replies.is_empty() {
        q.tx_burst(replies);
        // A reply the ring had no room for is freed; the switch asks again.
        replies.clear();
    }
}

fn drain(
    queues: &mut [EthQueue],
    sink: &mut Sink,
    rx: &mut [RxDir],
    foreign: &mut [u64; 2],
    hz: u64,
) {
    let start = tsc_now();
    let mut last_rx = start;
    let quiet = (DRAIN_QUIET_SECS * hz as f64) as u64;
    let max = (DRAIN_MAX_SECS * hz as f64) as u64;
    loop {
        let now = tsc_now();
        if now - last_rx > quiet || now - start > max {
            break;
        }
        for (p, q) in queues.iter_mut().enumerate() {
            if sink.receive(q, p, rx, foreign) > 0 {
                last_rx = tsc_now();
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn report_progress(
    human: &mut dyn Write,
    p: &mut Progress,
    now: u64,
    started: u64,
    hz: u64,
    phase: Phase,
    tx: &[TxDir],
    rx: &[RxDir],
) {
    let secs = (now - p.at) as f64 / hz as f64;
    let mut line = format!(
        "gen t={:.0}s {:<7}",
        (now - started) as f64 / hz as f64,
        match phase {
            Phase::Warmup => "warm-up",
            _ => "measure",
        }
    );
    for d in 0..2 {
        let sent = tx[d].frames;
        let received = rx[d].received_any();
        line += &format!(
            "  {}->{} tx {:.3} rx {:.3} Mpps",
            d,
            1 - d,
            (sent - p.sent[d]) as f64 / secs / 1e6,
            received.saturating_sub(p.received[d]) as f64 / secs / 1e6
        );
        p.sent[d] = sent;
        p.received[d] = received;
    }
    let _ = writeln!(human, "{line}");
    p.at = now;
}

fn summarise(
    opts: &GenOptions,
    flows: u32,
    window: f64,
    hz: u64,
    tx: &[TxDir],
    rx: &[RxDir],
    foreign: [u64; 2],
) -> GenReport {
    let window = window.max(1e-9);
    let us = |ticks: u64| ticks as f64 * 1e6 / hz as f64;
    let directions: Vec<DirReport> = (0..2)
        .map(|d| {
            let (t, r) = (&tx[d], &rx[d]);
            let lost = t.sent_measured.saturating_sub(r.received);
            let h = &r.latency;
            DirReport {
                direction: format!("{}->{}", d, 1 - d),
                sent: t.sent_measured,
                received: r.received,
                lost,
                loss_pct: if t.sent_measured == 0 {
                    0.0
                } else {
                    100.0 * lost as f64 / t.sent_measured as f64
                },
                late: r.late,
                corrupt: r.corrupt,
                misdelivered: r.misdelivered,
                tx_ring_full: t.ring_full,
                not_reflected: r.not_reflected,
                in_flight_at_start: 0,
                tx_mpps: t.sent_measured as f64 / window / 1e6,
                rx_mpps: r.received as f64 / window / 1e6,
                rx_gbps: (r.bytes + 24 * r.received) as f64 * 8.0 / window / 1e9,
                latency_us: if h.is_empty() {
                    Latency::default()
                } else {
                    Latency {
                        samples: h.len(),
                        min: us(h.min()),
                        p50: us(h.value_at_quantile(0.5)),
                        p99: us(h.value_at_quantile(0.99)),
                        p99_9: us(h.value_at_quantile(0.999)),
                        max: us(h.max()),
                    }
                },
            }
        })
        .collect();
    GenReport {
        size: opts.sizes.label(),
        flows,
        macs: 2 * flows as u64,
        target_pps_per_direction: opts.rate,
        reflect: opts.reflect,
        warmup_s: opts.warmup,
        seconds: window,
        rx_mpps: directions.iter().map(|d| d.rx_mpps).sum(),
        rx_gbps: directions.iter().map(|d| d.rx_gbps).sum(),
        lost: directions.iter().map(|d| d.lost).sum(),
        corrupt: directions.iter().map(|d| d.corrupt).sum(),
        directions,
        foreign: foreign.to_vec(),
        learn_received: rx.iter().map(|r| r.learn_received).sum(),
        vxlan: None,
    }
}

fn vxlan_report(vx: &VxState) -> VxlanReport {
    let o = vx.vtep.opts;
    VxlanReport {
        vni: o.vni,
        local_ip: o.local_ip.to_string(),
        local_mac: o.local_mac.to_string(),
        remote_ip: o.remote_ip.to_string(),
        udp_port: o.udp_port,
        remote_mac: vx.vtep.peer().map(|m| m.to_string()),
        encapsulated_by_switch: "0->1".into(),
        decapsulated_by_switch: "1->0".into(),
        arp_requests_sent: vx.arp_requests_sent,
        arp_requests_answered: vx.arp_requests_answered,
        arp_other: vx.arp_other,
        outer_errors: OuterError::ALL
            .iter()
            .filter(|&&e| vx.outer_errors[e as usize] > 0)
            .map(|&e| (e.name().to_string(), vx.outer_errors[e as usize]))
            .collect(),
    }
}

/// The end-of-run table.
pub fn print_table(out: &mut dyn Write, r: &GenReport) {
    let _ = writeln!(
        out,
        "size {} B, {} flows ({} MACs), {:.2} s measured after {:.1} s warm-up, rate {}",
        r.size,
        r.flows,
        r.macs,
        r.seconds,
        r.warmup_s,
        match (r.reflect, r.target_pps_per_direction) {
            (Some(n), _) => format!("closed loop, {n} frames in flight per direction"),
            (None, Some(p)) => format!("{:.3} Mpps per direction", p / 1e6),
            (None, None) => "as fast as possible".into(),
        }
    );
    let _ =
        writeln!(
        out,
        "{:<6} {:>12} {:>12} {:>10} {:>8} {:>7} {:>7} {:>8} {:>8} {:>8} {:>8} {:>8} {:>9} {:>9}",
        "dir", "sent", "received", "lost", "loss%", "late", "corrupt", "tx Mpps", "rx Mpps",
        "Gbit/s", "p50 us", "p99 us", "p99.9 us", "max us"
    );
    for d in &r.directions {
        let l = &d.latency_us;
        let _ = writeln!(
            out,
            "{:<6} {:>12} {:>12} {:>10} {:>8.4} {:>7} {:>7} {:>8.3} {:>8.3} {:>8.2} {:>8.1} {:>8.1} {:>9.1} {:>9.1}",
            d.direction, d.sent, d.received, d.lost, d.loss_pct, d.late, d.corrupt, d.tx_mpps,
            d.rx_mpps, d.rx_gbps, l.p50, l.p99, l.p99_9, l.max
        );
    }
    let _ = writeln!(
        out,
        "total  rx {:.3} Mpps, {:.2} Gbit/s; lost {}, corrupt {}, foreign {:?}, learning frames received {}",
        r.rx_mpps, r.rx_gbps, r.lost, r.corrupt, r.foreign, r.learn_received
    );
    if let Some(v) = &r.vxlan {
        let _ = writeln!(
            out,
            "vxlan: VNI {}, generator VTEP {} ({}) <-> switch VTEP {} ({}), UDP {}; {} encapsulated by the switch, {} decapsulated; ARP sent {}, answered {}, other {}; outer header errors {:?}",
            v.vni,
            v.local_ip,
            v.local_mac,
            v.remote_ip,
            v.remote_mac.as_deref().unwrap_or("never heard from"),
            v.udp_port,
            v.encapsulated_by_switch,
            v.decapsulated_by_switch,
            v.arp_requests_sent,
            v.arp_requests_answered,
            v.arp_other,
            v.outer_errors
        );
    }
    if r.reflect.is_some() {
        let _ = writeln!(
            out,
            "closed loop: in flight when measuring began {:?}, not reflected (generator ring full) {:?}",
            r.directions.iter().map(|d| d.in_flight_at_start).collect::<Vec<_>>(),
            r.directions.iter().map(|d| d.not_reflected).collect::<Vec<_>>()
        );
    }
}
