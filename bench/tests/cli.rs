//! dp-traffic refuses bad steps before it starts EAL.

use std::process::Command;

fn run(app: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_dp-traffic"))
        .args([
            "--no-pci",
            "--no-huge",
            "--file-prefix",
            "tg-cli-test",
            "--",
        ])
        .args(app)
        .output()
        .unwrap()
}

#[test]
fn requires_a_socket() {
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--vhost-user"));
}

#[test]
fn help_names_the_step_keys() {
    let out = run(&["--help"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for k in [
        "from=PORT",
        "src=MAC",
        "dst=MAC",
        "count=N",
        "size=BYTES",
        "delay_ms",
    ] {
        assert!(text.contains(k), "help lacks {k}: {text}");
    }
}

#[test]
fn bad_steps_are_refused_before_eal() {
    for (args, needle) in [
        (
            vec![
                "--vhost-user",
                "/tmp/x.sock",
                "--step",
                "from=0,src=02:00:00:00:00:01",
            ],
            "dst=MAC is required",
        ),
        (
            vec![
                "--vhost-user",
                "/tmp/x.sock",
                "--step",
                "from=1,src=02:00:00:00:00:01,dst=02:00:00:00:00:02",
            ],
            "only 1 --vhost-user",
        ),
        (
            vec![
                "--vhost-user",
                "/tmp/x.sock",
                "--step",
                "from=0,src=02:00:00:00:00:01,dst=02:00:00:00:00:02,colour=red",
            ],
            "unknown key \"colour\"",
        ),
    ] {
        let out = run(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!err.contains("EAL:"), "EAL must not start: {err}");
    }
}

#[test]
fn bad_generator_flags_are_refused_before_eal() {
    let two = ["--vhost-user", "/tmp/a.sock", "--vhost-user", "/tmp/b.sock"];
    for (extra, needle) in [
        (vec!["--duration", "0"], "--duration 0"),
        (vec!["--duration", "1", "--size", "9000"], "--size \"9000\""),
        (vec!["--duration", "1", "--size", "59"], "from 60 to 1518"),
        (vec!["--duration", "1", "--flows", "0"], "--flows 0"),
        (
            vec!["--duration", "1", "--flows", "1000001"],
            "1 to 1000000",
        ),
        (vec!["--duration", "1", "--rate", "fast"], "--rate \"fast\""),
        (vec!["--duration", "1", "--warmup", "-1"], "--warmup"),
        (vec!["--duration", "1", "--reflect", "0"], "--reflect 0"),
        (
            vec!["--duration", "1", "--reflect", "64", "--rate", "1M"],
            "exclude each other",
        ),
    ] {
        let args: Vec<&str> = two.iter().copied().chain(extra.iter().copied()).collect();
        let out = run(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: wanted {needle:?} in {err}");
        assert!(!err.contains("EAL:"), "EAL must not start: {err}");
    }
    // The generator runs between exactly two ports.
    let out = run(&["--vhost-user", "/tmp/a.sock", "--duration", "1"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("exactly two ports"), "{err}");
}
