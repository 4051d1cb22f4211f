//! The raw (serde) form of the file and its conversion into the model. Every field is
//! optional so that a missing one is reported by name, with a fix, rather than as serde's
//! "missing field". Only what the model's types cannot hold is refused here (a missing key,
//! text that is not an address, a number out of the type's range); the rules are in
//! `validate`.

use super::errors::{ConfigError, Errs};
use super::model::*;
use super::validate::{
    accept_remotes_fix, aging_fix, bridge_label, mtu_fix, port_field, prefix_problem,
    range_problem, table_size_fix, ttl_fix, udp_port_fix, vni_fix, DEVARGS_FIX, IP_FIX, NAME_FIX,
    SOURCE_PORTS_FIX, VTEP_IP_FIX,
};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::fmt;
use std::marker::PhantomData;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use switch::wire::{MacAddr, ParseMacError};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    #[serde(default, rename = "port")]
    ports: Vec<RawPort>,
    #[serde(rename = "bridge")]
    bridges: Option<OneOrMany<RawBridge>>,
    vtep: Option<RawVtep>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPort {
    name: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    path: Option<String>,
    mode: Option<String>,
    socket_owner: Option<String>,
    socket_group: Option<String>,
    socket_mode: Option<String>,
    socket_dir_mode: Option<String>,
    tx_retries_max: Option<i64>,
    devargs: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBridge {
    name: Option<String>,
    ports: Option<Vec<String>>,
    mac_aging_secs: Option<i64>,
    mac_table_size: Option<i64>,
    #[serde(default, rename = "static_mac")]
    static_macs: Vec<RawStaticMac>,
    vni: Option<i64>,
    remote_vteps: Option<Vec<String>>,
    accept_remotes: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStaticMac {
    mac: Option<String>,
    port: Option<String>,
    remote_vtep: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVtep {
    port: Option<String>,
    ip: Option<String>,
    gateway: Option<String>,
    udp_port: Option<i64>,
    mtu: Option<i64>,
    ttl: Option<i64>,
    source_ports: Option<String>,
    #[serde(default, rename = "neighbor")]
    neighbors: Vec<RawNeighbor>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNeighbor {
    ip: Option<String>,
    mac: Option<String>,
}

/// `[bridge]` (a table: one) or `[[bridge]]` (an array of tables: several). Not
/// `#[serde(untagged)]`, which would replace the inner errors (unknown key, wrong type, with
/// their positions) by "did not match any variant".
enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<T> OneOrMany<T> {
    fn into_vec(self) -> Vec<T> {
        match self {
            OneOrMany::One(t) => vec![t],
            OneOrMany::Many(v) => v,
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = OneOrMany<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a table ([bridge]) or an array of tables ([[bridge]])")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(OneOrMany::One)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                Vec::<T>::deserialize(de::value::SeqAccessDeserializer::new(seq))
                    .map(OneOrMany::Many)
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

impl Config {
    pub(super) fn from_raw(raw: RawConfig, errs: &Errs<'_>) -> Result<Config, ConfigError> {
        let mut ports = Vec::with_capacity(raw.ports.len());
        for (i, rp) in raw.ports.into_iter().enumerate() {
            ports.push(port_from_raw(i, rp, errs)?);
        }
        let vtep = raw.vtep.map(|rv| vtep_from_raw(rv, errs)).transpose()?;
        // One bridge without `ports` takes every port but the VTEP's, in file order.
        let every_port = || -> Vec<String> {
            ports
                .iter()
                .map(|p| p.name.clone())
                .filter(|n| vtep.as_ref().is_none_or(|v| &v.port != n))
                .collect()
        };
        let raw_bridges = raw.bridges.map(OneOrMany::into_vec);
        let bridges = match raw_bridges {
            None => vec![BridgeConfig {
                ports: every_port(),
                ..BridgeConfig::default()
            }],
            Some(rbs) if rbs.is_empty() => {
                return Err(errs.invalid(
                    "bridge",
                    "is an empty list",
                    "define a bridge with a [bridge] table or [[bridge]] tables, or leave out \
                     the key (one bridge \"br0\" of every port)",
                ))
            }
            Some(rbs) => {
                let n = rbs.len();
                let mut bridges = Vec::with_capacity(n);
                for (i, mut rb) in rbs.into_iter().enumerate() {
                    let label = bridge_label(i, n);
                    let ports = match rb.ports.take() {
                        Some(p) => p,
                        None if n == 1 => every_port(),
                        None => {
                            return Err(errs.invalid(
                                format!("{label}.ports"),
                                format!(
                                    "is missing; with {n} bridges, every bridge lists its ports \
                                     (the default, every port, is for a single bridge)"
                                ),
                                "add ports = [\"NAME\", ...] to every [[bridge]] table",
                            ));
                        }
                    };
                    bridges.push(bridge_from_raw(rb, &label, ports, errs)?);
                }
                bridges
            }
        };
        Ok(Config {
            ports,
            bridges,
            vtep,
        })
    }
}

fn port_from_raw(i: usize, rp: RawPort, errs: &Errs<'_>) -> Result<PortConfig, ConfigError> {
    let Some(name) = rp.name.clone() else {
        return Err(errs.invalid(
            port_field(i, None, "name"),
            "is missing",
            format!("add name = \"...\" to this [[port]] table ({NAME_FIX})"),
        ));
    };
    let label = Some(name.as_str());
    let kind = match rp.kind.as_deref() {
        None => {
            return Err(errs.invalid(
                port_field(i, label, "type"),
                "is missing",
                "add type = \"vhost-user\" or type = \"dpdk\"",
            ))
        }
        Some("vhost-user") => {
            if rp.devargs.is_some() {
                return Err(errs.invalid(
                    port_field(i, label, "devargs"),
                    "is a setting of dpdk ports, and this port has type = \"vhost-user\"",
                    "remove devargs, or set type = \"dpdk\" (and remove path and mode)",
                ));
            }
            let Some(path) = rp.path.clone() else {
                return Err(errs.invalid(
                    port_field(i, label, "path"),
                    "is missing; a vhost-user port needs its socket path",
                    "add path = \"/run/dataplane/NAME.sock\" (the path QEMU's chardev uses)",
                ));
            };
            let mode =
                match rp.mode.as_deref() {
                    None | Some("server") => VhostMode::Server,
                    Some("client") => VhostMode::Client,
                    Some(other) => return Err(errs.invalid(
                        port_field(i, label, "mode"),
                        format!("{other:?} is not a vhost-user mode"),
                        "use mode = \"server\" (the dataplane creates the socket; the default) \
                         or mode = \"client\" (QEMU created it with server=on)",
                    )),
                };
            let access = socket_access(i, label, mode, &rp, errs)?;
            let tx_retries_max = match rp.tx_retries_max {
                None => DEFAULT_TX_RETRIES_MAX,
                Some(v) => match range_problem(i128::from(v), 0, u64::from(MAX_TX_RETRIES)) {
                    // In range, so it fits a u8.
                    None => v as u8,
                    Some(problem) => {
                        return Err(errs.invalid(
                            port_field(i, label, "tx_retries_max"),
                            problem,
                            format!(
                                "give 0 (drop at once when the guest's ring is full) to \
                                 {MAX_TX_RETRIES}; the default is {DEFAULT_TX_RETRIES_MAX}"
                            ),
                        ))
                    }
                },
            };
            PortKind::VhostUser {
                path: PathBuf::from(path),
                mode,
                access,
                tx_retries_max,
            }
        }
        Some("dpdk") => {
            for (key, value) in [
                ("path", &rp.path),
                ("mode", &rp.mode),
                ("socket_owner", &rp.socket_owner),
                ("socket_group", &rp.socket_group),
                ("socket_mode", &rp.socket_mode),
                ("socket_dir_mode", &rp.socket_dir_mode),
                ("tx_retries_max", &rp.tx_retries_max.map(|v| v.to_string())),
            ] {
                if value.is_some() {
                    return Err(errs.invalid(
                        port_field(i, label, key),
                        "is a setting of vhost-user ports, and this port has type = \"dpdk\"",
                        format!("remove {key}, or set type = \"vhost-user\" (and remove devargs)"),
                    ));
                }
            }
            let Some(devargs) = rp.devargs else {
                return Err(errs.invalid(
                    port_field(i, label, "devargs"),
                    "is missing; a dpdk port needs its device",
                    DEVARGS_FIX,
                ));
            };
            PortKind::Dpdk { devargs }
        }
        Some(other) => {
            return Err(errs.invalid(
                port_field(i, label, "type"),
                format!("{other:?} is not a port type"),
                "use type = \"vhost-user\" or type = \"dpdk\"",
            ))
        }
    };
    Ok(PortConfig { name, kind })
}

/// An integer key converted to the model's type, or refused with the range message.
fn int<T: TryFrom<i64>>(
    errs: &Errs<'_>,
    field: impl FnOnce() -> String,
    value: i64,
    (min, max): (u64, u64),
    fix: impl FnOnce() -> String,
) -> Result<T, ConfigError> {
    T::try_from(value).map_err(|_| {
        errs.invalid(
            field(),
            range_problem(i128::from(value), min, max).unwrap_or_default(),
            fix(),
        )
    })
}

fn ipv4(errs: &Errs<'_>, field: &str, text: &str, fix: &str) -> Result<Ipv4Addr, ConfigError> {
    text.trim().parse().map_err(|_| {
        errs.invalid(
            field,
            format!("{text:?} is not an IPv4 address"),
            fix.to_string(),
        )
    })
}

fn mac(errs: &Errs<'_>, field: &str, text: &str, fix: &str) -> Result<MacAddr, ConfigError> {
    text.parse()
        .map_err(|e: ParseMacError| errs.invalid(field, e.to_string(), fix.to_string()))
}

const REMOTE_FIX: &str = "write the remote VTEP's underlay address as a.b.c.d, e.g. \"172.31.0.1\"";

fn bridge_from_raw(
    rb: RawBridge,
    label: &str,
    ports: Vec<String>,
    errs: &Errs<'_>,
) -> Result<BridgeConfig, ConfigError> {
    let mac_aging_secs = match rb.mac_aging_secs {
        None => DEFAULT_MAC_AGING_SECS,
        Some(v) => int(
            errs,
            || format!("{label}.mac_aging_secs"),
            v,
            (1, MAX_MAC_AGING_SECS),
            || aging_fix(label),
        )?,
    };
    let mac_table_size = match rb.mac_table_size {
        None => DEFAULT_MAC_TABLE_SIZE,
        Some(v) => int(
            errs,
            || format!("{label}.mac_table_size"),
            v,
            (1, MAX_MAC_TABLE_SIZE as u64),
            || table_size_fix(label),
        )?,
    };
    let vni = match rb.vni {
        None => None,
        Some(v) => Some(int(
            errs,
            || format!("{label}.vni"),
            v,
            (0, u64::from(MAX_VNI)),
            vni_fix,
        )?),
    };
    let no_vni = |key: &str| {
        errs.invalid(
            format!("{label}.{key}"),
            "is set, but the bridge has no vni (remote VTEPs only exist for a bridge stretched \
             over VXLAN)",
            format!("set vni on {label} (and a [vtep] section), or remove {key}"),
        )
    };
    let mut remote_vteps = Vec::new();
    for (j, text) in rb.remote_vteps.iter().flatten().enumerate() {
        remote_vteps.push(ipv4(
            errs,
            &format!("{label}.remote_vteps[{j}]"),
            text,
            REMOTE_FIX,
        )?);
    }
    if rb.remote_vteps.is_some() && vni.is_none() {
        return Err(no_vni("remote_vteps"));
    }
    let accept_remotes = match rb.accept_remotes.as_deref() {
        None => AcceptRemotes::default(),
        Some(_) if vni.is_none() => return Err(no_vni("accept_remotes")),
        Some("listed") => AcceptRemotes::Listed,
        Some("any") => AcceptRemotes::Any,
        Some(other) => {
            return Err(errs.invalid(
                format!("{label}.accept_remotes"),
                format!("{other:?} is not a choice"),
                accept_remotes_fix(),
            ))
        }
    };
    let mut static_macs = Vec::with_capacity(rb.static_macs.len());
    for (i, rs) in rb.static_macs.into_iter().enumerate() {
        let field = |key: &str| format!("{label}.static_mac[{i}].{key}");
        let Some(text) = rs.mac else {
            return Err(errs.invalid(
                field("mac"),
                "is missing",
                "add mac = \"52:54:00:12:34:56\" (the address to pin)",
            ));
        };
        let mac = mac(
            errs,
            &field("mac"),
            &text,
            "copy the address from the VM's definition (libvirt <mac address=...>, \
             QEMU -device ...,mac=...) or from `ip link` in the guest",
        )?;
        let target =
            match (rs.port, rs.remote_vtep) {
                (Some(_), Some(_)) => return Err(errs.invalid(
                    field("remote_vtep"),
                    "is set together with port; a static MAC is behind either a bridge port or \
                     a remote VTEP",
                    "keep port = \"NAME\" for a MAC behind a local port, or remote_vtep = \
                     \"a.b.c.d\" for a MAC behind another VTEP, not both",
                )),
                (None, None) => {
                    return Err(errs.invalid(
                        field("port"),
                        "is missing",
                        "add port = \"NAME\", the bridge port the address is behind (or, on a \
                     bridge with a vni, remote_vtep = \"a.b.c.d\", the VTEP it is behind)",
                    ))
                }
                (Some(port), None) => StaticTarget::Port(port),
                (None, Some(text)) => {
                    let ip = ipv4(errs, &field("remote_vtep"), &text, REMOTE_FIX)?;
                    if vni.is_none() {
                        return Err(errs.invalid(
                            field("remote_vtep"),
                            "is set, but the bridge has no vni, so no MAC can be behind a remote \
                         VTEP",
                            format!(
                                "set vni on {label} (and a [vtep] section), or pin the MAC to a \
                             bridge port with port = \"NAME\""
                            ),
                        ));
                    }
                    StaticTarget::RemoteVtep(ip)
                }
            };
        static_macs.push(StaticMac { mac, target });
    }
    Ok(BridgeConfig {
        name: rb.name.unwrap_or_else(|| DEFAULT_BRIDGE_NAME.to_string()),
        ports,
        mac_aging_secs,
        mac_table_size,
        static_macs,
        vni,
        remote_vteps,
        accept_remotes,
    })
}

fn vtep_from_raw(rv: RawVtep, errs: &Errs<'_>) -> Result<VtepConfig, ConfigError> {
    let Some(port) = rv.port else {
        return Err(errs.invalid(
            "vtep.port",
            "is missing",
            "add port = \"NAME\", the [[port]] that connects to the underlay network (the \
             uplink)",
        ));
    };
    let Some(ip_text) = rv.ip else {
        return Err(errs.invalid("vtep.ip", "is missing", VTEP_IP_FIX));
    };
    let (ip, prefix_len) = parse_prefix(errs, &ip_text)?;
    let gateway = rv
        .gateway
        .map(|g| {
            ipv4(
                errs,
                "vtep.gateway",
                &g,
                "write the underlay router's address as a.b.c.d, e.g. \"172.31.0.254\"",
            )
        })
        .transpose()?;
    let udp_port = match rv.udp_port {
        None => DEFAULT_VXLAN_UDP_PORT,
        Some(v) => int(errs, || "vtep.udp_port".into(), v, (1, 65535), udp_port_fix)?,
    };
    let mtu = match rv.mtu {
        None => DEFAULT_UNDERLAY_MTU,
        Some(v) => int(
            errs,
            || "vtep.mtu".into(),
            v,
            (MIN_UNDERLAY_MTU.into(), MAX_UNDERLAY_MTU.into()),
            mtu_fix,
        )?,
    };
    let ttl = match rv.ttl {
        None => DEFAULT_VTEP_TTL,
        Some(v) => int(errs, || "vtep.ttl".into(), v, (1, 255), ttl_fix)?,
    };
    let source_ports = match rv.source_ports {
        None => DEFAULT_SOURCE_PORTS,
        Some(text) => parse_port_range(&text)
            .map_err(|problem| errs.invalid("vtep.source_ports", problem, SOURCE_PORTS_FIX))?,
    };
    let mut neighbors = Vec::with_capacity(rv.neighbors.len());
    for (i, rn) in rv.neighbors.into_iter().enumerate() {
        let field = |key: &str| format!("vtep.neighbor[{i}].{key}");
        let Some(ip) = rn.ip else {
            return Err(errs.invalid(
                field("ip"),
                "is missing",
                "add ip = \"a.b.c.d\", the neighbour's underlay address",
            ));
        };
        let ip = ipv4(errs, &field("ip"), &ip, IP_FIX)?;
        let Some(text) = rn.mac else {
            return Err(errs.invalid(
                field("mac"),
                "is missing",
                "add mac = \"aa:bb:cc:dd:ee:ff\", the neighbour's MAC address",
            ));
        };
        let mac = mac(
            errs,
            &field("mac"),
            &text,
            "copy the neighbour's address from `ip neigh` (or `ip link` on the neighbour)",
        )?;
        neighbors.push(StaticNeighbor { ip, mac });
    }
    Ok(VtepConfig {
        port,
        ip,
        prefix_len,
        gateway,
        udp_port,
        mtu,
        ttl,
        source_ports,
        neighbors,
    })
}

/// `"172.31.0.2/24"`. A prefix length above 32 is refused here (the model's `u8` could hold
/// some); 0 is kept for `validate` to refuse, as it would in a model built in code.
fn parse_prefix(errs: &Errs<'_>, text: &str) -> Result<(Ipv4Addr, u8), ConfigError> {
    let Some((addr, len)) = text.split_once('/') else {
        let problem = match text.trim().parse::<Ipv4Addr>() {
            Ok(_) => format!("{text:?} has no prefix length"),
            Err(_) => format!("{text:?} is not an IPv4 address with a prefix length"),
        };
        return Err(errs.invalid("vtep.ip", problem, VTEP_IP_FIX));
    };
    let ip = ipv4(errs, "vtep.ip", addr, VTEP_IP_FIX)?;
    let len = len.trim();
    let bad_len = |problem: String| errs.invalid("vtep.ip", problem, VTEP_IP_FIX);
    if len.is_empty() || !len.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad_len(format!("{text:?}: {len:?} is not a prefix length")));
    }
    match len.parse::<u8>() {
        Ok(n) if n <= 32 => Ok((ip, n)),
        _ => {
            // Too large even for a u64: name the text, not a saturated number.
            let problem = len.parse::<u64>().ok().and_then(prefix_problem);
            let problem =
                problem.unwrap_or_else(|| format!("prefix length {len} is out of range (1 to 32)"));
            Err(bad_len(format!("{text:?}: {problem}")))
        }
    }
}

/// `"49152-65535"`: two ports, both 1 to 65535. The order (low <= high) is `validate`'s.
pub(super) fn parse_port_range(text: &str) -> Result<(u16, u16), String> {
    let malformed = || format!("{text:?} is not a port range");
    let (lo, hi) = text.split_once('-').ok_or_else(malformed)?;
    let port = |s: &str| -> Result<u16, String> {
        let s = s.trim();
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(malformed());
        }
        match s.parse::<u16>() {
            Ok(p) if p >= 1 => Ok(p),
            _ => Err(format!("{text:?}: {s} is not a UDP port (1 to 65535)")),
        }
    };
    Ok((port(lo)?, port(hi)?))
}

/// The `socket_*` keys of a vhost-user port: who may use the server socket the dataplane
/// creates. In client mode QEMU creates the socket, so they are refused there.
fn socket_access(
    i: usize,
    label: Option<&str>,
    mode: VhostMode,
    rp: &RawPort,
    errs: &Errs<'_>,
) -> Result<SocketAccess, ConfigError> {
    let keys = [
        ("socket_owner", &rp.socket_owner),
        ("socket_group", &rp.socket_group),
        ("socket_mode", &rp.socket_mode),
        ("socket_dir_mode", &rp.socket_dir_mode),
    ];
    if mode == VhostMode::Client {
        if let Some((key, _)) = keys.iter().find(|(_, v)| v.is_some()) {
            return Err(errs.invalid(
                port_field(i, label, key),
                "is a setting of server-mode sockets, and in client mode QEMU creates the socket",
                format!("remove {key}, or set the socket's permissions where QEMU creates it"),
            ));
        }
    }
    let mut access = SocketAccess::default();
    let bits = |key: &str, text: &str| -> Result<u32, ConfigError> {
        let digits = text.strip_prefix("0o").unwrap_or(text);
        let octal = !digits.is_empty() && digits.bytes().all(|b| (b'0'..=b'7').contains(&b));
        match u32::from_str_radix(digits, 8) {
            Ok(v) if octal && v <= 0o777 => Ok(v),
            _ => Err(errs.invalid(
                port_field(i, label, key),
                format!("{text:?} is not a permission mode"),
                format!("write it in octal, e.g. {key} = \"0660\" (at most 0777)"),
            )),
        }
    };
    if let Some(text) = &rp.socket_mode {
        access.mode = bits("socket_mode", text)?;
    }
    if let Some(text) = &rp.socket_dir_mode {
        access.dir_mode = bits("socket_dir_mode", text)?;
    }
    for (key, value, group) in [
        ("socket_owner", &rp.socket_owner, false),
        ("socket_group", &rp.socket_group, true),
    ] {
        let Some(name) = value else { continue };
        let (what, fix) = if group {
            (
                "group",
                "give a group name from /etc/group (e.g. \"kvm\" or \"libvirt-qemu\") or a number",
            )
        } else {
            (
                "user",
                "give a user name from /etc/passwd (e.g. \"root\") or a number",
            )
        };
        let id = match lookup_id(name, group) {
            Ok(Some(id)) => id,
            Ok(None) => {
                return Err(errs.invalid(
                    port_field(i, label, key),
                    format!("{name:?} is no {what} on this machine"),
                    fix,
                ))
            }
            Err(e) => {
                return Err(errs.invalid(
                    port_field(i, label, key),
                    format!("cannot look up {what} {name:?}: {e}"),
                    "check the name service (nsswitch, sssd, LDAP) or give a number",
                ))
            }
        };
        if group {
            access.group = Some(id);
        } else {
            access.owner = Some(id);
        }
    }
    Ok(access)
}

/// A user (or group) id from a number or a name: `Ok(None)` when there is no such name,
/// `Err` when the lookup itself failed (a name service that did not answer).
fn lookup_id(name: &str, group: bool) -> Result<Option<u32>, std::io::Error> {
    if !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(id) = name.parse::<u32>() {
            // u32::MAX means "leave unchanged" to chown: not an id anyone has.
            return Ok((id != u32::MAX).then_some(id));
        }
    }
    let Ok(c) = std::ffi::CString::new(name) else {
        return Ok(None);
    };
    // Large groups (an LDAP group with many members) need a large buffer: grow it on
    // ERANGE, up to 4 MiB.
    let mut size = 16 * 1024;
    loop {
        let mut buf = vec![0 as libc::c_char; size];
        // SAFETY: the out-structs are zeroed PODs, buf outlives the calls and its length is
        // passed, and only the id is read, only when the call reports a result; the *_r
        // functions are thread-safe.
        let (rc, id) = unsafe {
            if group {
                let mut gr: libc::group = std::mem::zeroed();
                let mut out: *mut libc::group = std::ptr::null_mut();
                let rc =
                    libc::getgrnam_r(c.as_ptr(), &mut gr, buf.as_mut_ptr(), buf.len(), &mut out);
                (rc, (!out.is_null()).then_some(gr.gr_gid))
            } else {
                let mut pw: libc::passwd = std::mem::zeroed();
                let mut out: *mut libc::passwd = std::ptr::null_mut();
                let rc =
                    libc::getpwnam_r(c.as_ptr(), &mut pw, buf.as_mut_ptr(), buf.len(), &mut out);
                (rc, (!out.is_null()).then_some(pw.pw_uid))
            }
        };
        match rc {
            0 => return Ok(id),
            libc::ERANGE if size < 4 << 20 => size *= 2,
            _ => return Err(std::io::Error::from_raw_os_error(rc)),
        }
    }
}
