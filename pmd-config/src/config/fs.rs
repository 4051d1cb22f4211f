//! What is checked on the filesystem: vhost-user socket paths and their directories.

use super::errors::{ConfigError, Errs};
use super::model::*;
use super::validate::port_field;
use std::collections::HashMap;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

impl Config {
    pub(super) fn check_filesystem(&self, errs: &Errs<'_>) -> Result<(), ConfigError> {
        // Resolved socket paths, to catch two spellings of one path ("x.sock", "./x.sock").
        let mut resolved: HashMap<PathBuf, (usize, &str)> = HashMap::new();
        for (i, port) in self.ports.iter().enumerate() {
            let PortKind::VhostUser { path, mode, .. } = &port.kind else {
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
}

/// True when some process in this network namespace is listening on the unix socket at
/// `path`, read from `/proc/net/unix` without connecting (a connection could be taken by
/// QEMU, `server=on,wait=on`, as its backend, or block on a full backlog).
///
/// When the table cannot be read, the answer is `true`: callers delete sockets nobody
/// listens on, and nothing but a dead socket may ever be deleted.
pub fn socket_is_listening(path: &Path) -> bool {
    let Ok(table) = std::fs::read("/proc/net/unix") else {
        return true;
    };
    let canonical = resolve_socket_path(path);
    let joined = std::env::current_dir().ok().map(|d| d.join(path));
    let wanted: Vec<&Path> = [Some(path), canonical.as_deref(), joined.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    // Compared as paths (component by component), so `/run/vh//vm1.sock` as QEMU spelled
    // it is the same socket as `/run/vh/vm1.sock` in our config.
    table
        .split(|&b| b == b'\n')
        .skip(1)
        .filter_map(listening_path)
        .map(|bound| Path::new(std::ffi::OsStr::from_bytes(bound)))
        .any(|bound| wanted.contains(&bound))
}

/// The bound path of a listening socket's line of `/proc/net/unix`, if the line is one:
/// `Num RefCount Protocol Flags Type St Inode Path`, where the path is everything after the
/// seven fixed fields and one space, spaces included (so a directory named `my vms` is
/// read right; splitting the whole line on white space is not).
pub(super) fn listening_path(line: &[u8]) -> Option<&[u8]> {
    const ACCEPTING: u32 = 0x0001_0000; // __SO_ACCEPTCON: the socket is listening
    let mut rest = line;
    let mut flags = None;
    for field in 0..7 {
        let start = rest.iter().position(|b| !b.is_ascii_whitespace())?;
        rest = &rest[start..];
        let end = rest
            .iter()
            .position(|b| b.is_ascii_whitespace())
            .unwrap_or(rest.len());
        if field == 3 {
            let text = std::str::from_utf8(&rest[..end]).ok()?;
            flags = u32::from_str_radix(text, 16).ok();
        }
        rest = &rest[end..];
    }
    // One space separates the inode from the path; the path keeps any further spaces.
    let path = rest.strip_prefix(b" ")?;
    (flags? & ACCEPTING != 0 && !path.is_empty()).then_some(path)
}

/// The checks of a socket path that need no filesystem: non-empty, no NUL, fits `sun_path`.
pub(super) fn check_socket_path_shape(
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

/// The directory a socket is created in: the path's parent, or `.` for a bare file name
/// (also: the next directory up when walking from a directory to its ancestors).
fn socket_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// `canonical(parent)/file_name`; for a parent that does not exist yet, its nearest existing
/// ancestor canonicalized plus the missing components.
fn resolve_socket_path(path: &Path) -> Option<PathBuf> {
    let file = path.file_name()?;
    // The directory may not exist yet (it is created at start): resolve its nearest
    // existing ancestor and append the rest, so two spellings of one future path still
    // compare equal.
    let mut dir = socket_dir(path).to_path_buf();
    let mut rest = Vec::new();
    loop {
        if let Ok(c) = std::fs::canonicalize(&dir) {
            let mut out = c;
            out.extend(rest.iter().rev());
            return Some(out.join(file));
        }
        rest.push(dir.file_name()?.to_os_string());
        dir = socket_dir(&dir).to_path_buf();
    }
}

/// A server socket is created (bound) by the dataplane: its directory must be a directory
/// or creatable (its nearest existing ancestor a directory), and anything but a stale socket
/// at the path is refused.
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
            // Created at start (with socket_dir_mode), as long as the nearest existing
            // ancestor is a directory.
            let mut ancestor = dir;
            loop {
                ancestor = socket_dir(ancestor);
                match std::fs::metadata(ancestor) {
                    Ok(meta) if meta.is_dir() => break,
                    Ok(_) => {
                        return Err(errs.invalid(
                            field(),
                            format!(
                                "{shown:?}: directory {dir_shown:?} cannot be created: {:?} is \
                                 not a directory",
                                ancestor.display().to_string()
                            ),
                            "choose a path under a directory",
                        ))
                    }
                    Err(_) if ancestor != Path::new(".") && ancestor != Path::new("/") => {}
                    Err(e) => {
                        return Err(errs.invalid(
                            field(),
                            format!(
                                "{shown:?}: cannot inspect {:?}: {e}",
                                ancestor.display().to_string()
                            ),
                            "choose another path",
                        ))
                    }
                }
            }
            return Ok(());
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
