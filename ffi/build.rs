//! Generates Rust bindings for the system DPDK at build time and compiles the C shim.
//!
//! Nothing is checked in: the bindings always match the installed headers. DPDK comes from
//! pkg-config (`libdpdk` >= 22.11); `scripts/setup.sh` installs it on Debian.

use std::{env, path::PathBuf, process::Command};

fn main() {
    let lib = pkg_config::Config::new()
        .atleast_version("22.11")
        .probe("libdpdk")
        .unwrap_or_else(|e| {
            panic!("DPDK >= 22.11 not found by pkg-config ({e}); run scripts/setup.sh (apt: dpdk-dev libdpdk-dev pkg-config)")
        });
    // PMD-private API (rte_eth_vhost_*) is not in `pkg-config --libs`: link it by name.
    println!("cargo:rustc-link-lib=dylib=rte_net_vhost");

    // The pkg-config crate does not expose raw cflags such as `-include rte_config.h` and
    // `-march=corei7` (rte_memcpy needs SSSE3), so ask the binary for them verbatim.
    let out = Command::new("pkg-config")
        .args(["--cflags", "libdpdk"])
        .output()
        .expect("run pkg-config --cflags libdpdk");
    assert!(out.status.success(), "pkg-config --cflags libdpdk failed");
    let cflags: Vec<String> = String::from_utf8(out.stdout)
        .expect("pkg-config output is UTF-8")
        .split_whitespace()
        .map(String::from)
        .collect();

    let mut cc = cc::Build::new();
    cc.file("shim/shim.c").opt_level(3).warnings(true);
    for f in &cflags {
        cc.flag(f);
    }
    cc.compile("dataplane_shim");

    let bindings = bindgen::Builder::default()
        .header("wrapper.h")
        .clang_args(cflags.iter())
        .clang_arg("-I.")
        .allowlist_function(
            "rte_eal_.*|rte_eth_.*|rte_pktmbuf_.*|rte_mempool_.*|rte_lcore_.*|rte_socket_id|\
             rte_strerror|rte_get_tsc_hz|rte_get_next_lcore|rte_get_main_lcore|rte_dev_probe|\
             rte_dev_remove|rte_vhost_.*|rte_log_.*|rte_net_get_ptype|shim_.*",
        )
        .allowlist_type("rte_.*")
        // VIRTIO_NET_F_*: virtio-net feature bit numbers (linux/virtio_net.h, via rte_vhost.h),
        // for the features a vhost-user port offers or refuses.
        .allowlist_var("RTE_.*|VIRTIO_NET_F_.*|VIRTIO_F_VERSION_1")
        .blocklist_type("max_align_t")
        // rte_flow.h pulls in a packed struct that contains an aligned one (E0588).
        .opaque_type("rte_l2tpv2_combined_msg_hdr")
        .derive_default(true)
        .derive_debug(false)
        .generate_comments(false)
        .prepend_enum_name(false)
        .layout_tests(true)
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()))
        .generate()
        .expect("bindgen failed on wrapper.h");
    let out_dir = PathBuf::from(env::var("OUT_DIR").unwrap());
    bindings
        .write_to_file(out_dir.join("dpdk.rs"))
        .expect("write bindings");

    for f in ["wrapper.h", "shim/shim.c", "shim/shim.h"] {
        println!("cargo:rerun-if-changed={f}");
    }
    println!("cargo:rustc-env=DPDK_VERSION={}", lib.version);
}
