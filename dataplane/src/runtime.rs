//! Bringing the dataplane up and down around the worker: open and start every port of the
//! bridge, launch the poll loop on a worker lcore, print counters on the main lcore, and on
//! quit stop everything in an order that returns every mbuf to the pool.

use crate::counters::{
    PortCounters, PortCountersSnapshot, PortDrop, WorkerCounters, WorkerSnapshot,
};
use crate::ports::{PortControl, PortIo, VhostPath};
use crate::worker::{Held, PortRole, Worker, WorkerBridge, WorkerPort, WorkerVtep, MAX_PORTS};
use dpdk::{Eal, EthPort, Mempool, PortStats, VhostUser};
use pmd_config::{
    AcceptRemotes, Config, PortKind, SocketAccess, StaticTarget, VhostMode, VHOST_DEVICE_PREFIX,
};
use std::io::Write;
use std::net::Ipv4Addr;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use switch::bridge::tunnel_port;
use switch::bridge::{Bridge, BridgeConfig, BridgeCounters, BridgeCountersSnapshot};
use switch::vtep::neighbor::NeighborTimers;
use switch::vtep::{Vtep, VtepCounters, VtepParams};
use switch::wire::MacAddr;
use switch::PortId;

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
    /// Longest idle sleep of the worker, in microseconds (`--pmd-sleep-max`); 0 polls
    /// without pause.
    pub sleep_max_us: u32,
}

// What the configuration lets through must fit the worker's and the VTEP's fixed tables.
const _: () = assert!(pmd_config::MAX_OPENED_PORTS <= MAX_PORTS);
const _: () = assert!(pmd_config::MAX_REMOTE_VTEPS <= switch::vtep::MAX_VTEP_REMOTES);
const _: () = assert!(pmd_config::MAX_UNDERLAY_NEIGHBORS <= switch::vtep::MAX_NEIGHBORS);

/// A port the runtime opened, with what it needs to close it cleanly.
struct OpenPort {
    name: String,
    control: PortControl,
    /// A vhost-user socket we created and must remove at exit.
    server_socket: Option<PathBuf>,
    /// A vhost-user port (either path): its guest can come and go.
    is_vhost_user: bool,
    /// Loop passes a burst the port's queue had no room for waits before it is dropped
    /// (`tx_retries_max`; 0 for ethdev ports: a NIC's queue drains at line rate).
    tx_retries_max: u8,
    counters: Arc<PortCounters>,
}

/// Counters as they stood at one moment, for printing rates between two of them.
struct Sample {
    at: Instant,
    ports: Vec<PortCountersSnapshot>,
    bridges: Vec<BridgeCountersSnapshot>,
}

impl Sample {
    fn take(ports: &[OpenPort], bridges: &[(String, Arc<BridgeCounters>)]) -> Sample {
        Sample {
            at: Instant::now(),
            ports: ports.iter().map(|p| p.counters.snapshot()).collect(),
            bridges: bridges.iter().map(|(_, c)| c.snapshot()).collect(),
        }
    }
}

/// The names of the ports the dataplane opens, in worker port order: every bridge's ports,
/// bridge by bridge, then the VTEP's underlay port.
pub fn opened_ports(cfg: &Config) -> Vec<&str> {
    let mut names: Vec<&str> = cfg
        .bridges
        .iter()
        .flat_map(|b| b.ports.iter().map(String::as_str))
        .collect();
    if let Some(v) = &cfg.vtep {
        names.push(&v.port);
    }
    names
}

/// When a guest attaches to a port of a stretched bridge, compares the MTU QEMU gave it
/// (`host_mtu=`) with what the underlay carries, and says what to change if its largest
/// frames would be dropped as `encap_too_big`.
fn check_guest_mtu(tunnel_mtu: &[Option<u16>], i: usize, p: &OpenPort) {
    let (Some(underlay), Some(guest)) = (tunnel_mtu[i], p.control.guest_mtu()) else {
        return;
    };
    let fits = underlay.saturating_sub(50);
    if guest > fits {
        log::warn!(
            "port {}: the guest's MTU is {guest} (host_mtu) but the VXLAN underlay (MTU {underlay}) carries \
             inner packets of at most {fits} bytes: its larger frames will be dropped as encap_too_big; \
             start QEMU with host_mtu={fits} or raise vtep.mtu to {}",
            p.name,
            guest + 50
        );
    } else {
        log::info!(
            "port {}: guest MTU {guest} fits the VXLAN underlay (MTU {underlay})",
            p.name
        );
    }
}

/// A MAC for the underlay port when it has none of its own (a vhost library port standing
/// in for a NIC): locally administered, derived from the VTEP address so it is stable.
fn derived_mac(ip: Ipv4Addr) -> MacAddr {
    let o = ip.octets();
    MacAddr([0x02, 0x76, o[0], o[1], o[2], o[3]])
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

    let names = opened_ports(cfg);
    if names.len() > MAX_PORTS {
        return Err(RunError::Setup(format!(
            "{} ports over all bridges and the VTEP: one worker serves at most {MAX_PORTS}",
            names.len()
        )));
    }
    let mbufs = opts.mbufs.unwrap_or_else(|| default_pool_size(names.len()));
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

    let mut ports = Vec::with_capacity(names.len());
    for name in &names {
        ports.push(open_port(cfg, name, &pool, opts.vhost_path)?);
    }
    for p in &cfg.ports {
        if !names.contains(&p.name.as_str()) {
            log::warn!(
                "port {:?} is in no bridge and is not the VTEP's; not opened",
                p.name
            );
        }
    }
    let baseline_in_use = pool.in_use();

    let hz = dpdk::tsc_hz();
    let mut vtep = match &cfg.vtep {
        None => None,
        Some(vc) => {
            let underlay = names.len() - 1;
            let uplink = &mut ports[underlay];
            if let Err(e) = uplink.control.set_mtu(vc.mtu) {
                log::warn!(
                    "port {}: cannot set MTU {} ({e}); make sure the underlay carries {}-byte IP packets",
                    uplink.name,
                    vc.mtu,
                    vc.mtu
                );
            }
            let mac = uplink
                .control
                .mac_addr()
                .map(MacAddr)
                .filter(|m| m.is_learnable())
                .unwrap_or_else(|| derived_mac(vc.ip));
            let params = VtepParams {
                ip: vc.ip,
                prefix_len: vc.prefix_len,
                gateway: vc.gateway,
                mac,
                udp_port: vc.udp_port,
                mtu: vc.mtu,
                ttl: vc.ttl,
                source_ports: vc.source_ports,
                static_neighbors: vc.neighbors.iter().map(|n| (n.ip, n.mac)).collect(),
                timers: NeighborTimers::for_hz(hz),
            };
            let max_inner = params.max_inner_frame();
            if max_inner < 1514 {
                log::warn!(
                    "underlay MTU {} carries inner frames of at most {max_inner} bytes (inner IP MTU {}): \
                     larger guest frames are dropped and counted as encap_too_big, never fragmented; \
                     set the guests' MTU to {} (QEMU: -device virtio-net-pci,host_mtu={}) or the underlay MTU to 1550 or more",
                    vc.mtu,
                    max_inner - 14,
                    max_inner - 14,
                    max_inner - 14
                );
            }
            log::info!(
                "vtep {}/{} on port {} (MAC {mac}), UDP port {}, MTU {}, TTL {}, source ports {}-{}",
                vc.ip,
                vc.prefix_len,
                uplink.name,
                vc.udp_port,
                vc.mtu,
                vc.ttl,
                vc.source_ports.0,
                vc.source_ports.1
            );
            Some((
                Vtep::<Held>::new(params).map_err(|e| RunError::Setup(format!("vtep: {e}")))?,
                underlay,
            ))
        }
    };

    let mut bridges = Vec::with_capacity(cfg.bridges.len());
    let mut roles = vec![PortRole::Underlay; names.len()];
    let mut next_port = 0;
    for (bi, bc) in cfg.bridges.iter().enumerate() {
        let members: Vec<usize> = (next_port..next_port + bc.ports.len()).collect();
        for (local, &wp) in members.iter().enumerate() {
            roles[wp] = PortRole::Member {
                bridge: bi,
                local: local as PortId,
            };
        }
        next_port += bc.ports.len();
        let setup = |e: String| RunError::Setup(format!("bridge {}: {e}", bc.name));
        let mut flood = Vec::new();
        if let (Some(vni), Some((v, _))) = (bc.vni, &mut vtep) {
            v.add_bridge(
                vni,
                bi,
                &bc.remote_vteps,
                bc.accept_remotes == AcceptRemotes::Any,
            )
            .map_err(|e| setup(e.to_string()))?;
            flood = v.flood_list(bi).to_vec();
            log::info!(
                "bridge {}: VNI {vni}, flood to {:?}, accepts VXLAN from {}",
                bc.name,
                bc.remote_vteps,
                match bc.accept_remotes {
                    AcceptRemotes::Any => "any VTEP".to_string(),
                    AcceptRemotes::Listed => "the listed VTEPs".to_string(),
                }
            );
        }
        let mut static_macs = Vec::with_capacity(bc.static_macs.len());
        for s in &bc.static_macs {
            let port = match &s.target {
                StaticTarget::Port(name) => bc
                    .ports
                    .iter()
                    .position(|p| p == name)
                    .expect("validated: static MAC port is a bridge port")
                    as PortId,
                StaticTarget::RemoteVtep(ip) => {
                    let (Some(vni), Some((v, _))) = (bc.vni, &mut vtep) else {
                        return Err(setup(format!(
                            "static MAC {} behind remote VTEP {ip} needs a VNI",
                            s.mac
                        )));
                    };
                    tunnel_port(v.accept(vni, *ip).map_err(|e| setup(e.to_string()))?)
                }
            };
            static_macs.push((s.mac, port));
        }
        let bridge = Bridge::new(BridgeConfig {
            n_ports: bc.ports.len() as u16,
            tunnel: bc.vni.is_some() && vtep.is_some(),
            capacity: bc.mac_table_size,
            aging_ticks: bc.mac_aging_secs.saturating_mul(hz),
            static_macs,
        })
        .map_err(|e| setup(e.to_string()))?;
        let (table_addr, table_len) = bridge.table().memory_region();
        match crate::memory::advise_huge_pages(table_addr, table_len) {
            Ok(bytes) => log::info!(
                "bridge {}: MAC table {} MiB on transparent huge pages",
                bc.name,
                bytes >> 20
            ),
            Err(why) => log::debug!("MAC table stays on 4 KiB pages: {why}"),
        }
        bridges.push(WorkerBridge {
            bridge,
            members,
            vni: bc.vni.unwrap_or(0),
            flood,
        });
    }
    let bridge_counters: Vec<(String, Arc<BridgeCounters>)> = cfg
        .bridges
        .iter()
        .zip(&bridges)
        .map(|(bc, wb)| (bc.name.clone(), wb.bridge.counters_shared()))
        .collect();
    let vtep_counters = vtep.as_ref().map(|(v, _)| v.counters_shared());
    let vtep_label = cfg.vtep.as_ref().map(|v| v.ip.to_string());

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
                WorkerPort::new(q, p.counters.clone(), p.tx_retries_max)
            })
            .collect(),
        roles,
        bridges,
        vtep: vtep.map(|(vtep, underlay)| WorkerVtep {
            vtep,
            underlay,
            pool: pool.clone(),
        }),
        quit: quit.clone(),
        counters: worker_counters.clone(),
        sleep_max_us: opts.sleep_max_us,
        pool: pool.clone(),
        link_seen: ports
            .iter()
            .map(|p| {
                p.is_vhost_user
                    .then(|| p.counters.link_up.load(Ordering::Relaxed))
            })
            .collect(),
        tx_waiting: 0,
    };
    let (done_tx, done_rx) = crossbeam::channel::bounded(1);
    eal.launch(worker_lcore, move || {
        let worker = worker.run();
        // The main lcore drops the worker (its buffered and held mbufs) before it frees
        // the pool.
        let _ = done_tx.send(worker);
        0
    })?;

    for bc in &cfg.bridges {
        log::info!(
            "bridge {} up: {} ports, MAC table {} entries, aging {} s",
            bc.name,
            bc.ports.len(),
            bc.mac_table_size,
            bc.mac_aging_secs
        );
    }
    log::info!(
        "worker lcore {worker_lcore}, {} ports, {mbufs} mbufs{}",
        names.len(),
        if opts.sleep_max_us > 0 {
            format!(", idle sleep up to {} us", opts.sleep_max_us)
        } else {
            String::new()
        }
    );
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "ready");
        let _ = out.flush();
    }

    // Per opened port: the underlay MTU its bridge's frames must fit, if it is stretched.
    let tunnel_mtu: Vec<Option<u16>> = names
        .iter()
        .map(|name| {
            let vtep = cfg.vtep.as_ref()?;
            let b = cfg
                .bridges
                .iter()
                .find(|b| b.ports.iter().any(|p| p == name))?;
            b.vni.map(|_| vtep.mtu)
        })
        .collect();
    let started = Instant::now();
    let vtep_stats = vtep_counters.as_deref().zip(vtep_label.as_deref());
    let stats = Stats {
        started,
        ports: &ports,
        bridges: &bridge_counters,
        vtep: vtep_stats,
    };
    let mut last = Sample::take(&ports, &bridge_counters);
    let mut last_worker = worker_counters.snapshot();
    while !quit.load(Ordering::Relaxed) {
        std::thread::sleep(TICK);
        for (i, p) in ports.iter().enumerate() {
            let up = p.control.link_up();
            if p.counters.link_up.load(Ordering::Relaxed) != up {
                p.counters.link_up.store(up, Ordering::Relaxed);
                if up {
                    check_guest_mtu(&tunnel_mtu, i, p);
                }
            }
        }
        if let Some(every) = opts.stats_interval {
            if last.at.elapsed() >= every {
                let now = Sample::take(&ports, &bridge_counters);
                stats.print("stats", &now, Some(&last), None);
                let worker_now = worker_counters.snapshot();
                print_worker("stats", worker_lcore, &worker_now, Some(&last_worker));
                // Live, so a leak shows while it happens: the baseline is what the rx rings
                // hold (in_use_while_running at exit).
                println!(
                    "stats t={:.1} mempool size={} in_use={}",
                    started.elapsed().as_secs_f64(),
                    pool.size(),
                    pool.in_use()
                );
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
    let stats = Stats {
        started,
        ports: &ports,
        bridges: &bridge_counters,
        vtep: vtep_stats,
    };
    stats.print(
        "final",
        &Sample::take(&ports, &bridge_counters),
        None,
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
        PortKind::VhostUser {
            path, mode, access, ..
        } => {
            let client = matches!(mode, VhostMode::Client);
            // While this port's socket is bound (below), the umask gives it exactly
            // socket_mode: bind() creates it with 0777 & !umask, so no chmod after the fact
            // and no window with other permissions. The main thread is the only one creating
            // files now.
            let _umask = (!client).then(|| Umask::set(0o777 & !access.mode));
            if !client {
                create_socket_dir(path, access)
                    .map_err(|e| RunError::Setup(format!("port {name:?}: {e}")))?;
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
                    PortControl::Eth(
                        open_ethdev(name, &devargs, &device, pool, true).map_err(setup_err)?,
                    )
                }
            };
            if !client {
                if let Err(e) = apply_socket_access(path, access) {
                    let _ = control.close();
                    return Err(RunError::Setup(format!("port {name:?}: {e}")));
                }
            }
            (control, (!client).then(|| path.clone()))
        }
        PortKind::Dpdk { devargs } => {
            let device = pmd_config::device_name(devargs);
            let eth = open_ethdev(name, devargs, &device, pool, false).map_err(setup_err)?;
            (PortControl::Eth(eth), None)
        }
    };
    Ok(OpenPort {
        name: name.to_string(),
        control,
        server_socket,
        is_vhost_user: matches!(pc.kind, PortKind::VhostUser { .. }),
        tx_retries_max: match pc.kind {
            PortKind::VhostUser { tx_retries_max, .. } => tx_retries_max,
            PortKind::Dpdk { .. } => 0,
        },
        counters: Arc::new(PortCounters::default()),
    })
}

/// The process umask, set for a while and restored when dropped.
struct Umask(libc::mode_t);

impl Umask {
    fn set(mask: u32) -> Umask {
        // SAFETY: umask only swaps the process's file creation mask.
        Umask(unsafe { libc::umask(mask as libc::mode_t) })
    }
}

impl Drop for Umask {
    fn drop(&mut self) {
        // SAFETY: as above; restores the mask saved in `set`.
        unsafe { libc::umask(self.0) };
    }
}

/// Creates the directory of server socket `path` and missing parents, each with exactly
/// `socket_dir_mode` (the umask is cleared while they are made), when it does not exist.
fn create_socket_dir(path: &Path, access: &SocketAccess) -> Result<(), String> {
    use std::os::unix::fs::DirBuilderExt;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => return Ok(()),
    };
    if dir.is_dir() {
        return Ok(());
    }
    let _umask = Umask::set(0);
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(access.dir_mode)
        .create(dir)
        .map_err(|e| format!("cannot create directory {}: {e}", dir.display()))?;
    log::info!(
        "created directory {} (mode {:04o})",
        dir.display(),
        access.dir_mode
    );
    Ok(())
}

/// Gives the server socket at `path` its configured owner and group. The socket already has
/// its mode (see the umask in `open_port`); `lchown` and the type check make sure that a
/// symbolic link put in its place is never followed.
fn apply_socket_access(path: &Path, access: &SocketAccess) -> Result<(), String> {
    use std::os::unix::fs::FileTypeExt;
    if access.owner.is_none() && access.group.is_none() {
        return Ok(());
    }
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => {}
        Ok(_) => return Err(format!("{} is no longer a socket", path.display())),
        Err(e) => return Err(format!("cannot inspect socket {}: {e}", path.display())),
    }
    std::os::unix::fs::lchown(path, access.owner, access.group).map_err(|e| {
        format!(
            "cannot give socket {} owner {:?} group {:?}: {e}",
            path.display(),
            access.owner,
            access.group
        )
    })
}

/// Probes, configures and starts the ethdev `device` that `devargs` describes, for bridge
/// port `name`. A vhost-user port through net_vhost (`guest_departures`) counts its guest's
/// departures from its link-state events, so the worker flushes the guest's MACs at each,
/// however short its stay (see `EthPort::count_guest_departures`).
fn open_ethdev(
    name: &str,
    devargs: &str,
    device: &str,
    pool: &Mempool,
    guest_departures: bool,
) -> dpdk::Result<EthPort> {
    let mut eth = EthPort::probe(devargs, device)?;
    if guest_departures {
        eth.count_guest_departures()?;
    }
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

/// What the stats lines describe.
#[derive(Clone, Copy)]
struct Stats<'a> {
    started: Instant,
    ports: &'a [OpenPort],
    bridges: &'a [(String, Arc<BridgeCounters>)],
    /// The VTEP's counters and its address.
    vtep: Option<(&'a VtepCounters, &'a str)>,
}

impl Stats<'_> {
    /// One `key=value` line per port, one per bridge and one for the VTEP, so scripts can
    /// parse them.
    fn print(
        &self,
        tag: &str,
        now: &Sample,
        rates_since: Option<&Sample>,
        pmd: Option<&[Option<PortStats>]>,
    ) {
        let mut out = std::io::stdout().lock();
        let t = self.started.elapsed().as_secs_f64();
        for (i, p) in self.ports.iter().enumerate() {
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
            line += &format!(
                " rx={} tx={} tx_retries={} rx_tso={} tso_segmented={} tso_segments={}",
                c.rx, c.tx, c.tx_retries, c.rx_tso, c.tso_segmented, c.tso_segments
            );
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
        for ((name, _), b) in self.bridges.iter().zip(&now.bridges) {
            let mut line = format!("{tag} t={t:.1} bridge={name}");
            for (k, v) in b.fields() {
                line += &format!(" {k}={v}");
            }
            let _ = writeln!(out, "{line}");
        }
        if let Some((v, ip)) = self.vtep {
            let mut line = format!("{tag} t={t:.1} vtep ip={ip}");
            for (k, n) in v.fields() {
                line += &format!(" {k}={n}");
            }
            let _ = writeln!(out, "{line}");
        }
        let _ = out.flush();
    }
}

/// The worker's loop figures: over the last interval for `stats`, since start for `final`.
fn print_worker(tag: &str, lcore: u32, now: &WorkerSnapshot, since: Option<&WorkerSnapshot>) {
    let w = since.map_or(*now, |then| now.since(then));
    println!("{tag} worker lcore={lcore} {}", w.fields());
}
