//! QEMU guests for tests: the tiny busybox guest that scripts/qemu/build-guest.sh builds
//! (a Debian cloud kernel and an initramfs whose /init runs the guest protocol from the
//! kernel command line), started with the flags users know, one virtio-net NIC on a
//! vhost-user socket. The guest's serial console is collected line by line, each line
//! stamped when it arrived, so a test can wait for the protocol's markers (`GP-READY`,
//! `GP-LINK carrier=1`, ping replies) and time them against the dataplane's own lines.
//!
//! The guest image is found through `DP_QEMU_GUEST_DIR` (default: `target/qemu-guest` in
//! the repository, where scripts/test.sh builds it before `cargo test`); a missing image
//! is a test failure that says how to build it, never a skip.

use super::{die_with_parent, Guard, Scratch, StampedLines};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Where the guest image is looked for, unless `DP_QEMU_GUEST_DIR` says otherwise.
pub fn guest_dir() -> PathBuf {
    match std::env::var_os("DP_QEMU_GUEST_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/qemu-guest"),
    }
}

/// The kernel and initramfs of the guest, or a panic that says how to build them.
pub fn guest_image() -> (PathBuf, PathBuf) {
    let dir = guest_dir();
    let kernel = dir.join("vmlinuz");
    let initrd = dir.join("initramfs.gz");
    if !kernel.is_file() || !initrd.is_file() {
        panic!(
            "no QEMU guest image in {} (vmlinuz and initramfs.gz): build it with \
             `scripts/qemu/build-guest.sh {}` (scripts/test.sh does this before cargo test), \
             or point DP_QEMU_GUEST_DIR at a directory that holds one",
            dir.display(),
            dir.display()
        );
    }
    (kernel, initrd)
}

/// Which accelerator to use: KVM when it is really there (/dev/kvm, and the CPU shows
/// `vmx` or `svm`), TCG otherwise; `DP_QEMU_ACCEL=tcg|kvm` decides instead. `/dev/kvm`
/// served by `kvm_pvm` (a nested "PVM" host without vmx/svm, as on the machines this was
/// developed on) only runs PVM guest kernels, so it counts as no KVM.
pub fn use_kvm() -> bool {
    match std::env::var("DP_QEMU_ACCEL").as_deref() {
        Ok("tcg") => false,
        Ok("kvm") => true,
        _ => {
            let hw_virt = std::fs::read_to_string("/proc/cpuinfo").is_ok_and(|c| {
                c.lines()
                    .filter(|l| l.starts_with("flags"))
                    .any(|l| l.split_whitespace().any(|f| f == "vmx" || f == "svm"))
            });
            hw_virt && Path::new("/dev/kvm").exists() && !Path::new("/sys/module/kvm_pvm").exists()
        }
    }
}

/// Who listens on the vhost-user socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SocketRole {
    /// The dataplane serves the socket (its default `mode = "server"`, `--vhost-user`);
    /// QEMU connects and re-dials every second when the socket goes away
    /// (`-chardev socket,path=...,reconnect=1`).
    QemuClient,
    /// QEMU creates and listens on the socket (`-chardev socket,...,server=on,wait=off`);
    /// the dataplane's port has `mode = "client"` and connects to it.
    QemuServer,
}

/// One guest to boot.
#[derive(Clone, Debug)]
pub struct GuestSpec {
    /// Short name: QEMU's `-name`, and the prefix of its log files in the scratch dir.
    pub name: &'static str,
    pub socket: PathBuf,
    pub role: SocketRole,
    pub mac: &'static str,
    /// The guest protocol words for the kernel command line (`gp.ip=... gp.test=...`).
    pub protocol: String,
    /// Extra `virtio-net-pci` properties, e.g. `,guest_tso4=off` (a NIC without TSO receive).
    pub nic_extra: &'static str,
}

/// A running QEMU guest. Its serial console is collected line by line; QEMU's own stderr
/// goes to `<scratch>/<name>.qemu.log`. Terminated (SIGTERM) when dropped and killed when
/// the test thread dies.
pub struct Guest {
    pub spec: GuestSpec,
    pub guard: Guard,
    pub started: Instant,
    serial: StampedLines,
    qemu_log: PathBuf,
}

/// The RAM of each guest, MiB: the kernel and the initramfs (iperf3 and its libraries
/// unpacked) need about 100.
const GUEST_MEM_MIB: u32 = 256;

impl Guest {
    /// Starts QEMU for `spec` (it boots in the background; wait for markers with
    /// [`Guest::wait_serial`]). Extra guest protocol words from `DP_QEMU_GUEST_ARGS`
    /// (e.g. `gp.sysctl=net.ipv4.neigh.eth0.retrans_time_ms=100`) are appended.
    pub fn boot(s: &Scratch, spec: GuestSpec) -> Guest {
        let (kernel, initrd) = guest_image();
        let kvm = use_kvm();
        let chardev = match spec.role {
            SocketRole::QemuClient => {
                format!("socket,id=c0,path={},reconnect=1", spec.socket.display())
            }
            SocketRole::QemuServer => {
                format!(
                    "socket,id=c0,path={},server=on,wait=off",
                    spec.socket.display()
                )
            }
        };
        let mem = format!("memory-backend-memfd,id=mem,size={GUEST_MEM_MIB}M,share=on");
        // QEMU 7.2 under TCG segfaults when the guest driver starts a vhost-user
        // virtio-net with MSI-X: INTx (vectors=0) there.
        let nic = format!(
            "virtio-net-pci,netdev=n0,mac={},romfile={}{}",
            spec.mac,
            if kvm { "" } else { ",vectors=0" },
            spec.nic_extra
        );
        let extra = std::env::var("DP_QEMU_GUEST_ARGS").unwrap_or_default();
        let append = format!("console=ttyS0 quiet panic=-1 {} {extra}", spec.protocol);
        let qemu_log = s.dir.join(format!("{}.qemu.log", spec.name));
        let mut cmd = Command::new("qemu-system-x86_64");
        cmd.args(["-name", spec.name, "-machine", "q35"])
            .args(if kvm {
                ["-accel", "kvm", "-cpu", "host"]
            } else {
                ["-accel", "tcg", "-cpu", "max"]
            })
            .args(["-smp", "1", "-m", &format!("{GUEST_MEM_MIB}M")])
            .args(["-object", &mem, "-numa", "node,memdev=mem"])
            .args(["-chardev", &chardev])
            .args(["-netdev", "type=vhost-user,id=n0,chardev=c0"])
            .args(["-device", &nic])
            .args(["-nodefaults", "-no-user-config", "-display", "none"])
            .args(["-no-reboot", "-msg", "timestamp=on", "-serial", "stdio"])
            .arg("-kernel")
            .arg(&kernel)
            .arg("-initrd")
            .arg(&initrd)
            .args(["-append", &append])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&qemu_log).unwrap());
        die_with_parent(&mut cmd);
        let started = Instant::now();
        let mut child = cmd.spawn().unwrap_or_else(|e| {
            panic!(
                "cannot start qemu-system-x86_64 ({e}): scripts/qemu/build-guest.sh installs it \
                 (package qemu-system-x86)"
            )
        });
        let copy = std::fs::File::create(s.dir.join(format!("{}.serial.log", spec.name))).unwrap();
        let (serial, _reader) = StampedLines::collect(child.stdout.take().unwrap(), Some(copy));
        let name = spec.name;
        Guest {
            spec,
            guard: Guard { child, name },
            started,
            serial,
            qemu_log,
        }
    }

    /// The serial console so far, stamped.
    pub fn serial(&self) -> &StampedLines {
        &self.serial
    }

    /// Waits for a serial line satisfying `pred`; panics with the guest's output if none
    /// comes within `limit` (or QEMU exits first).
    pub fn wait_serial(
        &self,
        what: &str,
        pred: impl Fn(&str) -> bool,
        limit: Duration,
    ) -> (Instant, String) {
        self.serial.wait(pred, limit).unwrap_or_else(|| {
            panic!(
                "guest {}: no {what} within {limit:?}\n{}",
                self.spec.name,
                self.diagnostics()
            )
        })
    }

    /// Waits for the guest protocol's `GP-READY` (eth0 up with carrier and address).
    pub fn wait_ready(&self, limit: Duration) -> Instant {
        self.wait_serial("GP-READY", |l| l.starts_with("GP-READY"), limit)
            .0
    }

    /// The last serial lines and QEMU's log, for failure messages.
    pub fn diagnostics(&self) -> String {
        let lines = self.serial.texts();
        let tail = &lines[lines.len().saturating_sub(40)..];
        format!(
            "--- guest {} serial (last {} of {} lines)\n{}\n--- qemu log\n{}",
            self.spec.name,
            tail.len(),
            lines.len(),
            tail.join("\n"),
            std::fs::read_to_string(&self.qemu_log).unwrap_or_default()
        )
    }

    /// Waits up to `limit` for QEMU to exit by itself (the guest powered off).
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let st = self.guard.wait_for(limit);
        // The serial reader ends at EOF; give it a moment to take the last lines.
        let _ = self.serial.wait(
            |_| false,
            if st.is_some() {
                Duration::from_secs(2)
            } else {
                Duration::ZERO
            },
        );
        st
    }

    /// Stops QEMU (SIGTERM: it closes the vhost-user connection as a shutdown does) and
    /// waits for it.
    pub fn stop(&mut self) -> Option<ExitStatus> {
        if let Ok(None) = self.guard.child.try_wait() {
            self.guard.signal(libc::SIGTERM);
        }
        self.wait_exit(Duration::from_secs(20))
    }
}

impl Drop for Guest {
    fn drop(&mut self) {
        // Before Guard's Drop (SIGINT, which QEMU also takes as a request to quit).
        let _ = self.stop();
    }
}

/// One ping reply line of busybox ping: `64 bytes from 10.0.0.2: seq=12 ttl=64 time=1.234 ms`
/// gives the sequence number.
pub fn ping_reply_seq(line: &str) -> Option<u32> {
    if !line.contains(" bytes from ") {
        return None;
    }
    line.split_whitespace()
        .find_map(|w| w.strip_prefix("seq="))
        .and_then(|v| v.parse().ok())
}

/// The `up=` (guest uptime, seconds) of a guest protocol marker.
pub fn marker_uptime(line: &str) -> Option<f64> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix("up="))
        .and_then(|v| v.parse().ok())
}
