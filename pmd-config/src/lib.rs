//! Configuration of the dataplane: the TOML file ([`Config`]), the EAL lcore options
//! ([`lcores`]) and the split of the command line between EAL and the application
//! ([`split_eal_args`]).
//!
//! # The configuration file
//!
//! The file lists every port the process opens, the bridges (L2 learning switches) that join
//! them and, when a bridge is stretched over VXLAN, this host's VXLAN tunnel endpoint (VTEP).
//! Unknown keys are errors, so a misspelt key never silently falls back to a default. A
//! complete example of one local bridge:
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
//! | `socket_mode` | vhost-user server | the socket's permissions in octal, `"0660"` by default (QEMU's user can be the group); at most `"0777"` |
//! | `socket_owner` / `socket_group` | vhost-user server | a user / group name or number the socket is given (e.g. `socket_group = "kvm"` or libvirt's `"libvirt-qemu"`); default: the dataplane's own |
//! | `socket_dir_mode` | vhost-user server | permissions of the socket's directory (and missing parents) when the dataplane creates it, `"0755"` by default |
//! | `devargs` | dpdk       | required, non-empty: a PCI address or a vdev string |
//!
//! A key of the other port type (`devargs` on a vhost-user port, `path`, `mode` or a
//! `socket_*` key on a dpdk port) is an error, and so is a `socket_*` key in client mode
//! (QEMU creates that socket). Two vhost-user ports may not share a socket path.
//!
//! **vhost-user `mode = "server"`** (the default): the dataplane creates the socket and QEMU
//! connects to it (`-chardev socket,id=c0,path=/run/dataplane/vm1.sock,reconnect=1`, in
//! libvirt `<source type='unix' path='...' mode='client'/>`, which names QEMU's role). The
//! socket's directory is created at start when missing (with `socket_dir_mode`; its nearest
//! existing ancestor must be a directory); a relative path is relative to the dataplane's
//! working directory. The socket gets `socket_mode` (0660 by default), and `socket_owner` /
//! `socket_group` when given. A stale socket at the path is fine (it is
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
//! ## `[bridge]`, or `[[bridge]]` for several bridges
//!
//! One bridge is a `[bridge]` table (or a single `[[bridge]]` table); several are `[[bridge]]`
//! tables, each with its own `ports` and, if stretched over VXLAN, its own `vni`. Without
//! either there is one bridge `"br0"` of every port (but `vtep.port`) with default settings.
//!
//! | key              | default                  | value |
//! |------------------|--------------------------|-------|
//! | `name`           | `"br0"`                  | same rules as a port name; unique among the bridges |
//! | `ports`          | one bridge: every port but `vtep.port`, in file order; several bridges: required | port names, each once; a port is in at most one bridge and `vtep.port` in none; at most 32 ([`MAX_BRIDGE_PORTS`]) |
//! | `mac_aging_secs` | 300                      | 1 to 86400: a learnt MAC unseen this long is forgotten |
//! | `mac_table_size` | 8192                     | 1 to 1000000 entries |
//! | `vni`            | none: a bridge of local ports only | 0 to 16777215 ([`MAX_VNI`], 24 bits): the bridge is stretched over VXLAN through `[vtep]`, which must then be present; no two bridges share a VNI |
//! | `remote_vteps`   | `[]`                     | needs `vni`; the remote VTEPs' underlay addresses, each once: the head-end replication list that gets a copy of every broadcast, multicast and unknown-unicast frame. Each is unicast (not `0.0.0.0`, `255.255.255.255`, multicast `224.0.0.0/4` (multicast underlays are not supported), loopback or `240.0.0.0/4`), not `vtep.ip`, and inside the prefix of `vtep.ip` unless `vtep.gateway` is set |
//! | `accept_remotes` | `"listed"`               | needs `vni`; `"listed"`: VXLAN frames for this VNI are taken only from an address in `remote_vteps` or the `remote_vtep` of a static MAC, the others are dropped and counted; `"any"`: from any source |
//!
//! A port's index in its bridge (the port number the switch and its statistics use) is its
//! position in that bridge's `ports` ([`Config::bridge_port_index`]). A bridge other than the
//! first may not be left without ports (the command line's ports only join the first).
//!
//! ## `[[bridge.static_mac]]`
//!
//! Pins a MAC address to a bridge port or a remote VTEP: never learnt elsewhere, never aged
//! out. `mac` (required) is a unicast address (`aa:bb:cc:dd:ee:ff` or `aa-bb-cc-dd-ee-ff`; not
//! zero, multicast or broadcast), each address at most once per bridge. Exactly one of:
//!
//! * `port`: one of the bridge's ports;
//! * `remote_vtep` (only on a bridge with a `vni`): the underlay address of the VTEP the MAC
//!   is behind, under the same rules as a `remote_vteps` entry. It need not be in
//!   `remote_vteps` (it then gets no flooded frames), and with `accept_remotes = "listed"` its
//!   VXLAN frames are taken in as if it were.
//!
//! There may be at most `mac_table_size` entries per bridge.
//!
//! ## `[vtep]`: this host's VXLAN tunnel endpoint
//!
//! Needed by, and only allowed with, at least one bridge with a `vni` (a `[vtep]` that no
//! bridge uses is refused rather than ignored).
//!
//! ```toml
//! [[port]]
//! name = "vm1"
//! type = "vhost-user"
//! path = "/run/dataplane/vm1.sock"
//!
//! [[port]]
//! name = "uplink"
//! type = "dpdk"
//! devargs = "0000:03:00.0"          # or a vdev: "net_af_packet0,iface=veth0", "net_tap0,iface=up0"
//!
//! [vtep]
//! port = "uplink"                   # the underlay port; it is never a bridge port
//! ip = "172.31.0.2/24"              # this VTEP's IPv4 address and the underlay prefix
//! gateway = "172.31.0.254"          # optional: next hop for remote VTEPs outside the prefix
//! udp_port = 4789                   # default 4789 (Linux's legacy default is 8472)
//! mtu = 1500                        # underlay MTU, default 1500
//! ttl = 64                          # default 64
//! source_ports = "49152-65535"      # default: RFC 7348's range
//!
//! [[vtep.neighbor]]                 # optional static underlay neighbours
//! ip = "172.31.0.1"
//! mac = "02:31:00:00:00:01"
//!
//! [bridge]                          # ports: every port but vtep.port, here ["vm1"]
//! vni = 123                         # the bridge is stretched over VXLAN
//! remote_vteps = ["172.31.0.1"]     # head-end replication list for broadcast, multicast, unknown unicast
//! accept_remotes = "listed"         # "listed" (default) or "any"
//!
//! [[bridge.static_mac]]
//! mac = "52:54:00:00:00:09"
//! remote_vtep = "172.31.0.1"        # instead of port = "...": a static MAC behind a remote VTEP
//! ```
//!
//! | key            | default         | value |
//! |----------------|-----------------|-------|
//! | `port`         | required        | a `[[port]]` of any type (in benchmarks a vhost-user port plays the uplink), in no bridge |
//! | `ip`           | required        | `"a.b.c.d/len"`, `len` 1 to 32: this VTEP's unicast address (not the prefix's network or broadcast address) and the underlay prefix. Remote VTEPs inside the prefix are reached directly, the others through `gateway` |
//! | `gateway`      | none            | inside the prefix, not `ip`; required when a remote VTEP (in `remote_vteps` or a static MAC's `remote_vtep`) is outside the prefix |
//! | `udp_port`     | 4789 ([`DEFAULT_VXLAN_UDP_PORT`]) | 1 to 65535: the VXLAN destination port of every VTEP of the network (Linux's `vxlan` devices without `dstport` use 8472) |
//! | `mtu`          | 1500            | 576 to 2034: the underlay IPv4 MTU. 576 is the least every IPv4 link carries (RFC 791), 2034 the most one 2048-byte packet buffer holds with its Ethernet header (jumbo frames are not supported yet; 1550 carries 1500-byte guest packets). VXLAN adds 50 bytes (outer IPv4, UDP, VXLAN and the inner Ethernet header), so the VMs' MTU must be at most `mtu - 50` |
//! | `ttl`          | 64              | 1 to 255: the outer IPv4 TTL |
//! | `source_ports` | `"49152-65535"` | `"LOW-HIGH"` with 1 <= LOW <= HIGH <= 65535: the outer UDP source ports, one per inner flow (RFC 7348) |
//!
//! `[[vtep.neighbor]]` tables (optional) give underlay neighbours' MAC addresses, which are
//! then not resolved with ARP: `ip` (required) inside the prefix, not `ip` of the VTEP, each
//! address once; `mac` (required) a unicast address.
//!
//! Several bridges, each with its own VNI and ports:
//!
//! ```toml
//! [[port]]
//! name = "vm1"
//! type = "vhost-user"
//! path = "/run/dataplane/vm1.sock"
//!
//! [[port]]
//! name = "vm2"
//! type = "vhost-user"
//! path = "/run/dataplane/vm2.sock"
//!
//! [[port]]
//! name = "uplink"
//! type = "dpdk"
//! devargs = "0000:03:00.0"
//!
//! [vtep]
//! port = "uplink"
//! ip = "172.31.0.2/24"
//! gateway = "172.31.0.254"
//!
//! [[bridge]]
//! name = "tenant-a"
//! ports = ["vm1"]                   # required with several bridges
//! vni = 100
//! remote_vteps = ["172.31.0.1", "10.9.0.7"]   # 10.9.0.7 through the gateway
//!
//! [[bridge]]
//! name = "tenant-b"
//! ports = ["vm2"]
//! vni = 200
//! accept_remotes = "any"
//!
//! [[bridge.static_mac]]             # belongs to the [[bridge]] above it, tenant-b
//! mac = "52:54:00:00:00:02"
//! port = "vm2"
//! ```
//!
//! ## The command line
//!
//! Each `--vhost-user PATH` adds a server-mode vhost-user port named `vhu0`, `vhu1`, … (the
//! first names no port of the file uses) and appends it to the ports of the first bridge (the
//! `[bridge]` table or the first `[[bridge]]`), whether the file lists its `ports` or not, and
//! however many bridges there are ([`Config::add_vhost_user_server`]). With no file, the
//! configuration is [`Config::default`] plus those ports.
//!
//! ## When things are checked
//!
//! [`Config::load`] / [`Config::from_toml_str`] check the file's syntax and every rule above
//! that needs neither the filesystem nor the command line, the VTEP's and VXLAN's included:
//! nothing is left for after EAL starts. [`Config::validate`] (after the command line's ports
//! are added) checks everything again, plus: the first bridge has at least one port, static
//! MACs' ports are bridge ports, server sockets' directories exist and are writable, nothing
//! but a stale socket sits at a server socket path. Every error names the file (or origin),
//! the field (`port[1] "vm2": path`, `bridge.static_mac[0].mac`, `bridge.mac_table_size`,
//! `vtep.gateway`) and the fix. A bridge's fields are `bridge.KEY` when there is one bridge
//! and `bridge[i].KEY` when there are several (`bridge[1].vni`).

pub mod args;
pub mod config;
pub mod lcores;

pub use args::split_eal_args;
pub use config::{
    device_name, socket_is_listening, AcceptRemotes, BridgeConfig, Config, ConfigError, PortConfig,
    PortKind, SocketAccess, StaticMac, StaticNeighbor, StaticTarget, VhostMode, VtepConfig,
    DEFAULT_BRIDGE_NAME, DEFAULT_MAC_AGING_SECS, DEFAULT_MAC_TABLE_SIZE, DEFAULT_ORIGIN,
    DEFAULT_SOCKET_DIR_MODE, DEFAULT_SOCKET_MODE, DEFAULT_SOURCE_PORTS, DEFAULT_TX_RETRIES_MAX,
    DEFAULT_UNDERLAY_MTU, DEFAULT_VTEP_TTL, DEFAULT_VXLAN_UDP_PORT, MAX_BRIDGE_PORTS,
    MAX_MAC_AGING_SECS, MAX_MAC_TABLE_SIZE, MAX_NAME_LEN, MAX_OPENED_PORTS, MAX_REMOTE_VTEPS,
    MAX_SOCKET_PATH_LEN, MAX_TX_RETRIES, MAX_UNDERLAY_MTU, MAX_UNDERLAY_NEIGHBORS, MAX_VNI,
    MIN_UNDERLAY_MTU, VHOST_DEVICE_PREFIX,
};
pub use lcores::{
    eal_lcores, parse_corelist, parse_coremask, parse_lcores, EalLcores, LcoreError, MAX_LCORE,
};
pub use switch::wire::MacAddr;
