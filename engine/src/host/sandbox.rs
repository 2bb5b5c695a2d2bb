//! The sandbox of `vnetlab run`: namespaces held only by file descriptors
//! (so a `kill -9` of vnetlab leaves nothing behind), and the command
//! started inside them.
//!
//! - Rootless: an ordinary user first enters a new user namespace (uid and
//!   gid mapped to 0 inside, setgroups denied); this works only while the
//!   process has one thread, so it is the first thing `run` does.
//! - Two network namespaces, each made by a helper thread that unshares
//!   one, opens `/proc/thread-self/ns/net`, creates its TUN and configures
//!   it with `ip` run as its own child (children inherit the thread's
//!   namespace): the app's (the instance's address, default route through
//!   the TUN) and the host world (the testbed's AnyIP world layout).
//! - CMD: `setns` into the app's namespace, a private mount namespace
//!   (`/` made rslave) and a generated resolv.conf bind-mounted over
//!   /etc/resolv.conf, all in `pre_exec` (system calls only, no allocation:
//!   the text and paths are made before the fork);
//!   CMD gets SIGKILL if vnetlab dies.
//! - The resolv.conf exists only inside CMD's mount namespace, so not even
//!   a `kill -9` of vnetlab leaves a file behind: `pre_exec` mounts a small
//!   tmpfs over /tmp, writes the file there, bind-mounts it over
//!   /etc/resolv.conf and detaches the tmpfs again (the bind mount keeps
//!   it alive; CMD sees the host's /tmp). Binding a descriptor's file from
//!   `/proc/self/fd/N` instead fails with EINVAL once CMD has its own mount
//!   namespace, whatever the file (memfd, O_TMPFILE, unlinked or named on
//!   ext4, checked here on 6.18): a bind mount's source must be a mount of
//!   the caller's namespace.

use std::fs::File;
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, OwnedFd};

use vnetlab_testbed::netns;
use vnetlab_testbed::tun::{create_tun_here, TunOptions};
use vnetlab_testbed::world::{anyip_world, app_addresses};

/// The TUN device's name in both namespaces.
pub const TUN_NAME: &str = "vltun0";

/// Why `vnetlab run` cannot start, with the fix.
pub fn preflight() -> Result<(), String> {
    if !vnetlab_testbed::is_root() {
        enter_user_namespace()?;
    }
    // SAFETY: access(2) with a NUL-terminated literal.
    if unsafe { libc::access(c"/dev/net/tun".as_ptr(), libc::R_OK | libc::W_OK) } != 0 {
        let e = io::Error::last_os_error();
        return Err(format!(
            "cannot open /dev/net/tun ({e}): vnetlab run needs a TUN device. Fix: `sudo chmod 0666 /dev/net/tun` (Debian, Ubuntu and Fedora ship it so), or run as root"
        ));
    }
    Ok(())
}

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").map(|d| d.count()).unwrap_or(0)
}

/// Enters a new user namespace mapping this user to root inside it.
fn enter_user_namespace() -> Result<(), String> {
    if threads() != 1 {
        return Err("internal: the user namespace must be entered while vnetlab has one thread".into());
    }
    // SAFETY: geteuid/getegid have no preconditions.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    // SAFETY: unshare with a flag; the process is single-threaded (checked).
    if unsafe { libc::unshare(libc::CLONE_NEWUSER) } != 0 {
        let e = io::Error::last_os_error();
        return Err(format!(
            "cannot create a user namespace ({e}): vnetlab run needs one when not root. Fix: `sudo sysctl kernel.unprivileged_userns_clone=1` \
(Debian) or `sudo sysctl kernel.apparmor_restrict_unprivileged_userns=0` (Ubuntu), `sudo sysctl user.max_user_namespaces=15000`, or run as root"
        ));
    }
    let write = |file: &str, text: String| std::fs::write(file, text).map_err(|e| format!("writing {file} in the new user namespace: {e}"));
    write("/proc/self/setgroups", "deny".into())?;
    write("/proc/self/uid_map", format!("0 {uid} 1"))?;
    write("/proc/self/gid_map", format!("0 {gid} 1"))
}

/// The two namespaces and their TUN devices.
pub struct Sandbox {
    pub app_ns: OwnedFd,
    pub host_ns: OwnedFd,
    pub app_tun: OwnedFd,
    pub host_tun: OwnedFd,
}

/// Runs `setup` on a helper thread inside a new network namespace (lo up,
/// IPv6 off before any device exists); returns the namespace and the TUN.
fn new_netns(what: &str, setup: impl FnOnce() -> io::Result<OwnedFd> + Send) -> io::Result<(OwnedFd, OwnedFd)> {
    let ctx = |e: io::Error| io::Error::new(e.kind(), format!("{what} namespace: {e}"));
    std::thread::scope(|s| {
        s.spawn(|| -> io::Result<(OwnedFd, OwnedFd)> {
            // SAFETY: unshare(CLONE_NEWNET) changes only this helper thread.
            if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
                return Err(io::Error::last_os_error());
            }
            let ns: OwnedFd = File::open("/proc/thread-self/ns/net")?.into();
            for key in ["net/ipv6/conf/all/disable_ipv6", "net/ipv6/conf/default/disable_ipv6"] {
                let _ = netns::sysctl_here(key, "1");
            }
            netns::ip(&["link", "set", "dev", "lo", "up"])?;
            Ok((ns, setup()?))
        })
        .join()
        .map_err(|_| io::Error::other("namespace thread panicked"))?
    })
    .map_err(ctx)
}

/// Sysctls of the app's namespace. In a user namespace ping_group_range
/// accepts only mapped groups: there it is `0 0` (root inside, which CMD is).
fn app_sysctl(key: &str, value: &str) -> io::Result<()> {
    match netns::sysctl_here(key, value) {
        Err(_) if key.ends_with("ping_group_range") => netns::sysctl_here(key, "0 0"),
        r => r,
    }
}

impl Sandbox {
    pub fn build(instance_ip: Ipv4Addr, mtu: u16, offload: bool) -> io::Result<Sandbox> {
        let opts = TunOptions { vnet_hdr: offload, ..Default::default() };
        let (app_ns, app_tun) = new_netns("app", || {
            let tun = create_tun_here(TUN_NAME, mtu, opts)?;
            app_addresses(instance_ip, TUN_NAME, &|a| netns::ip(a), &app_sysctl)?;
            Ok(tun)
        })?;
        let (host_ns, host_tun) = new_netns("host world", || {
            let tun = create_tun_here(TUN_NAME, mtu, opts)?;
            anyip_world(TUN_NAME, &|a| netns::ip(a), &netns::sysctl_here)?;
            Ok(tun)
        })?;
        Ok(Sandbox { app_ns, host_ns, app_tun, host_tun })
    }
}

/// Where `pre_exec` writes the resolv.conf: a tmpfs mounted over /tmp of
/// CMD's mount namespace for a moment (every system has /tmp).
const SCRATCH_DIR: &std::ffi::CStr = c"/tmp";
const SCRATCH_FILE: &std::ffi::CStr = c"/tmp/vnetlab-resolv.conf";

/// CMD inside the app's namespace with `resolv` (the file's text) over
/// /etc/resolv.conf.
pub fn command(argv: &[String], app_ns: &OwnedFd, resolv: &str, env: &[(String, String)]) -> io::Result<tokio::process::Command> {
    let (prog, args) = argv.split_first().ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no command"))?;
    let mut cmd = tokio::process::Command::new(prog);
    cmd.args(args).envs(env.iter().map(|(k, v)| (k, v)));
    let text = resolv.as_bytes().to_vec();
    let ns = app_ns.as_raw_fd();
    // SAFETY: the closure runs in the child between fork and exec and makes
    // system calls only (no allocation, no locks); the strings and the
    // namespace descriptor were made before the fork.
    unsafe {
        cmd.pre_exec(move || {
            // CMD dies with vnetlab (even `kill -9`), so nothing keeps the
            // app's namespace alive; the spawning thread is main, which lives
            // until vnetlab exits.
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(io::Error::last_os_error());
            }
            if libc::setns(ns, libc::CLONE_NEWNET) != 0 || libc::unshare(libc::CLONE_NEWNS) != 0 {
                return Err(io::Error::last_os_error());
            }
            if libc::mount(std::ptr::null(), c"/".as_ptr(), std::ptr::null(), libc::MS_REC | libc::MS_SLAVE, std::ptr::null()) != 0 {
                return Err(io::Error::last_os_error());
            }
            let flags = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
            if libc::mount(c"vnetlab".as_ptr(), SCRATCH_DIR.as_ptr(), c"tmpfs".as_ptr(), flags, c"size=64k,mode=0755".as_ptr().cast()) != 0 {
                return Err(io::Error::last_os_error());
            }
            let fd = libc::open(SCRATCH_FILE.as_ptr(), libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC, 0o644);
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            let written = libc::write(fd, text.as_ptr().cast(), text.len());
            libc::close(fd);
            if written != text.len() as isize {
                return Err(io::Error::other("writing resolv.conf"));
            }
            if libc::mount(SCRATCH_FILE.as_ptr(), c"/etc/resolv.conf".as_ptr(), std::ptr::null(), libc::MS_BIND, std::ptr::null()) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The bind mount holds the tmpfs; CMD sees the real /tmp again.
            if libc::umount2(SCRATCH_DIR.as_ptr(), libc::MNT_DETACH) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    Ok(cmd)
}
