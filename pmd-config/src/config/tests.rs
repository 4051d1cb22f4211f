use super::errors::field_at;
use super::*;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use switch::wire::MacAddr;

/// A directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "pmd-config-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    fn s(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::set_permissions(&self.0, std::fs::Permissions::from_mode(0o755));
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const ORIGIN: &str = "test.toml";

fn parse(text: &str) -> Config {
    match Config::from_toml_str(text, ORIGIN) {
        Ok(c) => c,
        Err(e) => panic!("unexpected error: {e}"),
    }
}

fn parse_err(text: &str) -> ConfigError {
    match Config::from_toml_str(text, ORIGIN) {
        Ok(c) => panic!("expected an error, got {c:?}"),
        Err(e) => e,
    }
}

/// Asserts `e` is an [`ConfigError::Invalid`] about `field` whose message starts with the
/// origin and contains every one of `needles`.
#[track_caller]
fn assert_invalid(e: &ConfigError, origin: &str, field: &str, needles: &[&str]) {
    let msg = e.to_string();
    assert!(
        matches!(e, ConfigError::Invalid { .. }),
        "not Invalid: {msg}"
    );
    assert_eq!(e.field(), Some(field), "{msg}");
    assert_eq!(e.origin(), origin, "{msg}");
    assert!(
        msg.starts_with(&format!("{origin}: {field}: ")),
        "message does not start with origin and field: {msg}"
    );
    for n in needles {
        assert!(msg.contains(n), "{msg:?} does not contain {n:?}");
    }
}

#[track_caller]
fn assert_shape_err(text: &str, field: &str, needles: &[&str]) {
    assert_invalid(&parse_err(text), ORIGIN, field, needles);
}

#[track_caller]
fn assert_parse_err(text: &str, field: &str, needles: &[&str]) {
    let e = parse_err(text);
    let msg = e.to_string();
    assert!(matches!(e, ConfigError::Parse { .. }), "not Parse: {msg}");
    assert_eq!(e.field(), Some(field), "{msg}");
    assert!(msg.starts_with(&format!("{ORIGIN}: {field}: ")), "{msg}");
    assert!(msg.contains("TOML parse error at line"), "{msg}");
    assert!(msg.contains("\nfix: "), "{msg}");
    for n in needles {
        assert!(msg.contains(n), "{msg:?} does not contain {n:?}");
    }
}

#[track_caller]
fn assert_validate_err(config: &Config, field: &str, needles: &[&str]) {
    match config.validate() {
        Ok(()) => panic!("expected an error for {config:?}"),
        Err(e) => assert_invalid(&e, DEFAULT_ORIGIN, field, needles),
    }
}

fn mac(s: &str) -> MacAddr {
    s.parse().unwrap()
}

fn vhost(name: &str, path: &str, mode: VhostMode) -> PortConfig {
    PortConfig {
        name: name.to_string(),
        kind: PortKind::VhostUser {
            path: PathBuf::from(path),
            mode,
            access: SocketAccess::default(),
            tx_retries_max: DEFAULT_TX_RETRIES_MAX,
        },
    }
}

fn dpdk(name: &str, devargs: &str) -> PortConfig {
    PortConfig {
        name: name.to_string(),
        kind: PortKind::Dpdk {
            devargs: devargs.to_string(),
        },
    }
}

/// The ```toml blocks of the crate documentation (the user-facing reference), in order.
fn doc_examples() -> Vec<String> {
    let lib = include_str!("../lib.rs");
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in lib.lines() {
        let line = line.strip_prefix("//!").unwrap_or("");
        let line = line.strip_prefix(' ').unwrap_or(line);
        if line.starts_with("```toml") {
            current = Some(String::new());
        } else if current.is_some() && line.starts_with("```") {
            blocks.extend(current.take());
        } else if let Some(block) = &mut current {
            block.push_str(line);
            block.push('\n');
        }
    }
    assert!(!blocks.is_empty(), "no ```toml block in the crate docs");
    blocks
}

/// The first ```toml block of the crate documentation: one local bridge.
fn reference_example() -> String {
    doc_examples().swap_remove(0)
}

fn full_example(dir: &TempDir) -> String {
    reference_example().replace("/run/dataplane/vm1.sock", &dir.s("vm1.sock"))
}

// ---------------------------------------------------------------------------------- good

#[test]
fn reference_example_parses_to_the_documented_model() {
    let c = parse(&reference_example());
    assert_eq!(
        c,
        Config {
            ports: vec![
                vhost("vm1", "/run/dataplane/vm1.sock", VhostMode::Server),
                dpdk("uplink", "0000:03:00.0"),
            ],
            bridges: vec![BridgeConfig {
                name: "br0".into(),
                ports: vec!["vm1".into(), "uplink".into()],
                mac_aging_secs: 300,
                mac_table_size: 8192,
                static_macs: vec![StaticMac {
                    mac: mac("52:54:00:00:00:01"),
                    target: StaticTarget::Port("vm1".into()),
                }],
                vni: None,
                remote_vteps: vec![],
                accept_remotes: AcceptRemotes::Listed,
            }],
            vtep: None,
        }
    );
}

#[test]
fn full_example_with_real_socket_dir_validates() {
    let dir = TempDir::new();
    let c = parse(&full_example(&dir));
    c.validate().unwrap();
    c.validate_with_origin("x.toml").unwrap();
    assert_eq!(c.bridge_port_index(0, "vm1"), Some(0));
    assert_eq!(c.bridge_port_index(0, "uplink"), Some(1));
    assert_eq!(c.bridge_port_index(0, "nope"), None);
}

#[test]
fn full_config_with_every_key() {
    let dir = TempDir::new();
    let text = format!(
        r#"
[[port]]
name = "vm1"
type = "vhost-user"
path = "{}"

[[port]]
name = "vm2"
type = "vhost-user"
path = "{}"
mode = "client"

[[port]]
name = "pcap"
type = "dpdk"
devargs = "net_pcap0,rx_pcap=in.pcap"

[bridge]
name = "lab-br_1.0"
ports = ["vm2", "vm1"]
mac_aging_secs = 86400
mac_table_size = 1000000

[[bridge.static_mac]]
mac = "52:54:00:00:00:01"
port = "vm1"

[[bridge.static_mac]]
mac = "52-54-00-00-00-02"
port = "vm2"
"#,
        dir.s("vm1.sock"),
        dir.s("qemu/vm2.sock") // client: the directory need not exist
    );
    let c = parse(&text);
    c.validate().unwrap();
    assert_eq!(c.ports.len(), 3);
    assert_eq!(
        c.ports[1],
        vhost("vm2", &dir.s("qemu/vm2.sock"), VhostMode::Client)
    );
    assert_eq!(c.ports[2], dpdk("pcap", "net_pcap0,rx_pcap=in.pcap"));
    assert_eq!(c.bridges[0].name, "lab-br_1.0");
    // Bridge order is the ports list's, not the file's.
    assert_eq!(c.bridges[0].ports, ["vm2", "vm1"]);
    assert_eq!(c.bridge_port_index(0, "vm2"), Some(0));
    assert_eq!(c.bridge_port_index(0, "pcap"), None);
    assert_eq!(c.bridges[0].mac_aging_secs, 86400);
    assert_eq!(c.bridges[0].mac_table_size, 1_000_000);
    assert_eq!(c.bridges[0].static_macs[1].mac, mac("52:54:00:00:00:02"));
}

#[test]
fn minimal_config_gets_defaults() {
    let c = parse("[[port]]\nname = \"vm1\"\ntype = \"vhost-user\"\npath = \"/run/vm1.sock\"\n");
    assert_eq!(
        c,
        Config {
            ports: vec![vhost("vm1", "/run/vm1.sock", VhostMode::Server)],
            bridges: vec![BridgeConfig {
                ports: vec!["vm1".into()],
                ..BridgeConfig::default()
            }],
            vtep: None,
        }
    );
}

#[test]
fn empty_bridge_table_gets_defaults() {
    let c = parse("[[port]]\nname = \"a\"\ntype = \"dpdk\"\ndevargs = \"net_null0\"\n[bridge]\n");
    assert_eq!(c.bridges[0].name, "br0");
    assert_eq!(c.bridges[0].ports, ["a"]);
    assert_eq!(c.bridges[0].mac_aging_secs, 300);
    assert_eq!(c.bridges[0].mac_table_size, 8192);
    assert!(c.bridges[0].static_macs.is_empty());
    c.validate().unwrap();
}

#[test]
fn default_config() {
    let c = Config::default();
    assert!(c.ports.is_empty());
    assert_eq!(c.bridges[0].name, DEFAULT_BRIDGE_NAME);
    assert!(c.bridges[0].ports.is_empty());
    assert_eq!(c.bridges[0].mac_aging_secs, DEFAULT_MAC_AGING_SECS);
    assert_eq!(c.bridges[0].mac_table_size, DEFAULT_MAC_TABLE_SIZE);
    assert!(c.bridges[0].static_macs.is_empty());
    // An empty file is the default configuration.
    assert_eq!(parse(""), c);
    assert_eq!(parse("# nothing\n"), c);
}

#[test]
fn default_config_without_ports_is_refused_by_validate_with_a_hint() {
    let e = Config::default().validate().unwrap_err();
    assert_invalid(
        &e,
        DEFAULT_ORIGIN,
        "bridge.ports",
        &["no ports", "add --vhost-user PATH or a [[port]] table"],
    );
    // But the file alone is fine: the command line may add the ports.
    parse("[bridge]\nports = []\n");
}

#[test]
fn validate_with_origin_names_the_origin() {
    let e = Config::default()
        .validate_with_origin("/etc/dp.toml + command line")
        .unwrap_err();
    assert_invalid(
        &e,
        "/etc/dp.toml + command line",
        "bridge.ports",
        &["--vhost-user"],
    );
}

#[test]
fn load_reads_the_file_and_names_it() {
    let dir = TempDir::new();
    let file = dir.path("dp.toml");
    std::fs::write(&file, full_example(&dir)).unwrap();
    let c = Config::load(&file).unwrap();
    assert_eq!(c.ports.len(), 2);

    std::fs::write(&file, "[bridge]\nmac_aging_secs = 0\n").unwrap();
    let e = Config::load(&file).unwrap_err();
    assert_invalid(
        &e,
        &file.display().to_string(),
        "bridge.mac_aging_secs",
        &["0 is out of range", "from 1 to 86400"],
    );

    std::fs::write(&file, "[bridge]\nnam = \"x\"\n").unwrap();
    let e = Config::load(&file).unwrap_err();
    assert!(
        e.to_string().starts_with(&file.display().to_string()),
        "{e}"
    );
}

#[test]
fn load_of_a_missing_file_names_it() {
    let dir = TempDir::new();
    let file = dir.path("missing.toml");
    let e = Config::load(&file).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, ConfigError::Read { .. }), "{msg}");
    assert_eq!(e.field(), None);
    assert!(msg.starts_with(&file.display().to_string()), "{msg}");
    assert!(msg.contains("cannot read"), "{msg}");
    assert!(msg.contains("check the path"), "{msg}");
}

#[test]
fn load_of_a_directory_is_an_error() {
    let dir = TempDir::new();
    let e = Config::load(&dir.0).unwrap_err();
    assert!(matches!(e, ConfigError::Read { .. }), "{e}");
}

// ------------------------------------------------------------------------- command line

#[test]
fn add_vhost_user_server_names_ports_vhu0_vhu1() {
    let mut c = Config::default();
    assert_eq!(c.add_vhost_user_server("/run/a.sock".into()), "vhu0");
    assert_eq!(c.add_vhost_user_server("/run/b.sock".into()), "vhu1");
    assert_eq!(
        c.ports,
        [
            vhost("vhu0", "/run/a.sock", VhostMode::Server),
            vhost("vhu1", "/run/b.sock", VhostMode::Server)
        ]
    );
    assert_eq!(c.bridges[0].ports, ["vhu0", "vhu1"]);
    assert_eq!(c.bridge_port_index(0, "vhu1"), Some(1));
}

#[test]
fn add_vhost_user_server_skips_names_in_use() {
    let mut c = parse(
        "[[port]]\nname = \"vhu0\"\ntype = \"dpdk\"\ndevargs = \"net_null0\"\n\
         [[port]]\nname = \"vhu2\"\ntype = \"dpdk\"\ndevargs = \"net_null1\"\n",
    );
    assert_eq!(c.add_vhost_user_server("/run/a.sock".into()), "vhu1");
    assert_eq!(c.add_vhost_user_server("/run/b.sock".into()), "vhu3");
    assert_eq!(c.bridges[0].ports, ["vhu0", "vhu2", "vhu1", "vhu3"]);
}

#[test]
fn command_line_ports_join_a_bridge_without_ports_key() {
    let dir = TempDir::new();
    let mut c = parse(&format!(
        "[[port]]\nname = \"vm1\"\ntype = \"vhost-user\"\npath = \"{}\"\n[bridge]\nname = \"b\"\n",
        dir.s("vm1.sock")
    ));
    c.add_vhost_user_server(dir.path("cli.sock"));
    assert_eq!(c.bridges[0].ports, ["vm1", "vhu0"]);
    c.validate().unwrap();
}

#[test]
fn command_line_ports_are_appended_to_an_explicit_ports_list() {
    let dir = TempDir::new();
    let mut c = parse(&format!(
        "[[port]]\nname = \"a\"\ntype = \"vhost-user\"\npath = \"{}\"\n\
         [[port]]\nname = \"b\"\ntype = \"dpdk\"\ndevargs = \"net_null0\"\n\
         [bridge]\nports = [\"b\"]\n",
        dir.s("a.sock")
    ));
    c.add_vhost_user_server(dir.path("cli.sock"));
    assert_eq!(c.bridges[0].ports, ["b", "vhu0"]);
    c.validate().unwrap();
}

#[test]
fn command_line_port_makes_an_empty_file_valid() {
    let dir = TempDir::new();
    let mut c = parse("");
    c.add_vhost_user_server(dir.path("a.sock"));
    c.validate().unwrap();
}

#[test]
fn command_line_port_reusing_a_file_socket_is_refused() {
    let dir = TempDir::new();
    let mut c = parse(&full_example(&dir));
    c.add_vhost_user_server(dir.path("vm1.sock"));
    assert_validate_err(
        &c,
        "port[2] \"vhu0\": path",
        &[
            "already the socket of port[0] \"vm1\"",
            "its own socket path",
        ],
    );
}

#[test]
fn more_than_32_bridge_ports_is_refused() {
    let mut c = Config::default();
    for i in 0..32 {
        c.ports
            .push(dpdk(&format!("p{i}"), &format!("net_null{i}")));
        c.bridges[0].ports.push(format!("p{i}"));
    }
    c.validate().unwrap();
    c.add_vhost_user_server(std::env::temp_dir().join("pmd-config-33.sock"));
    assert_validate_err(
        &c,
        "bridge.ports",
        &["33 ports", "more than the 32", "at most 32"],
    );
}

#[test]
fn more_than_32_ports_in_a_file_is_refused_at_load() {
    let mut text = String::new();
    for i in 0..33 {
        text.push_str(&format!(
            "[[port]]\nname = \"p{i}\"\ntype = \"dpdk\"\ndevargs = \"net_null{i}\"\n"
        ));
    }
    assert_shape_err(&text, "bridge.ports", &["33 ports", "at most 32"]);
    // 33 ports are fine if at most 32 are bridged.
    let names: Vec<String> = (0..32).map(|i| format!("\"p{i}\"")).collect();
    let c = parse(&format!("{text}[bridge]\nports = [{}]\n", names.join(",")));
    assert_eq!(c.ports.len(), 33);
    assert_eq!(c.bridges[0].ports.len(), MAX_BRIDGE_PORTS);
    assert_eq!(c.bridge_port_index(0, "p31"), Some(31));
}

// ------------------------------------------------------------------------- unknown keys

#[test]
fn unknown_key_at_top_level() {
    assert_parse_err(
        "foo = 1\n",
        "foo",
        &[
            "unknown field `foo`",
            "expected one of `port`, `bridge`, `vtep`",
            "spelling",
        ],
    );
    assert_parse_err("[bridges]\n", "bridges", &["unknown field `bridges`"]);
    assert_parse_err(
        "[[ports]]\nname = \"a\"\n",
        "ports[0]",
        &["unknown field `ports`"],
    );
}

#[test]
fn unknown_key_in_port() {
    assert_parse_err(
        "[[port]]\nname = \"a\"\ntype = \"dpdk\"\ndevargs = \"x\"\n\
         [[port]]\nnmae = \"b\"\n",
        "port[1].nmae",
        &[
            "unknown field `nmae`",
            "expected one of",
            "`name`",
            "line 6",
        ],
    );
}

#[test]
fn unknown_key_in_bridge() {
    assert_parse_err(
        "[bridge]\nname = \"br0\"\nmac_ageing_secs = 10\n",
        "bridge.mac_ageing_secs",
        &[
            "unknown field `mac_ageing_secs`",
            "`mac_aging_secs`",
            "line 3",
        ],
    );
}

#[test]
fn unknown_key_in_static_mac() {
    assert_parse_err(
        "[bridge]\n[[bridge.static_mac]]\nmac = \"52:54:00:00:00:01\"\nprot = \"vm1\"\n",
        "bridge.static_mac[0].prot",
        &["unknown field `prot`", "`port`"],
    );
    assert_parse_err(
        "[bridge]\n[[bridge.static_mac]]\nmac = \"52:54:00:00:00:01\"\nport = \"a\"\n\
         [[bridge.static_mac]]\nvlan = 5\n",
        "bridge.static_mac[1].vlan",
        &["unknown field `vlan`"],
    );
}

#[test]
fn unknown_key_in_inline_table() {
    let e = parse_err("port = [{ name = \"a\", colour = \"red\" }]\n");
    let msg = e.to_string();
    assert!(msg.contains("unknown field `colour`"), "{msg}");
    assert!(msg.contains("line 1, column 23"), "{msg}");
}

#[test]
fn wrong_value_types_name_the_field() {
    assert_parse_err(
        "[[port]]\nname = 5\n",
        "port[0].name",
        &["invalid type: integer `5`", "expected"],
    );
    assert_parse_err(
        "[bridge]\nmac_aging_secs = \"300\"\n",
        "bridge.mac_aging_secs",
        &["invalid type"],
    );
    assert_parse_err(
        "[bridge]\nports = \"vm1\"\n",
        "bridge.ports",
        &["invalid type"],
    );
    assert_parse_err("port = 1\n", "port", &["invalid type"]);
}

#[test]
fn toml_syntax_errors_carry_line_and_column() {
    assert_parse_err("[bridge\n", "bridge", &["line 1, column 8", "TOML syntax"]);
    assert_parse_err(
        "[[port]]\nname = \"a\"\nname = \"b\"\n",
        "port[0].name",
        &["duplicate key", "line 3", "only one"],
    );
    assert_parse_err(
        "[bridge]\nmac_table_size = 99999999999999999999\n",
        "bridge.mac_table_size",
        &["line 2"],
    );
}

// ------------------------------------------------------------------------------- ports

const DPDK_A: &str = "[[port]]\nname = \"a\"\ntype = \"dpdk\"\ndevargs = \"net_null0\"\n";

#[test]
fn missing_port_fields() {
    assert_shape_err(
        "[[port]]\ntype = \"dpdk\"\ndevargs = \"x\"\n",
        "port[0]: name",
        &["is missing", "add name = "],
    );
    assert_shape_err(
        &format!("{DPDK_A}[[port]]\nname = \"b\"\n"),
        "port[1] \"b\": type",
        &["is missing", "add type = \"vhost-user\" or type = \"dpdk\""],
    );
    assert_shape_err(
        "[[port]]\nname = \"vm\"\ntype = \"vhost-user\"\n",
        "port[0] \"vm\": path",
        &["is missing", "add path = "],
    );
    assert_shape_err(
        "[[port]]\nname = \"nic\"\ntype = \"dpdk\"\n",
        "port[0] \"nic\": devargs",
        &["is missing", "0000:03:00.0", "net_pcap0"],
    );
}

#[test]
fn unknown_port_type_and_mode() {
    assert_shape_err(
        "[[port]]\nname = \"a\"\ntype = \"vhost\"\npath = \"/x\"\n",
        "port[0] \"a\": type",
        &[
            "\"vhost\" is not a port type",
            "use type = \"vhost-user\" or type = \"dpdk\"",
        ],
    );
    assert_shape_err(
        "[[port]]\nname = \"a\"\ntype = \"vhost-user\"\npath = \"/x\"\nmode = \"Server\"\n",
        "port[0] \"a\": mode",
        &[
            "\"Server\" is not a vhost-user mode",
            "mode = \"server\"",
            "mode = \"client\"",
        ],
    );
}

#[test]
fn keys_of_the_other_port_type_are_refused() {
    assert_shape_err(
        "[[port]]\nname = \"a\"\ntype = \"vhost-user\"\npath = \"/x.sock\"\ndevargs = \"y\"\n",
        "port[0] \"a\": devargs",
        &["setting of dpdk ports", "remove devargs"],
    );
    assert_shape_err(
        "[[port]]\nname = \"a\"\ntype = \"dpdk\"\ndevargs = \"y\"\npath = \"/x.sock\"\n",
        "port[0] \"a\": path",
        &["setting of vhost-user ports", "remove path"],
    );
    assert_shape_err(
        "[[port]]\nname = \"a\"\ntype = \"dpdk\"\ndevargs = \"y\"\nmode = \"client\"\n",
        "port[0] \"a\": mode",
        &["setting of vhost-user ports", "remove mode"],
    );
}

#[test]
fn empty_devargs_is_refused() {
    for devargs in ["", "  "] {
        assert_shape_err(
            &format!("[[port]]\nname = \"nic\"\ntype = \"dpdk\"\ndevargs = \"{devargs}\"\n"),
            "port[0] \"nic\": devargs",
            &["is empty", "PCI address", "0000:03:00.0"],
        );
    }
}

#[test]
fn invalid_port_names_are_refused() {
    let long = "a".repeat(33);
    for (name, needle) in [
        ("", "is empty"),
        ("vm 1", "contains ' '"),
        ("vm/1", "contains '/'"),
        ("vmé", "contains 'é'"),
        (long.as_str(), "33 characters long"),
    ] {
        assert_shape_err(
            &format!("[[port]]\nname = \"{name}\"\ntype = \"dpdk\"\ndevargs = \"x\"\n"),
            &format!("port[0] {name:?}: name"),
            &[needle, "use 1 to 32 characters from A-Z, a-z, 0-9"],
        );
    }
    // The limits themselves are fine.
    let ok = "A-z_0.9".to_string() + &"x".repeat(25);
    assert_eq!(ok.len(), 32);
    parse(&format!(
        "[[port]]\nname = \"{ok}\"\ntype = \"dpdk\"\ndevargs = \"x\"\n"
    ));
}

#[test]
fn duplicate_port_names_are_refused() {
    assert_shape_err(
        &format!(
            "{DPDK_A}[[port]]\nname = \"b\"\ntype = \"dpdk\"\ndevargs = \"y\"\n\
             [[port]]\nname = \"a\"\ntype = \"vhost-user\"\npath = \"/z.sock\"\n"
        ),
        "port[2] \"a\": name",
        &[
            "already the name of port[0]",
            "give every port a different name",
        ],
    );
}

#[test]
fn invalid_bridge_name_is_refused() {
    assert_shape_err(
        &format!("{DPDK_A}[bridge]\nname = \"br 0\"\n"),
        "bridge.name",
        &["contains ' '", "use 1 to 32 characters"],
    );
}

#[test]
fn duplicate_vhost_paths_are_refused() {
    assert_shape_err(
        "[[port]]\nname = \"a\"\ntype = \"vhost-user\"\npath = \"/run/x.sock\"\n\
         [[port]]\nname = \"b\"\ntype = \"vhost-user\"\npath = \"/run/x.sock\"\nmode = \"client\"\n",
        "port[1] \"b\": path",
        &["\"/run/x.sock\" is already the socket of port[0] \"a\"", "its own socket path"],
    );
}

#[test]
fn duplicate_vhost_paths_spelt_differently_are_refused() {
    let dir = TempDir::new();
    let two = |a: String, b: String| {
        format!(
            "[[port]]\nname = \"a\"\ntype = \"vhost-user\"\npath = \"{a}\"\n\
             [[port]]\nname = \"b\"\ntype = \"vhost-user\"\npath = \"{b}\"\n"
        )
    };
    // Same components: caught when parsing.
    assert_shape_err(
        &two(dir.s("x.sock"), dir.s("./x.sock")),
        "port[1] \"b\": path",
        &["is already the socket of port[0] \"a\""],
    );
    // Same file through a symlinked directory: caught by validate.
    std::os::unix::fs::symlink(&dir.0, dir.path("link")).unwrap();
    let c = parse(&two(dir.s("x.sock"), dir.s("link/x.sock")));
    assert_validate_err(
        &c,
        "port[1] \"b\": path",
        &["is the same socket as port[0] \"a\"", "its own socket path"],
    );
}

#[test]
fn socket_path_length_is_limited_to_sun_path() {
    let ok = format!("/{}", "s".repeat(MAX_SOCKET_PATH_LEN - 1));
    let long = format!("/{}", "s".repeat(MAX_SOCKET_PATH_LEN));
    for mode in ["server", "client"] {
        parse(&format!(
            "[[port]]\nname = \"a\"\ntype = \"vhost-user\"\npath = \"{ok}\"\nmode = \"{mode}\"\n"
        ));
        assert_shape_err(
            &format!(
                "[[port]]\nname = \"a\"\ntype = \"vhost-user\"\npath = \"{long}\"\nmode = \"{mode}\"\n"
            ),
            "port[0] \"a\": path",
            &["is 108 bytes long", "at most 107", "choose a shorter path"],
        );
    }
}

#[test]
fn empty_nul_and_directory_socket_paths_are_refused() {
    let port =
        |path: &str| format!("[[port]]\nname = \"a\"\ntype = \"vhost-user\"\npath = \"{path}\"\n");
    assert_shape_err(&port(""), "port[0] \"a\": path", &["is empty", "set path"]);
    assert_shape_err(&port("/run/a\\u0000b"), "port[0] \"a\": path", &["NUL"]);
    assert_shape_err(
        &port("/run/dataplane/"),
        "port[0] \"a\": path",
        &["names a directory", "file name"],
    );
}

// -------------------------------------------------------------------------- filesystem

fn one_port(path: &Path, mode: VhostMode) -> Config {
    let mut c = Config::default();
    c.ports
        .push(vhost("vm1", &path.display().to_string(), mode));
    c.bridges[0].ports.push("vm1".into());
    c
}

#[test]
fn server_socket_in_a_missing_directory_is_created_at_start() {
    let dir = TempDir::new();
    let path = dir.path("no-such-dir/deeper/vm1.sock");
    // Validation accepts it: the runtime creates the directories (socket_dir_mode).
    one_port(&path, VhostMode::Server).validate().unwrap();
    one_port(&path, VhostMode::Client).validate().unwrap();
    one_port(
        Path::new("pmd-config-no-such-dir-for-tests/vm1.sock"),
        VhostMode::Server,
    )
    .validate()
    .unwrap();
}

#[test]
fn server_socket_under_a_file_is_refused() {
    let dir = TempDir::new();
    std::fs::write(dir.path("plain"), "x").unwrap();
    let c = one_port(&dir.path("plain/sub/vm1.sock"), VhostMode::Server);
    assert_validate_err(
        &c,
        "port[0] \"vm1\": path",
        &["plain/sub", "Not a directory", "choose another path"],
    );
}

#[test]
fn socket_access_keys() {
    let text = |extra: &str| {
        format!("[[port]]\nname = \"vm1\"\ntype = \"vhost-user\"\npath = \"/run/x.sock\"\n{extra}")
    };
    let kind = |extra: &str| {
        Config::from_toml_str(&text(extra), ORIGIN).unwrap().ports[0]
            .kind
            .clone()
    };
    let PortKind::VhostUser { access, .. } = kind("") else {
        panic!()
    };
    assert_eq!(access, SocketAccess::default());
    assert_eq!((access.mode, access.dir_mode), (0o660, 0o755));
    let PortKind::VhostUser { access, .. } = kind(
        "socket_mode = \"0640\"\nsocket_dir_mode = \"0o750\"\nsocket_owner = \"root\"\nsocket_group = \"0\"\n",
    ) else {
        panic!()
    };
    assert_eq!(
        access,
        SocketAccess {
            owner: Some(0),
            group: Some(0),
            mode: 0o640,
            dir_mode: 0o750
        }
    );
    for (extra, field, words) in [
        (
            "socket_mode = \"999\"\n",
            "socket_mode",
            &["\"999\" is not a permission mode", "octal"][..],
        ),
        (
            "socket_mode = \"+660\"\n",
            "socket_mode",
            &["is not a permission mode"][..],
        ),
        (
            "socket_owner = \"4294967295\"\n",
            "socket_owner",
            &["no user on this machine"][..],
        ),
        (
            "socket_mode = \"1777\"\n",
            "socket_mode",
            &["at most 0777"][..],
        ),
        (
            "socket_dir_mode = \"\"\n",
            "socket_dir_mode",
            &["is not a permission mode"][..],
        ),
        (
            "socket_owner = \"no-such-user-dp\"\n",
            "socket_owner",
            &["no user on this machine"][..],
        ),
        (
            "socket_group = \"no-such-group-dp\"\n",
            "socket_group",
            &["no group on this machine"][..],
        ),
        (
            "mode = \"client\"\nsocket_mode = \"0600\"\n",
            "socket_mode",
            &["client mode QEMU creates the socket"][..],
        ),
    ] {
        let e = Config::from_toml_str(&text(extra), ORIGIN).unwrap_err();
        assert_eq!(
            e.field(),
            Some(format!("port[0] \"vm1\": {field}").as_str()),
            "{e}"
        );
        for w in words {
            assert!(e.to_string().contains(w), "{extra}: {e}");
        }
    }
    let e = Config::from_toml_str(
        "[[port]]\nname = \"up\"\ntype = \"dpdk\"\ndevargs = \"net_null0\"\nsocket_mode = \"0600\"\n",
        ORIGIN,
    )
    .unwrap_err();
    assert!(e.to_string().contains("setting of vhost-user ports"), "{e}");
}

#[test]
fn tx_retries_max_key() {
    let text = |extra: &str| {
        format!("[[port]]\nname = \"vm1\"\ntype = \"vhost-user\"\npath = \"/run/x.sock\"\n{extra}")
    };
    let retries =
        |extra: &str| match Config::from_toml_str(&text(extra), ORIGIN).unwrap().ports[0].kind {
            PortKind::VhostUser { tx_retries_max, .. } => tx_retries_max,
            _ => panic!("a vhost-user port"),
        };
    assert_eq!(retries(""), DEFAULT_TX_RETRIES_MAX);
    assert_eq!(retries("tx_retries_max = 0\n"), 0);
    assert_eq!(retries("tx_retries_max = 32\n"), 32);
    for bad in ["tx_retries_max = 33\n", "tx_retries_max = -1\n"] {
        let e = Config::from_toml_str(&text(bad), ORIGIN).unwrap_err();
        assert_eq!(e.field(), Some("port[0] \"vm1\": tx_retries_max"), "{e}");
        assert!(e.to_string().contains("to 32"), "{e}");
    }
    let e = Config::from_toml_str(
        "[[port]]\nname = \"up\"\ntype = \"dpdk\"\ndevargs = \"net_null0\"\ntx_retries_max = 4\n",
        ORIGIN,
    )
    .unwrap_err();
    assert_eq!(e.field(), Some("port[0] \"up\": tx_retries_max"), "{e}");
    assert!(e.to_string().contains("setting of vhost-user ports"), "{e}");
}

#[test]
fn relative_server_socket_in_the_working_directory_is_fine() {
    // The parent of a bare file name is the working directory (the crate dir under cargo).
    one_port(Path::new("pmd-config-test-vm1.sock"), VhostMode::Server)
        .validate()
        .unwrap();
}

#[test]
fn server_socket_under_a_regular_file_is_refused() {
    let dir = TempDir::new();
    std::fs::write(dir.path("file"), "x").unwrap();
    let c = one_port(&dir.path("file/vm1.sock"), VhostMode::Server);
    assert_validate_err(
        &c,
        "port[0] \"vm1\": path",
        &[
            "is not a directory",
            "choose a path in an existing directory",
        ],
    );
}

#[test]
fn existing_regular_file_at_server_path_is_refused() {
    let dir = TempDir::new();
    let path = dir.path("vm1.sock");
    std::fs::write(&path, "not a socket").unwrap();
    assert_validate_err(
        &one_port(&path, VhostMode::Server),
        "port[0] \"vm1\": path",
        &[
            "exists and is not a socket (it is a regular file)",
            "remove it or choose another path",
        ],
    );
    // Not touched.
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "not a socket");
}

#[test]
fn existing_directory_or_symlink_at_server_path_is_refused() {
    let dir = TempDir::new();
    std::fs::create_dir(dir.path("d.sock")).unwrap();
    assert_validate_err(
        &one_port(&dir.path("d.sock"), VhostMode::Server),
        "port[0] \"vm1\": path",
        &[
            "exists and is not a socket (it is a directory)",
            "remove it",
        ],
    );
    let _listener = UnixListener::bind(dir.path("real.sock")).unwrap();
    std::os::unix::fs::symlink(dir.path("real.sock"), dir.path("link.sock")).unwrap();
    assert_validate_err(
        &one_port(&dir.path("link.sock"), VhostMode::Server),
        "port[0] \"vm1\": path",
        &[
            "exists and is not a socket (it is a symbolic link)",
            "remove it",
        ],
    );
}

#[test]
fn existing_socket_at_server_path_is_fine() {
    let dir = TempDir::new();
    let path = dir.path("vm1.sock");
    let listener = UnixListener::bind(&path).unwrap();
    drop(listener); // a stale socket file stays behind
    assert!(path.exists());
    one_port(&path, VhostMode::Server).validate().unwrap();
}

#[test]
fn client_socket_is_not_looked_at() {
    let dir = TempDir::new();
    let path = dir.path("vm1.sock");
    std::fs::write(&path, "x").unwrap();
    one_port(&path, VhostMode::Client).validate().unwrap();
}

#[test]
fn server_socket_in_a_read_only_directory_is_refused() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        eprintln!("skipped: root may write to a 0555 directory");
        return;
    }
    let dir = TempDir::new();
    let ro = dir.path("ro");
    std::fs::create_dir(&ro).unwrap();
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
    let c = one_port(&ro.join("vm1.sock"), VhostMode::Server);
    let result = c.validate();
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).unwrap();
    match result {
        Ok(()) => panic!("a 0555 directory was accepted"),
        Err(e) => assert_invalid(
            &e,
            DEFAULT_ORIGIN,
            "port[0] \"vm1\": path",
            &["is not writable", "make it writable"],
        ),
    }
}

// ------------------------------------------------------------------------------ bridge

#[test]
fn bridge_ports_must_exist() {
    assert_shape_err(
        &format!("{DPDK_A}[bridge]\nports = [\"a\", \"vm9\"]\n"),
        "bridge.ports[1]",
        &[
            "\"vm9\" is not a port (defined ports: \"a\")",
            "define it with a [[port]] table",
        ],
    );
    assert_shape_err(
        "[bridge]\nports = [\"vm1\"]\n",
        "bridge.ports[0]",
        &["no port is defined", "[[port]]"],
    );
}

#[test]
fn bridge_ports_must_be_unique() {
    assert_shape_err(
        &format!("{DPDK_A}[bridge]\nports = [\"a\", \"a\"]\n"),
        "bridge.ports[1]",
        &["already bridge.ports[0]", "list every port once"],
    );
}

#[test]
fn empty_ports_list_needs_command_line_ports() {
    let c = parse(&format!("{DPDK_A}[bridge]\nports = []\n"));
    assert!(c.bridges[0].ports.is_empty());
    assert_validate_err(
        &c,
        "bridge.ports",
        &["add --vhost-user PATH or a [[port]] table"],
    );
}

#[test]
fn mac_aging_secs_range() {
    for bad in ["0", "86401", "-1", "-9223372036854775808"] {
        assert_shape_err(
            &format!("[bridge]\nmac_aging_secs = {bad}\n"),
            "bridge.mac_aging_secs",
            &[
                &format!("{bad} is out of range"),
                "from 1 to 86400",
                "default 300",
            ],
        );
    }
    for good in [1, 86400] {
        let c = parse(&format!("[bridge]\nmac_aging_secs = {good}\n"));
        assert_eq!(c.bridges[0].mac_aging_secs, good);
    }
}

#[test]
fn mac_table_size_range() {
    for bad in ["0", "1000001", "-5"] {
        assert_shape_err(
            &format!("[bridge]\nmac_table_size = {bad}\n"),
            "bridge.mac_table_size",
            &[
                &format!("{bad} is out of range"),
                "from 1 to 1000000",
                "default 8192",
            ],
        );
    }
    for good in [1, 1_000_000] {
        let c = parse(&format!("[bridge]\nmac_table_size = {good}\n"));
        assert_eq!(c.bridges[0].mac_table_size, good);
    }
    // A model built in code is checked by validate too.
    let dir = TempDir::new();
    let mut c = one_port(&dir.path("a.sock"), VhostMode::Server);
    c.bridges[0].mac_table_size = 0;
    assert_validate_err(&c, "bridge.mac_table_size", &["0 is out of range"]);
    c.bridges[0].mac_table_size = 8192;
    c.bridges[0].mac_aging_secs = 0;
    assert_validate_err(&c, "bridge.mac_aging_secs", &["0 is out of range"]);
}

// -------------------------------------------------------------------------- static MACs

fn static_mac(mac: &str, port: &str) -> String {
    format!("{DPDK_A}[[bridge.static_mac]]\nmac = \"{mac}\"\nport = \"{port}\"\n")
}

#[test]
fn malformed_static_mac_names_the_field() {
    for bad in [
        "52:54:00:00:00",
        "52:54:00:00:00:0g",
        "525400000001",
        "52:54:00:00:00:01:02",
        "",
    ] {
        assert_shape_err(
            &static_mac(bad, "a"),
            "bridge.static_mac[0].mac",
            &["is not a MAC address", "six two-digit hex octets"],
        );
    }
    assert_parse_err(
        &format!("{DPDK_A}[[bridge.static_mac]]\nmac = 0x525400000001\nport = \"a\"\n"),
        "bridge.static_mac[0].mac",
        &["invalid type"],
    );
}

#[test]
fn static_mac_must_be_unicast() {
    for (bad, what) in [
        ("01:00:5e:00:00:01", "multicast"),
        ("ff:ff:ff:ff:ff:ff", "broadcast"),
        ("00:00:00:00:00:00", "all zeros"),
    ] {
        assert_shape_err(
            &static_mac(bad, "a"),
            "bridge.static_mac[0].mac",
            &[what, "must be a unicast address"],
        );
    }
}

#[test]
fn static_mac_port_must_be_a_bridge_port() {
    // Judged in validate(), once the command line's ports are in.
    let c = parse(&static_mac("52:54:00:00:00:01", "vm9"));
    assert_invalid(
        &c.validate_with_origin(ORIGIN).unwrap_err(),
        ORIGIN,
        "bridge.static_mac[0].port",
        &[
            "\"vm9\" is not a port of the bridge",
            "name one of the bridge's ports",
        ],
    );
    // Defined but not bridged is not enough.
    let c = parse(&format!(
        "{DPDK_A}[[port]]\nname = \"b\"\ntype = \"dpdk\"\ndevargs = \"y\"\n\
         [bridge]\nports = [\"a\"]\n\
         [[bridge.static_mac]]\nmac = \"52:54:00:00:00:01\"\nport = \"b\"\n"
    ));
    assert_invalid(
        &c.validate_with_origin(ORIGIN).unwrap_err(),
        ORIGIN,
        "bridge.static_mac[0].port",
        &["\"b\" is not a port of the bridge (bridge ports: \"a\")"],
    );
}

#[test]
fn static_mac_may_name_a_command_line_port() {
    let dir = std::env::temp_dir().join(format!("pmdcfg-static-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut c = parse("[[bridge.static_mac]]\nmac = \"52:54:00:00:00:01\"\nport = \"vhu0\"\n");
    assert_eq!(c.add_vhost_user_server(dir.join("a.sock")), "vhu0");
    c.validate().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn duplicate_static_macs_are_refused() {
    let text = format!(
        "{}[[bridge.static_mac]]\nmac = \"52-54-00-00-00-01\"\nport = \"a\"\n",
        static_mac("52:54:00:00:00:01", "a")
    );
    assert_shape_err(
        &text,
        "bridge.static_mac[1].mac",
        &[
            "52:54:00:00:00:01 is already bridge.static_mac[0]",
            "at most one static entry",
        ],
    );
}

#[test]
fn missing_static_mac_fields() {
    assert_shape_err(
        &format!("{DPDK_A}[[bridge.static_mac]]\nport = \"a\"\n"),
        "bridge.static_mac[0].mac",
        &["is missing", "add mac = "],
    );
    assert_shape_err(
        &format!("{DPDK_A}[[bridge.static_mac]]\nmac = \"52:54:00:00:00:01\"\n"),
        "bridge.static_mac[0].port",
        &["is missing", "add port = "],
    );
}

#[test]
fn static_macs_must_fit_in_the_table() {
    let text = format!(
        "{}[[bridge.static_mac]]\nmac = \"52:54:00:00:00:02\"\nport = \"a\"\n\
         [bridge]\nmac_table_size = 1\n",
        static_mac("52:54:00:00:00:01", "a")
    );
    assert_shape_err(
        &text,
        "bridge.static_mac",
        &[
            "2 static MACs do not fit in a MAC table of 1 entries",
            "raise bridge.mac_table_size",
        ],
    );
}

// ------------------------------------------------------------------------ field labels

#[test]
fn field_at_finds_sections_and_keys() {
    let text =
        "a = 1\n[[port]]\nname = 1\n[[port]]\n x = 2\n[bridge]\n\"q\" = 3\n[[bridge.static_mac]]\n";
    let at = |needle: &str| text.find(needle).unwrap();
    assert_eq!(field_at(text, at("a ="), "m"), "a");
    assert_eq!(field_at(text, at("name"), "m"), "port[0].name");
    assert_eq!(field_at(text, at("x ="), "m"), "port[1].x");
    assert_eq!(field_at(text, at("\"q\""), "m"), "bridge.q");
    assert_eq!(field_at(text, at("[bridge]"), "m"), "bridge");
    assert_eq!(
        field_at(text, at("[[bridge.s"), "m"),
        "bridge.static_mac[0]"
    );
    assert_eq!(field_at(text, text.len(), "m"), "bridge.static_mac[0]");
    assert_eq!(
        field_at(text, at("name"), "unknown field `nmae`, expected"),
        "port[0].nmae"
    );
    assert_eq!(field_at("", 0, "m"), "(top level)");
}

#[test]
fn every_error_accessor_agrees_with_the_message() {
    let e = parse_err(&static_mac("ff:ff:ff:ff:ff:ff", "a"));
    let msg = e.to_string();
    assert!(msg.starts_with(e.origin()));
    assert!(msg.contains(e.field().unwrap()));
    assert!(msg.ends_with(e.fix()), "{msg}");
}

#[test]
fn port_kind_type_names() {
    assert_eq!(dpdk("a", "x").kind.type_name(), "dpdk");
    assert_eq!(
        vhost("a", "/x", VhostMode::Client).kind.type_name(),
        "vhost-user"
    );
    assert_eq!(VhostMode::default(), VhostMode::Server);
}

#[test]
fn socket_path_with_comma_is_refused() {
    let e = parse_err("[[port]]\nname = \"a\"\ntype = \"vhost-user\"\npath = \"/tmp/a,b.sock\"\n");
    assert_invalid(
        &e,
        ORIGIN,
        "port[0] \"a\": path",
        &["contains a comma", "without commas"],
    );
}

#[test]
fn two_ports_on_one_device_are_refused() {
    let e = parse_err(
        "[[port]]\nname = \"a\"\ntype = \"dpdk\"\ndevargs = \"net_pcap0,rx_pcap=a.pcap\"\n\
         [[port]]\nname = \"b\"\ntype = \"dpdk\"\ndevargs = \"net_pcap0,tx_pcap=b.pcap\"\n",
    );
    assert_invalid(
        &e,
        ORIGIN,
        "port[1] \"b\": devargs",
        &["\"net_pcap0\" is already port[0] \"a\"", "distinct names"],
    );
}

#[test]
fn vhost_device_names_are_reserved() {
    let e = parse_err(
        "[[port]]\nname = \"a\"\ntype = \"dpdk\"\ndevargs = \"net_vhost_a,iface=/tmp/x\"\n",
    );
    assert_invalid(
        &e,
        ORIGIN,
        "port[0] \"a\": devargs",
        &["net_vhost_", "type = \"vhost-user\""],
    );
}

#[test]
fn a_live_socket_is_not_taken_over() {
    let dir = std::env::temp_dir().join(format!("pmdcfg-live-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("live.sock");
    let _ = std::fs::remove_file(&path);
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let mut c = Config::default();
    c.add_vhost_user_server(path.clone());
    let e = c.validate_with_origin(ORIGIN).unwrap_err();
    assert_invalid(
        &e,
        ORIGIN,
        "port[0] \"vhu0\": path",
        &["another process is listening", "stop that process"],
    );
    // Once nobody listens, the same file is a stale socket and is accepted.
    drop(listener);
    c.validate_with_origin(ORIGIN).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

/// A live socket in a directory whose name has spaces is still seen as live (the
/// /proc/net/unix path is everything after the fixed fields, not the 8th word).
#[test]
fn a_live_socket_under_a_path_with_spaces_is_not_taken_over() {
    let dir = std::env::temp_dir().join(format!("pmdcfg live dir {}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("my vm.sock");
    let _ = std::fs::remove_file(&path);
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    assert!(super::fs::socket_is_listening(&path));
    let mut c = Config::default();
    c.add_vhost_user_server(path.clone());
    let e = c.validate_with_origin(ORIGIN).unwrap_err();
    assert_invalid(
        &e,
        ORIGIN,
        "port[0] \"vhu0\": path",
        &["another process is listening", "stop that process"],
    );
    drop(listener);
    assert!(!super::fs::socket_is_listening(&path));
    c.validate_with_origin(ORIGIN).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn proc_net_unix_lines_are_read_field_by_field() {
    use super::fs::listening_path;
    // Num RefCount Protocol Flags Type St Inode Path, as the kernel prints them.
    let listening =
        b"0000000000000000: 00000002 00000000 00010000 0001 01 2093741 /run/my vms/a b.sock";
    assert_eq!(
        listening_path(listening),
        Some(&b"/run/my vms/a b.sock"[..])
    );
    // A padded inode and a path with a trailing space.
    let padded = b"0000000000000000: 00000002 00000000 00010000 0001 01    17 /tmp/x ";
    assert_eq!(listening_path(padded), Some(&b"/tmp/x "[..]));
    // Connected (not listening), unbound, and short lines are not listening paths.
    let connected = b"0000000000000000: 00000003 00000000 00000000 0001 03 2093742 /run/a.sock";
    assert_eq!(listening_path(connected), None);
    let unbound = b"0000000000000000: 00000002 00000000 00010000 0001 01 2093743";
    assert_eq!(listening_path(unbound), None);
    assert_eq!(listening_path(b"Num RefCount Protocol"), None);
    assert_eq!(listening_path(b""), None);
}

#[test]
fn device_names_are_canonical() {
    assert_eq!(device_name("03:00.0"), "0000:03:00.0");
    assert_eq!(device_name("0000:0A:00.1,rxq=2"), "0000:0a:00.1");
    assert_eq!(device_name(" net_pcap0 ,rx_pcap=a"), "net_pcap0");
    assert_eq!(device_name("net_tap0"), "net_tap0");
    let e = parse_err(
        "[[port]]\nname = \"a\"\ntype = \"dpdk\"\ndevargs = \"03:00.0\"\n\
         [[port]]\nname = \"b\"\ntype = \"dpdk\"\ndevargs = \"0000:03:00.0\"\n",
    );
    assert_invalid(
        &e,
        ORIGIN,
        "port[1] \"b\": devargs",
        &["\"0000:03:00.0\" is already port[0] \"a\""],
    );
}

mod vxlan;
