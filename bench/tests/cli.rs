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
