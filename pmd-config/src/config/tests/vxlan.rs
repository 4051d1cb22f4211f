//! VXLAN VTEP and multi-bridge configuration tests.

use super::*;
use std::net::Ipv4Addr;

const VM1: &str =
    "[[port]]\nname = \"vm1\"\ntype = \"vhost-user\"\npath = \"/run/dataplane/vm1.sock\"\n";
const VM2: &str =
    "[[port]]\nname = \"vm2\"\ntype = \"vhost-user\"\npath = \"/run/dataplane/vm2.sock\"\n";
const VM3: &str =
    "[[port]]\nname = \"vm3\"\ntype = \"vhost-user\"\npath = \"/run/dataplane/vm3.sock\"\n";
const UPLINK: &str = "[[port]]\nname = \"uplink\"\ntype = \"dpdk\"\ndevargs = \"0000:03:00.0\"\n";
/// The required keys of `[vtep]`.
const VTEP: &str = "port = \"uplink\"\nip = \"172.31.0.2/24\"\n";
/// One stretched bridge, of every port but the VTEP's.
const BRIDGE_VNI: &str = "[bridge]\nvni = 123\n";

/// The binding example: what other tools generate, plus a VM port.
const EXAMPLE: &str = r#"
[[port]]
name = "vm1"
type = "vhost-user"
path = "/run/dataplane/vm1.sock"

[[port]]
name = "uplink"
type = "dpdk"
devargs = "0000:03:00.0"

[vtep]
port = "uplink"                 # the underlay port; it is never a bridge member
ip = "172.31.0.2/24"            # this VTEP's IPv4 address and the underlay prefix
gateway = "172.31.0.254"        # optional: next hop for remote VTEPs outside the prefix
udp_port = 4789                 # default 4789
mtu = 1500                      # default 1500
ttl = 64                        # default 64
source_ports = "49152-65535"    # default

[[vtep.neighbor]]
ip = "172.31.0.1"
mac = "02:31:00:00:00:01"

[bridge]                        # one bridge as today, or [[bridge]] for several, each with its own VNI
vni = 123
remote_vteps = ["172.31.0.1"]
accept_remotes = "listed"       # or "any"

[[bridge.static_mac]]
mac = "52:54:00:00:00:09"
remote_vtep = "172.31.0.1"      # instead of port = "..."
"#;

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

/// vm1, vm2, vm3 and uplink, then `[vtep]` with `vtep` as its keys, then `rest`.
fn cfg(vtep: &str, rest: &str) -> String {
    format!("{VM1}{VM2}{VM3}{UPLINK}[vtep]\n{vtep}{rest}")
}

/// [`cfg`] with the required `[vtep]` keys plus `extra`, and one bridge with vni 123.
fn vtep_with(extra: &str) -> String {
    cfg(&format!("{VTEP}{extra}"), BRIDGE_VNI)
}

/// [`cfg`] with the required `[vtep]` keys and one bridge with vni 123 plus `keys`.
fn stretched(keys: &str) -> String {
    cfg(VTEP, &format!("{BRIDGE_VNI}{keys}"))
}

/// The model of [`EXAMPLE`].
fn example_model() -> Config {
    Config {
        ports: vec![
            vhost("vm1", "/run/dataplane/vm1.sock", VhostMode::Server),
            dpdk("uplink", "0000:03:00.0"),
        ],
        bridges: vec![BridgeConfig {
            name: "br0".into(),
            ports: vec!["vm1".into()],
            mac_aging_secs: 300,
            mac_table_size: 8192,
            static_macs: vec![StaticMac {
                mac: mac("52:54:00:00:00:09"),
                target: StaticTarget::RemoteVtep(ip("172.31.0.1")),
            }],
            vni: Some(123),
            remote_vteps: vec![ip("172.31.0.1")],
            accept_remotes: AcceptRemotes::Listed,
        }],
        vtep: Some(VtepConfig {
            port: "uplink".into(),
            ip: ip("172.31.0.2"),
            prefix_len: 24,
            gateway: Some(ip("172.31.0.254")),
            udp_port: 4789,
            mtu: 1500,
            ttl: 64,
            source_ports: (49152, 65535),
            neighbors: vec![StaticNeighbor {
                ip: ip("172.31.0.1"),
                mac: mac("02:31:00:00:00:01"),
            }],
        }),
    }
}

/// A refusal: `text` is refused when parsed, naming `field`, with `problem` in the message
/// and `fix` in the fix.
struct Refusal {
    what: &'static str,
    text: String,
    field: &'static str,
    problem: &'static str,
    fix: &'static str,
}

fn refusal(
    what: &'static str,
    text: impl Into<String>,
    field: &'static str,
    problem: &'static str,
    fix: &'static str,
) -> Refusal {
    Refusal {
        what,
        text: text.into(),
        field,
        problem,
        fix,
    }
}

/// Why `e` does not match `r`, if it does not.
fn mismatch(r: &Refusal, e: &ConfigError) -> Option<String> {
    let msg = e.to_string();
    if !matches!(e, ConfigError::Invalid { .. }) {
        return Some(format!("not Invalid: {msg}"));
    }
    if e.field() != Some(r.field) {
        return Some(format!(
            "field {:?}, expected {:?}: {msg}",
            e.field(),
            r.field
        ));
    }
    if e.origin() != ORIGIN || !msg.starts_with(&format!("{ORIGIN}: {}: ", r.field)) {
        return Some(format!(
            "message does not start with origin and field: {msg}"
        ));
    }
    if !msg.contains(r.problem) {
        return Some(format!("{msg:?} does not contain {:?}", r.problem));
    }
    if !e.fix().contains(r.fix) {
        return Some(format!("fix {:?} does not contain {:?}", e.fix(), r.fix));
    }
    if !msg.ends_with(e.fix()) {
        return Some(format!("message does not end with the fix: {msg}"));
    }
    None
}

/// Checks every refusal, then fails listing all that did not match.
#[track_caller]
fn assert_refusals(cases: &[Refusal]) {
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|r| {
            let problem = match Config::from_toml_str(&r.text, ORIGIN) {
                Ok(c) => Some(format!("accepted: {c:?}")),
                Err(e) => mismatch(r, &e),
            };
            problem.map(|p| format!("{}: {p}", r.what))
        })
        .collect();
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// Parses `text` and validates it with its vhost-user sockets moved into `dir`.
fn parse_in(dir: &TempDir, text: &str) -> Config {
    let c = parse(&text.replace("/run/dataplane/", &format!("{}/", dir.0.display())));
    c.validate().unwrap();
    c
}

// --------------------------------------------------------------------------------- good

#[test]
fn example_parses_to_the_expected_model() {
    assert_eq!(parse(EXAMPLE), example_model());
    let dir = TempDir::new();
    let c = parse_in(&dir, EXAMPLE);
    assert_eq!(c.bridges[0].ports, ["vm1"]);
    assert_eq!(c.bridge_of_port("vm1"), Some(0));
    assert_eq!(c.bridge_of_port("uplink"), None);
}

#[test]
fn documented_vtep_example_is_the_example() {
    let docs = doc_examples();
    assert_eq!(docs.len(), 3, "the crate docs have three ```toml blocks");
    assert_eq!(parse(&docs[1]), example_model());
}

#[test]
fn omitted_vtep_keys_get_their_defaults() {
    let text = EXAMPLE
        .lines()
        .filter(|l| {
            !["udp_port", "mtu", "ttl", "source_ports", "accept_remotes"]
                .iter()
                .any(|k| l.starts_with(k))
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert!(!text.contains("udp_port") && !text.contains("accept_remotes"));
    assert_eq!(parse(&text), example_model());

    let c = parse(&stretched(""));
    let v = c.vtep.unwrap();
    assert_eq!(v, VtepConfig::new("uplink", ip("172.31.0.2"), 24));
    assert_eq!(v.gateway, None);
    assert_eq!(v.udp_port, DEFAULT_VXLAN_UDP_PORT);
    assert_eq!(v.udp_port, 4789);
    assert_eq!(v.mtu, 1500);
    assert_eq!(v.ttl, 64);
    assert_eq!(v.source_ports, (49152, 65535));
    assert!(v.neighbors.is_empty());
    let b = &c.bridges[0];
    assert_eq!(b.vni, Some(123));
    assert!(b.remote_vteps.is_empty());
    assert_eq!(b.accept_remotes, AcceptRemotes::Listed);
}

#[test]
fn every_vtep_key_at_other_values() {
    let c = parse(&cfg(
        "port = \"uplink\"\nip = \"10.1.2.3/16\"\ngateway = \"10.1.0.1\"\nudp_port = 8472\n\
         mtu = 2034\nttl = 1\nsource_ports = \"1000-1000\"\n\
         [[vtep.neighbor]]\nip = \"10.1.0.1\"\nmac = \"02-00-00-00-00-fe\"\n\
         [[vtep.neighbor]]\nip = \"10.1.9.9\"\nmac = \"02:00:00:00:00:99\"\n",
        "[bridge]\nvni = 0\naccept_remotes = \"any\"\nremote_vteps = [\"10.1.9.9\", \"192.0.2.7\"]\n",
    ));
    assert_eq!(
        c.vtep,
        Some(VtepConfig {
            port: "uplink".into(),
            ip: ip("10.1.2.3"),
            prefix_len: 16,
            gateway: Some(ip("10.1.0.1")),
            udp_port: 8472,
            mtu: 2034,
            ttl: 1,
            source_ports: (1000, 1000),
            neighbors: vec![
                StaticNeighbor {
                    ip: ip("10.1.0.1"),
                    mac: mac("02:00:00:00:00:fe"),
                },
                StaticNeighbor {
                    ip: ip("10.1.9.9"),
                    mac: mac("02:00:00:00:00:99"),
                },
            ],
        })
    );
    let b = &c.bridges[0];
    assert_eq!(b.vni, Some(0));
    assert_eq!(b.accept_remotes, AcceptRemotes::Any);
    assert_eq!(b.remote_vteps, [ip("10.1.9.9"), ip("192.0.2.7")]);
    assert_eq!(b.ports, ["vm1", "vm2", "vm3"]);

    // The other limits.
    let c = parse(&vtep_with(
        "udp_port = 65535\nmtu = 576\nttl = 255\nsource_ports = \"1-65535\"\n",
    ));
    let v = c.vtep.unwrap();
    assert_eq!(
        (v.udp_port, v.mtu, v.ttl, v.source_ports),
        (65535, 576, 255, (1, 65535))
    );
    let c = parse(&cfg(VTEP, "[bridge]\nvni = 16777215\n"));
    assert_eq!(c.bridges[0].vni, Some(MAX_VNI));
    // /31 and /32 have no network or broadcast address.
    let c = parse(&cfg(
        "port = \"uplink\"\nip = \"172.31.0.0/31\"\n",
        "[bridge]\nvni = 1\nremote_vteps = [\"172.31.0.1\"]\n",
    ));
    assert_eq!(c.vtep.unwrap().prefix_len, 31);
    let c = parse(&cfg(
        "port = \"uplink\"\nip = \"172.31.0.255/32\"\n",
        BRIDGE_VNI,
    ));
    assert_eq!(c.vtep.unwrap().prefix_len, 32);
}

#[test]
fn several_bridges_each_with_its_own_vni_and_ports() {
    let text = cfg(
        &format!("{VTEP}gateway = \"172.31.0.254\"\n"),
        "[[bridge]]\nname = \"tenant-a\"\nports = [\"vm1\", \"vm3\"]\nvni = 100\n\
         remote_vteps = [\"172.31.0.1\", \"10.9.0.7\"]\n\
         [[bridge]]\nname = \"tenant-b\"\nports = [\"vm2\"]\nvni = 200\naccept_remotes = \"any\"\n\
         mac_aging_secs = 60\n\
         [[bridge.static_mac]]\nmac = \"52:54:00:00:00:02\"\nport = \"vm2\"\n\
         [[bridge.static_mac]]\nmac = \"52:54:00:00:00:03\"\nremote_vtep = \"172.31.0.3\"\n",
    );
    let dir = TempDir::new();
    let c = parse_in(&dir, &text);
    assert_eq!(
        c.bridges,
        [
            BridgeConfig {
                name: "tenant-a".into(),
                ports: vec!["vm1".into(), "vm3".into()],
                vni: Some(100),
                remote_vteps: vec![ip("172.31.0.1"), ip("10.9.0.7")],
                ..BridgeConfig::default()
            },
            BridgeConfig {
                name: "tenant-b".into(),
                ports: vec!["vm2".into()],
                mac_aging_secs: 60,
                static_macs: vec![
                    StaticMac {
                        mac: mac("52:54:00:00:00:02"),
                        target: StaticTarget::Port("vm2".into()),
                    },
                    StaticMac {
                        mac: mac("52:54:00:00:00:03"),
                        target: StaticTarget::RemoteVtep(ip("172.31.0.3")),
                    },
                ],
                vni: Some(200),
                accept_remotes: AcceptRemotes::Any,
                ..BridgeConfig::default()
            },
        ]
    );
    assert_eq!(c.bridge_of_port("vm1"), Some(0));
    assert_eq!(c.bridge_of_port("vm3"), Some(0));
    assert_eq!(c.bridge_of_port("vm2"), Some(1));
    assert_eq!(c.bridge_of_port("uplink"), None);
    assert_eq!(c.bridge_of_port("nope"), None);
    assert_eq!(c.bridge_port_index(0, "vm1"), Some(0));
    assert_eq!(c.bridge_port_index(0, "vm3"), Some(1));
    assert_eq!(c.bridge_port_index(1, "vm2"), Some(0));
    assert_eq!(c.bridge_port_index(1, "vm1"), None);
    assert_eq!(c.bridge_port_index(2, "vm1"), None);
    assert_eq!(c.bridge_port_index(0, "uplink"), None);
    assert!(c
        .bridges
        .iter()
        .all(|b| !b.ports.contains(&"uplink".into())));
}

#[test]
fn documented_multi_bridge_example_parses() {
    let c = parse(&doc_examples()[2]);
    assert_eq!(c.bridges.len(), 2);
    assert_eq!(c.bridges[0].name, "tenant-a");
    assert_eq!(c.bridges[0].ports, ["vm1"]);
    assert_eq!(c.bridges[0].vni, Some(100));
    assert_eq!(c.bridges[1].name, "tenant-b");
    assert_eq!(c.bridges[1].ports, ["vm2"]);
    assert_eq!(c.bridges[1].vni, Some(200));
    assert_eq!(c.bridges[1].accept_remotes, AcceptRemotes::Any);
    assert_eq!(c.bridges[1].static_macs.len(), 1);
    assert!(c.bridges[0].static_macs.is_empty());
    let v = c.vtep.unwrap();
    assert_eq!(v.next_hop(ip("10.9.0.7")), Some(ip("172.31.0.254")));
}

#[test]
fn bridges_may_mix_local_and_stretched() {
    let c = parse(&cfg(
        VTEP,
        "[[bridge]]\nname = \"local\"\nports = [\"vm1\"]\n\
         [[bridge]]\nname = \"wide\"\nports = [\"vm2\", \"vm3\"]\nvni = 7\n",
    ));
    assert_eq!(c.bridges[0].vni, None);
    assert_eq!(c.bridges[1].vni, Some(7));
}

#[test]
fn default_ports_exclude_the_vtep_port() {
    // The uplink first, in the middle or last: never in the bridge.
    for ports in [
        format!("{UPLINK}{VM1}{VM2}"),
        format!("{VM1}{UPLINK}{VM2}"),
        format!("{VM1}{VM2}{UPLINK}"),
    ] {
        for bridge in ["[bridge]\nvni = 5\n", "[[bridge]]\nvni = 5\n"] {
            let c = parse(&format!("{ports}[vtep]\n{VTEP}{bridge}"));
            assert_eq!(c.bridges.len(), 1);
            assert_eq!(c.bridges[0].ports, ["vm1", "vm2"], "{ports}{bridge}");
            assert_eq!(c.bridge_of_port("uplink"), None);
        }
    }
    // The VTEP's port may be any port, a vhost-user one too (benchmarks).
    let c = parse(&format!(
        "{VM1}{VM2}{UPLINK}[vtep]\nport = \"vm2\"\nip = \"172.31.0.2/24\"\n[bridge]\nvni = 5\n"
    ));
    assert_eq!(c.bridges[0].ports, ["vm1", "uplink"]);
}

#[test]
fn command_line_ports_skip_the_vtep_port_name_and_join_the_first_bridge() {
    let dir = TempDir::new();
    let text = format!(
        "{VM1}[[port]]\nname = \"vhu0\"\ntype = \"dpdk\"\ndevargs = \"net_null0\"\n\
         [vtep]\nport = \"vhu0\"\nip = \"172.31.0.2/24\"\n\
         [[bridge]]\nname = \"a\"\nports = [\"vm1\"]\nvni = 1\n\
         [[bridge]]\nname = \"b\"\nports = []\n"
    );
    // A bridge other than the first cannot be filled by the command line.
    assert_refusals(&[refusal(
        "second bridge without ports",
        text.clone(),
        "bridge[1].ports",
        "the bridge has no ports",
        "list its ports in bridge[1].ports, or remove this [[bridge]]",
    )]);
    let text = text.replace("ports = []", "ports = [\"vm9\"]").replace(
        "[vtep]",
        "[[port]]\nname = \"vm9\"\ntype = \"dpdk\"\ndevargs = \"net_null9\"\n[vtep]",
    );
    let mut c = parse_in(&dir, &text);
    assert_eq!(c.add_vhost_user_server(dir.path("cli.sock")), "vhu1");
    assert_eq!(c.bridges[0].ports, ["vm1", "vhu1"]);
    assert_eq!(c.bridges[1].ports, ["vm9"]);
    c.validate().unwrap();
    // vtep.port alone (no [[port]] of that name yet) also keeps the name from being taken.
    let mut c = Config {
        vtep: Some(VtepConfig::new("vhu0", ip("172.31.0.2"), 24)),
        ..Config::default()
    };
    assert_eq!(c.add_vhost_user_server(dir.path("a.sock")), "vhu1");
}

#[test]
fn bridge_table_and_one_bridge_array_give_the_same_model() {
    let local = format!(
        "{VM1}{UPLINK}[TABLE]\nname = \"b\"\nmac_aging_secs = 30\n\
         [[bridge.static_mac]]\nmac = \"52:54:00:00:00:01\"\nport = \"vm1\"\n"
    );
    let table = parse(&local.replace("[TABLE]", "[bridge]"));
    let array = parse(&local.replace("[TABLE]", "[[bridge]]"));
    assert_eq!(table, array);
    assert_eq!(
        table,
        Config {
            ports: vec![
                vhost("vm1", "/run/dataplane/vm1.sock", VhostMode::Server),
                dpdk("uplink", "0000:03:00.0"),
            ],
            bridges: vec![BridgeConfig {
                name: "b".into(),
                ports: vec!["vm1".into(), "uplink".into()],
                mac_aging_secs: 30,
                static_macs: vec![StaticMac {
                    mac: mac("52:54:00:00:00:01"),
                    target: StaticTarget::Port("vm1".into()),
                }],
                ..BridgeConfig::default()
            }],
            vtep: None,
        }
    );
    // The same for a stretched one, and for the binding example.
    let array = EXAMPLE.replace("[bridge] ", "[[bridge]]");
    assert_ne!(array, EXAMPLE);
    assert_eq!(parse(&array), example_model());
    // One [[bridge]] is "bridge" in messages, like [bridge].
    for header in ["[bridge]", "[[bridge]]"] {
        assert_shape_err(
            &format!("{VM1}{header}\nmac_aging_secs = 0\n"),
            "bridge.mac_aging_secs",
            &["0 is out of range"],
        );
    }
}

#[test]
fn todays_configs_load_as_before() {
    // No [vtep], a [bridge] table: no VNI, no remote, Listed, every port in the bridge.
    let c = parse(&format!("{VM1}{UPLINK}[bridge]\n"));
    assert_eq!(c.vtep, None);
    assert_eq!(
        c.bridges,
        [BridgeConfig {
            ports: vec!["vm1".into(), "uplink".into()],
            ..BridgeConfig::default()
        }]
    );
    assert_eq!(parse(&format!("{VM1}{UPLINK}")), c);
    assert_eq!(parse(&format!("{VM1}{UPLINK}[[bridge]]\n")), c);
}

// ---------------------------------------------------------------------------- the model

#[test]
fn in_prefix_and_next_hop() {
    let mut v = VtepConfig::new("uplink", ip("172.31.0.2"), 24);
    assert_eq!(v.netmask(), ip("255.255.255.0"));
    assert!(v.in_prefix(ip("172.31.0.1")));
    assert!(v.in_prefix(ip("172.31.0.255")));
    assert!(v.in_prefix(ip("172.31.0.0")));
    assert!(!v.in_prefix(ip("172.31.1.1")));
    assert!(!v.in_prefix(ip("10.0.0.1")));
    assert_eq!(v.next_hop(ip("172.31.0.1")), Some(ip("172.31.0.1")));
    assert_eq!(v.next_hop(ip("10.9.0.7")), None);
    v.gateway = Some(ip("172.31.0.254"));
    assert_eq!(v.next_hop(ip("10.9.0.7")), Some(ip("172.31.0.254")));
    assert_eq!(v.next_hop(ip("172.31.0.1")), Some(ip("172.31.0.1")));

    let host = VtepConfig::new("u", ip("10.0.0.1"), 32);
    assert_eq!(host.netmask(), ip("255.255.255.255"));
    assert!(host.in_prefix(ip("10.0.0.1")));
    assert!(!host.in_prefix(ip("10.0.0.2")));
    assert_eq!(host.next_hop(ip("10.0.0.2")), None);

    let odd = VtepConfig::new("u", ip("10.1.2.3"), 9);
    assert_eq!(odd.netmask(), ip("255.128.0.0"));
    assert!(odd.in_prefix(ip("10.127.255.255")));
    assert!(!odd.in_prefix(ip("10.128.0.0")));

    // Out-of-range lengths (refused by validate) do not panic: 0 is everything, above 32 is 32.
    let all = VtepConfig::new("u", ip("10.0.0.1"), 0);
    assert_eq!(all.netmask(), ip("0.0.0.0"));
    assert!(all.in_prefix(ip("1.2.3.4")));
    assert_eq!(all.next_hop(ip("1.2.3.4")), Some(ip("1.2.3.4")));
    let big = VtepConfig::new("u", ip("10.0.0.1"), 40);
    assert_eq!(big.netmask(), ip("255.255.255.255"));
    assert!(!big.in_prefix(ip("10.0.0.2")));
}

#[test]
fn neighbor_mac_looks_up_static_neighbours() {
    let v = example_model().vtep.unwrap();
    assert_eq!(
        v.neighbor_mac(ip("172.31.0.1")),
        Some(mac("02:31:00:00:00:01"))
    );
    assert_eq!(v.neighbor_mac(ip("172.31.0.254")), None);
}

#[test]
fn accepts_remote_follows_accept_remotes() {
    let mut b = example_model().bridges.swap_remove(0);
    assert!(b.accepts_remote(ip("172.31.0.1")));
    assert!(!b.accepts_remote(ip("172.31.0.3")));
    // A static MAC's remote_vtep counts as listed.
    b.remote_vteps.clear();
    assert!(b.accepts_remote(ip("172.31.0.1")));
    b.static_macs.clear();
    assert!(!b.accepts_remote(ip("172.31.0.1")));
    b.accept_remotes = AcceptRemotes::Any;
    assert!(b.accepts_remote(ip("172.31.0.3")));
    b.vni = None;
    assert!(!b.accepts_remote(ip("172.31.0.3")));
    assert_eq!(AcceptRemotes::Listed.as_str(), "listed");
    assert_eq!(AcceptRemotes::Any.as_str(), "any");
    assert_eq!(AcceptRemotes::default(), AcceptRemotes::Listed);
}

// ----------------------------------------------------------------------------- refusals

#[test]
fn vni_refusals() {
    let two = |a: u32, b: u32| {
        cfg(
            VTEP,
            &format!(
                "[[bridge]]\nname = \"a\"\nports = [\"vm1\"]\nvni = {a}\n\
                 [[bridge]]\nname = \"b\"\nports = [\"vm2\"]\nvni = {b}\n"
            ),
        )
    };
    parse(&two(100, 200));
    assert_refusals(&[
        refusal(
            "overlapping VNIs",
            two(100, 100),
            "bridge[1].vni",
            "100 is already the vni of bridge[0] \"a\"",
            "give every bridge its own vni",
        ),
        refusal(
            "vni above 24 bits",
            cfg(VTEP, "[bridge]\nvni = 16777216\n"),
            "bridge.vni",
            "16777216 is out of range (0 to 16777215)",
            "use 0 to 16777215",
        ),
        refusal(
            "vni above 32 bits",
            cfg(VTEP, "[bridge]\nvni = 4294967296\n"),
            "bridge.vni",
            "4294967296 is out of range (0 to 16777215)",
            "use 0 to 16777215",
        ),
        refusal(
            "negative vni",
            cfg(VTEP, "[bridge]\nvni = -1\n"),
            "bridge.vni",
            "-1 is out of range (0 to 16777215)",
            "24 bits",
        ),
        refusal(
            "vni of bridge[1] above 24 bits",
            two(1, 0x100_0000),
            "bridge[1].vni",
            "16777216 is out of range",
            "24 bits",
        ),
        refusal(
            "vni without [vtep]",
            format!("{VM1}[bridge]\nvni = 5\n"),
            "bridge.vni",
            "(vni = 5), which needs a [vtep] section",
            "add [vtep] with port = \"NAME\"",
        ),
        refusal(
            "[vtep] without any vni",
            cfg(VTEP, "[bridge]\n"),
            "vtep",
            "no bridge has a vni",
            "set vni = N on the bridge to stretch over VXLAN, or remove [vtep]",
        ),
        refusal(
            "[vtep] without any bridge",
            cfg(VTEP, ""),
            "vtep",
            "no bridge has a vni",
            "or remove [vtep]",
        ),
    ]);
}

#[test]
fn vxlan_keys_need_a_vni() {
    let local = |keys: &str| format!("{VM1}[bridge]\n{keys}");
    assert_refusals(&[
        refusal(
            "remote_vteps without vni",
            local("remote_vteps = [\"172.31.0.1\"]\n"),
            "bridge.remote_vteps",
            "is set, but the bridge has no vni",
            "set vni on bridge (and a [vtep] section), or remove remote_vteps",
        ),
        refusal(
            "empty remote_vteps without vni",
            local("remote_vteps = []\n"),
            "bridge.remote_vteps",
            "the bridge has no vni",
            "or remove remote_vteps",
        ),
        refusal(
            "accept_remotes without vni",
            local("accept_remotes = \"any\"\n"),
            "bridge.accept_remotes",
            "is set, but the bridge has no vni",
            "set vni on bridge (and a [vtep] section), or remove accept_remotes",
        ),
        refusal(
            "static_mac.remote_vtep without vni",
            local(
                "[[bridge.static_mac]]\nmac = \"52:54:00:00:00:01\"\nremote_vtep = \"172.31.0.1\"\n",
            ),
            "bridge.static_mac[0].remote_vtep",
            "the bridge has no vni, so no MAC can be behind a remote VTEP",
            "pin the MAC to a bridge port with port = \"NAME\"",
        ),
        refusal(
            "remote_vteps on the local one of two bridges",
            cfg(
                VTEP,
                "[[bridge]]\nports = [\"vm1\"]\nname = \"a\"\nvni = 1\n\
                 [[bridge]]\nports = [\"vm2\"]\nname = \"b\"\nremote_vteps = [\"172.31.0.1\"]\n",
            ),
            "bridge[1].remote_vteps",
            "the bridge has no vni",
            "set vni on bridge[1]",
        ),
    ]);
}

#[test]
fn vxlan_keys_need_a_vni_in_a_model_built_in_code() {
    let dir = TempDir::new();
    let base = || {
        let mut c = Config::default();
        c.ports
            .push(vhost("vm1", &dir.s("vm1.sock"), VhostMode::Server));
        c.bridges[0].ports.push("vm1".into());
        c
    };
    base().validate().unwrap();
    let mut c = base();
    c.bridges[0].remote_vteps.push(ip("172.31.0.1"));
    assert_validate_err(
        &c,
        "bridge.remote_vteps",
        &["has no vni", "remove remote_vteps"],
    );
    let mut c = base();
    c.bridges[0].accept_remotes = AcceptRemotes::Any;
    assert_validate_err(
        &c,
        "bridge.accept_remotes",
        &["has no vni", "remove accept_remotes"],
    );
    let mut c = base();
    c.bridges[0].static_macs.push(StaticMac {
        mac: mac("52:54:00:00:00:01"),
        target: StaticTarget::RemoteVtep(ip("172.31.0.1")),
    });
    assert_validate_err(
        &c,
        "bridge.static_mac[0].remote_vtep",
        &["has no vni", "port = \"NAME\""],
    );
    let mut c = base();
    c.bridges[0].vni = Some(MAX_VNI + 1);
    assert_validate_err(&c, "bridge.vni", &["16777216 is out of range", "24 bits"]);
    c.bridges[0].vni = Some(MAX_VNI);
    assert_validate_err(&c, "bridge.vni", &["needs a [vtep] section"]);
}

#[test]
fn remote_vtep_refusals() {
    let mut cases = vec![
        refusal(
            "duplicate remote",
            stretched("remote_vteps = [\"172.31.0.1\", \"172.31.0.3\", \"172.31.0.1\"]\n"),
            "bridge.remote_vteps[2]",
            "172.31.0.1 is already bridge.remote_vteps[0]",
            "list every remote VTEP once",
        ),
        refusal(
            "remote equal to our own ip",
            stretched("remote_vteps = [\"172.31.0.2\"]\n"),
            "bridge.remote_vteps[0]",
            "172.31.0.2 is this VTEP's own address (vtep.ip)",
            "list only the other VTEPs' addresses",
        ),
        refusal(
            "remote not an address",
            stretched("remote_vteps = [\"172.31.0.1\", \"vtep2\"]\n"),
            "bridge.remote_vteps[1]",
            "\"vtep2\" is not an IPv4 address",
            "e.g. \"172.31.0.1\"",
        ),
        refusal(
            "remote outside the prefix without gateway",
            stretched("remote_vteps = [\"10.9.0.7\"]\n"),
            "bridge.remote_vteps[0]",
            "10.9.0.7 is outside the underlay prefix 172.31.0.0/24 of vtep.ip and vtep.gateway \
             is not set",
            "set vtep.gateway to the underlay router",
        ),
        refusal(
            "remote at the prefix's broadcast address",
            stretched("remote_vteps = [\"172.31.0.255\"]\n"),
            "bridge.remote_vteps[0]",
            "172.31.0.255 is the broadcast address of 172.31.0.0/24",
            "the remote VTEP's own underlay address",
        ),
        refusal(
            "static MAC's remote_vtep outside the prefix without gateway",
            stretched(
                "[[bridge.static_mac]]\nmac = \"52:54:00:00:00:01\"\nremote_vtep = \"10.9.0.7\"\n",
            ),
            "bridge.static_mac[0].remote_vtep",
            "10.9.0.7 is outside the underlay prefix",
            "set vtep.gateway",
        ),
        refusal(
            "static MAC's remote_vtep equal to our own ip",
            stretched(
                "[[bridge.static_mac]]\nmac = \"52:54:00:00:00:01\"\n\
                 remote_vtep = \"172.31.0.2\"\n",
            ),
            "bridge.static_mac[0].remote_vtep",
            "this VTEP's own address",
            "only the other VTEPs",
        ),
        refusal(
            "static MAC's remote_vtep not an address",
            stretched("[[bridge.static_mac]]\nmac = \"52:54:00:00:00:01\"\nremote_vtep = \"x\"\n"),
            "bridge.static_mac[0].remote_vtep",
            "\"x\" is not an IPv4 address",
            "a.b.c.d",
        ),
    ];
    for (addr, problem, fix) in [
        (
            "0.0.0.0",
            "0.0.0.0 is the unspecified address",
            "unicast underlay address",
        ),
        (
            "255.255.255.255",
            "255.255.255.255 is the broadcast address",
            "unicast underlay address",
        ),
        (
            "239.1.1.1",
            "239.1.1.1 is a multicast address (224.0.0.0/4); multicast underlays are not \
             supported",
            "head-end replication",
        ),
        (
            "127.0.0.1",
            "127.0.0.1 is a loopback address",
            "unicast underlay address",
        ),
        (
            "240.0.0.1",
            "240.0.0.1 is a reserved address",
            "unicast underlay address",
        ),
    ] {
        // With a gateway, so that being outside the prefix is not the reason.
        cases.push(refusal(
            "remote not unicast",
            cfg(
                &format!("{VTEP}gateway = \"172.31.0.254\"\n"),
                &format!("{BRIDGE_VNI}remote_vteps = [\"172.31.0.1\", \"{addr}\"]\n"),
            ),
            "bridge.remote_vteps[1]",
            problem,
            fix,
        ));
        cases.push(refusal(
            "static MAC's remote_vtep not unicast",
            cfg(
                &format!("{VTEP}gateway = \"172.31.0.254\"\n"),
                &format!(
                    "{BRIDGE_VNI}[[bridge.static_mac]]\nmac = \"52:54:00:00:00:01\"\n\
                     remote_vtep = \"{addr}\"\n"
                ),
            ),
            "bridge.static_mac[0].remote_vtep",
            problem,
            fix,
        ));
    }
    assert_refusals(&cases);
}

#[test]
fn remote_outside_the_prefix_is_accepted_with_a_gateway() {
    let text = cfg(
        &format!("{VTEP}gateway = \"172.31.0.254\"\n"),
        &format!(
            "{BRIDGE_VNI}remote_vteps = [\"10.9.0.7\"]\n\
             [[bridge.static_mac]]\nmac = \"52:54:00:00:00:01\"\nremote_vtep = \"192.0.2.1\"\n"
        ),
    );
    let c = parse(&text);
    assert_eq!(c.bridges[0].remote_vteps, [ip("10.9.0.7")]);
    assert_eq!(
        c.bridges[0].static_macs[0].target,
        StaticTarget::RemoteVtep(ip("192.0.2.1"))
    );
    let v = c.vtep.as_ref().unwrap();
    assert_eq!(v.next_hop(ip("10.9.0.7")), Some(ip("172.31.0.254")));
    assert_eq!(v.next_hop(ip("192.0.2.1")), Some(ip("172.31.0.254")));
    // A static MAC's remote need not be in remote_vteps; listed, it is still accepted from.
    assert!(c.bridges[0].accepts_remote(ip("192.0.2.1")));
    assert!(!c.bridges[0].accepts_remote(ip("192.0.2.2")));
    let dir = TempDir::new();
    parse_in(&dir, &text);
}

#[test]
fn static_mac_target_refusals() {
    assert_refusals(&[
        refusal(
            "both port and remote_vtep",
            stretched(
                "[[bridge.static_mac]]\nmac = \"52:54:00:00:00:01\"\nport = \"vm1\"\n\
                 remote_vtep = \"172.31.0.1\"\n",
            ),
            "bridge.static_mac[0].remote_vtep",
            "is set together with port",
            "not both",
        ),
        refusal(
            "neither port nor remote_vtep",
            stretched("[[bridge.static_mac]]\nmac = \"52:54:00:00:00:01\"\n"),
            "bridge.static_mac[0].port",
            "is missing",
            "remote_vtep = \"a.b.c.d\"",
        ),
        refusal(
            "neither, on the second of two bridges",
            cfg(
                VTEP,
                "[[bridge]]\nname = \"a\"\nports = [\"vm1\"]\nvni = 1\n\
                 [[bridge]]\nname = \"b\"\nports = [\"vm2\"]\nvni = 2\n\
                 [[bridge.static_mac]]\nmac = \"52:54:00:00:00:01\"\nport = \"vm2\"\n\
                 [[bridge.static_mac]]\nmac = \"52:54:00:00:00:02\"\n",
            ),
            "bridge[1].static_mac[1].port",
            "is missing",
            "add port = \"NAME\"",
        ),
        refusal(
            "one MAC both local and remote",
            stretched(
                "[[bridge.static_mac]]\nmac = \"52:54:00:00:00:01\"\nport = \"vm1\"\n\
                 [[bridge.static_mac]]\nmac = \"52:54:00:00:00:01\"\n\
                 remote_vtep = \"172.31.0.1\"\n",
            ),
            "bridge.static_mac[1].mac",
            "52:54:00:00:00:01 is already bridge.static_mac[0]",
            "at most one static entry",
        ),
    ]);
    // The static MAC's port is a bridge port, never the VTEP's.
    let c = parse(&stretched(
        "[[bridge.static_mac]]\nmac = \"52:54:00:00:00:01\"\nport = \"uplink\"\n",
    ));
    assert_validate_err(
        &c,
        "bridge.static_mac[0].port",
        &[
            "\"uplink\" is not a port of the bridge (bridge ports: \"vm1\", \"vm2\", \"vm3\")",
            "name one of the bridge's ports",
        ],
    );
}

#[test]
fn vtep_port_refusals() {
    assert_refusals(&[
        refusal(
            "vtep.port naming no port",
            cfg("port = \"eth9\"\nip = \"172.31.0.2/24\"\n", BRIDGE_VNI),
            "vtep.port",
            "\"eth9\" is not a port (defined ports: \"vm1\", \"vm2\", \"vm3\", \"uplink\")",
            "define it with a [[port]] table",
        ),
        refusal(
            "vtep.port missing",
            cfg("ip = \"172.31.0.2/24\"\n", BRIDGE_VNI),
            "vtep.port",
            "is missing",
            "add port = \"NAME\"",
        ),
        refusal(
            "vtep.port also a bridge port",
            cfg(VTEP, "[bridge]\nvni = 1\nports = [\"vm1\", \"uplink\"]\n"),
            "bridge.ports[1]",
            "\"uplink\" is vtep.port",
            "remove \"uplink\" from bridge.ports",
        ),
        refusal(
            "vtep.port also a port of bridge[1]",
            cfg(
                VTEP,
                "[[bridge]]\nname = \"a\"\nports = [\"vm1\"]\nvni = 1\n\
                 [[bridge]]\nname = \"b\"\nports = [\"uplink\"]\n",
            ),
            "bridge[1].ports[0]",
            "\"uplink\" is vtep.port",
            "remove \"uplink\" from bridge[1].ports",
        ),
    ]);
}

#[test]
fn vtep_ip_refusals() {
    let with_ip = |text: &str| cfg(&format!("port = \"uplink\"\nip = \"{text}\"\n"), BRIDGE_VNI);
    const FIX: &str = "e.g. ip = \"172.31.0.2/24\"";
    assert_refusals(&[
        refusal(
            "no prefix length",
            with_ip("172.31.0.2"),
            "vtep.ip",
            "\"172.31.0.2\" has no prefix length",
            FIX,
        ),
        refusal(
            "prefix length 0",
            with_ip("172.31.0.2/0"),
            "vtep.ip",
            "prefix length 0 is out of range (1 to 32)",
            FIX,
        ),
        refusal(
            "prefix length 33",
            with_ip("172.31.0.2/33"),
            "vtep.ip",
            "prefix length 33 is out of range (1 to 32)",
            FIX,
        ),
        refusal(
            "huge prefix length",
            with_ip("172.31.0.2/99999999999999999999999"),
            "vtep.ip",
            "\"172.31.0.2/99999999999999999999999\": prefix length 99999999999999999999999 is \
             out of range (1 to 32)",
            FIX,
        ),
        refusal(
            "prefix length not a number",
            with_ip("172.31.0.2/x"),
            "vtep.ip",
            "\"x\" is not a prefix length",
            FIX,
        ),
        refusal(
            "empty prefix length",
            with_ip("172.31.0.2/"),
            "vtep.ip",
            "\"\" is not a prefix length",
            FIX,
        ),
        refusal(
            "not an address",
            with_ip("vtep1/24"),
            "vtep.ip",
            "\"vtep1\" is not an IPv4 address",
            FIX,
        ),
        refusal(
            "not an address at all",
            with_ip("vtep1"),
            "vtep.ip",
            "\"vtep1\" is not an IPv4 address with a prefix length",
            FIX,
        ),
        refusal(
            "an IPv6 address",
            with_ip("fd00::2/64"),
            "vtep.ip",
            "is not an IPv4 address",
            FIX,
        ),
        refusal(
            "missing",
            cfg("port = \"uplink\"\n", BRIDGE_VNI),
            "vtep.ip",
            "is missing",
            FIX,
        ),
        refusal(
            "the prefix's network address",
            with_ip("172.31.0.0/24"),
            "vtep.ip",
            "172.31.0.0 is the network address of 172.31.0.0/24",
            "this host's own unicast address",
        ),
        refusal(
            "the prefix's broadcast address",
            with_ip("172.31.0.255/24"),
            "vtep.ip",
            "172.31.0.255 is the broadcast address of 172.31.0.0/24",
            "this host's own unicast address",
        ),
        refusal(
            "multicast",
            with_ip("239.1.1.1/8"),
            "vtep.ip",
            "239.1.1.1 is a multicast address",
            "this host's own unicast address",
        ),
        refusal(
            "loopback",
            with_ip("127.0.0.1/8"),
            "vtep.ip",
            "127.0.0.1 is a loopback address",
            "this host's own unicast address",
        ),
        refusal(
            "unspecified",
            with_ip("0.0.0.0/8"),
            "vtep.ip",
            "0.0.0.0 is the unspecified address",
            "this host's own unicast address",
        ),
    ]);
}

#[test]
fn gateway_refusals() {
    let gw = |text: &str| vtep_with(&format!("gateway = \"{text}\"\n"));
    const FIX: &str = "set gateway to the underlay router's address inside 172.31.0.0/24";
    assert_refusals(&[
        refusal(
            "gateway outside the prefix",
            gw("172.31.1.254"),
            "vtep.gateway",
            "172.31.1.254 is outside the underlay prefix 172.31.0.0/24 of vtep.ip",
            FIX,
        ),
        refusal(
            "gateway equal to ip",
            gw("172.31.0.2"),
            "vtep.gateway",
            "172.31.0.2 is vtep.ip, this VTEP itself",
            FIX,
        ),
        refusal(
            "gateway at the network address",
            gw("172.31.0.0"),
            "vtep.gateway",
            "172.31.0.0 is the network address of 172.31.0.0/24",
            FIX,
        ),
        refusal(
            "gateway at the broadcast address",
            gw("172.31.0.255"),
            "vtep.gateway",
            "172.31.0.255 is the broadcast address of 172.31.0.0/24",
            FIX,
        ),
        refusal(
            "gateway multicast",
            gw("224.0.0.1"),
            "vtep.gateway",
            "224.0.0.1 is a multicast address",
            FIX,
        ),
        refusal(
            "gateway not an address",
            gw("router"),
            "vtep.gateway",
            "\"router\" is not an IPv4 address",
            "e.g. \"172.31.0.254\"",
        ),
    ]);
}

#[test]
fn vtep_number_refusals() {
    const UDP_FIX: &str = "1 to 65535 (default 4789";
    const MTU_FIX: &str = "from 576 (the least every IPv4 link carries, RFC 791) to 2034";
    const TTL_FIX: &str = "a hop count from 1 to 255 (default 64)";
    assert_refusals(&[
        refusal(
            "udp_port 0",
            vtep_with("udp_port = 0\n"),
            "vtep.udp_port",
            "0 is out of range (1 to 65535)",
            UDP_FIX,
        ),
        refusal(
            "udp_port 65536",
            vtep_with("udp_port = 65536\n"),
            "vtep.udp_port",
            "65536 is out of range (1 to 65535)",
            UDP_FIX,
        ),
        refusal(
            "udp_port negative",
            vtep_with("udp_port = -4789\n"),
            "vtep.udp_port",
            "-4789 is out of range (1 to 65535)",
            UDP_FIX,
        ),
        refusal(
            "ttl 0",
            vtep_with("ttl = 0\n"),
            "vtep.ttl",
            "0 is out of range (1 to 255)",
            TTL_FIX,
        ),
        refusal(
            "ttl 256",
            vtep_with("ttl = 256\n"),
            "vtep.ttl",
            "256 is out of range (1 to 255)",
            TTL_FIX,
        ),
        refusal(
            "mtu 575",
            vtep_with("mtu = 575\n"),
            "vtep.mtu",
            "575 is out of range (576 to 2034)",
            MTU_FIX,
        ),
        refusal(
            "mtu 2035",
            vtep_with("mtu = 2035\n"),
            "vtep.mtu",
            "2035 is out of range (576 to 2034)",
            MTU_FIX,
        ),
        refusal(
            "mtu 65536",
            vtep_with("mtu = 65536\n"),
            "vtep.mtu",
            "65536 is out of range (576 to 2034)",
            MTU_FIX,
        ),
    ]);
    assert_parse_err(
        &vtep_with("udp_port = \"4789\"\n"),
        "vtep.udp_port",
        &["invalid type"],
    );
}

#[test]
fn source_ports_refusals() {
    const FIX: &str = "write vtep.source_ports as \"LOW-HIGH\" with 1 <= LOW <= HIGH <= 65535";
    let sp = |text: &str| vtep_with(&format!("source_ports = \"{text}\"\n"));
    assert_refusals(&[
        refusal(
            "no high end",
            sp("49152-"),
            "vtep.source_ports",
            "\"49152-\" is not a port range",
            FIX,
        ),
        refusal(
            "no low end",
            sp("-65535"),
            "vtep.source_ports",
            "\"-65535\" is not a port range",
            FIX,
        ),
        refusal(
            "one port",
            sp("49152"),
            "vtep.source_ports",
            "\"49152\" is not a port range",
            FIX,
        ),
        refusal(
            "words",
            sp("a-b"),
            "vtep.source_ports",
            "\"a-b\" is not a port range",
            FIX,
        ),
        refusal(
            "three parts",
            sp("1-2-3"),
            "vtep.source_ports",
            "\"1-2-3\" is not a port range",
            FIX,
        ),
        refusal(
            "above 65535",
            sp("70000-80000"),
            "vtep.source_ports",
            "\"70000-80000\": 70000 is not a UDP port (1 to 65535)",
            FIX,
        ),
        refusal(
            "high end above 65535",
            sp("1000-65536"),
            "vtep.source_ports",
            "65536 is not a UDP port (1 to 65535)",
            FIX,
        ),
        refusal(
            "reversed",
            sp("60000-50000"),
            "vtep.source_ports",
            "\"60000-50000\" is empty: it starts above its end",
            FIX,
        ),
        refusal(
            "port 0",
            sp("0-10"),
            "vtep.source_ports",
            "\"0-10\": 0 is not a UDP port (1 to 65535)",
            FIX,
        ),
    ]);
    assert_parse_err(
        &vtep_with("source_ports = [49152, 65535]\n"),
        "vtep.source_ports",
        &["invalid type"],
    );
}

#[test]
fn vtep_refusals_in_a_model_built_in_code() {
    let dir = TempDir::new();
    let c = parse_in(&dir, EXAMPLE);
    let with = |f: &dyn Fn(&mut VtepConfig)| {
        let mut c = c.clone();
        f(c.vtep.as_mut().unwrap());
        c
    };
    assert_validate_err(
        &with(&|v| v.prefix_len = 0),
        "vtep.ip",
        &["prefix length 0 is out of range (1 to 32)"],
    );
    assert_validate_err(
        &with(&|v| v.prefix_len = 33),
        "vtep.ip",
        &["prefix length 33 is out of range (1 to 32)"],
    );
    assert_validate_err(
        &with(&|v| v.udp_port = 0),
        "vtep.udp_port",
        &["0 is out of range", "default 4789"],
    );
    assert_validate_err(
        &with(&|v| v.mtu = 2035),
        "vtep.mtu",
        &["2035 is out of range (576 to 2034)"],
    );
    assert_validate_err(
        &with(&|v| v.ttl = 0),
        "vtep.ttl",
        &["0 is out of range (1 to 255)"],
    );
    assert_validate_err(
        &with(&|v| v.source_ports = (0, 10)),
        "vtep.source_ports",
        &["\"0-10\": 0 is not a UDP port", "LOW-HIGH"],
    );
    assert_validate_err(
        &with(&|v| v.source_ports = (10, 0)),
        "vtep.source_ports",
        &["0 is not a UDP port"],
    );
    assert_validate_err(
        &with(&|v| v.source_ports = (2, 1)),
        "vtep.source_ports",
        &["\"2-1\" is empty"],
    );
    assert_validate_err(
        &with(&|v| v.gateway = Some(v.ip)),
        "vtep.gateway",
        &["is vtep.ip"],
    );
    assert_validate_err(
        &with(&|v| v.port = "vm1".into()),
        "bridge.ports[0]",
        &["\"vm1\" is vtep.port"],
    );
    with(&|v| v.source_ports = (7, 7)).validate().unwrap();
}

#[test]
fn neighbor_refusals() {
    let nb = |entries: &[(&str, &str)]| {
        let mut t = format!("{VTEP}gateway = \"172.31.0.254\"\n");
        for (ip, mac) in entries {
            t.push_str(&format!(
                "[[vtep.neighbor]]\nip = \"{ip}\"\nmac = \"{mac}\"\n"
            ));
        }
        cfg(&t, BRIDGE_VNI)
    };
    const M1: &str = "02:31:00:00:00:01";
    const M2: &str = "02:31:00:00:00:02";
    const IP_FIX: &str = "list each on-link host of 172.31.0.0/24";
    // The gateway and remote VTEPs as neighbours are fine.
    let c = parse(&nb(&[("172.31.0.254", M1), ("172.31.0.1", M2)]));
    assert_eq!(
        c.vtep.unwrap().neighbor_mac(ip("172.31.0.254")),
        Some(mac(M1))
    );
    assert_refusals(&[
        refusal(
            "neighbour outside the prefix",
            nb(&[("172.31.0.1", M1), ("10.9.0.7", M2)]),
            "vtep.neighbor[1].ip",
            "10.9.0.7 is outside the underlay prefix 172.31.0.0/24",
            IP_FIX,
        ),
        refusal(
            "neighbour equal to our own ip",
            nb(&[("172.31.0.2", M1)]),
            "vtep.neighbor[0].ip",
            "172.31.0.2 is vtep.ip, this VTEP itself",
            IP_FIX,
        ),
        refusal(
            "neighbour twice",
            nb(&[("172.31.0.1", M1), ("172.31.0.3", M2), ("172.31.0.1", M2)]),
            "vtep.neighbor[2].ip",
            "172.31.0.1 is already vtep.neighbor[0]",
            "at most once",
        ),
        refusal(
            "neighbour at the broadcast address",
            nb(&[("172.31.0.255", M1)]),
            "vtep.neighbor[0].ip",
            "172.31.0.255 is the broadcast address of 172.31.0.0/24",
            IP_FIX,
        ),
        refusal(
            "neighbour multicast",
            nb(&[("239.1.1.1", M1)]),
            "vtep.neighbor[0].ip",
            "239.1.1.1 is a multicast address",
            IP_FIX,
        ),
        refusal(
            "neighbour ip not an address",
            nb(&[("gw", M1)]),
            "vtep.neighbor[0].ip",
            "\"gw\" is not an IPv4 address",
            "a.b.c.d",
        ),
        refusal(
            "neighbour mac multicast",
            nb(&[("172.31.0.1", "01:00:5e:00:00:01")]),
            "vtep.neighbor[0].mac",
            "01:00:5e:00:00:01 is a multicast address",
            "ip neigh",
        ),
        refusal(
            "neighbour mac broadcast",
            nb(&[("172.31.0.1", M1), ("172.31.0.3", "ff:ff:ff:ff:ff:ff")]),
            "vtep.neighbor[1].mac",
            "is the broadcast address; a neighbour's MAC must be a unicast address",
            "ip neigh",
        ),
        refusal(
            "neighbour mac zero",
            nb(&[("172.31.0.1", "00:00:00:00:00:00")]),
            "vtep.neighbor[0].mac",
            "is all zeros",
            "ip neigh",
        ),
        refusal(
            "neighbour mac malformed",
            nb(&[("172.31.0.1", "02:31:00:00:00")]),
            "vtep.neighbor[0].mac",
            "is not a MAC address",
            "ip neigh",
        ),
        refusal(
            "neighbour without ip",
            cfg(
                &format!("{VTEP}[[vtep.neighbor]]\nmac = \"{M1}\"\n"),
                BRIDGE_VNI,
            ),
            "vtep.neighbor[0].ip",
            "is missing",
            "add ip = \"a.b.c.d\"",
        ),
        refusal(
            "neighbour without mac",
            cfg(
                &format!("{VTEP}[[vtep.neighbor]]\nip = \"172.31.0.1\"\n"),
                BRIDGE_VNI,
            ),
            "vtep.neighbor[0].mac",
            "is missing",
            "add mac = ",
        ),
    ]);
}

#[test]
fn several_bridges_refusals() {
    assert_refusals(&[
        refusal(
            "one of several bridges without ports",
            cfg(
                VTEP,
                "[[bridge]]\nname = \"a\"\nports = [\"vm1\"]\nvni = 1\n\
                 [[bridge]]\nname = \"b\"\nvni = 2\n",
            ),
            "bridge[1].ports",
            "is missing; with 2 bridges, every bridge lists its ports",
            "add ports = [\"NAME\", ...] to every [[bridge]] table",
        ),
        refusal(
            "the first of several bridges without ports",
            format!(
                "{VM1}{VM2}[[bridge]]\nname = \"a\"\n[[bridge]]\nname = \"b\"\nports = [\"vm2\"]\n"
            ),
            "bridge[0].ports",
            "is missing",
            "to every [[bridge]] table",
        ),
        refusal(
            "a port in two bridges",
            cfg(
                VTEP,
                "[[bridge]]\nname = \"a\"\nports = [\"vm1\", \"vm2\"]\nvni = 1\n\
                 [[bridge]]\nname = \"b\"\nports = [\"vm3\", \"vm2\"]\nvni = 2\n",
            ),
            "bridge[1].ports[1]",
            "\"vm2\" is already a port of bridge[0] \"a\"; a port belongs to at most one bridge",
            "remove it from one of the bridges",
        ),
        refusal(
            "duplicate bridge names",
            cfg(
                VTEP,
                "[[bridge]]\nname = \"a\"\nports = [\"vm1\"]\nvni = 1\n\
                 [[bridge]]\nname = \"b\"\nports = [\"vm2\"]\nvni = 2\n\
                 [[bridge]]\nname = \"a\"\nports = [\"vm3\"]\nvni = 3\n",
            ),
            "bridge[2].name",
            "\"a\" is already the name of bridge[0]",
            "give every bridge a different name",
        ),
        refusal(
            "two bridges with the default name",
            format!("{VM1}{VM2}[[bridge]]\nports = [\"vm1\"]\n[[bridge]]\nports = [\"vm2\"]\n"),
            "bridge[1].name",
            "\"br0\" is already the name of bridge[0]",
            "the default is \"br0\"",
        ),
        refusal(
            "an empty list of bridges",
            format!("bridge = []\n{VM1}"),
            "bridge",
            "is an empty list",
            "leave out the key",
        ),
        refusal(
            "bridge[1] field label",
            format!(
                "{VM1}{VM2}[[bridge]]\nname = \"a\"\nports = [\"vm1\"]\n\
                 [[bridge]]\nname = \"b\"\nports = [\"vm2\"]\nmac_table_size = 0\n"
            ),
            "bridge[1].mac_table_size",
            "0 is out of range",
            "set bridge[1].mac_table_size",
        ),
        refusal(
            "bridge[1] port that is not a port",
            format!(
                "{VM1}{VM2}[[bridge]]\nname = \"a\"\nports = [\"vm1\"]\n\
                 [[bridge]]\nname = \"b\"\nports = [\"vm9\"]\n"
            ),
            "bridge[1].ports[0]",
            "\"vm9\" is not a port",
            "remove it from bridge[1].ports",
        ),
    ]);
}

#[test]
fn accept_remotes_refusals() {
    assert_refusals(&[
        refusal(
            "accept_remotes some",
            stretched("accept_remotes = \"some\"\n"),
            "bridge.accept_remotes",
            "\"some\" is not a choice",
            "use accept_remotes = \"listed\"",
        ),
        refusal(
            "accept_remotes in capitals",
            stretched("accept_remotes = \"Any\"\n"),
            "bridge.accept_remotes",
            "\"Any\" is not a choice",
            "or \"any\"",
        ),
    ]);
    let c = parse(&stretched("accept_remotes = \"any\"\n"));
    assert_eq!(c.bridges[0].accept_remotes, AcceptRemotes::Any);
    assert_parse_err(
        &stretched("accept_remotes = true\n"),
        "bridge.accept_remotes",
        &["invalid type"],
    );
}

#[test]
fn unknown_keys_in_vxlan_tables() {
    assert_parse_err(
        &vtep_with("gatway = \"172.31.0.254\"\n"),
        "vtep.gatway",
        &["unknown field `gatway`", "`gateway`"],
    );
    assert_parse_err(
        &cfg(
            &format!(
                "{VTEP}[[vtep.neighbor]]\nip = \"172.31.0.1\"\nmac = \"02:31:00:00:00:01\"\n\
                 [[vtep.neighbor]]\nip = \"172.31.0.3\"\nlladdr = \"02:31:00:00:00:03\"\n"
            ),
            BRIDGE_VNI,
        ),
        "vtep.neighbor[1].lladdr",
        &["unknown field `lladdr`", "`mac`"],
    );
    assert_parse_err(
        &cfg(
            VTEP,
            "[[bridge]]\nname = \"a\"\nports = [\"vm1\"]\nvni = 1\n\
             [[bridge]]\nname = \"b\"\nports = [\"vm2\"]\nvnid = 2\n",
        ),
        "bridge[1].vnid",
        &["unknown field `vnid`", "`vni`"],
    );
    assert_parse_err(
        &cfg(
            VTEP,
            "[[bridge]]\nname = \"a\"\nports = [\"vm1\"]\nvni = 1\n\
             [[bridge]]\nname = \"b\"\nports = [\"vm2\"]\nvni = 2\n\
             [[bridge.static_mac]]\nmac = \"52:54:00:00:00:01\"\nremote = \"172.31.0.1\"\n",
        ),
        "bridge[1].static_mac[0].remote",
        &["unknown field `remote`", "`remote_vtep`"],
    );
    assert_parse_err(
        &stretched("remote_vtep = [\"172.31.0.1\"]\n"),
        "bridge.remote_vtep",
        &["unknown field `remote_vtep`", "`remote_vteps`"],
    );
    assert_parse_err(
        &format!("{VM1}[bridge]\nvni = 1\n[[bridge]]\nvni = 2\n"),
        "bridge[0]",
        &["duplicate key `bridge`", "keep only one"],
    );
    assert_parse_err(
        &format!("bridge = 5\n{VM1}"),
        "bridge",
        &["expected a table ([bridge]) or an array of tables ([[bridge]])"],
    );
    assert_parse_err(
        &format!("vtep = \"172.31.0.2\"\n{VM1}"),
        "vtep",
        &["invalid type"],
    );
}

#[test]
fn more_ports_than_one_worker_serves_are_refused() {
    let mut text = String::new();
    for i in 0..65 {
        text += &format!("[[port]]\nname = \"p{i}\"\ntype = \"dpdk\"\ndevargs = \"net_null{i}\"\n");
    }
    for b in 0..3 {
        let ports: Vec<String> = (b * 22..((b + 1) * 22).min(65))
            .map(|i| format!("\"p{i}\""))
            .collect();
        text += &format!(
            "[[bridge]]\nname = \"b{b}\"\nports = [{}]\n",
            ports.join(", ")
        );
    }
    let e = Config::from_toml_str(&text, "t.toml").unwrap_err();
    assert_eq!(e.field(), Some("bridge.ports"), "{e}");
    assert!(e.to_string().contains("65 ports"), "{e}");
    assert!(e.to_string().contains("64"), "{e}");
}
