//! The rules a configuration must follow, beyond the shape serde checks.

use super::errors::{ConfigError, Errs};
use super::fs::check_socket_path_shape;
use super::model::*;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::path::Path;
use switch::wire::MacAddr;

/// `port[1] "vm2"`, or `port[1]` when the name is not known yet.
fn port_label(index: usize, name: Option<&str>) -> String {
    match name {
        Some(name) => format!("port[{index}] {name:?}"),
        None => format!("port[{index}]"),
    }
}

pub(super) fn port_field(index: usize, name: Option<&str>, field: &str) -> String {
    format!("{}: {field}", port_label(index, name))
}

pub(super) const NAME_FIX: &str = "use 1 to 32 characters from A-Z, a-z, 0-9, '_', '.' and '-'";

pub(super) const DEVARGS_FIX: &str = "set devargs to a PCI address of a vfio-pci bound NIC, e.g. \
     \"0000:03:00.0\", or a vdev string, e.g. \"net_pcap0,rx_pcap=in.pcap\"";

/// Why `name` is not a valid port or bridge name, if it is not.
fn name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("is empty".to_string());
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        return Some(format!("{name:?} contains {c:?}, which is not allowed"));
    }
    if name.len() > MAX_NAME_LEN {
        return Some(format!(
            "{name:?} is {} characters long, more than {MAX_NAME_LEN}",
            name.len()
        ));
    }
    None
}

pub(super) fn range_problem(value: i128, min: u64, max: u64) -> Option<String> {
    if value < i128::from(min) || value > i128::from(max) {
        Some(format!("{value} is out of range ({min} to {max})"))
    } else {
        None
    }
}

/// `bridge` when the configuration has one bridge, `bridge[i]` when it has several: the
/// prefix of a bridge's fields in messages.
pub(super) fn bridge_label(index: usize, count: usize) -> String {
    if count == 1 {
        "bridge".to_string()
    } else {
        format!("bridge[{index}]")
    }
}

pub(super) fn aging_fix(label: &str) -> String {
    format!(
        "set {label}.mac_aging_secs to a number of seconds from 1 to {MAX_MAC_AGING_SECS} \
         (default {DEFAULT_MAC_AGING_SECS})"
    )
}

pub(super) fn table_size_fix(label: &str) -> String {
    format!(
        "set {label}.mac_table_size to a number of entries from 1 to {MAX_MAC_TABLE_SIZE} \
         (default {DEFAULT_MAC_TABLE_SIZE})"
    )
}

pub(super) fn vni_fix() -> String {
    format!(
        "a VXLAN network identifier has 24 bits: use 0 to {MAX_VNI}, the same number on every \
         VTEP of the stretched network"
    )
}

pub(super) fn udp_port_fix() -> String {
    format!(
        "set vtep.udp_port to the VXLAN port every VTEP of the network uses, 1 to 65535 \
         (default {DEFAULT_VXLAN_UDP_PORT}, the IANA port; Linux's vxlan devices without \
         dstport use 8472)"
    )
}

pub(super) fn mtu_fix() -> String {
    format!(
        "set vtep.mtu to the underlay network's IPv4 MTU, from {MIN_UNDERLAY_MTU} (the least \
         every IPv4 link carries, RFC 791) to {MAX_UNDERLAY_MTU} (the most one 2048-byte packet \
         buffer holds with its Ethernet header: jumbo frames are not supported yet; 1550 carries \
         1500-byte guest packets); default {DEFAULT_UNDERLAY_MTU}. VXLAN adds 50 bytes, so \
         the VMs' MTU must be at most vtep.mtu - 50"
    )
}

pub(super) fn ttl_fix() -> String {
    format!("set vtep.ttl to a hop count from 1 to 255 (default {DEFAULT_VTEP_TTL})")
}

pub(super) fn accept_remotes_fix() -> String {
    "use accept_remotes = \"listed\" (the default: VXLAN frames only from remote_vteps and \
     static remote_vtep addresses; others are dropped and counted) or \"any\" (from any VTEP)"
        .to_string()
}

pub(super) const SOURCE_PORTS_FIX: &str = "write vtep.source_ports as \"LOW-HIGH\" with \
     1 <= LOW <= HIGH <= 65535, e.g. \"49152-65535\" (the default, RFC 7348's range)";

pub(super) const VTEP_IP_FIX: &str = "write vtep.ip as this VTEP's underlay address and prefix \
     length, e.g. ip = \"172.31.0.2/24\": remote VTEPs inside the prefix are reached directly, \
     the others through vtep.gateway";

pub(super) const IP_FIX: &str = "write the address as a.b.c.d, e.g. \"172.31.0.1\"";

/// Why `len` is not an IPv4 prefix length for the VTEP, if it is not.
pub(super) fn prefix_problem(len: u64) -> Option<String> {
    if (1..=32).contains(&len) {
        None
    } else {
        Some(format!("prefix length {len} is out of range (1 to 32)"))
    }
}

/// Why `a` cannot be a host's unicast address on the underlay, if it cannot.
fn unicast_problem(a: Ipv4Addr) -> Option<String> {
    let what = if a.is_unspecified() {
        "is the unspecified address"
    } else if a.is_broadcast() {
        "is the broadcast address"
    } else if a.is_multicast() {
        "is a multicast address (224.0.0.0/4); multicast underlays are not supported"
    } else if a.is_loopback() {
        "is a loopback address (127.0.0.0/8)"
    } else if a.octets()[0] >= 240 {
        "is a reserved address (240.0.0.0/4)"
    } else {
        return None;
    };
    Some(format!("{a} {what}"))
}

/// Why a MAC address cannot be a host's, if it cannot.
fn mac_problem(mac: MacAddr) -> Option<&'static str> {
    if mac.is_learnable() {
        None
    } else if mac.is_zero() {
        Some("is all zeros")
    } else if mac.is_broadcast() {
        Some("is the broadcast address")
    } else {
        Some("is a multicast address (the low bit of the first octet is set)")
    }
}

/// `172.31.0.0/24`: the VTEP's underlay prefix.
fn prefix_text(v: &VtepConfig) -> String {
    let net = u32::from(v.ip) & u32::from(v.netmask());
    format!("{}/{}", Ipv4Addr::from(net), v.prefix_len)
}

/// Why `a` cannot be a host of the VTEP's prefix: the prefix's network or broadcast address
/// (for prefixes of up to 30 bits; /31 and /32 have neither).
fn subnet_problem(v: &VtepConfig, a: Ipv4Addr) -> Option<String> {
    if v.prefix_len > 30 || !v.in_prefix(a) {
        return None;
    }
    let mask = u32::from(v.netmask());
    let net = u32::from(v.ip) & mask;
    let what = if u32::from(a) == net {
        "network"
    } else if u32::from(a) == net | !mask {
        "broadcast"
    } else {
        return None;
    };
    Some(format!("{a} is the {what} address of {}", prefix_text(v)))
}

impl Config {
    /// Every rule that does not look at the filesystem. `complete` adds the rules that only
    /// hold once the command line's ports are in.
    pub(super) fn check(&self, errs: &Errs<'_>, complete: bool) -> Result<(), ConfigError> {
        self.check_ports(errs)?;
        if let Some(vtep) = &self.vtep {
            self.check_vtep(vtep, errs)?;
        }
        self.check_bridges(errs, complete)?;
        if self.vtep.is_some() && !self.bridges.iter().any(|b| b.vni.is_some()) {
            return Err(errs.invalid(
                "vtep",
                "is set, but no bridge has a vni, so the VTEP would carry no traffic",
                "set vni = N on the bridge to stretch over VXLAN, or remove [vtep]",
            ));
        }
        Ok(())
    }

    fn check_ports(&self, errs: &Errs<'_>) -> Result<(), ConfigError> {
        let mut names: HashMap<&str, usize> = HashMap::new();
        let mut paths: HashMap<&Path, (usize, &str)> = HashMap::new();
        let mut devices: HashMap<String, (usize, &str)> = HashMap::new();
        for (i, port) in self.ports.iter().enumerate() {
            let name = port.name.as_str();
            if let Some(problem) = name_problem(name) {
                return Err(errs.invalid(port_field(i, Some(name), "name"), problem, NAME_FIX));
            }
            if let Some(first) = names.insert(name, i) {
                return Err(errs.invalid(
                    port_field(i, Some(name), "name"),
                    format!("{name:?} is already the name of port[{first}]"),
                    "give every port a different name",
                ));
            }
            match &port.kind {
                PortKind::Dpdk { devargs } => {
                    if devargs.trim().is_empty() {
                        return Err(errs.invalid(
                            port_field(i, Some(name), "devargs"),
                            "is empty",
                            DEVARGS_FIX,
                        ));
                    }
                    let device = device_name(devargs);
                    if device.starts_with(VHOST_DEVICE_PREFIX) {
                        return Err(errs.invalid(
                            port_field(i, Some(name), "devargs"),
                            format!(
                                "device name {device:?} starts with {VHOST_DEVICE_PREFIX:?}, \
                                 which the dataplane uses for its vhost-user ports"
                            ),
                            "name the vdev differently (e.g. net_vhost0) or use type = \
                             \"vhost-user\"",
                        ));
                    }
                    if let Some((first, first_name)) = devices.insert(device.clone(), (i, name)) {
                        return Err(errs.invalid(
                            port_field(i, Some(name), "devargs"),
                            format!("device {device:?} is already port[{first}] {first_name:?}"),
                            "give every dpdk port its own device (vdevs need distinct names, \
                             e.g. net_pcap0 and net_pcap1)",
                        ));
                    }
                }
                PortKind::VhostUser { path, .. } => {
                    check_socket_path_shape(errs, i, name, path)?;
                    if let Some((first, first_name)) = paths.insert(path.as_path(), (i, name)) {
                        return Err(errs.invalid(
                            port_field(i, Some(name), "path"),
                            format!(
                                "{:?} is already the socket of port[{first}] {first_name:?}",
                                path.display().to_string()
                            ),
                            "give every vhost-user port its own socket path",
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    fn check_vtep(&self, v: &VtepConfig, errs: &Errs<'_>) -> Result<(), ConfigError> {
        if self.port(&v.port).is_none() {
            return Err(errs.invalid(
                "vtep.port",
                format!("{:?} is not a port ({})", v.port, self.defined_ports()),
                "name the [[port]] that connects to the underlay network (the uplink), or \
                 define it with a [[port]] table",
            ));
        }

        let own = format!("{}/{}", v.ip, v.prefix_len);
        if let Some(p) = prefix_problem(v.prefix_len.into()) {
            return Err(errs.invalid("vtep.ip", format!("{own:?}: {p}"), VTEP_IP_FIX));
        }
        if let Some(p) = unicast_problem(v.ip).or_else(|| subnet_problem(v, v.ip)) {
            return Err(errs.invalid(
                "vtep.ip",
                p,
                "use this host's own unicast address on the underlay network, e.g. \
                 \"172.31.0.2/24\"",
            ));
        }

        if let Some(gw) = v.gateway {
            let prefix = prefix_text(v);
            let problem = if let Some(p) = unicast_problem(gw) {
                Some(p)
            } else if gw == v.ip {
                Some(format!("{gw} is vtep.ip, this VTEP itself"))
            } else if !v.in_prefix(gw) {
                Some(format!(
                    "{gw} is outside the underlay prefix {prefix} of vtep.ip, so it cannot be \
                     reached directly"
                ))
            } else {
                subnet_problem(v, gw)
            };
            if let Some(p) = problem {
                return Err(errs.invalid(
                    "vtep.gateway",
                    p,
                    format!(
                        "set gateway to the underlay router's address inside {prefix}, or \
                         remove it when every remote VTEP is inside the prefix"
                    ),
                ));
            }
        }

        if let Some(p) = range_problem(v.udp_port.into(), 1, 65535) {
            return Err(errs.invalid("vtep.udp_port", p, udp_port_fix()));
        }
        if let Some(p) = range_problem(
            v.mtu.into(),
            MIN_UNDERLAY_MTU.into(),
            MAX_UNDERLAY_MTU.into(),
        ) {
            return Err(errs.invalid("vtep.mtu", p, mtu_fix()));
        }
        if let Some(p) = range_problem(v.ttl.into(), 1, 255) {
            return Err(errs.invalid("vtep.ttl", p, ttl_fix()));
        }
        let (lo, hi) = v.source_ports;
        let range = format!("{lo}-{hi}");
        if lo == 0 || hi == 0 {
            return Err(errs.invalid(
                "vtep.source_ports",
                format!("{range:?}: 0 is not a UDP port (1 to 65535)"),
                SOURCE_PORTS_FIX,
            ));
        }
        if lo > hi {
            return Err(errs.invalid(
                "vtep.source_ports",
                format!("{range:?} is empty: it starts above its end"),
                SOURCE_PORTS_FIX,
            ));
        }

        let mut seen: HashMap<Ipv4Addr, usize> = HashMap::new();
        for (i, n) in v.neighbors.iter().enumerate() {
            let prefix = prefix_text(v);
            let problem = if let Some(p) = unicast_problem(n.ip) {
                Some(p)
            } else if n.ip == v.ip {
                Some(format!("{} is vtep.ip, this VTEP itself", n.ip))
            } else if !v.in_prefix(n.ip) {
                Some(format!(
                    "{} is outside the underlay prefix {prefix}: only on-link hosts are \
                     neighbours",
                    n.ip
                ))
            } else if let Some(p) = subnet_problem(v, n.ip) {
                Some(p)
            } else {
                seen.insert(n.ip, i)
                    .map(|first| format!("{} is already vtep.neighbor[{first}]", n.ip))
            };
            if let Some(p) = problem {
                return Err(errs.invalid(
                    format!("vtep.neighbor[{i}].ip"),
                    p,
                    format!(
                        "list each on-link host of {prefix} (the gateway, remote VTEPs) at most \
                         once; remote VTEPs outside the prefix are reached through vtep.gateway"
                    ),
                ));
            }
            if let Some(what) = mac_problem(n.mac) {
                return Err(errs.invalid(
                    format!("vtep.neighbor[{i}].mac"),
                    format!(
                        "{} {what}; a neighbour's MAC must be a unicast address",
                        n.mac
                    ),
                    "copy the neighbour's address from `ip neigh` (or `ip link` on the \
                     neighbour)",
                ));
            }
        }
        Ok(())
    }

    /// The rules for one address a bridge sends VXLAN to or takes it from (`remote_vteps[j]`,
    /// `static_mac[i].remote_vtep`).
    fn check_remote(
        v: &VtepConfig,
        errs: &Errs<'_>,
        field: String,
        remote: Ipv4Addr,
    ) -> Result<(), ConfigError> {
        if let Some(p) = unicast_problem(remote) {
            let fix = if remote.is_multicast() {
                "list every remote VTEP's unicast underlay address in remote_vteps: the \
                 dataplane sends each a copy of broadcast, multicast and unknown-unicast frames \
                 (head-end replication)"
            } else {
                "use the remote VTEP's unicast underlay address"
            };
            return Err(errs.invalid(field, p, fix));
        }
        if remote == v.ip {
            return Err(errs.invalid(
                field,
                format!("{remote} is this VTEP's own address (vtep.ip)"),
                "list only the other VTEPs' addresses",
            ));
        }
        if let Some(p) = subnet_problem(v, remote) {
            return Err(errs.invalid(field, p, "use the remote VTEP's own underlay address"));
        }
        if !v.in_prefix(remote) && v.gateway.is_none() {
            return Err(errs.invalid(
                field,
                format!(
                    "{remote} is outside the underlay prefix {} of vtep.ip and vtep.gateway is \
                     not set, so no next hop reaches it",
                    prefix_text(v)
                ),
                "set vtep.gateway to the underlay router, or widen the prefix of vtep.ip (e.g. \
                 /16) if the remote VTEP is on-link",
            ));
        }
        Ok(())
    }

    fn check_bridges(&self, errs: &Errs<'_>, complete: bool) -> Result<(), ConfigError> {
        if self.bridges.is_empty() {
            return Err(errs.invalid(
                "bridge",
                "no bridge is defined",
                "add a [bridge] table (Config::default() has one)",
            ));
        }
        let count = self.bridges.len();
        let mut names: HashMap<&str, usize> = HashMap::new();
        // Port name -> (bridge, position in its ports).
        let mut owners: HashMap<&str, usize> = HashMap::new();
        let mut vnis: HashMap<u32, usize> = HashMap::new();
        for (b, bridge) in self.bridges.iter().enumerate() {
            let label = bridge_label(b, count);
            if let Some(problem) = name_problem(&bridge.name) {
                return Err(errs.invalid(format!("{label}.name"), problem, NAME_FIX));
            }
            if let Some(first) = names.insert(&bridge.name, b) {
                return Err(errs.invalid(
                    format!("{label}.name"),
                    format!("{:?} is already the name of bridge[{first}]", bridge.name),
                    format!(
                        "give every bridge a different name (name = \"...\"; the default is \
                         {DEFAULT_BRIDGE_NAME:?})"
                    ),
                ));
            }
            self.check_bridge_ports(b, &label, complete, &mut owners, errs)?;
            self.check_bridge_vxlan(b, &label, &mut vnis, errs)?;
            self.check_static_macs(b, &label, complete, errs)?;
        }
        let opened = owners.len() + usize::from(self.vtep.is_some());
        if opened > MAX_OPENED_PORTS {
            return Err(errs.invalid(
                "bridge.ports",
                format!(
                    "the bridges have {} ports{} in all, more than the {MAX_OPENED_PORTS} one \
                     worker serves",
                    owners.len(),
                    if self.vtep.is_some() {
                        " plus the VTEP's"
                    } else {
                        ""
                    }
                ),
                format!("spread at most {MAX_OPENED_PORTS} ports over the bridges"),
            ));
        }
        self.check_vtep_capacity(errs)
    }

    /// The VTEP's tables are fixed-size: configured remotes and next hops must fit them.
    fn check_vtep_capacity(&self, errs: &Errs<'_>) -> Result<(), ConfigError> {
        let Some(v) = &self.vtep else { return Ok(()) };
        let mut remotes: std::collections::HashSet<Ipv4Addr> = std::collections::HashSet::new();
        for b in &self.bridges {
            remotes.extend(b.remote_vteps.iter().copied());
            remotes.extend(b.static_macs.iter().filter_map(|m| match m.target {
                StaticTarget::RemoteVtep(ip) => Some(ip),
                StaticTarget::Port(_) => None,
            }));
        }
        if remotes.len() > MAX_REMOTE_VTEPS {
            return Err(errs.invalid(
                "bridge.remote_vteps",
                format!(
                    "{} distinct remote VTEPs over all bridges, more than the {MAX_REMOTE_VTEPS} \
                     a VTEP tracks",
                    remotes.len()
                ),
                format!("list at most {MAX_REMOTE_VTEPS} remote VTEPs"),
            ));
        }
        let mut hops: std::collections::HashSet<Ipv4Addr> =
            remotes.iter().filter_map(|&r| v.next_hop(r)).collect();
        hops.extend(v.neighbors.iter().map(|n| n.ip));
        if hops.len() > MAX_UNDERLAY_NEIGHBORS {
            return Err(errs.invalid(
                "vtep.neighbor",
                format!(
                    "{} distinct underlay next hops (on-link remote VTEPs, the gateway, \
                     vtep.neighbor entries), more than the {MAX_UNDERLAY_NEIGHBORS} a VTEP resolves",
                    hops.len()
                ),
                "reach remote VTEPs through vtep.gateway, or list fewer on-link ones",
            ));
        }
        Ok(())
    }

    fn check_bridge_ports<'a>(
        &'a self,
        b: usize,
        label: &str,
        complete: bool,
        owners: &mut HashMap<&'a str, usize>,
        errs: &Errs<'_>,
    ) -> Result<(), ConfigError> {
        let bridge = &self.bridges[b];
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (i, name) in bridge.ports.iter().enumerate() {
            let field = || format!("{label}.ports[{i}]");
            if self.port(name).is_none() {
                return Err(errs.invalid(
                    field(),
                    format!("{name:?} is not a port ({})", self.defined_ports()),
                    format!("define it with a [[port]] table or remove it from {label}.ports"),
                ));
            }
            if let Some(first) = seen.insert(name, i) {
                return Err(errs.invalid(
                    field(),
                    format!("{name:?} is already {label}.ports[{first}]"),
                    "list every port once",
                ));
            }
            if self.vtep.as_ref().is_some_and(|v| &v.port == name) {
                return Err(errs.invalid(
                    field(),
                    format!(
                        "{name:?} is vtep.port; a VTEP port that is also a bridge port would \
                         mix the underlay with the bridged traffic"
                    ),
                    format!(
                        "remove {name:?} from {label}.ports (the underlay port belongs to the \
                         VTEP alone), or choose another vtep.port"
                    ),
                ));
            }
            if let Some(&other) = owners.get(name.as_str()) {
                return Err(errs.invalid(
                    field(),
                    format!(
                        "{name:?} is already a port of bridge[{other}] {:?}; a port belongs to at \
                         most one bridge",
                        self.bridges[other].name
                    ),
                    "remove it from one of the bridges",
                ));
            }
            owners.insert(name, b);
        }
        if bridge.ports.len() > MAX_BRIDGE_PORTS {
            return Err(errs.invalid(
                format!("{label}.ports"),
                format!(
                    "the bridge has {} ports ({label}.ports, or without it every [[port]], plus \
                     every --vhost-user), more than the {MAX_BRIDGE_PORTS} a bridge supports",
                    bridge.ports.len()
                ),
                format!(
                    "list at most {MAX_BRIDGE_PORTS} ports in {label}.ports, or define fewer \
                     ports"
                ),
            ));
        }
        if bridge.ports.is_empty() && b == 0 && complete {
            return Err(errs.invalid(
                format!("{label}.ports"),
                "the bridge has no ports",
                format!(
                    "add --vhost-user PATH or a [[port]] table (and list it in {label}.ports if \
                     that key is present)"
                ),
            ));
        }
        if bridge.ports.is_empty() && b > 0 {
            // The command line's ports join bridge[0] only: nothing can fill this one.
            return Err(errs.invalid(
                format!("{label}.ports"),
                "the bridge has no ports",
                format!("list its ports in {label}.ports, or remove this [[bridge]]"),
            ));
        }
        if let Some(p) = range_problem(i128::from(bridge.mac_aging_secs), 1, MAX_MAC_AGING_SECS) {
            return Err(errs.invalid(format!("{label}.mac_aging_secs"), p, aging_fix(label)));
        }
        if let Some(p) = range_problem(bridge.mac_table_size as i128, 1, MAX_MAC_TABLE_SIZE as u64)
        {
            return Err(errs.invalid(format!("{label}.mac_table_size"), p, table_size_fix(label)));
        }
        Ok(())
    }

    fn check_bridge_vxlan(
        &self,
        b: usize,
        label: &str,
        vnis: &mut HashMap<u32, usize>,
        errs: &Errs<'_>,
    ) -> Result<(), ConfigError> {
        let bridge = &self.bridges[b];
        let no_vni = |key: &str| {
            errs.invalid(
                format!("{label}.{key}"),
                "is set, but the bridge has no vni (remote VTEPs only exist for a bridge \
                 stretched over VXLAN)",
                format!("set vni on {label} (and a [vtep] section), or remove {key}"),
            )
        };
        let Some(vni) = bridge.vni else {
            if !bridge.remote_vteps.is_empty() {
                return Err(no_vni("remote_vteps"));
            }
            if bridge.accept_remotes != AcceptRemotes::Listed {
                return Err(no_vni("accept_remotes"));
            }
            return Ok(());
        };
        let field = || format!("{label}.vni");
        if let Some(p) = range_problem(vni.into(), 0, MAX_VNI.into()) {
            return Err(errs.invalid(field(), p, vni_fix()));
        }
        let Some(vtep) = &self.vtep else {
            return Err(errs.invalid(
                field(),
                format!(
                    "the bridge is stretched over VXLAN (vni = {vni}), which needs a [vtep] \
                     section"
                ),
                "add [vtep] with port = \"NAME\" (the underlay port) and ip = \"a.b.c.d/len\", \
                 or remove vni",
            ));
        };
        if let Some(first) = vnis.insert(vni, b) {
            return Err(errs.invalid(
                field(),
                format!(
                    "{vni} is already the vni of bridge[{first}] {:?} (overlapping VNIs)",
                    self.bridges[first].name
                ),
                "give every bridge its own vni: one VNI is one stretched L2 network",
            ));
        }
        let mut seen: HashMap<Ipv4Addr, usize> = HashMap::new();
        for (j, &remote) in bridge.remote_vteps.iter().enumerate() {
            let field = format!("{label}.remote_vteps[{j}]");
            if let Some(first) = seen.insert(remote, j) {
                return Err(errs.invalid(
                    field,
                    format!("{remote} is already {label}.remote_vteps[{first}]"),
                    "list every remote VTEP once",
                ));
            }
            Self::check_remote(vtep, errs, field, remote)?;
        }
        Ok(())
    }

    fn check_static_macs(
        &self,
        b: usize,
        label: &str,
        complete: bool,
        errs: &Errs<'_>,
    ) -> Result<(), ConfigError> {
        let bridge = &self.bridges[b];
        let mut macs: HashMap<MacAddr, usize> = HashMap::new();
        for (i, sm) in bridge.static_macs.iter().enumerate() {
            let field = |key: &str| format!("{label}.static_mac[{i}].{key}");
            if let Some(what) = mac_problem(sm.mac) {
                return Err(errs.invalid(
                    field("mac"),
                    format!("{} {what}; a static MAC must be a unicast address", sm.mac),
                    "use the unicast address of the VM or host, e.g. 52:54:00:12:34:56",
                ));
            }
            if let Some(first) = macs.insert(sm.mac, i) {
                return Err(errs.invalid(
                    field("mac"),
                    format!("{} is already {label}.static_mac[{first}]", sm.mac),
                    "give every MAC address at most one static entry",
                ));
            }
            match &sm.target {
                // The port may be one the command line adds (`--vhost-user` makes vhu0, vhu1,
                // ...), so this can only be judged once those are in.
                StaticTarget::Port(port) => {
                    if complete && !bridge.ports.contains(port) {
                        return Err(errs.invalid(
                            field("port"),
                            format!(
                                "{port:?} is not a port of the bridge (bridge ports: {})",
                                quoted_list(&bridge.ports)
                            ),
                            "name one of the bridge's ports",
                        ));
                    }
                }
                StaticTarget::RemoteVtep(remote) => match (&self.vtep, bridge.vni) {
                    (Some(vtep), Some(_)) => {
                        Self::check_remote(vtep, errs, field("remote_vtep"), *remote)?
                    }
                    _ => {
                        return Err(errs.invalid(
                            field("remote_vtep"),
                            "is set, but the bridge has no vni, so no MAC can be behind a \
                             remote VTEP",
                            format!(
                                "set vni on {label} (and a [vtep] section), or pin the MAC to a \
                                 bridge port with port = \"NAME\""
                            ),
                        ))
                    }
                },
            }
        }
        if bridge.static_macs.len() > bridge.mac_table_size {
            return Err(errs.invalid(
                format!("{label}.static_mac"),
                format!(
                    "{} static MACs do not fit in a MAC table of {} entries",
                    bridge.static_macs.len(),
                    bridge.mac_table_size
                ),
                format!("raise {label}.mac_table_size or remove static entries"),
            ));
        }
        Ok(())
    }

    fn defined_ports(&self) -> String {
        if self.ports.is_empty() {
            "no port is defined".to_string()
        } else {
            let names: Vec<String> = self.ports.iter().map(|p| p.name.clone()).collect();
            format!("defined ports: {}", quoted_list(&names))
        }
    }
}

fn quoted_list(names: &[String]) -> String {
    if names.is_empty() {
        return "none".to_string();
    }
    let mut s = String::new();
    for (i, n) in names.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        let _ = write!(s, "{n:?}");
    }
    s
}
