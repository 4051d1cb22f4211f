//! A guest with several queue pairs (QEMU `queues=2,mq=on`, here DPDK's testpmd with
//! `virtio_user ... queues=2`, as a new user tried it) sends on all of them: the dataplane
//! must receive from every queue pair it set up, not only the first. Before, only pair 0
//! was polled: the first ring's worth sent on queue 1 was lost without a counter and the
//! ring stayed full for good.

mod common;

use common::netns::Proc;
use common::*;
use std::process::Command;
use std::time::Duration;

/// Per-stream figures testpmd prints at exit: `(rx port, rx queue, tx port, tx queue)` ->
/// TX-packets, from
/// `------- Forward Stats for RX Port= 0/Queue= 1 -> TX Port= 1/Queue= 1 -------`
/// `  RX-packets: 0              TX-packets: 11874368       TX-dropped: 18142624`.
fn stream_tx(lines: &[String]) -> Vec<((u32, u32, u32, u32), u64)> {
    let num = |s: &str| s.trim().trim_end_matches('-').trim().parse::<u32>().ok();
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let Some(rest) = l.trim().strip_prefix("------- Forward Stats for RX Port=") else {
            continue;
        };
        let parts: Vec<&str> = rest
            .split(['/', '>', '='])
            .filter(|p| !p.trim().is_empty())
            .collect();
        // ["0", "Queue", "1 -", " TX Port", "1", "Queue", "1 -------"]
        let fields: Vec<u32> = parts.iter().filter_map(|p| num(p)).collect();
        let tx = lines.get(i + 1).and_then(|n| {
            let after = n.split("TX-packets:").nth(1)?;
            after.split_whitespace().next()?.parse().ok()
        });
        if let (4, Some(tx)) = (fields.len(), tx) {
            out.push(((fields[0], fields[1], fields[2], fields[3]), tx));
        }
    }
    out
}

#[test]
fn every_queue_pair_of_a_multiqueue_guest_is_received() {
    let _serial = serial();
    let s = Scratch::new("mq");
    let socks = [s.sock("a"), s.sock("b")];
    let mut app = vhost_args(&socks);
    app.extend(["--stats-interval", "1"].map(String::from));
    let dp = Dataplane::start(&s, &app);

    let mut cmd = Command::new("dpdk-testpmd");
    cmd.args([
        "-l",
        "0-1",
        "--main-lcore",
        "1",
        "--no-pci",
        "--no-huge",
        "-m",
        "512",
    ])
    .args(["--file-prefix", &format!("tg-{}", s.tag)])
    .args(["--log-level", "lib.eal:warning"]);
    for (i, sock) in socks.iter().enumerate() {
        cmd.arg("--vdev")
            .arg(format!("virtio_user{i},path={},queues=2", sock.display()));
    }
    cmd.args([
        "--",
        "--rxq=2",
        "--txq=2",
        "--nb-cores=1",
        "--forward-mode=flowgen",
        "--stats-period",
        "1",
        "--total-num-mbufs=32768",
    ]);
    let mut testpmd = Proc::spawn(cmd, "dpdk-testpmd");
    // Wait until plenty has crossed (far more than a ring's worth per queue), by the
    // dataplane's own per-second counters.
    let crossed = dp.wait_line(
        |l| {
            l.starts_with("stats ")
                && l.contains("port=vhu1")
                && l.split_whitespace()
                    .find_map(|w| w.strip_prefix("rx="))
                    .and_then(|v| v.parse::<u64>().ok())
                    .is_some_and(|rx| rx > 200_000)
        },
        Duration::from_secs(60),
    );
    let st = testpmd.stop_with(libc::SIGINT, Duration::from_secs(30));
    let tp = testpmd.stdout();
    assert!(
        crossed,
        "no traffic crossed:\n{}\n{}",
        dp.diagnostics(),
        testpmd.diagnostics()
    );
    assert!(st.is_some(), "testpmd did not exit on SIGINT");
    let (st, finals, diag) = dp.stop();
    assert!(st.success(), "{diag}");
    assert_eq!(finals.get("mempool", "in_use"), 0, "{diag}");

    let streams = stream_tx(&tp);
    assert_eq!(
        streams.len(),
        4,
        "two ports x two queues: {streams:?}\n{}",
        tp.join("\n")
    );
    // Each virtio ring has 256 descriptors: a queue nobody drains stops at that.
    for &((_, _, tx_port, tx_queue), tx) in &streams {
        assert!(
            tx > 10 * 256,
            "stream to port {tx_port} queue {tx_queue} sent only {tx}: that queue is not \
             drained\n{}",
            tp.join("\n")
        );
    }
    // Everything testpmd sent to a port the dataplane received, but what sat in its two
    // rings when testpmd stopped.
    for (port, name) in [(0, "port=vhu0"), (1, "port=vhu1")] {
        let sent: u64 = streams
            .iter()
            .filter(|((_, _, p, _), _)| *p == port)
            .map(|(_, tx)| tx)
            .sum();
        let rx = finals.get(name, "rx");
        assert!(
            rx <= sent && sent - rx <= 2 * 256,
            "{name}: testpmd sent {sent}, the dataplane received {rx}\n{diag}"
        );
    }
}

#[test]
fn testpmd_stream_lines_parse() {
    let lines: Vec<String> = [
        "  ------- Forward Stats for RX Port= 0/Queue= 1 -> TX Port= 1/Queue= 1 -------",
        "  RX-packets: 0              TX-packets: 11874368       TX-dropped: 18142624      ",
        "",
        "  ------- Forward Stats for RX Port= 1/Queue= 0 -> TX Port= 0/Queue= 0 -------",
        "  RX-packets: 23728544       TX-packets: 32       TX-dropped: 18142464      ",
    ]
    .map(String::from)
    .to_vec();
    assert_eq!(
        stream_tx(&lines),
        vec![((0, 1, 1, 1), 11_874_368), ((1, 0, 0, 0), 32)]
    );
}
