//! The command line and config file are checked before EAL starts: mistakes are refused
//! with exit status 2 and a message that names the field and the fix, and leave no DPDK
//! runtime directory or socket behind.

mod common;

use common::*;
use std::process::{Command, Output};
use std::time::Duration;

fn run(s: &Scratch, eal: &[&str], app: &[&str]) -> Output {
    let prefix = format!("dp-{}", s.tag);
    let mut cmd = Command::new(dataplane_bin());
    cmd.args(eal);
    if !eal.contains(&"--file-prefix") {
        cmd.args([
            "--no-pci",
            "--no-huge",
            "-m",
            "128",
            "--file-prefix",
            &prefix,
        ]);
    }
    cmd.arg("--").args(app);
    run_bounded(cmd)
}

/// Runs `cmd` to completion, but kills it after 60 s: a refusal that did not happen must
/// fail the test, not hang it behind a busy-polling dataplane.
fn run_bounded(cmd: Command) -> Output {
    let (status, stdout, stderr) = common::run_bounded(cmd, "dataplane", Duration::from_secs(60));
    Output {
        status: status.expect("dataplane still running after 60 s: it should have refused at once"),
        stdout,
        stderr,
    }
}

/// Asserts a refusal before EAL: status 2, every needle in stderr, nothing created.
#[track_caller]
fn assert_refused(s: &Scratch, out: &Output, needles: &[&str]) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    for n in needles {
        assert!(err.contains(n), "stderr lacks {n:?}: {err}");
    }
    assert!(!err.contains("EAL:"), "EAL must not have started: {err}");
    assert!(
        !std::path::Path::new("/var/run/dpdk")
            .join(format!("dp-{}", s.tag))
            .exists(),
        "a DPDK runtime dir was created"
    );
}

#[test]
fn no_ports_is_refused_with_a_fix() {
    let s = Scratch::new("noports");
    let out = run(&s, &["-l", "0-1"], &[]);
    assert_refused(
        &s,
        &out,
        &[
            "bridge.ports",
            "the bridge has no ports",
            "--vhost-user PATH",
        ],
    );
}

/// Runs the dataplane with `toml` as its config plus one `--vhost-user` port, and asserts
/// the refusal names every needle.
#[track_caller]
fn assert_config_refused(test: &str, toml: &str, needles: &[&str]) {
    let s = Scratch::new(test);
    let cfg = s.write("c.toml", toml);
    let sock = s.sock("a").display().to_string();
    let out = run(
        &s,
        &["-l", "0-1"],
        &["--config", cfg.to_str().unwrap(), "--vhost-user", &sock],
    );
    assert_refused(&s, &out, needles);
}

#[test]
fn unknown_key_is_refused() {
    assert_config_refused(
        "unknown",
        "[bridge]\nmac_aging_secs = 30\nmac_agin_secs = 5\n",
        &["c.toml", "unknown field `mac_agin_secs`", "mac_aging_secs"],
    );
}

#[test]
fn malformed_static_mac_is_refused() {
    assert_config_refused(
        "badmac",
        "[[bridge.static_mac]]\nmac = \"52:54:00:zz:00:01\"\nport = \"vhu0\"\n",
        &[
            "bridge.static_mac[0].mac",
            "52:54:00:zz:00:01",
            "six two-digit hex octets",
        ],
    );
}

#[test]
fn duplicate_port_names_are_refused() {
    let s = Scratch::new("dupname");
    let a = s.sock("a").display().to_string();
    let b = s.sock("b").display().to_string();
    let cfg = s.write(
        "c.toml",
        &format!(
            "[[port]]\nname = \"vm1\"\ntype = \"vhost-user\"\npath = \"{a}\"\n\n\
             [[port]]\nname = \"vm1\"\ntype = \"vhost-user\"\npath = \"{b}\"\n"
        ),
    );
    let out = run(&s, &["-l", "0-1"], &["--config", cfg.to_str().unwrap()]);
    assert_refused(
        &s,
        &out,
        &["port[1] \"vm1\": name", "already the name of port[0]"],
    );
}

#[test]
fn socket_path_under_a_file_is_refused() {
    let s = Scratch::new("nodir");
    s.write("plain", "x");
    let sock = s.dir.join("plain/sub/a.sock").display().to_string();
    let out = run(&s, &["-l", "0-1"], &["--vhost-user", &sock]);
    assert_refused(&s, &out, &["vhu0", "path", "plain/sub", "Not a directory"]);
}

#[test]
fn a_file_in_the_way_of_the_socket_is_refused() {
    let s = Scratch::new("notsock");
    let f = s.write("a.sock", "not a socket");
    let out = run(&s, &["-l", "0-1"], &["--vhost-user", f.to_str().unwrap()]);
    assert_refused(&s, &out, &["is not a socket"]);
    assert!(f.exists(), "a non-socket file is never removed");
}

#[test]
fn lcore_set_without_worker_is_refused() {
    let s = Scratch::new("onelcore");
    let sock = s.sock("a").display().to_string();
    let out = run(&s, &["-l", "0"], &["--vhost-user", &sock]);
    assert_refused(&s, &out, &["no worker lcore", "-l 0-1"]);
}

#[test]
fn app_options_before_the_separator_are_refused() {
    let s = Scratch::new("nosep");
    let mut cmd = Command::new(dataplane_bin());
    cmd.args(["-l", "0-1", "--vhost-user", "/tmp/x.sock"]);
    let out = run_bounded(cmd);
    assert_refused(
        &s,
        &out,
        &["--vhost-user is a dataplane option", "after `--`"],
    );
}

#[test]
fn bad_stats_interval_is_refused() {
    let s = Scratch::new("badstats");
    let sock = s.sock("a").display().to_string();
    let out = run(
        &s,
        &["-l", "0-1"],
        &["--vhost-user", &sock, "--stats-interval", "-1"],
    );
    assert_eq!(out.status.code(), Some(2));
    let out = run(
        &s,
        &["-l", "0-1"],
        &["--vhost-user", &sock, "--stats-interval", "soon"],
    );
    assert_refused(&s, &out, &["--stats-interval", "soon"]);
}

#[test]
fn bad_vhost_path_is_refused() {
    let s = Scratch::new("badpath");
    let sock = s.sock("a").display().to_string();
    let out = run(
        &s,
        &["-l", "0-1"],
        &["--vhost-user", &sock, "--vhost-path", "net_vhost"],
    );
    assert_refused(&s, &out, &["--vhost-path", "net_vhost", "lib", "pmd"]);
    assert!(!s.sock("a").exists(), "no socket was created");
}

#[test]
fn help_and_version_answer_without_the_separator() {
    for (flag, expect) in [
        ("--help", "--pmd-sleep-max"),
        ("-h", "Usage: dataplane"),
        ("--version", "dataplane 0.1"),
        ("-V", "dataplane 0.1"),
    ] {
        let out = Command::new(dataplane_bin())
            .args(["-l", "0-1", flag])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{flag}: {out:?}");
        assert!(text.contains(expect), "{flag}: {text}");
        assert!(
            !String::from_utf8_lossy(&out.stderr).contains("EAL:"),
            "{flag} started EAL"
        );
    }
}

#[test]
fn bad_pmd_sleep_max_is_refused() {
    let s = Scratch::new("badsleep");
    let sock = s.sock("a").display().to_string();
    for bad in ["20000", "-1", "soon"] {
        let out = run(
            &s,
            &["-l", "0-1"],
            &["--vhost-user", &sock, "--pmd-sleep-max", bad],
        );
        assert_refused(&s, &out, &["--pmd-sleep-max", bad]);
    }
    assert!(!s.sock("a").exists(), "no socket was created");
}

#[test]
fn vtep_config_mistakes_are_refused_before_eal() {
    let s = Scratch::new("badvtep");
    let base = |vtep: &str, bridge: &str| {
        format!(
            "[[port]]\nname = \"vm\"\ntype = \"vhost-user\"\npath = \"{}\"\n\
             [[port]]\nname = \"uplink\"\ntype = \"dpdk\"\ndevargs = \"net_null0\"\n\
             [vtep]\nport = \"uplink\"\n{vtep}\n[bridge]\nports = [\"vm\"]\n{bridge}\n",
            s.sock("vm").display()
        )
    };
    for (vtep, bridge, expect) in [
        (
            "ip = \"172.31.0.2/24\"\ngateway = \"10.0.0.1\"",
            "vni = 1",
            &["vtep.gateway", "prefix"][..],
        ),
        (
            "ip = \"172.31.0.2/24\"",
            "vni = 1\nremote_vteps = [\"172.31.0.2\"]",
            &["bridge.remote_vteps", "172.31.0.2"][..],
        ),
        (
            "ip = \"172.31.0.2/24\"\nsource_ports = \"60000-50000\"",
            "vni = 1",
            &["vtep.source_ports"][..],
        ),
        ("ip = \"172.31.0.2\"", "vni = 1", &["vtep.ip", "/"][..]),
    ] {
        let cfg = s.write("bad.toml", &base(vtep, bridge));
        let out = run(
            &s,
            &["-l", "0-1"],
            &["--config", &cfg.display().to_string()],
        );
        assert_refused(&s, &out, expect);
    }
    // A VTEP port that is also in the bridge.
    let text = base("ip = \"172.31.0.2/24\"", "vni = 1")
        .replace("ports = [\"vm\"]", "ports = [\"vm\", \"uplink\"]");
    let cfg = s.write("both.toml", &text);
    let out = run(
        &s,
        &["-l", "0-1"],
        &["--config", &cfg.display().to_string()],
    );
    assert_refused(&s, &out, &["uplink", "vtep"]);
}

#[test]
fn eal_failure_exits_nonzero_without_leaving_a_socket() {
    let _serial = serial();
    let s = Scratch::new("ealfail");
    let sock = s.sock("a");
    let out = run(
        &s,
        &[
            "-l",
            "0-1",
            "--no-pci",
            "--no-huge",
            "--no-such-eal-option",
            "--file-prefix",
            &format!("dp-{}", s.tag),
        ],
        &["--vhost-user", sock.to_str().unwrap()],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("rte_eal_init"), "{err}");
    assert!(!sock.exists());
}

#[test]
fn too_few_mbufs_and_absurd_intervals_are_refused() {
    let s = Scratch::new("mbufs");
    let sock = s.sock("a").display().to_string();
    let out = run(
        &s,
        &["-l", "0-1"],
        &["--vhost-user", &sock, "--mbufs", "100"],
    );
    assert_refused(&s, &out, &["--mbufs 100", "at least", "omit --mbufs"]);
    let out = run(
        &s,
        &["-l", "0-1"],
        &["--vhost-user", &sock, "--stats-interval", "1e20"],
    );
    assert_refused(&s, &out, &["--stats-interval", "0 to 86400"]);
}
