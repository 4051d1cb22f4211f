//! The configuration model, its TOML form and its validation. The file format is described
//! in the crate documentation.

use serde::Deserialize;
use std::collections::HashMap;
use std::ffi::CString;
use std::fmt::Write as _;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
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

/// Origin used in messages by [`Config::validate`], which does not know where the
/// configuration came from (a file, the command line or both).
pub const DEFAULT_ORIGIN: &str = "configuration";

/// Everything the dataplane opens and how it switches between it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Every port the process opens, in file order, then the `--vhost-user` ones.
    pub ports: Vec<PortConfig>,
    pub bridge: BridgeConfig,
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
    VhostUser { path: PathBuf, mode: VhostMode },
    /// `type = "dpdk"`: a NIC or vdev probed by its devargs.
    Dpdk { devargs: String },
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

/// The `[bridge]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeConfig {
    pub name: String,
    /// Port names, in bridge port index order (see [`Config::bridge_port_index`]).
    pub ports: Vec<String>,
    pub mac_aging_secs: u64,
    pub mac_table_size: usize,
    pub static_macs: Vec<StaticMac>,
}

/// One `[[bridge.static_mac]]` entry: frames to `mac` always go to `port`, never aged, never
/// relearned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticMac {
    pub mac: MacAddr,
    pub port: String,
}

impl Default for BridgeConfig {
    fn default() -> Self {
        BridgeConfig {
            name: DEFAULT_BRIDGE_NAME.to_string(),
            ports: Vec::new(),
            mac_aging_secs: DEFAULT_MAC_AGING_SECS,
            mac_table_size: DEFAULT_MAC_TABLE_SIZE,
            static_macs: Vec::new(),
        }
    }
}

impl Default for Config {
    /// No ports and a bridge `br0` with default settings: what the dataplane starts from when
    /// it is given no configuration file.
    fn default() -> Self {
        Config {
            ports: Vec::new(),
            bridge: BridgeConfig::default(),
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

/// Why a configuration cannot be used. Every message starts with the origin (file name),
/// names the field and says how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{origin}: cannot read the configuration file: {source}; {fix}")]
    Read {
        origin: String,
        #[source]
        source: std::io::Error,
        fix: String,
    },
    /// The text is not TOML or does not have the shape of a configuration (unknown key, wrong
    /// value type). `message` is toml's own, with line, column and the offending text.
    #[error("{origin}: {field}: {message}\nfix: {fix}")]
    Parse {
        origin: String,
        field: String,
        message: String,
        fix: String,
    },
    /// A field has a value the dataplane cannot use.
    #[error("{origin}: {field}: {problem}; {fix}")]
    Invalid {
        origin: String,
        field: String,
        problem: String,
        fix: String,
    },
}

impl ConfigError {
    /// The file name (or other origin) the error is about.
    pub fn origin(&self) -> &str {
        match self {
            ConfigError::Read { origin, .. }
            | ConfigError::Parse { origin, .. }
            | ConfigError::Invalid { origin, .. } => origin,
        }
    }

    /// The field path, e.g. `port[1] "vm2": path` or `bridge.static_mac[0].mac`; `None` when
    /// the file could not be read at all.
    pub fn field(&self) -> Option<&str> {
        match self {
            ConfigError::Read { .. } => None,
            ConfigError::Parse { field, .. } | ConfigError::Invalid { field, .. } => Some(field),
        }
    }

    /// How to fix it.
    pub fn fix(&self) -> &str {
        match self {
            ConfigError::Read { fix, .. }
            | ConfigError::Parse { fix, .. }
            | ConfigError::Invalid { fix, .. } => fix,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Raw (serde) form. Every field is optional so that a missing one is reported by name, with a
// fix, rather than as serde's "missing field".

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default, rename = "port")]
    ports: Vec<RawPort>,
    bridge: Option<RawBridge>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPort {
    name: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    path: Option<String>,
    mode: Option<String>,
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
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStaticMac {
    mac: Option<String>,
    port: Option<String>,
}

/// Builds [`ConfigError::Invalid`] values for one origin.
struct Errs<'a> {
    origin: &'a str,
}

impl Errs<'_> {
    fn invalid(
        &self,
        field: impl Into<String>,
        problem: impl Into<String>,
        fix: impl Into<String>,
    ) -> ConfigError {
        ConfigError::Invalid {
            origin: self.origin.to_string(),
            field: field.into(),
            problem: problem.into(),
            fix: fix.into(),
        }
    }
}

/// `port[1] "vm2"`, or `port[1]` when the name is not known yet.
fn port_label(index: usize, name: Option<&str>) -> String {
    match name {
        Some(name) => format!("port[{index}] {name:?}"),
        None => format!("port[{index}]"),
    }
}

fn port_field(index: usize, name: Option<&str>, field: &str) -> String {
    format!("{}: {field}", port_label(index, name))
}

const NAME_FIX: &str = "use 1 to 32 characters from A-Z, a-z, 0-9, '_', '.' and '-'";

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

fn range_problem(value: i128, min: u64, max: u64) -> Option<String> {
    if value < i128::from(min) || value > i128::from(max) {
        Some(format!("{value} is out of range ({min} to {max})"))
    } else {
        None
    }
}

fn aging_fix() -> String {
    format!(
        "set bridge.mac_aging_secs to a number of seconds from 1 to {MAX_MAC_AGING_SECS} \
         (default {DEFAULT_MAC_AGING_SECS})"
    )
}

fn table_size_fix() -> String {
    format!(
        "set bridge.mac_table_size to a number of entries from 1 to {MAX_MAC_TABLE_SIZE} \
         (default {DEFAULT_MAC_TABLE_SIZE})"
    )
}

impl Config {
    /// Parses a configuration file's text and checks its shape: everything [`validate`]
    /// checks except the filesystem (socket directories) and the "at least one bridge port"
    /// rule, which `--vhost-user` ports added later may satisfy.
    ///
    /// `origin` names the text in error messages, normally the file name.
    ///
    /// [`validate`]: Config::validate
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| parse_error(&e, text, origin))?;
        let errs = Errs { origin };
        let config = Config::from_raw(raw, &errs)?;
        config.check(&errs, false)?;
        Ok(config)
    }

    /// Reads `path` and parses it with [`Config::from_toml_str`], naming the file in errors.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| {
            let fix = match source.kind() {
                std::io::ErrorKind::NotFound => {
                    "check the path of the configuration file".to_string()
                }
                std::io::ErrorKind::PermissionDenied => {
                    "make the file readable by the dataplane's user".to_string()
                }
                std::io::ErrorKind::InvalidData => "save the file as UTF-8 text".to_string(),
                _ => "check that the path names a readable text file".to_string(),
            };
            ConfigError::Read {
                origin: origin.clone(),
                source,
                fix,
            }
        })?;
        Config::from_toml_str(&text, &origin)
    }

    /// Adds a server-mode vhost-user port for the command line's `--vhost-user PATH`: named
    /// `vhu0`, `vhu1`, … (the first name no port uses yet) and appended to the bridge's ports.
    /// Returns the name. Nothing is checked here; call [`Config::validate`] afterwards.
    pub fn add_vhost_user_server(&mut self, path: PathBuf) -> String {
        let name = (0u32..)
            .map(|i| format!("vhu{i}"))
            .find(|n| {
                !self.ports.iter().any(|p| &p.name == n)
                    && !self.bridge.ports.iter().any(|p| p == n)
            })
            .expect("some vhuN name is free");
        self.ports.push(PortConfig {
            name: name.clone(),
            kind: PortKind::VhostUser {
                path,
                mode: VhostMode::Server,
            },
        });
        self.bridge.ports.push(name.clone());
        name
    }

    /// Checks everything: the shape rules of [`Config::from_toml_str`], that the bridge has at
    /// least one port, and the filesystem (server sockets' directories exist and are writable,
    /// nothing but a stale socket sits at a server socket path). Messages name the origin
    /// [`DEFAULT_ORIGIN`]; use [`Config::validate_with_origin`] to name the file instead.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_with_origin(DEFAULT_ORIGIN)
    }

    /// [`Config::validate`], naming `origin` (e.g. `"/etc/dataplane.toml"` or
    /// `"/etc/dataplane.toml + command line"`) in messages.
    pub fn validate_with_origin(&self, origin: &str) -> Result<(), ConfigError> {
        let errs = Errs { origin };
        self.check(&errs, true)?;
        self.check_filesystem(&errs)
    }

    /// The index of port `name` in the bridge (its position in `bridge.ports`), which is the
    /// port number the switch uses.
    pub fn bridge_port_index(&self, name: &str) -> Option<u16> {
        self.bridge
            .ports
            .iter()
            .position(|p| p == name)
            .and_then(|i| u16::try_from(i).ok())
    }

    /// The port named `name`.
    pub fn port(&self, name: &str) -> Option<&PortConfig> {
        self.ports.iter().find(|p| p.name == name)
    }

    fn from_raw(raw: RawConfig, errs: &Errs<'_>) -> Result<Config, ConfigError> {
        let mut ports = Vec::with_capacity(raw.ports.len());
        for (i, rp) in raw.ports.into_iter().enumerate() {
            ports.push(port_from_raw(i, rp, errs)?);
        }
        let bridge = match raw.bridge {
            None => BridgeConfig {
                ports: ports.iter().map(|p| p.name.clone()).collect(),
                ..BridgeConfig::default()
            },
            Some(rb) => bridge_from_raw(rb, &ports, errs)?,
        };
        Ok(Config { ports, bridge })
    }

    /// Every rule that does not look at the filesystem. `complete` adds the rules that only
    /// hold once the command line's ports are in.
    fn check(&self, errs: &Errs<'_>, complete: bool) -> Result<(), ConfigError> {
        self.check_ports(errs)?;
        self.check_bridge(errs, complete)
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

    fn check_bridge(&self, errs: &Errs<'_>, complete: bool) -> Result<(), ConfigError> {
        let bridge = &self.bridge;
        if let Some(problem) = name_problem(&bridge.name) {
            return Err(errs.invalid("bridge.name", problem, NAME_FIX));
        }

        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (i, name) in bridge.ports.iter().enumerate() {
            if self.port(name).is_none() {
                return Err(errs.invalid(
                    format!("bridge.ports[{i}]"),
                    format!("{name:?} is not a port ({})", self.defined_ports()),
                    "define it with a [[port]] table or remove it from bridge.ports",
                ));
            }
            if let Some(first) = seen.insert(name, i) {
                return Err(errs.invalid(
                    format!("bridge.ports[{i}]"),
                    format!("{name:?} is already bridge.ports[{first}]"),
                    "list every port once",
                ));
            }
        }
        if bridge.ports.len() > MAX_BRIDGE_PORTS {
            return Err(errs.invalid(
                "bridge.ports",
                format!(
                    "the bridge has {} ports (bridge.ports, or without it every [[port]], plus \
                     every --vhost-user), more than the {MAX_BRIDGE_PORTS} a bridge supports",
                    bridge.ports.len()
                ),
                format!(
                    "list at most {MAX_BRIDGE_PORTS} ports in bridge.ports, or define fewer ports"
                ),
            ));
        }
        if complete && bridge.ports.is_empty() {
            return Err(errs.invalid(
                "bridge.ports",
                "the bridge has no ports",
                "add --vhost-user PATH or a [[port]] table (and list it in bridge.ports if \
                 that key is present)",
            ));
        }

        if let Some(p) = range_problem(i128::from(bridge.mac_aging_secs), 1, MAX_MAC_AGING_SECS) {
            return Err(errs.invalid("bridge.mac_aging_secs", p, aging_fix()));
        }
        if let Some(p) = range_problem(bridge.mac_table_size as i128, 1, MAX_MAC_TABLE_SIZE as u64)
        {
            return Err(errs.invalid("bridge.mac_table_size", p, table_size_fix()));
        }

        let mut macs: HashMap<MacAddr, usize> = HashMap::new();
        for (i, sm) in bridge.static_macs.iter().enumerate() {
            if !sm.mac.is_learnable() {
                let what = if sm.mac.is_zero() {
                    "is all zeros"
                } else if sm.mac.is_broadcast() {
                    "is the broadcast address"
                } else {
                    "is a multicast address (the low bit of the first octet is set)"
                };
                return Err(errs.invalid(
                    format!("bridge.static_mac[{i}].mac"),
                    format!("{} {what}; a static MAC must be a unicast address", sm.mac),
                    "use the unicast address of the VM or host, e.g. 52:54:00:12:34:56",
                ));
            }
            if let Some(first) = macs.insert(sm.mac, i) {
                return Err(errs.invalid(
                    format!("bridge.static_mac[{i}].mac"),
                    format!("{} is already bridge.static_mac[{first}]", sm.mac),
                    "give every MAC address at most one static entry",
                ));
            }
            // The port may be one the command line adds (`--vhost-user` makes vhu0, vhu1,
            // ...), so this can only be judged once those are in.
            if complete && !bridge.ports.iter().any(|p| p == &sm.port) {
                return Err(errs.invalid(
                    format!("bridge.static_mac[{i}].port"),
                    format!(
                        "{:?} is not a port of the bridge (bridge ports: {})",
                        sm.port,
                        quoted_list(&bridge.ports)
                    ),
                    "name one of the bridge's ports",
                ));
            }
        }
        if bridge.static_macs.len() > bridge.mac_table_size {
            return Err(errs.invalid(
                "bridge.static_mac",
                format!(
                    "{} static MACs do not fit in a MAC table of {} entries",
                    bridge.static_macs.len(),
                    bridge.mac_table_size
                ),
                "raise bridge.mac_table_size or remove static entries",
            ));
        }
        Ok(())
    }

    fn check_filesystem(&self, errs: &Errs<'_>) -> Result<(), ConfigError> {
        // Resolved socket paths, to catch two spellings of one path ("x.sock", "./x.sock").
        let mut resolved: HashMap<PathBuf, (usize, &str)> = HashMap::new();
        for (i, port) in self.ports.iter().enumerate() {
            let PortKind::VhostUser { path, mode } = &port.kind else {
                continue;
            };
            let name = port.name.as_str();
            if *mode == VhostMode::Server {
                check_server_socket_fs(errs, i, name, path)?;
            }
            if let Some(key) = resolve_socket_path(path) {
                if let Some((first, first_name)) = resolved.insert(key.clone(), (i, name)) {
                    return Err(errs.invalid(
                        port_field(i, Some(name), "path"),
                        format!(
                            "{:?} is the same socket as port[{first}] {first_name:?} ({:?})",
                            path.display().to_string(),
                            key.display().to_string()
                        ),
                        "give every vhost-user port its own socket path",
                    ));
                }
            }
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

/// True when some process in this network namespace is listening on the unix socket at
/// `path`, read from `/proc/net/unix` without connecting (a connection could be taken by
/// QEMU, `server=on,wait=on`, as its backend, or block on a full backlog).
pub fn socket_is_listening(path: &Path) -> bool {
    const ACCEPTING: u32 = 0x0001_0000; // __SO_ACCEPTCON: the socket is listening
    let Ok(table) = std::fs::read_to_string("/proc/net/unix") else {
        return false;
    };
    let canonical = resolve_socket_path(path);
    let joined = std::env::current_dir().ok().map(|d| d.join(path));
    table.lines().skip(1).any(|line| {
        // Num RefCount Protocol Flags Type St Inode Path
        let f: Vec<&str> = line.split_whitespace().collect();
        let (Some(flags), Some(bound)) = (f.get(3), f.get(7)) else {
            return false;
        };
        let listening = u32::from_str_radix(flags, 16).is_ok_and(|x| x & ACCEPTING != 0);
        let bound = Path::new(bound);
        listening
            && (bound == path
                || canonical.as_deref() == Some(bound)
                || joined.as_deref() == Some(bound))
    })
}

const DEVARGS_FIX: &str = "set devargs to a PCI address of a vfio-pci bound NIC, e.g. \
     \"0000:03:00.0\", or a vdev string, e.g. \"net_pcap0,rx_pcap=in.pcap\"";

fn port_from_raw(i: usize, rp: RawPort, errs: &Errs<'_>) -> Result<PortConfig, ConfigError> {
    let Some(name) = rp.name else {
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
            let Some(path) = rp.path else {
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
            PortKind::VhostUser {
                path: PathBuf::from(path),
                mode,
            }
        }
        Some("dpdk") => {
            for (key, value) in [("path", &rp.path), ("mode", &rp.mode)] {
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

fn bridge_from_raw(
    rb: RawBridge,
    ports: &[PortConfig],
    errs: &Errs<'_>,
) -> Result<BridgeConfig, ConfigError> {
    let mac_aging_secs = match rb.mac_aging_secs {
        None => DEFAULT_MAC_AGING_SECS,
        Some(v) => match u64::try_from(v) {
            Ok(v) => v,
            Err(_) => {
                return Err(errs.invalid(
                    "bridge.mac_aging_secs",
                    range_problem(i128::from(v), 1, MAX_MAC_AGING_SECS).unwrap_or_default(),
                    aging_fix(),
                ))
            }
        },
    };
    let mac_table_size = match rb.mac_table_size {
        None => DEFAULT_MAC_TABLE_SIZE,
        Some(v) => match usize::try_from(v) {
            Ok(v) => v,
            Err(_) => {
                return Err(errs.invalid(
                    "bridge.mac_table_size",
                    range_problem(i128::from(v), 1, MAX_MAC_TABLE_SIZE as u64).unwrap_or_default(),
                    table_size_fix(),
                ))
            }
        },
    };
    let mut static_macs = Vec::with_capacity(rb.static_macs.len());
    for (i, rs) in rb.static_macs.into_iter().enumerate() {
        let Some(mac) = rs.mac else {
            return Err(errs.invalid(
                format!("bridge.static_mac[{i}].mac"),
                "is missing",
                "add mac = \"52:54:00:12:34:56\" (the address to pin)",
            ));
        };
        let mac: MacAddr = mac.parse().map_err(|e: switch::wire::ParseMacError| {
            errs.invalid(
                format!("bridge.static_mac[{i}].mac"),
                e.to_string(),
                "copy the address from the VM's definition (libvirt <mac address=...>, \
                 QEMU -device ...,mac=...) or from `ip link` in the guest",
            )
        })?;
        let Some(port) = rs.port else {
            return Err(errs.invalid(
                format!("bridge.static_mac[{i}].port"),
                "is missing",
                "add port = \"NAME\", the bridge port the address is behind",
            ));
        };
        static_macs.push(StaticMac { mac, port });
    }
    Ok(BridgeConfig {
        name: rb.name.unwrap_or_else(|| DEFAULT_BRIDGE_NAME.to_string()),
        ports: rb
            .ports
            .unwrap_or_else(|| ports.iter().map(|p| p.name.clone()).collect()),
        mac_aging_secs,
        mac_table_size,
        static_macs,
    })
}

/// The checks of a socket path that need no filesystem: non-empty, no NUL, fits `sun_path`.
fn check_socket_path_shape(
    errs: &Errs<'_>,
    i: usize,
    name: &str,
    path: &Path,
) -> Result<(), ConfigError> {
    let field = || port_field(i, Some(name), "path");
    let bytes = path.as_os_str().as_bytes();
    if bytes.is_empty() {
        return Err(errs.invalid(
            field(),
            "is empty",
            "set path to the socket file, e.g. \"/run/dataplane/vm1.sock\"",
        ));
    }
    if bytes.contains(&0) {
        return Err(errs.invalid(
            field(),
            format!("{:?} contains a NUL character", path.display().to_string()),
            "remove it",
        ));
    }
    if bytes.len() > MAX_SOCKET_PATH_LEN {
        return Err(errs.invalid(
            field(),
            format!(
                "{:?} is {} bytes long; a unix socket path holds at most {MAX_SOCKET_PATH_LEN}",
                path.display().to_string(),
                bytes.len()
            ),
            "choose a shorter path, e.g. under /run/dataplane/",
        ));
    }
    if bytes.contains(&b',') {
        // DPDK's devargs ("net_vhost0,iface=PATH,queues=1") split on commas.
        return Err(errs.invalid(
            field(),
            format!(
                "{:?} contains a comma, which DPDK device arguments cannot carry",
                path.display().to_string()
            ),
            "choose a path without commas",
        ));
    }
    if bytes.ends_with(b"/") {
        return Err(errs.invalid(
            field(),
            format!("{:?} names a directory", path.display().to_string()),
            "add the socket's file name, e.g. \"/run/dataplane/vm1.sock\"",
        ));
    }
    Ok(())
}

/// The directory a socket is created in: the path's parent, or `.` for a bare file name.
fn socket_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// `canonical(parent)/file_name`, when the parent exists.
fn resolve_socket_path(path: &Path) -> Option<PathBuf> {
    let dir = std::fs::canonicalize(socket_dir(path)).ok()?;
    Some(dir.join(path.file_name()?))
}

/// A server socket is created (bound) by the dataplane: its directory must exist and be
/// writable, and anything but a stale socket at the path is refused.
fn check_server_socket_fs(
    errs: &Errs<'_>,
    i: usize,
    name: &str,
    path: &Path,
) -> Result<(), ConfigError> {
    let field = || port_field(i, Some(name), "path");
    let shown = path.display().to_string();
    let dir = socket_dir(path);
    let dir_shown = dir.display().to_string();
    match std::fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => {
            return Err(errs.invalid(
                field(),
                format!("{shown:?}: {dir_shown:?} is not a directory"),
                "choose a path in an existing directory",
            ))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(errs.invalid(
                field(),
                format!("{shown:?}: directory {dir_shown:?} does not exist"),
                format!("create it (mkdir -p {dir_shown}) or choose another path"),
            ))
        }
        Err(e) => {
            return Err(errs.invalid(
                field(),
                format!("{shown:?}: cannot inspect directory {dir_shown:?}: {e}"),
                "make the directory accessible to the dataplane's user or choose another path",
            ))
        }
    }
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => {
            // A socket nobody listens on is stale (left by a killed process) and is removed
            // before bind. One somebody answers on belongs to a live process: taking it over
            // would cut that process's guests off.
            if socket_is_listening(path) {
                return Err(errs.invalid(
                    port_field(i, Some(name), "path"),
                    format!(
                        "{:?} is a socket another process is listening on (a running dataplane, \
                         or QEMU with server=on)",
                        path.display().to_string()
                    ),
                    "stop that process, choose another path, or use mode = \"client\" if QEMU \
                     owns the socket",
                ));
            }
        }
        Ok(meta) => {
            let what = if meta.is_dir() {
                "a directory"
            } else if meta.file_type().is_symlink() {
                "a symbolic link"
            } else if meta.is_file() {
                "a regular file"
            } else {
                "a special file"
            };
            return Err(errs.invalid(
                field(),
                format!("{shown:?} exists and is not a socket (it is {what})"),
                "remove it or choose another path",
            ));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(errs.invalid(
                field(),
                format!("cannot inspect {shown:?}: {e}"),
                "make the directory accessible to the dataplane's user or choose another path",
            ))
        }
    }
    let c_dir = CString::new(dir.as_os_str().as_bytes()).expect("NUL was checked before");
    // SAFETY: `c_dir` is a valid NUL-terminated string that outlives the call.
    let rc = unsafe { libc::access(c_dir.as_ptr(), libc::W_OK | libc::X_OK) };
    if rc != 0 {
        let e = std::io::Error::last_os_error();
        return Err(errs.invalid(
            field(),
            format!("{shown:?}: directory {dir_shown:?} is not writable ({e})"),
            "make it writable by the dataplane's user or choose another directory",
        ));
    }
    Ok(())
}

/// Turns a toml error into [`ConfigError::Parse`], naming the field at the error's position.
fn parse_error(e: &toml::de::Error, text: &str, origin: &str) -> ConfigError {
    let message = e.to_string().trim_end().to_string();
    let field = e
        .span()
        .map(|span| field_at(text, span.start, e.message()))
        .unwrap_or_else(|| "(file)".to_string());
    let m = e.message();
    let fix = if m.contains("unknown field") {
        "remove the key or correct its spelling; every key is listed in the \
         configuration reference (README.md)"
    } else if m.contains("invalid type") || m.contains("invalid value") {
        "give the value the type named after \"expected\" (a quoted string, a number, or a \
         [list])"
    } else if m.contains("duplicate key") {
        "keep only one of the definitions"
    } else if m.contains("too large") {
        "use a smaller number"
    } else {
        "correct the TOML syntax at the line and column shown"
    };
    ConfigError::Parse {
        origin: origin.to_string(),
        field,
        message,
        fix: fix.to_string(),
    }
}

/// Best-effort field path (`port[1].nmae`, `bridge.static_mac[0]`, `bridge`) for the byte
/// `offset` of `text`, from the table headers before it. Only a label: toml's message carries
/// the exact line and column.
fn field_at(text: &str, offset: usize, message: &str) -> String {
    let mut counts: HashMap<String, usize> = HashMap::new();
    let mut section = String::new();
    let mut pos = 0;
    for line in text.split_inclusive('\n') {
        let end = pos + line.len();
        let t = line.trim();
        let is_error_line = offset < end || end == text.len();
        if let Some(h) = t.strip_prefix("[[").and_then(|h| h.split_once("]]")) {
            let name = h.0.trim().to_string();
            let n = counts.entry(name.clone()).or_insert(0);
            *n += 1;
            section = format!("{name}[{}]", *n - 1);
            if is_error_line {
                return section;
            }
        } else if let Some(h) = t.strip_prefix('[') {
            // Also a malformed header such as `[bridge`: label it with what is there.
            section = h.split(']').next().unwrap_or("").trim().to_string();
            if is_error_line {
                return section;
            }
        } else if is_error_line {
            // An unknown key is named by the message; any other error by the line's key.
            let key = unknown_key(message).or_else(|| {
                t.split_once('=')
                    .map(|(k, _)| k.trim().trim_matches('"').to_string())
                    .filter(|k| !k.is_empty())
            });
            return match (section.is_empty(), key) {
                (true, Some(k)) => k,
                (true, None) => "(top level)".to_string(),
                (false, Some(k)) => format!("{section}.{k}"),
                (false, None) => section,
            };
        }
        pos = end;
    }
    if section.is_empty() {
        "(top level)".to_string()
    } else {
        section
    }
}

/// `x` from toml's "unknown field `x`, expected ...".
fn unknown_key(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    Some(rest.split_once('`')?.0.to_string())
}

#[cfg(test)]
mod tests;
