//! `dataplane [EAL options] -- [--config FILE] [--vhost-user PATH]... [--stats-interval SECS]
//! [--mbufs N] [--vhost-path lib|pmd]`
//!
//! Everything before `--` goes to `rte_eal_init` untouched; everything after is ours. The
//! config is read and checked completely before EAL starts, so a mistake costs no EAL
//! start-up and leaves nothing behind.

use clap::Parser;
use dataplane::ports::VhostPath;
use dataplane::runtime::{self, RunOptions};
use pmd_config::{lcores, Config};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

const USAGE: &str = "dataplane [EAL options] -- [--config FILE] [--vhost-user PATH]... \
                     [--stats-interval SECS] [--mbufs N] [--vhost-path lib|pmd] [--pmd-sleep-max USECS]";

/// Poll-mode L2 learning switch between vhost-user and DPDK ports, with a VXLAN tunnel
/// endpoint to stretch bridges across hosts (config: [vtep], bridge vni).
#[derive(Parser, Debug)]
#[command(name = "dataplane", override_usage = USAGE, version, after_help = "\
EAL options (before --) are DPDK's own, e.g. -l 0-1 --no-pci --in-memory --file-prefix dp0.
Example: dataplane -l 0-1 --no-pci --no-huge -m 512 --file-prefix dp0 -- \\
           --vhost-user /tmp/vm1.sock --vhost-user /tmp/vm2.sock")]
struct AppArgs {
    /// TOML file with ports and bridge settings (see README: config reference).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Add a server-mode vhost-user port at PATH to the bridge (repeatable). The dataplane
    /// creates the socket; start QEMU with `-chardev socket,path=PATH`.
    #[arg(long = "vhost-user", value_name = "PATH")]
    vhost_user: Vec<PathBuf>,
    /// Print counters every SECS seconds (decimals allowed); 0 prints only the final ones.
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    stats_interval: f64,
    /// Mbufs in the packet pool (default: sized from the number of ports, at least 8191).
    #[arg(long, value_name = "N")]
    mbufs: Option<u32>,
    /// How vhost-user ports move packets: `lib` calls the DPDK vhost library directly
    /// (rte_vhost_dequeue_burst / rte_vhost_enqueue_burst, as OVS-DPDK does); `pmd` goes
    /// through the net_vhost ethdev PMD. `type = "dpdk"` ports always use ethdev.
    #[arg(long, value_enum, value_name = "lib|pmd", default_value_t = VhostPath::default())]
    vhost_path: VhostPath,
    /// When a loop receives nothing, the worker sleeps, backing off up to USECS
    /// microseconds (as OVS's pmd-sleep-max); 0, the default, polls without pause. Lets
    /// several dataplanes share cores at the cost of up to USECS of added latency.
    #[arg(long, value_name = "USECS", default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=10_000))]
    pmd_sleep_max: u32,
}

/// CPUs in this process's affinity mask.
fn affinity_cpus() -> usize {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; sched_getaffinity fills it for the
    // calling thread (pid 0) and CPU_COUNT only reads it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return 1;
        }
        libc::CPU_COUNT(&set).max(1) as usize
    }
}

fn fail(code: u8, msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("dataplane: error: {msg}");
    ExitCode::from(code)
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .format_target(false)
        .init();

    let argv: Vec<String> = std::env::args().collect();
    if !argv.iter().any(|a| a == "--") {
        if let Some(a) = argv.iter().skip(1).find(|a| {
            [
                "--config",
                "--vhost-user",
                "--stats-interval",
                "--mbufs",
                "--vhost-path",
                "--pmd-sleep-max",
            ]
            .iter()
            .any(|o| a.as_str() == *o || a.starts_with(&format!("{o}=")))
        }) {
            return fail(
                2,
                format!("{a} is a dataplane option: put it after `--` (usage: {USAGE})"),
            );
        }
    }
    let (eal_args, app_argv) = pmd_config::split_eal_args(&argv);
    let app = match AppArgs::try_parse_from(&app_argv) {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let stats_interval = match Duration::try_from_secs_f64(app.stats_interval) {
        Ok(d) if d.as_secs() <= 86_400 => d,
        _ => {
            return fail(
                2,
                format!(
                    "--stats-interval {}: must be a number of seconds from 0 to 86400 (0 turns periodic stats off)",
                    app.stats_interval
                ),
            )
        }
    };
    let mut cfg = match &app.config {
        Some(path) => match Config::load(path) {
            Ok(c) => c,
            Err(e) => return fail(2, e),
        },
        None => Config::default(),
    };
    for path in &app.vhost_user {
        cfg.add_vhost_user_server(path.clone());
    }
    let origin = match &app.config {
        Some(path) if app.vhost_user.is_empty() => path.display().to_string(),
        Some(path) => format!("{} + --vhost-user", path.display()),
        None => "command line".to_string(),
    };
    if let Err(e) = cfg.validate_with_origin(&origin) {
        return fail(2, e);
    }
    let n_ports = runtime::opened_ports(&cfg).len();
    if let Some(n) = app.mbufs {
        let min = runtime::min_pool_size(n_ports);
        if n < min {
            return fail(
                2,
                format!(
                    "--mbufs {n}: {} ports need at least {min} mbufs (1024-entry rx and tx rings \
                     each, plus bursts and lcore caches); raise it or omit --mbufs",
                    n_ports
                ),
            );
        }
    }

    // Refuse an lcore set without a worker before EAL would accept it and we would have to
    // tear it down again.
    match lcores::eal_lcores(&eal_args) {
        Ok(l) => {
            // Without -l/-c/--lcores, EAL takes the CPUs this process may run on: its affinity
            // set (not a cgroup quota, which available_parallelism would also count).
            let online = affinity_cpus();
            if l.worker_count(online) == 0 {
                return fail(
                    2,
                    "the EAL lcore options leave no worker lcore: the dataplane needs a main lcore plus one \
                     worker to poll on, e.g. -l 0-1 (or -c 0x3, or --lcores 0-1)",
                );
            }
        }
        Err(e) => return fail(2, e),
    }

    // Install the handler before rte_eal_init pins this thread, so ctrlc's thread floats.
    let quit = Arc::new(AtomicBool::new(false));
    {
        let quit = quit.clone();
        if let Err(e) = ctrlc::set_handler(move || quit.store(true, Ordering::SeqCst)) {
            return fail(1, format!("cannot install the SIGINT/SIGTERM handler: {e}"));
        }
    }

    let eal = match dpdk::Eal::init(&eal_args) {
        Ok(e) => e,
        Err(e) => return fail(1, format!("{e} (check the EAL options before `--`)")),
    };
    let opts = RunOptions {
        stats_interval: (!stats_interval.is_zero()).then_some(stats_interval),
        mbufs: app.mbufs,
        vhost_path: app.vhost_path,
        sleep_max_us: app.pmd_sleep_max,
    };
    let result = runtime::run(&eal, &cfg, &opts, quit);
    drop(eal);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(1, e),
    }
}
