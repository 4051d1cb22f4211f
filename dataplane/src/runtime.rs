//! Bringing the dataplane up and down around the worker: open and start every port of the
//! bridge, launch the poll loop on a worker lcore, print counters on the main lcore, and on
//! quit stop everything in an order that returns every mbuf to the pool.

use crate::counters::{
    PortCounters, PortCountersSnapshot, PortDrop, WorkerCounters, WorkerSnapshot,
};
use crate::ports::{PortControl, PortIo, VhostPath};
use crate::worker::{Worker, WorkerPort};
use dpdk::{Eal, EthPort, Mempool, PortStats, VhostUser};
use pmd_config::{Config, PortKind, VhostMode, VHOST_DEVICE_PREFIX};
use std::io::Write;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use switch::bridge::{Bridge, BridgeConfig, BridgeCounters, BridgeCountersSnapshot};

/// Descriptors per rx and tx ring: room for 32 bursts, so a guest that pauses for a few
/// microseconds does not lose frames.
const RING_DESCRIPTORS: u16 = 1024;
/// How often the main lcore refreshes link state and checks for quit.
const TICK: Duration = Duration::from_millis(50);

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{0}")]
    Dpdk(#[from] dpdk::Error),
    #[error("{0}")]
    Setup(String),
}

/// Knobs that come from the command line rather than the config file.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Print counters this often; `None` prints only the final ones.
    pub stats_interval: Option<Duration>,
    /// Mbufs in the packet pool; `None` sizes it from the number of ports.
    pub mbufs: Option<u32>,
    /// How vhost-user ports are served; `type = "dpdk"` ports are always ethdev.
    pub vhost_path: VhostPath,
}

/// A port the runtime opened, with what it needs to close it cleanly.
struct OpenPort {
    name: String,
    control: PortControl,
    /// A vhost-user socket we created and must remove at exit.
    server_socket: Option<PathBuf>,
    counters: Arc<PortCounters>,
}

/// Counters as they stood at one moment, for printing rates between two of them.
struct Sample {
    at: Instant,
    ports: Vec<PortCountersSnapshot>,
    bridge: BridgeCountersSnapshot,
}

impl Sample {
    fn take(ports: &[OpenPort], bridge: &BridgeCounters) -> Sample {
        Sample {
            at: Instant::now(),
            ports: ports.iter().map(|p| p.counters.snapshot()).collect(),
            bridge: bridge.snapshot(),
        }
    }
}

/// Runs the switch until `quit` is set. Returns after every port is closed and every mbuf is
/// back in the pool (which it checks and reports).
pub fn run(
    eal: &Eal,
    cfg: &Config,
    opts: &RunOptions,
    quit: Arc<AtomicBool>,
) -> Result<(), RunError> {
    let workers = eal.worker_lcores();
    let Some(&worker_lcore) = workers.first() else {
        return Err(RunError::Setup(
            "EAL gave no worker lcore: the dataplane needs a main lcore plus one worker, e.g. -l 0-1".into(),
        ));
    };
    for idle in &workers[1..] {
        log::info!("lcore {idle} stays idle: one worker lcore polls every port in this version");
    }

    let n_ports = cfg.bridge.ports.len();
    let mbufs = opts.mbufs.unwrap_or_else(|| default_pool_size(n_ports));
    // The worker allocates (rx) and frees (tx) every mbuf: keep them on its NUMA node if
    // that node has memory (not so with --no-huge, or --socket-mem N,0), else anywhere.
    let pool = Mempool::new_pktmbuf(
        "dp_mbufs",
        mbufs,
        MEMPOOL_CACHE,
        Mempool::DEFAULT_DATA_ROOM,
        dpdk::lcore_socket(worker_lcore),
    )
    .or_else(|e| {
        log::warn!("{e}; placing the pool on any NUMA node");
        Mempool::new_pktmbuf(
            "dp_mbufs",
            mbufs,
            MEMPOOL_CACHE,
            Mempool::DEFAULT_DATA_ROOM,
            -1,
        )
    })?;

    let mut ports = Vec::with_capacity(n_ports);
    for name in &cfg.bridge.ports {
        ports.push(open_port(cfg, name, &pool, opts.vhost_path)?);
    }
    for p in &cfg.ports {
        if !cfg.bridge.ports.contains(&p.name) {
            log::warn!("port {:?} is in no bridge; not opened", p.name);
        }
    }
    let baseline_in_use = pool.in_use();

    let hz = dpdk::tsc_hz();
    let static_macs = cfg
        .bridge
        .static_macs
        .iter()
        .map(|s| {
            let idx = cfg
                .bridge
                .ports
                .iter()
                .position(|p| *p == s.port)
                .expect("validated: static MAC port is a bridge port");
            (s.mac, idx as u16)
        })
        .collect();
    let bridge = Bridge::new(BridgeConfig {
        n_ports: n_ports as u16,
        capacity: cfg.bridge.mac_table_size,
        aging_ticks: cfg.bridge.mac_aging_secs.saturating_mul(hz),
        static_macs,
    })
    .map_err(|e| RunError::Setup(format!("bridge {}: {e}", cfg.bridge.name)))?;
    let bridge_counters = bridge.counters_shared();
    let (table_addr, table_len) = bridge.table().memory_region();
    match crate::memory::advise_huge_pages(table_addr, table_len) {
        Ok(bytes) => log::info!("MAC table: {} MiB on transparent huge pages", bytes >> 20),
        Err(why) => log::debug!("MAC table stays on 4 KiB pages: {why}"),
    }

    for p in &ports {
        p.counters
            .link_up
            .store(p.control.link_up(), Ordering::Relaxed);
    }
    let worker_counters = Arc::new(WorkerCounters::default());
    let worker = Worker::<PortIo> {
        ports: ports
            .iter_mut()
            .map(|p| {
                let q = p
                    .control
                    .take_queue()
                    .expect("a freshly opened port has its queue");
                WorkerPort::new(q, p.counters.clone())
            })
            .collect(),
        bridge,
        quit: quit.clone(),
        counters: worker_counters.clone(),
    };
    let (done_tx, done_rx) = crossbeam::channel::bounded(1);
    eal.launch(worker_lcore, move || {
        let worker = worker.run();
        // The main lcore drops the worker (its buffered mbufs) before it frees the pool.
        let _ = done_tx.send(worker);
        0
    })?;

    log::info!(
        "bridge {} up: {} ports, worker lcore {}, {} mbufs, MAC table {} entries, aging {} s",
        cfg.bridge.name,
        n_ports,
        worker_lcore,
        mbufs,
        cfg.bridge.mac_table_size,
        cfg.bridge.mac_aging_secs
    );
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "ready");
        let _ = out.flush();
    }

    let started = Instant::now();
    let mut last = Sample::take(&ports, &bridge_counters);
    let mut last_worker = worker_counters.snapshot();
    while !quit.load(Ordering::Relaxed) {
        std::thread::sleep(TICK);
        for p in &ports {
            let up = p.control.link_up();
            if p.counters.link_up.load(Ordering::Relaxed) != up {
                p.counters.link_up.store(up, Ordering::Relaxed);
            }
        }
        if let Some(every) = opts.stats_interval {
            if last.at.elapsed() >= every {
                let now = Sample::take(&ports, &bridge_counters);
                print_stats(
                    "stats",
                    started,
                    &ports,
                    &now,
                    Some(&last),
                    &cfg.bridge.name,
                    None,
                );
                let worker_now = worker_counters.snapshot();
                print_worker("stats", worker_lcore, &worker_now, Some(&last_worker));
                last_worker = worker_now;
                last = now;
            }
        }
    }

    // Shutdown: join the worker, then stop ports so no more frames arrive, then print, then
    // close (which frees the queues' mbufs, detaches guests and removes vhost sockets), then
    // check the pool. A vhost library port's destroy_device waits for the worker to leave
    // any burst call; joining the worker first means it never has to.
    let rc = eal.wait(worker_lcore);
    drop(done_rx.recv_timeout(Duration::from_secs(5)).ok());
    if rc != 0 {
        log::warn!("worker lcore {worker_lcore} returned {rc}");
    }
    for p in &mut ports {
        if let Err(e) = p.control.stop() {
            log::warn!("{e}");
        }
    }
    let pmd: Vec<Option<PortStats>> = ports.iter().map(|p| p.control.pmd_stats()).collect();
    // Totals only: an average rate over the whole run (idle time included) says little.
    print_stats(
        "final",
        started,
        &ports,
        &Sample::take(&ports, &bridge_counters),
        None,
        &cfg.bridge.name,
        Some(&pmd),
    );
    print_worker("final", worker_lcore, &worker_counters.snapshot(), None);

    for p in ports {
        let OpenPort {
            name,
            control,
            server_socket,
            ..
        } = p;
        if let Err(e) = control.close() {
            log::warn!("closing {name}: {e}");
        }
        if let Some(path) = server_socket {
            remove_stale_socket(&path);
        }
    }
    let in_use = pool.in_use();
    // After close, no queue holds mbufs any more: the baseline (what rx rings held while
    // running) must be gone too, so the only correct value here is 0.
    println!(
        "final mempool size={} in_use={} in_use_while_running={}",
        pool.size(),
        in_use,
        baseline_in_use
    );
    let _ = std::io::stdout().flush();
    drop(pool);
    if in_use != 0 {
        return Err(RunError::Setup(format!(
            "{in_use} mbufs were not returned to the pool"
        )));
    }
    Ok(())
}

/// Mbufs each lcore keeps in its per-lcore pool cache.
const MEMPOOL_CACHE: u32 = 256;

/// The fewest mbufs that can work: every rx and tx ring full, a burst in flight per port,
/// and the pool caches of two lcores.
pub fn min_pool_size(n_ports: usize) -> u32 {
    n_ports as u32 * (2 * RING_DESCRIPTORS as u32 + 2 * dpdk::BURST_SIZE as u32) + 2 * MEMPOOL_CACHE
}

/// The default: the minimum plus 4096 of headroom, rounded up to 2^n - 1 (the size at which
/// rte_mempool wastes least), at least 8191.
pub fn default_pool_size(n_ports: usize) -> u32 {
    (min_pool_size(n_ports) + 4096)
        .max(8192)
        .next_power_of_two()
        - 1
}

fn open_port(
    cfg: &Config,
    name: &str,
    pool: &Mempool,
    vhost_path: VhostPath,
) -> Result<OpenPort, RunError> {
    let pc =
        cfg.ports.iter().find(|p| p.name == name).ok_or_else(|| {
            RunError::Setup(format!("bridge port {name:?} has no [[port]] entry"))
        })?;
    let setup_err = |e: dpdk::Error| RunError::Setup(format!("port {name:?}: {e}"));
    let (control, server_socket) = match &pc.kind {
        PortKind::VhostUser { path, mode } => {
            let client = matches!(mode, VhostMode::Client);
            if !client {
                // A socket left by a process that died (kill -9) makes bind() fail.
                remove_stale_socket(path);
            }
            let control = match vhost_path {
                VhostPath::Lib => {
                    let port = VhostUser::register(path, client, pool).map_err(setup_err)?;
                    log::info!(
                        "port {name}: vhost-user {} {} (vhost library)",
                        if client { "client" } else { "server" },
                        path.display()
                    );
                    PortControl::Vhost(port)
                }
                VhostPath::Pmd => {
                    let devargs = format!(
                        "{VHOST_DEVICE_PREFIX}{name},iface={},queues=1,client={}",
                        path.display(),
                        client as u8
                    );
                    let device = format!("{VHOST_DEVICE_PREFIX}{name}");
                    PortControl::Eth(open_ethdev(name, &devargs, &device, pool).map_err(setup_err)?)
                }
            };
            (control, (!client).then(|| path.clone()))
        }
        PortKind::Dpdk { devargs } => {
            let device = pmd_config::device_name(devargs);
            let eth = open_ethdev(name, devargs, &device, pool).map_err(setup_err)?;
            (PortControl::Eth(eth), None)
        }
    };
    Ok(OpenPort {
        name: name.to_string(),
        control,
        server_socket,
        counters: Arc::new(PortCounters::default()),
    })
}

/// Probes, configures and starts the ethdev `device` that `devargs` describes, for bridge
/// port `name`.
fn open_ethdev(name: &str, devargs: &str, device: &str, pool: &Mempool) -> dpdk::Result<EthPort> {
    let mut eth = EthPort::probe(devargs, device)?;
    eth.configure(RING_DESCRIPTORS, RING_DESCRIPTORS, pool)?;
    eth.start()?;
    log::info!(
        "port {name}: {devargs} (ethdev {}, driver {})",
        eth.id(),
        eth.driver_name()
    );
    Ok(eth)
}

/// Removes `path` if it is a socket nobody listens on; anything else there is left alone
/// (config validation already refused non-socket files and live sockets).
fn remove_stale_socket(path: &Path) {
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if meta.file_type().is_socket() && !pmd_config::socket_is_listening(path) {
            if let Err(e) = std::fs::remove_file(path) {
                log::warn!("cannot remove socket {}: {e}", path.display());
            }
        }
    }
}

fn rate(now: u64, then: u64, secs: f64) -> f64 {
    if secs <= 0.0 {
        0.0
    } else {
        now.saturating_sub(then) as f64 / secs
    }
}

/// One `key=value` line per port and one for the bridge, so scripts can parse them.
fn print_stats(
    tag: &str,
    started: Instant,
    ports: &[OpenPort],
    now: &Sample,
    rates_since: Option<&Sample>,
    bridge_name: &str,
    pmd: Option<&[Option<PortStats>]>,
) {
    let mut out = std::io::stdout().lock();
    let t = started.elapsed().as_secs_f64();
    for (i, p) in ports.iter().enumerate() {
        let mut line = format!(
            "{tag} t={t:.1} port={} link={}",
            p.name,
            if p.counters.link_up.load(Ordering::Relaxed) {
                "up"
            } else {
                "down"
            }
        );
        let c = &now.ports[i];
        line += &format!(" rx={} tx={}", c.rx, c.tx);
        if let Some(then) = rates_since {
            let secs = now.at.duration_since(then.at).as_secs_f64();
            line += &format!(
                " rx_pps={:.0} tx_pps={:.0}",
                rate(c.rx, then.ports[i].rx, secs),
                rate(c.tx, then.ports[i].tx, secs)
            );
        }
        for why in PortDrop::all() {
            line += &format!(" drop_{}={}", why.name(), c.dropped(why));
        }
        // Ethdev counters; a vhost library port has no ethdev, so these fields are left out.
        if let Some(Some(s)) = pmd.map(|p| &p[i]) {
            line += &format!(
                " pmd_ipackets={} pmd_opackets={} pmd_ibytes={} pmd_obytes={} pmd_imissed={} pmd_oerrors={} pmd_rx_nombuf={}",
                s.ipackets, s.opackets, s.ibytes, s.obytes, s.imissed, s.oerrors, s.rx_nombuf
            );
        }
        let _ = writeln!(out, "{line}");
    }
    let mut line = format!("{tag} t={t:.1} bridge={bridge_name}");
    for (k, v) in now.bridge.fields() {
        line += &format!(" {k}={v}");
    }
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// The worker's loop figures: over the last interval for `stats`, since start for `final`.
fn print_worker(tag: &str, lcore: u32, now: &WorkerSnapshot, since: Option<&WorkerSnapshot>) {
    let w = since.map_or(*now, |then| now.since(then));
    println!("{tag} worker lcore={lcore} {}", w.fields());
}
