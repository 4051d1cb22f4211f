//! The configuration model: the public types, their defaults and lookups.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use switch::wire::MacAddr;

/// Most ports one bridge can hold.
pub const MAX_BRIDGE_PORTS: usize = 32;
/// Longest port (and bridge) name, in characters.
pub const MAX_NAME_LEN: usize = 32;
/// Longest vhost-user socket path, in bytes: `sun_path` is 108 bytes including the NUL.
pub const MAX_SOCKET_PATH_LEN: usize = 107;
/// Bridge name when `[bridge]` has no `name`.
pub const DEFAULT_BRIDGE_NAME: &str = "br0";
/// `bridge.mac_aging_secs` when not given.
pub const DEFAULT_MAC_AGING_SECS: u64 = 300;
/// Largest `bridge.mac_aging_secs` (one day).
pub const MAX_MAC_AGING_SECS: u64 = 86_400;
/// `bridge.mac_table_size` when not given.
pub const DEFAULT_MAC_TABLE_SIZE: usize = 8192;
/// Largest `bridge.mac_table_size`.
pub const MAX_MAC_TABLE_SIZE: usize = 1_000_000;

/// Largest VXLAN network identifier (24 bits).
pub const MAX_VNI: u32 = 0xff_ffff;
/// `vtep.udp_port` when not given: the IANA-assigned VXLAN port (RFC 7348). Linux's
/// `ip link add ... type vxlan` without `dstport` uses the pre-standard 8472.
pub const DEFAULT_VXLAN_UDP_PORT: u16 = 4789;
/// `vtep.mtu` when not given.
pub const DEFAULT_UNDERLAY_MTU: u16 = 1500;
/// Smallest `vtep.mtu`: the datagram size every IPv4 host must accept (RFC 791).
pub const MIN_UNDERLAY_MTU: u16 = 576;
/// Largest `vtep.mtu`: what one packet buffer holds. The dataplane's mbufs carry 2048 bytes
/// of frame, and this version neither receives nor encapsulates frames spread over several
/// buffers, so an outer frame (MTU + 14 bytes of Ethernet) must fit 2048 bytes. That is
/// enough for 1500-byte guest packets plus VXLAN (1550); jumbo guest frames are for a later
/// version.
pub const MAX_UNDERLAY_MTU: u16 = 2034;
/// Most ports the dataplane opens over all bridges plus the VTEP's: one worker tracks its
/// ports in a 64-bit set.
pub const MAX_OPENED_PORTS: usize = 64;
/// Most distinct remote VTEPs a configuration may list (the VTEP's remote table).
pub const MAX_REMOTE_VTEPS: usize = 4096;
/// Most distinct underlay next hops (on-link remotes, gateway, static neighbours).
pub const MAX_UNDERLAY_NEIGHBORS: usize = 1024;
/// `vtep.ttl` when not given.
pub const DEFAULT_VTEP_TTL: u8 = 64;
/// `vtep.source_ports` when not given (inclusive): the dynamic port range RFC 7348
/// recommends for the outer UDP source port.
pub const DEFAULT_SOURCE_PORTS: (u16, u16) = (49152, 65535);

/// Origin used in messages by [`Config::validate`], which does not know where the
/// configuration came from (a file, the command line or both).
pub const DEFAULT_ORIGIN: &str = "configuration";

/// Everything the dataplane opens and how it switches between it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Every port the process opens, in file order, then the `--vhost-user` ones.
    pub ports: Vec<PortConfig>,
    /// Every bridge, in file order: the `[bridge]` table or the `[[bridge]]` tables, or one
    /// default bridge when the file has neither. Never empty after [`Config::load`],
    /// [`Config::from_toml_str`] or [`Config::default`].
    pub bridges: Vec<BridgeConfig>,
    /// The `[vtep]` section: this host's VXLAN tunnel endpoint, if any bridge is stretched.
    pub vtep: Option<VtepConfig>,
}

/// One `[[port]]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortConfig {
    pub name: String,
    pub kind: PortKind,
}

/// What a port is, with the settings only that kind has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortKind {
    /// `type = "vhost-user"`: a virtio-net device of a VM, over a unix socket.
    VhostUser {
        path: PathBuf,
        mode: VhostMode,
        /// Who may use a server socket (the dataplane creates it); unused in client mode.
        access: SocketAccess,
        /// `tx_retries_max`: how many more loop passes a burst the guest's receive ring had
        /// no room for stays queued before it is dropped (OVS's `tx-retries-max`).
        tx_retries_max: u8,
    },
    /// `type = "dpdk"`: a NIC or vdev probed by its devargs.
    Dpdk { devargs: String },
}

/// Owner, group and permissions of a server-mode vhost-user socket, and of its directory
/// when the dataplane has to create it: QEMU, often run as its own user (libvirt's
/// `libvirt-qemu`), must be able to connect, and nobody else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketAccess {
    /// `socket_owner`: a user name or number; `None` keeps the dataplane's user.
    pub owner: Option<u32>,
    /// `socket_group`: a group name or number; `None` keeps the dataplane's group.
    pub group: Option<u32>,
    /// `socket_mode`: the socket's permission bits.
    pub mode: u32,
    /// `socket_dir_mode`: permission bits of directories the dataplane creates for the
    /// socket (the socket's directory and missing parents).
    pub dir_mode: u32,
}

/// `socket_mode` when not given: owner and group read-write (connect needs write), so
/// QEMU's user can be the group.
pub const DEFAULT_SOCKET_MODE: u32 = 0o660;
/// `tx_retries_max` when not given: OVS's default for vhost-user ports.
pub const DEFAULT_TX_RETRIES_MAX: u8 = 8;
/// The largest `tx_retries_max` (OVS's limit too).
pub const MAX_TX_RETRIES: u8 = 32;

/// `socket_dir_mode` when not given.
pub const DEFAULT_SOCKET_DIR_MODE: u32 = 0o755;

impl Default for SocketAccess {
    fn default() -> Self {
        SocketAccess {
            owner: None,
            group: None,
            mode: DEFAULT_SOCKET_MODE,
            dir_mode: DEFAULT_SOCKET_DIR_MODE,
        }
    }
}

/// Which side of the vhost-user socket creates it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VhostMode {
    /// The dataplane creates (listens on) the socket; QEMU connects (`server=off`).
    #[default]
    Server,
    /// QEMU created the socket (`server=on`); the dataplane connects, and reconnects.
    Client,
}

/// One `[bridge]` (or `[[bridge]]`) table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeConfig {
    pub name: String,
    /// Port names, in bridge port index order (see [`BridgeConfig::port_index`]).
    pub ports: Vec<String>,
    pub mac_aging_secs: u64,
    pub mac_table_size: usize,
    pub static_macs: Vec<StaticMac>,
    /// The VXLAN network identifier (0 to [`MAX_VNI`]) the bridge is stretched over, through
    /// the [`VtepConfig`]; `None` for a bridge of local ports only.
    pub vni: Option<u32>,
    /// Head-end replication list: every remote VTEP that gets a copy of broadcast, multicast
    /// and unknown-unicast frames. Empty without a `vni`.
    pub remote_vteps: Vec<Ipv4Addr>,
    /// Which remote VTEPs this bridge takes VXLAN frames from.
    pub accept_remotes: AcceptRemotes,
}

/// `bridge.accept_remotes`: whose VXLAN frames (for the bridge's VNI) are taken in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AcceptRemotes {
    /// `"listed"`: only from an address in `remote_vteps` or the `remote_vtep` of a static
    /// MAC; the dataplane drops (and counts) the others.
    #[default]
    Listed,
    /// `"any"`: from any source address; remote VTEPs are then learnt from their frames.
    Any,
}

/// One `[[bridge.static_mac]]` entry: frames to `mac` always go to `target`, never aged,
/// never relearned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticMac {
    pub mac: MacAddr,
    pub target: StaticTarget,
}

/// Where a static MAC is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StaticTarget {
    /// `port = "NAME"`: behind one of the bridge's ports.
    Port(String),
    /// `remote_vtep = "a.b.c.d"`: behind a remote VTEP (only on a bridge with a `vni`).
    RemoteVtep(Ipv4Addr),
}

/// The `[vtep]` section: this host's VXLAN tunnel endpoint on the underlay network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VtepConfig {
    /// The underlay port (a `[[port]]` name); it is never a bridge port.
    pub port: String,
    /// This VTEP's address: the outer source address, the one remote VTEPs send to.
    pub ip: Ipv4Addr,
    /// The underlay prefix length (`ip = "172.31.0.2/24"`): remote VTEPs inside the prefix
    /// are reached directly, the others through `gateway`.
    pub prefix_len: u8,
    /// The next hop for remote VTEPs outside the prefix.
    pub gateway: Option<Ipv4Addr>,
    /// The VXLAN UDP destination port, ours and the remotes'.
    pub udp_port: u16,
    /// The underlay IPv4 MTU: the largest outer packet, VXLAN's 50 bytes included.
    pub mtu: u16,
    /// The outer IPv4 TTL.
    pub ttl: u8,
    /// The outer UDP source port range, inclusive (a hash of the inner flow picks one).
    pub source_ports: (u16, u16),
    /// Static underlay neighbours (no ARP for them).
    pub neighbors: Vec<StaticNeighbor>,
}

/// One `[[vtep.neighbor]]` entry: an underlay address and its MAC address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticNeighbor {
    pub ip: Ipv4Addr,
    pub mac: MacAddr,
}

impl Default for BridgeConfig {
    fn default() -> Self {
        BridgeConfig {
            name: DEFAULT_BRIDGE_NAME.to_string(),
            ports: Vec::new(),
            mac_aging_secs: DEFAULT_MAC_AGING_SECS,
            mac_table_size: DEFAULT_MAC_TABLE_SIZE,
            static_macs: Vec::new(),
            vni: None,
            remote_vteps: Vec::new(),
            accept_remotes: AcceptRemotes::Listed,
        }
    }
}

impl Default for Config {
    /// No ports, no VTEP and one bridge `br0` with default settings: what the dataplane starts
    /// from when it is given no configuration file.
    fn default() -> Self {
        Config {
            ports: Vec::new(),
            bridges: vec![BridgeConfig::default()],
            vtep: None,
        }
    }
}

impl PortKind {
    /// The `type` value of this kind in the file.
    pub fn type_name(&self) -> &'static str {
        match self {
            PortKind::VhostUser { .. } => "vhost-user",
            PortKind::Dpdk { .. } => "dpdk",
        }
    }
}

impl AcceptRemotes {
    /// The value of this choice in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            AcceptRemotes::Listed => "listed",
            AcceptRemotes::Any => "any",
        }
    }
}

impl BridgeConfig {
    /// The index of port `name` in this bridge (its position in `ports`), which is the port
    /// number the switch uses.
    pub fn port_index(&self, name: &str) -> Option<u16> {
        self.ports
            .iter()
            .position(|p| p == name)
            .and_then(|i| u16::try_from(i).ok())
    }

    /// True when VXLAN frames for this bridge's VNI from `remote` are taken in: the bridge has
    /// a `vni`, and `accept_remotes = "any"` or `remote` is in `remote_vteps` or is the
    /// `remote_vtep` of a static MAC.
    pub fn accepts_remote(&self, remote: Ipv4Addr) -> bool {
        self.vni.is_some()
            && match self.accept_remotes {
                AcceptRemotes::Any => true,
                AcceptRemotes::Listed => {
                    self.remote_vteps.contains(&remote)
                        || self
                            .static_macs
                            .iter()
                            .any(|s| s.target == StaticTarget::RemoteVtep(remote))
                }
            }
    }
}

impl VtepConfig {
    /// A VTEP on `port` with address `ip/prefix_len` and every other setting at its default.
    pub fn new(port: impl Into<String>, ip: Ipv4Addr, prefix_len: u8) -> VtepConfig {
        VtepConfig {
            port: port.into(),
            ip,
            prefix_len,
            gateway: None,
            udp_port: DEFAULT_VXLAN_UDP_PORT,
            mtu: DEFAULT_UNDERLAY_MTU,
            ttl: DEFAULT_VTEP_TTL,
            source_ports: DEFAULT_SOURCE_PORTS,
            neighbors: Vec::new(),
        }
    }

    /// The prefix's netmask (a `prefix_len` above 32 counts as 32).
    pub fn netmask(&self) -> Ipv4Addr {
        let len = u32::from(self.prefix_len.min(32));
        Ipv4Addr::from(u32::MAX.checked_shl(32 - len).unwrap_or(0))
    }

    /// True when `a` is inside the underlay prefix of `ip/prefix_len` (on-link).
    pub fn in_prefix(&self, a: Ipv4Addr) -> bool {
        let mask = u32::from(self.netmask());
        u32::from(a) & mask == u32::from(self.ip) & mask
    }

    /// The underlay next hop for a remote VTEP: itself when on-link, else the gateway
    /// (`None` when there is none).
    pub fn next_hop(&self, remote: Ipv4Addr) -> Option<Ipv4Addr> {
        if self.in_prefix(remote) {
            Some(remote)
        } else {
            self.gateway
        }
    }

    /// The MAC address of a static neighbour.
    pub fn neighbor_mac(&self, ip: Ipv4Addr) -> Option<MacAddr> {
        self.neighbors.iter().find(|n| n.ip == ip).map(|n| n.mac)
    }
}

impl Config {
    /// Adds a server-mode vhost-user port for the command line's `--vhost-user PATH`: named
    /// `vhu0`, `vhu1`, … (the first name no port, bridge port or `vtep.port` uses yet) and
    /// appended to the ports of the first bridge (`bridges[0]`: the `[bridge]` table or the
    /// first `[[bridge]]`), whatever the number of bridges. Returns the name. Nothing is
    /// checked here; call [`Config::validate`] afterwards.
    pub fn add_vhost_user_server(&mut self, path: PathBuf) -> String {
        let name = (0u32..)
            .map(|i| format!("vhu{i}"))
            .find(|n| {
                !self.ports.iter().any(|p| &p.name == n)
                    && !self.bridges.iter().any(|b| b.ports.contains(n))
                    && self.vtep.as_ref().is_none_or(|v| &v.port != n)
            })
            .expect("some vhuN name is free");
        self.ports.push(PortConfig {
            name: name.clone(),
            kind: PortKind::VhostUser {
                path,
                mode: VhostMode::Server,
                access: SocketAccess::default(),
                tx_retries_max: DEFAULT_TX_RETRIES_MAX,
            },
        });
        if self.bridges.is_empty() {
            self.bridges.push(BridgeConfig::default());
        }
        self.bridges[0].ports.push(name.clone());
        name
    }

    /// The index (in `bridges`) of the bridge port `port` belongs to.
    pub fn bridge_of_port(&self, port: &str) -> Option<usize> {
        self.bridges
            .iter()
            .position(|b| b.ports.iter().any(|p| p == port))
    }

    /// The index of port `name` in bridge `bridges[bridge]` (its position in that bridge's
    /// `ports`), which is the port number the switch uses; `None` when either is unknown.
    pub fn bridge_port_index(&self, bridge: usize, name: &str) -> Option<u16> {
        self.bridges.get(bridge)?.port_index(name)
    }

    /// The port named `name`.
    pub fn port(&self, name: &str) -> Option<&PortConfig> {
        self.ports.iter().find(|p| p.name == name)
    }
}

/// vhost-user ports become DPDK vdevs named `net_vhost_<port name>`.
pub const VHOST_DEVICE_PREFIX: &str = "net_vhost_";

/// The canonical name of the device a devargs string names: everything before the first
/// comma, with a PCI address given without its domain (`03:00.0`) completed to the form
/// DPDK names the device by (`0000:03:00.0`), in lower case.
pub fn device_name(devargs: &str) -> String {
    let name = devargs.split(',').next().unwrap_or(devargs).trim();
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|c| c.is_ascii_hexdigit());
    let is_bdf = |s: &str| {
        let Some((bus_dev, func)) = s.split_once('.') else {
            return false;
        };
        let Some((bus, dev)) = bus_dev.split_once(':') else {
            return false;
        };
        hex(bus, 2) && hex(dev, 2) && func.len() == 1 && matches!(func.as_bytes()[0], b'0'..=b'7')
    };
    if is_bdf(name) {
        return format!("0000:{}", name.to_ascii_lowercase());
    }
    if let Some((domain, rest)) = name.split_once(':') {
        if hex(domain, 4) && is_bdf(rest) {
            return name.to_ascii_lowercase();
        }
    }
    name.to_string()
}
