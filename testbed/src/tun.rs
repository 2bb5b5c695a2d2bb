//! TUN devices born inside a namespace. The descriptor is opened by a
//! helper thread that has joined the namespace, so the interface exists only
//! there; the returned descriptor then works from any thread of the caller
//! (the engine), which is how the engine in the root namespace owns every
//! device of the testbed.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

use crate::netns;

/// Longest interface name Linux accepts (IFNAMSIZ minus the terminator).
pub const MAX_IFNAME: usize = 15;

/// Options of a TUN device beyond its name and MTU.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TunOptions {
    /// IFF_MULTI_QUEUE: several descriptors may attach to the same device.
    pub multi_queue: bool,
    /// IFF_VNET_HDR with checksum and TCP segmentation offload (TUN_F_CSUM |
    /// TUN_F_TSO4): every packet read or written starts with a 10-byte
    /// virtio-net header, the kernel leaves transport checksums partial, and
    /// TCP moves as segments of up to 64 KiB instead of MTU-sized packets.
    pub vnet_hdr: bool,
}

/// Size of the virtio-net header (`struct virtio_net_hdr`) before each packet.
pub const VNET_HDR_LEN: usize = 10;

/// Creates TUN device `name` (IFF_TUN | IFF_NO_PI: raw IP packets) inside
/// namespace `ns`, sets its MTU and brings it up. Closing the descriptor
/// removes the device.
pub fn create_tun_in(ns: &str, name: &str, mtu: u16) -> io::Result<OwnedFd> {
    create_tun_in_with(ns, name, mtu, TunOptions::default())
}

/// `create_tun_in` with extra device flags.
pub fn create_tun_in_with(ns: &str, name: &str, mtu: u16, opts: TunOptions) -> io::Result<OwnedFd> {
    check_ifname(name)?;
    let fd = netns::run_in_netns(ns, || open_tun(name, opts))??;
    netns::ip_in(ns, &["link", "set", "dev", name, "mtu", &mtu.to_string(), "up"])?;
    Ok(fd)
}

/// Creates TUN device `name` in the calling thread's namespace (a thread
/// that has entered or unshared one: `vnetlab run`'s anonymous namespaces),
/// sets its MTU and brings it up (`ip` runs as a child of this thread, so in
/// the same namespace).
pub fn create_tun_here(name: &str, mtu: u16, opts: TunOptions) -> io::Result<OwnedFd> {
    check_ifname(name)?;
    let fd = open_tun(name, opts)?;
    netns::ip(&["link", "set", "dev", name, "mtu", &mtu.to_string(), "up"])?;
    Ok(fd)
}

/// Rejects names the kernel would truncate or refuse.
pub fn check_ifname(name: &str) -> io::Result<()> {
    let ok = !name.is_empty() && name.len() <= MAX_IFNAME && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if ok {
        Ok(())
    } else {
        Err(io::Error::new(io::ErrorKind::InvalidInput, format!("interface name {name:?}: expected 1 to {MAX_IFNAME} characters among [A-Za-z0-9._-]")))
    }
}

fn open_tun(name: &str, opts: TunOptions) -> io::Result<OwnedFd> {
    // SAFETY: plain open(2) of a device node with a NUL-terminated literal.
    let raw = unsafe { libc::open(c"/dev/net/tun".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
    if raw < 0 {
        return Err(crate::os::last_os_error("opening /dev/net/tun"));
    }
    // SAFETY: `raw` was just returned by open(2) and is owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    // SAFETY: ifreq is plain old data; all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(name.bytes()) {
        *dst = src as libc::c_char;
    }
    let mut flags = libc::IFF_TUN | libc::IFF_NO_PI;
    if opts.multi_queue {
        flags |= libc::IFF_MULTI_QUEUE;
    }
    if opts.vnet_hdr {
        flags |= libc::IFF_VNET_HDR;
    }
    req.ifr_ifru.ifru_flags = flags as libc::c_short;
    // SAFETY: TUNSETIFF reads and writes one ifreq that lives on our stack.
    let rc = unsafe { libc::ioctl(std::os::fd::AsRawFd::as_raw_fd(&fd), libc::TUNSETIFF, &mut req) };
    if rc < 0 {
        return Err(crate::os::last_os_error(format_args!("creating TUN device {name}")));
    }
    if opts.vnet_hdr {
        let offloads = libc::TUN_F_CSUM | libc::TUN_F_TSO4;
        // SAFETY: TUNSETOFFLOAD takes its integer argument by value.
        let rc = unsafe { libc::ioctl(std::os::fd::AsRawFd::as_raw_fd(&fd), libc::TUNSETOFFLOAD, offloads as libc::c_ulong) };
        if rc < 0 {
            return Err(crate::os::last_os_error(format_args!("enabling offloads on TUN device {name}")));
        }
    }
    Ok(fd)
}
