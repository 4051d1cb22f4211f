//! Configuration of the dataplane: the TOML file ([`Config`]), the EAL lcore options
//! ([`lcores`]) and the split of the command line between EAL and the application
//! ([`split_eal_args`]).
//!
//! # The configuration file
//!
//! The file lists every port the process opens and the bridge (an L2 learning switch) that
//! joins them. Unknown keys are errors, so a misspelt key never silently falls back to a
//! default. A complete example:
//!
//! ```toml
//! # every port the process opens
//! [[port]]
//! name = "vm1"                      # required; [A-Za-z0-9_.-], 1..=32 chars, unique
//! type = "vhost-user"               # "vhost-user" or "dpdk"
//! path = "/run/dataplane/vm1.sock"  # vhost-user only: the socket
//! mode = "server"                   # vhost-user only: "server" (default: we create the socket) or "client" (QEMU created it with server=on)
//!
//! [[port]]
//! name = "uplink"
//! type = "dpdk"
//! devargs = "0000:03:00.0"          # dpdk only: a PCI address (vfio-pci bound NIC) or a vdev string like "net_pcap0,rx_pcap=in.pcap"
//!
//! [bridge]
//! name = "br0"                      # default "br0"
//! ports = ["vm1", "uplink"]         # default: every port, in file order
//! mac_aging_secs = 300              # default 300; 1..=86400
//! mac_table_size = 8192             # default 8192; 1..=1_000_000
//!
//! [[bridge.static_mac]]
//! mac = "52:54:00:00:00:01"
//! port = "vm1"
//! ```
//!
//! ## `[[port]]`: one table per port
//!
//! | key       | for        | value |
//! |-----------|------------|-------|
//! | `name`    | every port | required; 1 to 32 characters from `A-Z a-z 0-9 _ . -`; unique |
//! | `type`    | every port | required; `"vhost-user"` or `"dpdk"` |
//! | `path`    | vhost-user | required; the unix socket, at most 107 bytes (`sun_path`) |
//! | `mode`    | vhost-user | `"server"` (default) or `"client"` |
//! | `devargs` | dpdk       | required, non-empty: a PCI address or a vdev string |
//!
//! A key of the other port type (`devargs` on a vhost-user port, `path` or `mode` on a dpdk
//! port) is an error. Two vhost-user ports may not share a socket path.
//!
//! **vhost-user `mode = "server"`** (the default): the dataplane creates the socket and QEMU
//! connects to it (`-chardev socket,id=c0,path=/run/dataplane/vm1.sock,reconnect=1`, in
//! libvirt `<source type='unix' path='...' mode='client'/>`, which names QEMU's role). The
//! socket's directory must exist and be writable by the dataplane; a relative path is
//! relative to the dataplane's working directory. A stale socket at the path is fine (it is
//! replaced); any other file there is refused rather than deleted.
//!
//! **vhost-user `mode = "client"`**: QEMU created the socket
//! (`-chardev socket,...,server=on,wait=off`, libvirt `mode='server'`) and the dataplane
//! connects to it. The socket need not exist when the configuration is checked (QEMU may
//! start later); only the path's length is.
//!
//! Either way the guest's memory must be shared (e.g.
//! `-object memory-backend-memfd,id=mem,size=4G,share=on -numa node,memdev=mem`).
//!
//! **dpdk**: `devargs` names the device: the PCI address of a NIC bound to vfio-pci
//! (`"0000:03:00.0"`), optionally with driver arguments after a comma, or a vdev
//! (`"net_pcap0,rx_pcap=in.pcap"`, `"net_tap0,iface=dp0"`).
//!
//! ## `[bridge]`
//!
//! | key              | default                  | value |
//! |------------------|--------------------------|-------|
//! | `name`           | `"br0"`                  | same rules as a port name |
//! | `ports`          | every port, in file order | port names, each once; at most 32 ([`MAX_BRIDGE_PORTS`]) |
//! | `mac_aging_secs` | 300                      | 1 to 86400: a learnt MAC unseen this long is forgotten |
//! | `mac_table_size` | 8192                     | 1 to 1000000 entries |
//!
//! A port's index in the bridge (the port number the switch and its statistics use) is its
//! position in `ports`. The whole `[bridge]` table may be left out.
//!
//! ## `[[bridge.static_mac]]`
//!
//! Pins a MAC address to a bridge port: never learnt elsewhere, never aged out.
//! `mac` (required) is a unicast address (`aa:bb:cc:dd:ee:ff` or `aa-bb-cc-dd-ee-ff`; not
//! zero, multicast or broadcast), each address at most once; `port` (required) is one of the
//! bridge's ports. There may be at most `mac_table_size` entries.
//!
//! ## The command line
//!
//! Each `--vhost-user PATH` adds a server-mode vhost-user port named `vhu0`, `vhu1`, … (the
//! first names no port of the file uses) and appends it to the bridge's ports, whether the
//! file lists `bridge.ports` or not ([`Config::add_vhost_user_server`]). With no file, the
//! configuration is [`Config::default`] plus those ports.
//!
//! ## When things are checked
//!
//! [`Config::load`] / [`Config::from_toml_str`] check the file's syntax and every rule above
//! that needs neither the filesystem nor the command line. [`Config::validate`] (after the
//! command line's ports are added) checks everything again, plus: the bridge has at least one
//! port, server sockets' directories exist and are writable, nothing but a stale socket sits
//! at a server socket path. Every error names the file (or origin), the field
//! (`port[1] "vm2": path`, `bridge.static_mac[0].mac`, `bridge.mac_table_size`) and the fix.

pub mod args;
pub mod config;
pub mod lcores;

pub use args::split_eal_args;
pub use config::{
    device_name, socket_is_listening, BridgeConfig, Config, ConfigError, PortConfig, PortKind,
    StaticMac, VhostMode, DEFAULT_BRIDGE_NAME, DEFAULT_MAC_AGING_SECS, DEFAULT_MAC_TABLE_SIZE,
    DEFAULT_ORIGIN, MAX_BRIDGE_PORTS, MAX_MAC_AGING_SECS, MAX_MAC_TABLE_SIZE, MAX_NAME_LEN,
    MAX_SOCKET_PATH_LEN, VHOST_DEVICE_PREFIX,
};
pub use lcores::{
    eal_lcores, parse_corelist, parse_coremask, parse_lcores, EalLcores, LcoreError, MAX_LCORE,
};
pub use switch::wire::MacAddr;
