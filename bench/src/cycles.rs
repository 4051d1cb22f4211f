//! Reconnect cycles (`--cycles N`): a guest that comes and goes N times while another one
//! stays, all in this one process.
//!
//! The first socket gets the *steady* guest: a virtio_user port for the whole run, which
//! sends a paced stream to the cycling guest's MAC from start to end (so traffic toward it
//! is in flight whenever it leaves) and counts what the cycling guest sends it. The second
//! socket gets the *cycling* guest, N times over: hot-plug a virtio_user vdev
//! (`rte_dev_probe`), configure, start, wait for its link, exchange frames with the steady
//! guest until at least `--cycle-frames` have crossed the switch each way, send one last
//! burst without waiting for it, then stop, close and unplug it (`rte_dev_remove`) and check
//! that every mbuf of its pool came back. A cycle passes when all of that worked.
//!
//! The cycling guest has a pool of its own, so a buffer a departed device kept shows as the
//! pool's in-use count after the cycle (its baseline, before the first cycle, is 0). The
//! steady guest's receive pool holds exactly its rx ring while it runs (virtio refills a
//! slot for every frame it hands over): its in-use count after the cycles must equal the
//! one before. Frames carry the cycle number, so a frame of an earlier cycle that turns up
//! late is counted as stale, never as proof that this cycle's traffic flowed.

use crate::frames::{self, FrameSpec, ETHERTYPE_TEST};
use dpdk::{EthPort, EthQueue, MbufBurst, Mempool, PacketPort};
use serde::Serialize;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};
use switch::wire::MacAddr;

/// The steady guest's MAC.
pub const STEADY_MAC: MacAddr = MacAddr([0x02, 0xc7, 0, 0, 0, 0x01]);
/// The cycling guest's MAC, the same in every cycle: the switch then holds at most one
/// entry for that port, so each flush of it removes exactly one (see the reconnect test).
pub const CYCLING_MAC: MacAddr = MacAddr([0x02, 0xc7, 0, 0, 0, 0x02]);

/// The step tag of the steady guest's stream (cycles are tagged with their number, mod
/// this value).
const STEADY_TAG: u16 = u16::MAX;
/// Frames per burst either guest sends.
const SEND_BURST: usize = 8;
/// Descriptors per virtio ring (virtio_user's default).
const RING: u16 = 256;
/// Failures listed one by one in the report; the rest are only counted.
const LISTED_FAILURES: usize = 20;

/// What `--cycles` does.
#[derive(Clone, Debug)]
pub struct CycleOptions {
    pub cycles: u32,
    /// Frames that must cross the switch each way before a cycle ends (at least 1).
    pub min_frames: u32,
    /// A cycle that has not attached and passed its frames by then fails.
    pub timeout: Duration,
    /// The pause between two bursts of either guest (the steady stream's pace).
    pub send_interval: Duration,
    /// Frame size in bytes (without FCS).
    pub size: usize,
    /// Print a progress line every this many cycles (0: never).
    pub progress_every: u32,
}

#[derive(Serialize, Debug)]
pub struct CycleFailure {
    pub cycle: u32,
    pub reason: String,
}

/// The result of a `--cycles` run. Frame counts are of intact frames.
#[derive(Serialize, Debug, Default)]
pub struct CycleReport {
    pub cycles: u32,
    /// Cycles whose device was hot-plugged, started and saw its link come up.
    pub attached: u32,
    /// Cycles that attached, passed frames both ways, unplugged cleanly and gave back every
    /// mbuf.
    pub passed: u32,
    pub failed: u32,
    /// The first failures, by cycle.
    pub failures: Vec<CycleFailure>,
    /// Frames from the cycling guest that reached the steady one, over all cycles.
    pub cycling_to_steady: u64,
    /// ... and the fewest in one cycle.
    pub cycling_to_steady_min: u64,
    /// Frames from the steady guest that reached the cycling one, over all cycles.
    pub steady_to_cycling: u64,
    pub steady_to_cycling_min: u64,
    /// Frames of ours that arrived altered (must be 0).
    pub corrupt: u64,
    /// Frames of the cycling guest that arrived during a later cycle.
    pub stale: u64,
    /// Frames of anyone else's (must be 0 on a bridge of these two ports).
    pub foreign: u64,
    /// The steady guest's stream: frames sent, and frames its full tx ring refused.
    pub steady_sent: u64,
    pub steady_tx_full: u64,
    /// Mbufs in the cycling guest's pool, and the most still in use after any unplug
    /// (must be 0, its baseline).
    pub cycling_pool_size: u32,
    pub cycling_pool_in_use_max: u32,
    /// The steady guest's receive pool: in use before the first cycle and after the last.
    pub steady_rx_pool_in_use_before: u32,
    pub steady_rx_pool_in_use_after: u32,
    /// Every pool of the tool once all ports are closed (must be 0).
    pub in_use_after_close: u32,
    pub elapsed_secs: f64,
    /// Wall time per cycle, from hot-plug to unplugged.
    pub cycle_ms_mean: f64,
    pub cycle_ms_max: f64,
    /// Of which: from hot-plug to link up (the vhost-user handshake).
    pub attach_ms_mean: f64,
    /// Of which: stop, close and unplug.
    pub detach_ms_mean: f64,
}

/// Frames received and classified in one cycle.
#[derive(Default)]
struct Tally {
    to_steady: u64,
    to_cycling: u64,
}

/// The steady guest, its paced stream, and the counts both guests' receive sides keep.
struct Steady {
    queue: EthQueue,
    tx_pool: Mempool,
    stream: FrameSpec,
    back: FrameSpec,
    seq: u32,
    next_send: Instant,
    interval: Duration,
    sent: u64,
    tx_full: u64,
    corrupt: u64,
    stale: u64,
    foreign: u64,
    scratch: Vec<u8>,
}

impl Steady {
    /// One round of the steady guest: receive (books frames of cycle `tag` to `tally`) and,
    /// when due, send a burst of the stream.
    fn pump(&mut self, tag: u16, tally: &mut Tally) -> Result<(), String> {
        let mut burst = MbufBurst::new();
        self.queue.rx_burst(&mut burst);
        for m in burst.drain() {
            match frames::tag(m.data()) {
                Some((step, seq)) if step == tag => {
                    if frames::is_intact(m.data(), &self.back, step, seq, &mut self.scratch) {
                        tally.to_steady += 1;
                    } else {
                        self.corrupt += 1;
                    }
                }
                Some((step, _)) if step != STEADY_TAG => self.stale += 1,
                _ => self.foreign += 1,
            }
        }
        let now = Instant::now();
        if now >= self.next_send {
            self.next_send = now + self.interval;
            fill(
                &mut burst,
                &self.tx_pool,
                &self.stream,
                STEADY_TAG,
                &mut self.seq,
            )?;
            let offered = burst.len() as u64;
            let sent = self.queue.tx_burst(&mut burst) as u64;
            self.sent += sent;
            self.tx_full += offered - sent;
            burst.clear();
        }
        Ok(())
    }

    /// The cycling guest's receive side: frames of the steady stream count for the cycle.
    fn receive_cycling(&mut self, q: &mut EthQueue, tally: &mut Tally) {
        let mut burst = MbufBurst::new();
        q.rx_burst(&mut burst);
        for m in burst.drain() {
            match frames::tag(m.data()) {
                Some((STEADY_TAG, seq)) => {
                    if frames::is_intact(m.data(), &self.stream, STEADY_TAG, seq, &mut self.scratch)
                    {
                        tally.to_cycling += 1;
                    } else {
                        self.corrupt += 1;
                    }
                }
                _ => self.foreign += 1,
            }
        }
    }
}

/// Fills the empty `burst` with [`SEND_BURST`] frames of `spec`, tagged `tag`, numbered from
/// `*seq` on.
fn fill(
    burst: &mut MbufBurst,
    pool: &Mempool,
    spec: &FrameSpec,
    tag: u16,
    seq: &mut u32,
) -> Result<(), String> {
    for _ in 0..SEND_BURST {
        let mut m = pool.alloc().ok_or("mbuf pool exhausted")?;
        let buf = m
            .append(spec.size as u16)
            .ok_or("frame does not fit an mbuf")?;
        frames::build(buf, spec, tag, *seq);
        *seq = seq.wrapping_add(1);
        if burst.push(m).is_err() {
            break;
        }
    }
    Ok(())
}

/// A virtio_user vdev on `path` whose own MAC is `mac` (the source of its frames).
fn devargs(index: usize, path: &Path, mac: MacAddr) -> String {
    format!(
        "virtio_user{index},path={},queues=1,queue_size={RING},mac={mac}",
        path.display()
    )
}

/// Runs the cycles; `steady_path` and `cycling_path` are the switch's two vhost-user
/// sockets. Fails only when the steady guest cannot be set up; a failed cycle is reported.
pub fn run(
    steady_path: &Path,
    cycling_path: &Path,
    opts: &CycleOptions,
    link_timeout: Duration,
    human: &mut dyn Write,
) -> Result<CycleReport, String> {
    fn at(p: &Path) -> impl Fn(dpdk::Error) -> String + '_ {
        move |e| format!("{}: {e}", p.display())
    }
    let steady_rx_pool =
        Mempool::new_pktmbuf("steady_rx", 2047, 64, Mempool::DEFAULT_DATA_ROOM, -1)
            .map_err(|e| e.to_string())?;
    let steady_tx_pool =
        Mempool::new_pktmbuf("steady_tx", 2047, 64, Mempool::DEFAULT_DATA_ROOM, -1)
            .map_err(|e| e.to_string())?;
    let cycling_pool = Mempool::new_pktmbuf("cycling", 2047, 64, Mempool::DEFAULT_DATA_ROOM, -1)
        .map_err(|e| e.to_string())?;

    let mut steady_port = EthPort::probe(&devargs(0, steady_path, STEADY_MAC), "virtio_user0")
        .map_err(at(steady_path))?;
    steady_port
        .configure(RING, RING, &steady_rx_pool)
        .map_err(at(steady_path))?;
    steady_port.start().map_err(at(steady_path))?;
    let deadline = Instant::now() + link_timeout;
    while !steady_port.link().up {
        if Instant::now() > deadline {
            return Err(format!(
                "{}: link still down after {} s",
                steady_path.display(),
                link_timeout.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let spec = |src, dst| FrameSpec {
        src,
        dst,
        size: opts.size,
        ethertype: ETHERTYPE_TEST,
    };
    let mut steady = Steady {
        queue: steady_port
            .take_queue()
            .expect("a fresh port has its queue"),
        tx_pool: steady_tx_pool.clone(),
        stream: spec(STEADY_MAC, CYCLING_MAC),
        back: spec(CYCLING_MAC, STEADY_MAC),
        seq: 0,
        next_send: Instant::now(),
        interval: opts.send_interval,
        sent: 0,
        tx_full: 0,
        corrupt: 0,
        stale: 0,
        foreign: 0,
        scratch: Vec::new(),
    };
    // The stream runs for a moment before the first cycle, so the switch knows the steady
    // MAC and the cycling guest's first frames are forwarded, not flooded.
    let mut idle = Tally::default();
    let warm = Instant::now();
    while warm.elapsed() < Duration::from_millis(50) {
        steady.pump(STEADY_TAG - 1, &mut idle)?;
    }

    let mut report = CycleReport {
        cycles: opts.cycles,
        cycling_to_steady_min: u64::MAX,
        steady_to_cycling_min: u64::MAX,
        cycling_pool_size: cycling_pool.size(),
        steady_rx_pool_in_use_before: steady_rx_pool.in_use(),
        ..Default::default()
    };
    let (mut cycle_ms, mut attach_ms, mut detach_ms) = (0f64, 0f64, 0f64);
    let fail = |report: &mut CycleReport, cycle: u32, reason: String| {
        report.failed += 1;
        if report.failures.len() < LISTED_FAILURES {
            report.failures.push(CycleFailure { cycle, reason });
        }
    };
    let started = Instant::now();
    for cycle in 0..opts.cycles {
        let tag = (cycle % u32::from(STEADY_TAG)) as u16;
        let t0 = Instant::now();
        let mut tally = Tally::default();
        let outcome = one_cycle(
            &mut steady,
            cycling_path,
            &cycling_pool,
            tag,
            opts,
            &mut tally,
        );
        report.cycling_to_steady += tally.to_steady;
        report.steady_to_cycling += tally.to_cycling;
        report.cycling_to_steady_min = report.cycling_to_steady_min.min(tally.to_steady);
        report.steady_to_cycling_min = report.steady_to_cycling_min.min(tally.to_cycling);
        let in_use = cycling_pool.in_use();
        report.cycling_pool_in_use_max = report.cycling_pool_in_use_max.max(in_use);
        let elapsed = t0.elapsed().as_secs_f64() * 1e3;
        cycle_ms += elapsed;
        report.cycle_ms_max = report.cycle_ms_max.max(elapsed);
        match outcome {
            Ok(times) => {
                report.attached += 1;
                attach_ms += times.attach.as_secs_f64() * 1e3;
                detach_ms += times.detach.as_secs_f64() * 1e3;
                if in_use != 0 {
                    fail(
                        &mut report,
                        cycle,
                        format!(
                            "{in_use} mbufs of the cycling guest's pool still in use after unplug"
                        ),
                    );
                } else {
                    report.passed += 1;
                }
            }
            Err(CycleError { attached, reason }) => {
                report.attached += attached as u32;
                fail(&mut report, cycle, reason);
            }
        }
        if opts.progress_every > 0 && (cycle + 1) % opts.progress_every == 0 {
            let _ = writeln!(
                human,
                "cycle {}: passed {} failed {} ({:.1} s)",
                cycle + 1,
                report.passed,
                report.failed,
                started.elapsed().as_secs_f64()
            );
        }
    }
    report.elapsed_secs = started.elapsed().as_secs_f64();
    // Whatever is still on its way to the steady guest, so its receive pool is at rest.
    let quiet = Instant::now();
    while quiet.elapsed() < Duration::from_millis(20) {
        let mut b = MbufBurst::new();
        steady.queue.rx_burst(&mut b);
    }
    report.steady_rx_pool_in_use_after = steady_rx_pool.in_use();
    if opts.cycles > 0 {
        let n = f64::from(opts.cycles);
        report.cycle_ms_mean = cycle_ms / n;
        if report.attached > 0 {
            report.attach_ms_mean = attach_ms / f64::from(report.attached);
            report.detach_ms_mean = detach_ms / f64::from(report.attached);
        }
    } else {
        report.cycling_to_steady_min = 0;
        report.steady_to_cycling_min = 0;
    }
    report.corrupt = steady.corrupt;
    report.stale = steady.stale;
    report.foreign = steady.foreign;
    report.steady_sent = steady.sent;
    report.steady_tx_full = steady.tx_full;
    drop(steady);
    steady_port.close().map_err(at(steady_path))?;
    report.in_use_after_close =
        steady_rx_pool.in_use() + steady_tx_pool.in_use() + cycling_pool.in_use();
    let _ = writeln!(
        human,
        "cycles={} attached={} passed={} failed={} cycling_to_steady={} (min {}) steady_to_cycling={} (min {}) \
         cycling_pool_in_use_max={} steady_rx_pool_in_use={}->{} in_use_after_close={} elapsed={:.1}s \
         cycle_ms_mean={:.2} attach_ms_mean={:.2} detach_ms_mean={:.2}",
        report.cycles,
        report.attached,
        report.passed,
        report.failed,
        report.cycling_to_steady,
        report.cycling_to_steady_min,
        report.steady_to_cycling,
        report.steady_to_cycling_min,
        report.cycling_pool_in_use_max,
        report.steady_rx_pool_in_use_before,
        report.steady_rx_pool_in_use_after,
        report.in_use_after_close,
        report.elapsed_secs,
        report.cycle_ms_mean,
        report.attach_ms_mean,
        report.detach_ms_mean
    );
    for f in &report.failures {
        let _ = writeln!(human, "cycle {} failed: {}", f.cycle, f.reason);
    }
    Ok(report)
}

struct CycleTimes {
    attach: Duration,
    detach: Duration,
}

struct CycleError {
    /// The device got as far as link up.
    attached: bool,
    reason: String,
}

fn cycle_error(attached: bool, reason: impl Into<String>) -> CycleError {
    CycleError {
        attached,
        reason: reason.into(),
    }
}

/// One attach, exchange, detach. The steady guest keeps pumping throughout, except inside
/// the blocking hot-plug calls.
fn one_cycle(
    steady: &mut Steady,
    path: &Path,
    pool: &Mempool,
    tag: u16,
    opts: &CycleOptions,
    tally: &mut Tally,
) -> Result<CycleTimes, CycleError> {
    let t0 = Instant::now();
    let deadline = t0 + opts.timeout;
    let mut port = EthPort::hotplug(&devargs(1, path, CYCLING_MAC), "virtio_user1")
        .map_err(|e| cycle_error(false, format!("hot-plug: {e}")))?;
    let setup = port.configure(RING, RING, pool).and_then(|_| port.start());
    if let Err(e) = setup {
        let _ = port.unplug();
        return Err(cycle_error(false, format!("start: {e}")));
    }
    let mut queue = port.take_queue().expect("a fresh port has its queue");
    let pump = |steady: &mut Steady, tally: &mut Tally| steady.pump(tag, tally);
    let mut result = Ok(());
    while !port.link().up {
        if Instant::now() > deadline {
            result = Err(cycle_error(false, "link still down"));
            break;
        }
        if let Err(e) = pump(steady, tally) {
            result = Err(cycle_error(false, e));
            break;
        }
    }
    let attach = t0.elapsed();
    let spec = steady.back;
    let mut seq = 0u32;
    let mut next_send = Instant::now();
    let mut burst = MbufBurst::new();
    if result.is_ok() {
        let min = u64::from(opts.min_frames.max(1));
        while tally.to_steady < min || tally.to_cycling < min {
            if Instant::now() > deadline {
                result = Err(cycle_error(
                    true,
                    format!(
                        "in {:?}: {} frames reached the steady guest, {} the cycling one (want {min} each way)",
                        opts.timeout, tally.to_steady, tally.to_cycling
                    ),
                ));
                break;
            }
            let now = Instant::now();
            if now >= next_send && tally.to_steady < min {
                next_send = now + opts.send_interval;
                if let Err(e) = fill(&mut burst, pool, &spec, tag, &mut seq) {
                    result = Err(cycle_error(true, e));
                    break;
                }
                queue.tx_burst(&mut burst);
                burst.clear();
            }
            steady.receive_cycling(&mut queue, tally);
            if let Err(e) = pump(steady, tally) {
                result = Err(cycle_error(true, e));
                break;
            }
        }
        // Leave with frames in flight both ways: a last burst from the cycling guest that
        // nobody waits for, and the steady stream toward it, which never pauses. The
        // switch is then likely inside (or about to start) a send to this guest when it
        // goes.
        if result.is_ok() && fill(&mut burst, pool, &spec, tag, &mut seq).is_ok() {
            queue.tx_burst(&mut burst);
            burst.clear();
        }
        let _ = pump(steady, tally);
    }
    // Nothing polls the queue from here on: the device goes.
    let t_detach = Instant::now();
    let unplugged = port.unplug();
    let detach = t_detach.elapsed();
    result?;
    unplugged.map_err(|e| cycle_error(true, format!("unplug: {e}")))?;
    Ok(CycleTimes { attach, detach })
}
