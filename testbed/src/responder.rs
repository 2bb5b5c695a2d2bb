//! The responder: TCP listeners, UDP sockets and an ICMP observer inside a
//! world namespace, answering every flow with a line that says what arrived
//! (world, source, destination, protocol) and recording the same in a
//! shared `SeenLog`.
//!
//! The sockets are opened inside the namespace by `run_in_netns` and then
//! served by ordinary threads of this process (an event thread polling all
//! sockets, plus one short-lived thread per TCP connection, capped), so
//! stopping is just a flag and no child process can be left behind.
//! ICMP echo is answered by the world's kernel; a raw socket only observes
//! the requests so that their source is recorded too.

use std::io::{self, Read, Write};
use std::mem;
use std::net::{Ipv4Addr, Shutdown, SocketAddrV4, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::netns;
use crate::seen::{Seen, SeenLog, SeenProto};

/// How long a TCP connection may take to send its first bytes before the
/// answer goes out anyway (a bare connect gets its line too).
pub const FIRST_BYTES_TIMEOUT: Duration = Duration::from_millis(300);
/// Connections served at once; beyond that new ones are closed at once.
pub const MAX_ACTIVE_CONNECTIONS: usize = 256;
/// Poll period of the event thread: the bound on how long `stop` waits.
const POLL_MS: i32 = 100;
/// Datagrams handled per socket per wake-up, so one busy port cannot starve the others.
const UDP_BATCH: usize = 64;

/// What to serve in one world.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponderSpec {
    pub world: String,
    pub netns: String,
    pub tcp: Vec<u16>,
    pub udp: Vec<u16>,
    /// Record ICMP echo requests (the kernel answers them either way).
    pub icmp: bool,
}

/// A running responder; stops when dropped.
pub struct Responder {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    log: Arc<SeenLog>,
}

struct Sockets {
    tcp: Vec<TcpListener>,
    udp: Vec<UdpSocket>,
    icmp: Option<OwnedFd>,
}

impl Responder {
    /// Opens the sockets inside `spec.netns` and starts serving.
    pub fn start(spec: &ResponderSpec, log: Arc<SeenLog>) -> io::Result<Responder> {
        let sockets = netns::run_in_netns(&spec.netns, || open_sockets(spec))??;
        let stop = Arc::new(AtomicBool::new(false));
        let world = spec.world.clone();
        let thread = std::thread::Builder::new().name(format!("responder-{world}")).spawn({
            let stop = stop.clone();
            let log = log.clone();
            move || serve(&world, sockets, &stop, &log)
        })?;
        Ok(Responder { stop, thread: Some(thread), log })
    }

    pub fn log(&self) -> &Arc<SeenLog> {
        &self.log
    }

    /// Stops serving and closes the sockets (within one poll period).
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        self.halt();
    }
}

fn open_sockets(spec: &ResponderSpec) -> io::Result<Sockets> {
    let mut s = Sockets { tcp: Vec::new(), udp: Vec::new(), icmp: None };
    for &port in &spec.tcp {
        let l = TcpListener::bind((Ipv4Addr::UNSPECIFIED, port)).map_err(|e| io::Error::new(e.kind(), format!("tcp port {port} in {}: {e}", spec.netns)))?;
        l.set_nonblocking(true)?;
        s.tcp.push(l);
    }
    for &port in &spec.udp {
        let u = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, port)).map_err(|e| io::Error::new(e.kind(), format!("udp port {port} in {}: {e}", spec.netns)))?;
        u.set_nonblocking(true)?;
        setsockopt_int(u.as_raw_fd(), libc::IPPROTO_IP, libc::IP_PKTINFO, 1)?;
        s.udp.push(u);
    }
    if spec.icmp {
        // SAFETY: socket(2) with constant arguments; the result is checked below.
        let raw = unsafe { libc::socket(libc::AF_INET, libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, libc::IPPROTO_ICMP) };
        if raw < 0 {
            return Err(crate::os::last_os_error(format_args!("raw ICMP socket in {}", spec.netns)));
        }
        // SAFETY: `raw` is a fresh descriptor owned by nobody else.
        s.icmp = Some(unsafe { OwnedFd::from_raw_fd(raw) });
    }
    Ok(s)
}

fn setsockopt_int(fd: RawFd, level: i32, name: i32, value: i32) -> io::Result<()> {
    // SAFETY: passes a pointer to a live c_int and its exact size.
    let rc = unsafe { libc::setsockopt(fd, level, name, (&value as *const i32).cast(), mem::size_of::<i32>() as libc::socklen_t) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn serve(world: &str, sockets: Sockets, stop: &AtomicBool, log: &Arc<SeenLog>) {
    let active = Arc::new(AtomicUsize::new(0));
    let mut fds: Vec<libc::pollfd> = Vec::new();
    fds.extend(sockets.tcp.iter().map(|l| pollfd(l.as_raw_fd())));
    fds.extend(sockets.udp.iter().map(|u| pollfd(u.as_raw_fd())));
    fds.extend(sockets.icmp.iter().map(|i| pollfd(i.as_raw_fd())));
    let mut buf = vec![0u8; 65536];
    while !stop.load(Ordering::Relaxed) {
        // SAFETY: `fds` is a live, correctly sized array of pollfd.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, POLL_MS) };
        if n <= 0 {
            continue;
        }
        for (i, pfd) in fds.iter_mut().enumerate() {
            if pfd.revents == 0 {
                continue;
            }
            pfd.revents = 0;
            if let Some(l) = sockets.tcp.get(i) {
                accept_all(world, l, &active, log);
            } else if let Some(u) = sockets.udp.get(i - sockets.tcp.len()) {
                answer_datagrams(world, u, &mut buf, log);
            } else if let Some(icmp) = &sockets.icmp {
                observe_echo(world, icmp.as_raw_fd(), &mut buf, log);
            }
        }
    }
}

fn pollfd(fd: RawFd) -> libc::pollfd {
    libc::pollfd { fd, events: libc::POLLIN, revents: 0 }
}

fn v4(addr: std::net::SocketAddr) -> Option<SocketAddrV4> {
    match addr {
        std::net::SocketAddr::V4(a) => Some(a),
        std::net::SocketAddr::V6(_) => None,
    }
}

fn accept_all(world: &str, listener: &TcpListener, active: &Arc<AtomicUsize>, log: &Arc<SeenLog>) {
    // Bounded by the listen backlog; stop at the first WouldBlock.
    for _ in 0..MAX_ACTIVE_CONNECTIONS {
        let Ok((stream, peer)) = listener.accept() else { return };
        let (Some(src), Some(dst)) = (v4(peer), stream.local_addr().ok().and_then(v4)) else { continue };
        if active.fetch_add(1, Ordering::AcqRel) >= MAX_ACTIVE_CONNECTIONS {
            active.fetch_sub(1, Ordering::AcqRel);
            continue;
        }
        let seen = Seen { world: world.to_string(), proto: SeenProto::Tcp, src, dst };
        let counter = active.clone();
        let log = log.clone();
        let spawned = std::thread::Builder::new().name("responder-conn".into()).spawn(move || {
            answer_connection(stream, seen, &log);
            counter.fetch_sub(1, Ordering::AcqRel);
        });
        if spawned.is_err() {
            // The closure (and its decrement) never ran.
            active.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// The responder's answer to a flow: its answer line (`Seen`'s Display)
/// and a newline; for a TCP connection whose first bytes (`request`) are an
/// HTTP request, inside an HTTP 200 (`text/plain`, no body for HEAD). The
/// engine's platform endpoints answer with this too (`vnetlab up`).
pub fn answer(seen: &Seen, request: &[u8]) -> Vec<u8> {
    let line = format!("{seen}\n");
    if seen.proto != SeenProto::Tcp || !HTTP_METHODS.iter().any(|m| request.starts_with(m)) {
        return line.into_bytes();
    }
    let head_only = request.starts_with(b"HEAD ");
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
        line.len(),
        if head_only { "" } else { line.as_str() }
    )
    .into_bytes()
}

const HTTP_METHODS: [&[u8]; 8] = [b"GET ", b"HEAD ", b"POST ", b"PUT ", b"DELETE ", b"OPTIONS ", b"PATCH ", b"CONNECT "];

fn answer_connection(mut stream: TcpStream, seen: Seen, log: &SeenLog) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(FIRST_BYTES_TIMEOUT));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
    let mut first = [0u8; 2048];
    let n = stream.read(&mut first).unwrap_or(0);
    let answer = answer(&seen, &first[..n]);
    log.record(seen);
    if stream.write_all(&answer).is_err() {
        return;
    }
    let _ = stream.shutdown(Shutdown::Write);
    // Drain what the client still sends (bounded) so closing does not turn into a reset
    // that could destroy the answer before the client reads it.
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    for _ in 0..16 {
        match stream.read(&mut first) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
}

fn answer_datagrams(world: &str, sock: &UdpSocket, buf: &mut [u8], log: &SeenLog) {
    let fd = sock.as_raw_fd();
    let local_port = sock.local_addr().map(|a| a.port()).unwrap_or(0);
    for _ in 0..UDP_BATCH {
        let Some((src, dst_ip)) = recv_with_dst(fd, buf) else { return };
        let seen = Seen { world: world.to_string(), proto: SeenProto::Udp, src, dst: SocketAddrV4::new(dst_ip, local_port) };
        let line = answer(&seen, &[]);
        log.record(seen);
        send_from(fd, &line, dst_ip, src);
    }
}

/// Control buffer big enough for one IP_PKTINFO message, suitably aligned.
#[repr(C, align(8))]
struct CmsgBuf([u8; 64]);

/// recvmsg with IP_PKTINFO: the sender and the address the datagram was sent to.
fn recv_with_dst(fd: RawFd, buf: &mut [u8]) -> Option<(SocketAddrV4, Ipv4Addr)> {
    // SAFETY: all-zero is valid for these plain C structs.
    let mut from: libc::sockaddr_in = unsafe { mem::zeroed() };
    let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
    let mut control = CmsgBuf([0; 64]);
    // SAFETY: as above.
    let mut msg: libc::msghdr = unsafe { mem::zeroed() };
    msg.msg_name = (&mut from as *mut libc::sockaddr_in).cast();
    msg.msg_namelen = mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.0.as_mut_ptr().cast();
    msg.msg_controllen = control.0.len() as _;
    // SAFETY: every pointer in `msg` refers to a live buffer of the stated size.
    let n = unsafe { libc::recvmsg(fd, &mut msg, libc::MSG_DONTWAIT) };
    if n < 0 || from.sin_family != libc::AF_INET as libc::sa_family_t {
        return None;
    }
    let src = SocketAddrV4::new(Ipv4Addr::from(u32::from_be(from.sin_addr.s_addr)), u16::from_be(from.sin_port));
    // SAFETY: the CMSG_* macros walk the control buffer recvmsg just filled,
    // bounded by msg_controllen.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::IPPROTO_IP && (*cmsg).cmsg_type == libc::IP_PKTINFO {
                let info: libc::in_pktinfo = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast());
                return Some((src, Ipv4Addr::from(u32::from_be(info.ipi_addr.s_addr))));
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    None
}

/// sendmsg from a chosen local address (IP_PKTINFO's ipi_spec_dst), so the
/// answer comes from the address the client sent to.
fn send_from(fd: RawFd, data: &[u8], from: Ipv4Addr, to: SocketAddrV4) {
    // SAFETY: all-zero is valid for these plain C structs.
    let mut dest: libc::sockaddr_in = unsafe { mem::zeroed() };
    dest.sin_family = libc::AF_INET as libc::sa_family_t;
    dest.sin_port = to.port().to_be();
    dest.sin_addr.s_addr = u32::from(*to.ip()).to_be();
    let mut iov = libc::iovec { iov_base: data.as_ptr() as *mut libc::c_void, iov_len: data.len() };
    let mut control = CmsgBuf([0; 64]);
    // SAFETY: as above.
    let mut msg: libc::msghdr = unsafe { mem::zeroed() };
    msg.msg_name = (&mut dest as *mut libc::sockaddr_in).cast();
    msg.msg_namelen = mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.0.as_mut_ptr().cast();
    // SAFETY: CMSG_SPACE is a pure size computation; the buffer is 64 bytes, more than
    // one in_pktinfo message needs, and the header is written within it.
    unsafe {
        let space = libc::CMSG_SPACE(mem::size_of::<libc::in_pktinfo>() as u32) as usize;
        msg.msg_controllen = space as _;
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        if cmsg.is_null() {
            return;
        }
        (*cmsg).cmsg_level = libc::IPPROTO_IP;
        (*cmsg).cmsg_type = libc::IP_PKTINFO;
        (*cmsg).cmsg_len = libc::CMSG_LEN(mem::size_of::<libc::in_pktinfo>() as u32) as _;
        let info = libc::in_pktinfo { ipi_ifindex: 0, ipi_spec_dst: libc::in_addr { s_addr: u32::from(from).to_be() }, ipi_addr: libc::in_addr { s_addr: 0 } };
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast(), info);
        libc::sendmsg(fd, &msg, libc::MSG_DONTWAIT);
    }
}

/// Records echo requests read from the raw ICMP socket (IP header included).
fn observe_echo(world: &str, fd: RawFd, buf: &mut [u8], log: &SeenLog) {
    for _ in 0..UDP_BATCH {
        // SAFETY: reads into a live buffer of the stated length.
        let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) };
        if n <= 0 {
            return;
        }
        if let Some(seen) = parse_echo_request(world, &buf[..n as usize]) {
            log.record(seen);
        }
    }
}

/// An IPv4 packet carrying an ICMP echo request, as a `Seen` whose ports
/// are the echo identifier.
pub fn parse_echo_request(world: &str, pkt: &[u8]) -> Option<Seen> {
    let ihl = usize::from(*pkt.first()? & 0x0f) * 4;
    if pkt.first()? >> 4 != 4 || ihl < 20 || pkt.len() < ihl + 8 || pkt[9] != 1 || pkt[ihl] != 8 {
        return None;
    }
    let src = Ipv4Addr::new(pkt[12], pkt[13], pkt[14], pkt[15]);
    let dst = Ipv4Addr::new(pkt[16], pkt[17], pkt[18], pkt[19]);
    let id = u16::from_be_bytes([pkt[ihl + 4], pkt[ihl + 5]]);
    Some(Seen { world: world.to_string(), proto: SeenProto::Icmp, src: SocketAddrV4::new(src, id), dst: SocketAddrV4::new(dst, id) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_requests_are_recognised_and_others_ignored() {
        let mut pkt = [0u8; 28];
        pkt[0] = 0x45;
        pkt[9] = 1;
        pkt[12..16].copy_from_slice(&[198, 51, 100, 7]);
        pkt[16..20].copy_from_slice(&[198, 51, 100, 20]);
        pkt[20] = 8;
        pkt[24..26].copy_from_slice(&0x1234u16.to_be_bytes());
        let seen = parse_echo_request("inet", &pkt).unwrap();
        assert_eq!(seen.src, "198.51.100.7:4660".parse().unwrap());
        assert_eq!(seen.dst.ip(), &Ipv4Addr::new(198, 51, 100, 20));
        pkt[20] = 0; // echo reply
        assert_eq!(parse_echo_request("inet", &pkt), None);
        assert_eq!(parse_echo_request("inet", &pkt[..20]), None);
    }
}
