//! Real QEMU guests (TCG here; KVM where it works) on the dataplane's vhost-user ports, as
//! users run them: the tiny busybox guest of scripts/qemu/build-guest.sh, whose /init
//! pings, serves and runs iperf3 from the kernel command line and prints markers on the
//! serial console (see that script for the guest protocol).
//!
//! * two guests ping each other and run a short iperf3 through the switch;
//! * client mode (QEMU `server=on,wait=off`, our ports `mode = "client"`): the dataplane is
//!   killed with SIGKILL and started again, again and again, while guest A pings guest B
//!   every 100 ms; traffic must resume after every restart, the guests must see their link
//!   go down and come back, and the mempool must be back at its idle in-use count. Each
//!   restart's time line (start, ready, guests attached, carrier up, first reply) is printed;
//!   `DP_QEMU_RESTARTS` (default 5) and `DP_QEMU_RESTART_DELAY_MS` (default 2000) set the
//!   number of restarts and the time the dataplane stays down (scripts/qemu/restart-gap.sh);
//! * server mode: a guest's QEMU stops and starts again, reconnects, and ping resumes.
//!
//! The guest image must exist (scripts/test.sh builds it; `DP_QEMU_GUEST_DIR` points
//! elsewhere): a missing image fails the test, it does not skip it.

mod common;

use common::qemu::{marker_uptime, ping_reply_seq, Guest, GuestSpec, SocketRole};
use common::*;
use std::path::Path;
use std::time::{Duration, Instant};

const MAC_A: &str = "52:54:00:00:00:01";
const MAC_B: &str = "52:54:00:00:00:02";
const IP_A: &str = "10.0.0.1";
const IP_B: &str = "10.0.0.2";
/// Boot (QEMU start to `GP-READY`) takes 3-8 s under TCG next to busy pollers; generous.
const BOOT: Duration = Duration::from_secs(120);
/// Longest wait for any single event once the guests are up (a reply after a restart
/// comes within 2 s of it here; a hung guest or switch must still fail in finite time).
const EVENT: Duration = Duration::from_secs(30);
/// Ping replies to see after each restart before the next kill.
const REPLIES_PER_RESTART: usize = 5;

fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v}: expected a whole number")),
        _ => default,
    }
}

/// A guest that pings `dst` every 100 ms for as long as the test runs (busybox ping, after
/// the guest protocol's wait until `dst` answers), reporting its link and neighbour events.
fn pinger(dst: &str) -> String {
    format!("gp.test=ping:{dst}:1000000:0.1 gp.watch={dst}")
}

fn guest(
    name: &'static str,
    socket: &Path,
    role: SocketRole,
    mac: &'static str,
    protocol: String,
) -> GuestSpec {
    GuestSpec {
        name,
        socket: socket.to_path_buf(),
        role,
        mac,
        protocol,
        nic_extra: "",
    }
}

/// Boots guest B (10.0.0.2, serving one iperf3 client; extra virtio-net-pci properties
/// `b_nic`) on `socks[1]` and guest A (10.0.0.1, running the guest tests `a_tests`) on
/// `socks[0]`, QEMU dialing the dataplane's sockets, and waits until both have powered off
/// (QEMU exits 0 when a guest's tests are done). Returns A's and B's serial output and both
/// guests' diagnostics.
fn iperf_pair(
    s: &Scratch,
    socks: &[std::path::PathBuf; 2],
    b_nic: &'static str,
    a_tests: String,
) -> (Vec<String>, Vec<String>, String) {
    let mut b = Guest::boot(
        s,
        GuestSpec {
            nic_extra: b_nic,
            ..guest(
                "B",
                &socks[1],
                SocketRole::QemuClient,
                MAC_B,
                format!("gp.ip={IP_B}/24 gp.test=iperf3s"),
            )
        },
    );
    let mut a = Guest::boot(
        s,
        guest(
            "A",
            &socks[0],
            SocketRole::QemuClient,
            MAC_A,
            format!("gp.ip={IP_A}/24 gp.test={a_tests}"),
        ),
    );
    let a_st = a.wait_exit(Duration::from_secs(240));
    let b_st = b.wait_exit(Duration::from_secs(30));
    let guests = format!("{}\n{}", a.diagnostics(), b.diagnostics());
    assert!(
        a_st.is_some_and(|st| st.success()),
        "guest A did not power off: {a_st:?}\n{guests}"
    );
    assert!(
        b_st.is_some_and(|st| st.success()),
        "guest B did not power off: {b_st:?}\n{guests}"
    );
    (a.serial().texts(), b.serial().texts(), guests)
}

#[test]
fn two_guests_ping_and_iperf3_through_the_switch() {
    let _serial = serial();
    let s = Scratch::new("qemu2");
    let socks = [s.sock("vm1"), s.sock("vm2")];
    let dp = Dataplane::start(&s, &vhost_args(&socks));
    let pings = 10;
    let (a_out, b_out, guests) = iperf_pair(
        &s,
        &socks,
        "",
        format!("ping:{IP_B}:{pings}:0.2,iperf3c:{IP_B}:3"),
    );
    let replies = a_out.iter().filter(|l| ping_reply_seq(l).is_some()).count();
    assert!(
        replies >= pings / 2,
        "only {replies} of {pings} pings answered\n{guests}"
    );
    for (who, out, marker) in [
        ("A", &a_out, "GP-TEST-END ping rc=0"),
        ("A", &a_out, "GP-TEST-END iperf3c rc=0"),
        ("B", &b_out, "GP-TEST-END iperf3s rc=0"),
    ] {
        assert!(
            out.iter().any(|l| l.starts_with(marker)),
            "guest {who}: no `{marker}`\n{guests}"
        );
    }
    for l in a_out.iter().filter(|l| l.ends_with("sender")) {
        eprintln!("iperf3 A->B: {l}");
    }
    let (st, f, diag) = dp.stop();
    assert!(st.success(), "{diag}");
    assert_eq!(f.get("mempool", "in_use"), 0, "{diag}");
    // 3 s of TCP at tens of Mbit/s or more (tens of MB): far more frames than the pings
    // each way (data one way, ACKs the other), however large the segments.
    for port in ["port=vhu0", "port=vhu1"] {
        assert!(f.get(port, "rx") > 100, "{port}: {diag}");
    }
    // Offloads: both guests negotiated host TSO and TSO receive (logged per port), so A's
    // large TCP frames went to B whole, none cut in software.
    assert_eq!(
        diag.matches("guest features").count(),
        2,
        "one feature line per guest\n{diag}"
    );
    for l in diag.lines().filter(|l| l.contains("guest features")) {
        for feature in [" CSUM", "GUEST_CSUM", "HOST_TSO4", "GUEST_TSO4"] {
            assert!(l.contains(feature), "{feature} not negotiated: {l}");
        }
    }
    assert!(
        f.get("port=vhu0", "rx_tso") > 0,
        "A sent no TSO frame\n{diag}"
    );
    assert_eq!(f.get("port=vhu0", "tso_segmented"), 0, "{diag}");
}

/// iperf3 from guest A (host TSO) to guest B whose NIC takes no large frames and verifies
/// every checksum itself (`guest_tso4/6=off,guest_csum=off`): every large frame of A's is
/// cut in software into MSS-sized frames with complete checksums, and TCP works (a wrong
/// checksum or a lost byte would stall it).
#[test]
fn tso_frames_are_segmented_for_a_guest_without_tso_receive() {
    let _serial = serial();
    let s = Scratch::new("qemutso");
    let socks = [s.sock("vm1"), s.sock("vm2")];
    let dp = Dataplane::start(&s, &vhost_args(&socks));
    let (a_out, _, guests) = iperf_pair(
        &s,
        &socks,
        ",guest_tso4=off,guest_tso6=off,guest_csum=off",
        format!("iperf3c:{IP_B}:3"),
    );
    assert!(
        a_out
            .iter()
            .any(|l| l.starts_with("GP-TEST-END iperf3c rc=0")),
        "iperf3 failed\n{guests}"
    );
    for l in a_out.iter().filter(|l| l.ends_with("sender")) {
        eprintln!("iperf3 A->B (segmented): {l}");
    }
    let (st, f, diag) = dp.stop();
    assert!(st.success(), "{diag}");
    assert_eq!(f.get("mempool", "in_use"), 0, "{diag}");
    let large = f.get("port=vhu0", "rx_tso");
    let segmented = f.get("port=vhu0", "tso_segmented");
    let segments = f.get("port=vhu0", "tso_segments");
    eprintln!("rx_tso={large} tso_segmented={segmented} tso_segments={segments}");
    assert!(large > 0, "A sent no TSO frame\n{diag}");
    assert_eq!(segmented, large, "every large frame was cut\n{diag}");
    assert!(segments > 2 * segmented, "into several frames each\n{diag}");
    for drop in [
        "tso_no_buffer",
        "tso_not_tcp",
        "tso_bad_size",
        "tso_length_mismatch",
    ] {
        assert_eq!(
            f.get("port=vhu0", &format!("drop_{drop}")),
            0,
            "{drop}\n{diag}"
        );
    }
    // B's port logged the features B refused.
    assert!(
        diag.lines()
            .any(|l| l.contains("guest features") && !l.contains("GUEST_TSO4")),
        "{diag}"
    );
}

/// iperf3 from guest A (host TSO) to the Linux TCP stack behind a `net_tap` port: frames
/// toward an ethdev port are always complete (segmented to the MSS, checksums filled in),
/// and the kernel, which verifies every checksum of what the TAP hands it, accepts them.
#[test]
fn tso_frames_to_an_ethdev_port_arrive_segmented_and_checksummed() {
    let _serial = serial();
    let s = Scratch::new("qemutap");
    let d = netns::Netns::new("tsod");
    let e = netns::Netns::new("tsoe");
    let sock = s.sock("vm1");
    let cfg = s.write(
        "tap.toml",
        &format!(
            "[[port]]\nname = \"vm1\"\ntype = \"vhost-user\"\npath = \"{}\"\n\n\
             [[port]]\nname = \"tap\"\ntype = \"dpdk\"\ndevargs = \"net_tap0,iface=dptso0\"\n",
            sock.display()
        ),
    );
    let app: Vec<String> = ["--config", &cfg.display().to_string()]
        .iter()
        .map(|a| a.to_string())
        .collect();
    let dp = Dataplane::start_in(&d, &s, &dataplane_eal(&s), &app);
    assert!(
        netns::wait_until(EVENT, || d.has_link("dptso0")),
        "no dptso0:\n{}",
        dp.diagnostics()
    );
    d.ip(&format!("link set dptso0 netns {}", e.name));
    assert!(netns::wait_until(EVENT, || e.has_link("dptso0")));
    e.ip(&format!("addr add {IP_B}/24 dev dptso0"));
    e.ip("link set dptso0 up");
    let mut server = e.spawn(&["iperf3", "-s", "-1", "-f", "m"], "iperf3-server");
    let mut a = Guest::boot(
        &s,
        guest(
            "A",
            &sock,
            SocketRole::QemuClient,
            MAC_A,
            format!("gp.ip={IP_A}/24 gp.test=iperf3c:{IP_B}:3"),
        ),
    );
    let a_st = a.wait_exit(Duration::from_secs(240));
    let a_out = a.serial().texts();
    let server_st = server.wait_exit(EVENT);
    assert!(
        a_st.is_some_and(|st| st.success()),
        "{a_st:?}\n{}",
        a.diagnostics()
    );
    assert!(
        a_out
            .iter()
            .any(|l| l.starts_with("GP-TEST-END iperf3c rc=0")),
        "iperf3 to the kernel failed\n{}\n{}",
        a.diagnostics(),
        server.diagnostics()
    );
    assert!(
        server_st.is_some_and(|st| st.success()),
        "{}",
        server.diagnostics()
    );
    for l in a_out.iter().filter(|l| l.ends_with("sender")) {
        eprintln!("iperf3 A->kernel via net_tap: {l}");
    }
    let (st, f, diag) = dp.stop();
    assert!(st.success(), "{diag}");
    assert_eq!(f.get("mempool", "in_use"), 0, "{diag}");
    let large = f.get("port=vm1", "rx_tso");
    eprintln!(
        "rx_tso={large} tso_segmented={} tso_segments={} tap tx={}",
        f.get("port=vm1", "tso_segmented"),
        f.get("port=vm1", "tso_segments"),
        f.get("port=tap", "tx")
    );
    assert!(large > 0, "A sent no TSO frame\n{diag}");
    assert_eq!(f.get("port=vm1", "tso_segmented"), large, "{diag}");
    assert!(
        f.get("port=tap", "tx") >= f.get("port=vm1", "tso_segments"),
        "{diag}"
    );
}

/// One restart's events, in milliseconds after the new dataplane process was spawned.
#[derive(Debug, Default, Clone)]
struct Restart {
    /// From SIGKILL to guest A's `GP-LINK carrier=0`.
    kill_to_carrier_down_a: f64,
    ready: f64,
    attached_a: f64,
    attached_b: f64,
    carrier_up_a: f64,
    carrier_up_b: f64,
    /// Guest A's first transmitted frame taken by the host after its carrier came up.
    first_tx_a: Option<f64>,
    /// Guest A's ARP entry for B complete again.
    neigh_a: Option<f64>,
    first_reply: f64,
    first_reply_seq: u32,
    /// The first live stats line with the mempool back at its idle in-use count.
    in_use_idle: f64,
}

fn ms(from: Instant, to: Instant) -> f64 {
    to.saturating_duration_since(from).as_secs_f64() * 1e3
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn print_restarts(rows: &[Restart], delay_ms: u64) {
    let opt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.0}"));
    eprintln!(
        "restart time line (ms after the new dataplane was spawned; down {delay_ms} ms each time; \
         guest lines stamped when they reached the host)"
    );
    eprintln!(
        "{:>3} {:>6} {:>6} {:>8} {:>8} {:>7} {:>7} {:>6} {:>6} {:>7} {:>5} {:>7}",
        "#",
        "down_A",
        "ready",
        "attach_A",
        "attach_B",
        "link_A",
        "link_B",
        "tx_A",
        "arp_A",
        "reply",
        "seq",
        "in_use0"
    );
    for (i, r) in rows.iter().enumerate() {
        eprintln!(
            "{:>3} {:>6.0} {:>6.0} {:>8.0} {:>8.0} {:>7.0} {:>7.0} {:>6} {:>6} {:>7.0} {:>5} {:>7.0}",
            i + 1,
            r.kill_to_carrier_down_a,
            r.ready,
            r.attached_a,
            r.attached_b,
            r.carrier_up_a,
            r.carrier_up_b,
            opt(r.first_tx_a),
            opt(r.neigh_a),
            r.first_reply,
            r.first_reply_seq,
            r.in_use_idle
        );
    }
    let col = |f: fn(&Restart) -> f64| median(rows.iter().map(f).collect());
    let col_opt = |f: fn(&Restart) -> Option<f64>| median(rows.iter().filter_map(f).collect());
    eprintln!(
        "median: ready {:.0}, attached (both) {:.0}, carrier up A {:.0}, A's ARP for B complete {:.0}, \
         first reply {:.0} ms",
        col(|r| r.ready),
        col(|r| r.attached_a.max(r.attached_b)),
        col(|r| r.carrier_up_a),
        col_opt(|r| r.neigh_a),
        col(|r| r.first_reply)
    );
}

/// With `DP_QEMU_TRACE` set: every line the guests and the dataplane's log printed from the
/// kill on, merged by arrival, in ms after the new process was spawned.
fn print_trace(k: u64, t0: Instant, killed: Instant, sources: &[(&str, &StampedLines)]) {
    let mut all: Vec<(Instant, &str, String)> = sources
        .iter()
        .flat_map(|(who, lines)| {
            lines
                .stamped()
                .into_iter()
                .filter(|(at, _)| *at >= killed)
                .map(move |(at, l)| (at, *who, l))
        })
        .collect();
    all.sort_by_key(|(at, _, _)| *at);
    eprintln!("--- restart {k}: trace");
    for (at, who, l) in all {
        let t = at.duration_since(killed).as_secs_f64() * 1e3 - ms(killed, t0);
        eprintln!("{t:>8.1} {who:>2} {l}");
    }
}

#[test]
fn client_mode_ports_survive_dataplane_kills() {
    let restarts = env_u64("DP_QEMU_RESTARTS", 5);
    let delay_ms = env_u64("DP_QEMU_RESTART_DELAY_MS", 2000);
    assert!(restarts >= 1, "DP_QEMU_RESTARTS must be at least 1");
    let _serial = serial();
    let s = Scratch::new("qemucl");
    let socks = [s.sock("vm1"), s.sock("vm2")];
    let cfg = s.write("client.toml", &client_ports_config(&socks));
    let app: Vec<String> = [
        "--config",
        &cfg.display().to_string(),
        "--stats-interval",
        "0.5",
    ]
    .map(String::from)
    .to_vec();
    let eal = dataplane_eal(&s);
    // QEMU creates the sockets (server=on,wait=off) and keeps them across our restarts.
    let b = Guest::boot(
        &s,
        guest(
            "B",
            &socks[1],
            SocketRole::QemuServer,
            MAC_B,
            format!("gp.ip={IP_B}/24 gp.test=hold gp.watch={IP_A}"),
        ),
    );
    let a = Guest::boot(
        &s,
        guest(
            "A",
            &socks[0],
            SocketRole::QemuServer,
            MAC_A,
            format!("gp.ip={IP_A}/24 {}", pinger(IP_B)),
        ),
    );
    let start = |what: &str| {
        let dp = Dataplane::spawn(&s, &eal, &app);
        if dp
            .stdout_lines()
            .wait(|l| l == "ready", Duration::from_secs(60))
            .is_none()
        {
            panic!(
                "{what}: dataplane did not print `ready`:\n{}",
                dp.diagnostics()
            );
        }
        dp
    };
    let mut dp = start("first start");
    a.wait_ready(BOOT);
    b.wait_ready(BOOT);
    a.wait_serial("first ping reply", |l| ping_reply_seq(l).is_some(), BOOT);

    let attached = |sock: &Path| {
        let needle = format!("{}: guest attached", sock.display());
        move |l: &str| l.contains(&needle)
    };
    let mut rows = Vec::new();
    for k in 1..=restarts {
        let ctx = |what: &str, dp: &Dataplane| {
            format!(
                "restart {k} of {restarts}: {what}\n{}\n{}\n{}",
                dp.diagnostics(),
                a.diagnostics(),
                b.diagnostics()
            )
        };
        let (a_from, b_from) = (a.serial().len(), b.serial().len());
        let killed = Instant::now();
        let (st, _, _) = dp.stop_with(libc::SIGKILL);
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&st),
            Some(libc::SIGKILL)
        );
        // The guests see their link go down...
        let carrier = |v: u8| move |l: &str| l.starts_with(&format!("GP-LINK carrier={v} "));
        let down_a = a.serial().wait_from(a_from, carrier(0), EVENT);
        let down_b = b.serial().wait_from(b_from, carrier(0), EVENT);
        let (Some((a_down_i, a_down, _)), Some((b_down_i, _, _))) = (down_a, down_b) else {
            panic!(
                "restart {k}: a guest did not see its link go down after the kill\n{}\n{}",
                a.diagnostics(),
                b.diagnostics()
            );
        };
        std::thread::sleep(Duration::from_millis(delay_ms).saturating_sub(killed.elapsed()));
        dp = start(&format!("restart {k}"));
        let t0 = dp.spawned;
        // Replies that reach the host after the new process was spawned crossed it: the
        // old one died `delay_ms` before, and a guest prints a reply within milliseconds.
        let replies_from = a
            .serial()
            .stamped()
            .iter()
            .take_while(|(at, _)| *at < t0)
            .count();
        let ready = dp.stdout_lines().wait(|l| l == "ready", EVENT).unwrap().0;
        let wait_log = |pred: Box<dyn Fn(&str) -> bool>, what: &str| {
            dp.log()
                .wait(pred, EVENT)
                .unwrap_or_else(|| panic!("{}", ctx(what, &dp)))
                .0
        };
        let att_a = wait_log(Box::new(attached(&socks[0])), "guest A not attached");
        let att_b = wait_log(Box::new(attached(&socks[1])), "guest B not attached");
        // ... and come back up, after they went down.
        let up = |g: &Guest, from: usize, who: &str| {
            g.serial()
                .wait_from(from, carrier(1), EVENT)
                .unwrap_or_else(|| {
                    panic!("{}", ctx(&format!("guest {who}: link not up again"), &dp))
                })
        };
        let (a_up_i, a_up, _) = up(&a, a_down_i + 1, "A");
        let (_, b_up, _) = up(&b, b_down_i + 1, "B");
        // Traffic resumes: replies that crossed the new process (the old one is gone, so
        // any reply after the kill did).
        let (reply_i, first_reply, line) = a
            .serial()
            .wait_from(replies_from, |l| ping_reply_seq(l).is_some(), EVENT)
            .unwrap_or_else(|| panic!("{}", ctx("no ping reply after the restart", &dp)));
        let mut last = reply_i;
        for n in 1..REPLIES_PER_RESTART {
            last = a
                .serial()
                .wait_from(last + 1, |l| ping_reply_seq(l).is_some(), EVENT)
                .unwrap_or_else(|| {
                    panic!(
                        "{}",
                        ctx(&format!("only {n} replies after the restart"), &dp)
                    )
                })
                .0;
        }
        // The mempool back at its idle count while the guests keep pinging: vhost-user
        // ports keep no mbufs in rings, so idle is 0 (the final line's
        // in_use_while_running checks that at the end).
        let stats_from = dp
            .stdout_lines()
            .stamped()
            .iter()
            .take_while(|(at, _)| *at <= first_reply)
            .count();
        let idle = dp
            .stdout_lines()
            .wait_from(stats_from, |l| live_in_use(l) == Some(0), EVENT)
            .unwrap_or_else(|| panic!("{}", ctx("mempool in_use never back at 0", &dp)))
            .1;
        if std::env::var_os("DP_QEMU_TRACE").is_some() {
            print_trace(
                k,
                t0,
                killed,
                &[("A", a.serial()), ("B", b.serial()), ("dp", dp.log())],
            );
        }
        // Timing only (not asserted): guest A's first frame out and its ARP entry for B.
        let after_up = |pred: &dyn Fn(&str) -> bool| {
            a.serial()
                .wait_from(a_up_i + 1, pred, Duration::ZERO)
                .map(|(_, at, _)| ms(t0, at))
        };
        rows.push(Restart {
            kill_to_carrier_down_a: ms(killed, a_down),
            ready: ms(t0, ready),
            attached_a: ms(t0, att_a),
            attached_b: ms(t0, att_b),
            carrier_up_a: ms(t0, a_up),
            carrier_up_b: ms(t0, b_up),
            first_tx_a: after_up(&|l| l.starts_with("GP-FIRST-TX")),
            neigh_a: after_up(&|l| l.starts_with(&format!("GP-NEIGH {IP_B} complete"))),
            first_reply: ms(t0, first_reply),
            first_reply_seq: ping_reply_seq(&line).unwrap(),
            in_use_idle: ms(t0, idle),
        });
    }
    print_restarts(&rows, delay_ms);
    // Guest A's ping never gave up (it would print GP-TEST-END).
    assert!(
        !a.serial()
            .texts()
            .iter()
            .any(|l| l.starts_with("GP-TEST-END")),
        "guest A's ping ended\n{}",
        a.diagnostics()
    );
    for (i, line) in a.serial().texts().iter().enumerate() {
        // Each marker carries the guest uptime; a marker without one is a broken /init.
        if line.starts_with("GP-") {
            assert!(marker_uptime(line).is_some(), "A line {i}: {line}");
        }
    }
    let (st, f, diag) = dp.stop();
    assert!(st.success(), "{diag}");
    assert_eq!(f.get("mempool", "in_use"), 0, "{diag}");
    assert_eq!(f.get("mempool", "in_use_while_running"), 0, "{diag}");
    for port in ["port=vm1", "port=vm2"] {
        assert!(f.get(port, "rx") > 0, "{port}: {diag}");
    }
}

#[test]
fn server_mode_guest_restart_reconnects() {
    let _serial = serial();
    let s = Scratch::new("qemusv");
    let socks = [s.sock("vm1"), s.sock("vm2")];
    let mut app = vhost_args(&socks);
    app.extend(["--stats-interval", "0.5"].map(String::from));
    let dp = Dataplane::start(&s, &app);
    let b_spec = guest(
        "B",
        &socks[1],
        SocketRole::QemuClient,
        MAC_B,
        format!("gp.ip={IP_B}/24 gp.test=hold"),
    );
    let mut b = Guest::boot(&s, b_spec.clone());
    let a = Guest::boot(
        &s,
        guest(
            "A",
            &socks[0],
            SocketRole::QemuClient,
            MAC_A,
            format!("gp.ip={IP_A}/24 {}", pinger(IP_B)),
        ),
    );
    b.wait_ready(BOOT);
    a.wait_serial("first ping reply", |l| ping_reply_seq(l).is_some(), BOOT);
    let attached = format!("{}: guest attached", socks[1].display());
    let detached = format!("{}: guest detached", socks[1].display());
    assert!(
        dp.log().wait(|l| l.contains(&attached), EVENT).is_some(),
        "guest B never attached:\n{}",
        dp.diagnostics()
    );

    // Guest B's QEMU goes away (a VM shut down) and a new one starts on the same socket.
    let st = b.stop();
    assert!(
        st.is_some(),
        "guest B's QEMU did not stop\n{}",
        b.diagnostics()
    );
    let (gone, _, _) = dp
        .log()
        .wait_from(0, |l| l.contains(&detached), EVENT)
        .unwrap_or_else(|| panic!("no detach logged:\n{}", dp.diagnostics()));
    drop(b);
    let a_from = a.serial().len();
    let b2 = Guest::boot(
        &s,
        GuestSpec {
            name: "B2",
            ..b_spec
        },
    );
    b2.wait_ready(BOOT);
    let again = dp
        .log()
        .wait_from(gone + 1, |l| l.contains(&attached), EVENT);
    assert!(
        again.is_some(),
        "guest B did not attach again:\n{}",
        dp.diagnostics()
    );
    // Ping resumes: replies from the new guest B.
    let mut from = a_from;
    for n in 0..REPLIES_PER_RESTART {
        from = a
            .serial()
            .wait_from(
                from,
                |l| ping_reply_seq(l).is_some(),
                Duration::from_secs(60),
            )
            .unwrap_or_else(|| {
                panic!(
                    "only {n} replies after guest B came back\n{}\n{}\n{}",
                    dp.diagnostics(),
                    a.diagnostics(),
                    b2.diagnostics()
                )
            })
            .0
            + 1;
    }
    drop(b2);
    drop(a);
    let (st, f, diag) = dp.stop();
    assert!(st.success(), "{diag}");
    assert_eq!(f.get("mempool", "in_use"), 0, "{diag}");
    // Guest B's MAC, learned on vhu1, was forgotten when the first B went away.
    assert!(f.get("bridge=br0", "flushed") >= 1, "{diag}");
}

#[test]
fn ping_reply_and_marker_lines_parse() {
    assert_eq!(
        ping_reply_seq("64 bytes from 10.0.0.2: seq=12 ttl=64 time=1.234 ms"),
        Some(12)
    );
    assert_eq!(
        ping_reply_seq("PING 10.0.0.2 (10.0.0.2): 56 data bytes"),
        None
    );
    assert_eq!(marker_uptime("GP-LINK carrier=1 up=14.78"), Some(14.78));
    assert_eq!(
        live_in_use("stats t=3.0 mempool size=16383 in_use=0"),
        Some(0)
    );
    assert_eq!(
        live_in_use("final mempool size=16383 in_use=0 in_use_while_running=0"),
        None
    );
    assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
    assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
}
