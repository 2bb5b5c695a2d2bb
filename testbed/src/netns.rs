//! Network namespaces: creating and removing named ones (the `ip netns`
//! convention, a bind mount under /run/netns), running code inside one from
//! a scoped thread, and configuring one with iproute2 (`ip -n NS ...`).
//!
//! Nothing here touches the root namespace's addresses or routes: every
//! `ip` invocation carries `-n NS`, and `run_in_netns` switches only the
//! calling helper thread, never the process.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Where iproute2 keeps named namespaces.
pub const NETNS_RUN_DIR: &str = "/run/netns";
/// Where `ip netns exec` finds per-namespace files such as resolv.conf.
pub const NETNS_ETC_DIR: &str = "/etc/netns";

/// The bind-mount path of a named namespace.
pub fn netns_path(ns: &str) -> PathBuf {
    Path::new(NETNS_RUN_DIR).join(ns)
}

/// Whether a named namespace exists.
pub fn exists(ns: &str) -> bool {
    netns_path(ns).exists()
}

/// Names of all named namespaces (`ip netns list`, read from the directory).
pub fn list() -> io::Result<Vec<String>> {
    let dir = match std::fs::read_dir(NETNS_RUN_DIR) {
        Ok(d) => d,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut names = Vec::new();
    for entry in dir {
        if let Some(name) = entry?.file_name().to_str() {
            names.push(name.to_string());
        }
    }
    names.sort();
    Ok(names)
}

/// Runs iproute2 with `args`; an error carries the command line and the
/// tool's own message.
pub fn ip(args: &[&str]) -> io::Result<()> {
    let out =
        Command::new("ip").args(args).stdin(Stdio::null()).output().map_err(|e| io::Error::new(e.kind(), format!("running `ip {}`: {e}", args.join(" "))))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!("`ip {}` failed ({}): {}", args.join(" "), out.status, String::from_utf8_lossy(&out.stderr).trim())))
    }
}

/// `ip -n NS ARGS...`: configuration that stays inside the namespace.
pub fn ip_in(ns: &str, args: &[&str]) -> io::Result<()> {
    let mut full = vec!["-n", ns];
    full.extend_from_slice(args);
    ip(&full)
}

/// Creates a named namespace.
pub fn add(ns: &str) -> io::Result<()> {
    ip(&["netns", "add", ns])
}

/// Removes a named namespace and its /etc/netns directory. Removing one that
/// is already gone is not an error, so cleanup can run any number of times.
pub fn remove(ns: &str) -> io::Result<()> {
    let etc = Path::new(NETNS_ETC_DIR).join(ns);
    match std::fs::remove_dir_all(&etc) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io::Error::new(e.kind(), format!("removing {}: {e}", etc.display()))),
    }
    if !exists(ns) {
        return Ok(());
    }
    ip(&["netns", "del", ns])
}

/// Runs `f` on a helper thread that has joined namespace `ns`, and returns
/// its result. Sockets and TUN descriptors opened by `f` stay in that
/// namespace and keep working from any thread afterwards.
pub fn run_in_netns<T: Send>(ns: &str, f: impl FnOnce() -> T + Send) -> io::Result<T> {
    let path = netns_path(ns);
    let handle = File::open(&path).map_err(|e| io::Error::new(e.kind(), format!("opening namespace {}: {e}", path.display())))?;
    std::thread::scope(|scope| {
        let worker = scope.spawn(|| -> io::Result<T> {
            // SAFETY: setns only changes this helper thread's namespace; the
            // descriptor is valid for the duration of the call.
            let rc = unsafe { libc::setns(handle.as_raw_fd(), libc::CLONE_NEWNET) };
            if rc != 0 {
                return Err(crate::os::last_os_error(format_args!("entering namespace {ns}")));
            }
            Ok(f())
        });
        worker.join().map_err(|_| io::Error::other(format!("thread inside namespace {ns} panicked")))?
    })
}

/// Writes a sysctl as seen from inside `ns` (the per-namespace view of
/// /proc/sys/net is chosen by the writing thread's namespace). `key` is a
/// path below /proc/sys, such as `net/ipv4/conf/all/rp_filter` (slashes,
/// because interface names may contain dots).
pub fn sysctl_in(ns: &str, key: &str, value: &str) -> io::Result<()> {
    let path = format!("/proc/sys/{key}");
    run_in_netns(ns, || std::fs::write(&path, value))?.map_err(|e| io::Error::new(e.kind(), format!("setting {key}={value} in namespace {ns}: {e}")))
}

/// Writes a sysctl in the calling thread's namespace (see `sysctl_in`).
pub fn sysctl_here(key: &str, value: &str) -> io::Result<()> {
    std::fs::write(format!("/proc/sys/{key}"), value).map_err(|e| io::Error::new(e.kind(), format!("setting {key}={value}: {e}")))
}
