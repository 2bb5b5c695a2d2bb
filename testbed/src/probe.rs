//! Probes: one real flow sent from inside a namespace (normally the app's),
//! reporting whether something answered, a reject came back, or nothing
//! came back in time. Every wait is bounded by `ProbeOptions::timeout`.
//!
//! The live runner sends flows from the instance's fixed source port 49152
//! (FORMAT.md); TCP and UDP probes bind it with SO_REUSEADDR so successive
//! probes can reuse it, and the ICMP probe uses it as echo identifier.

use std::io::{self, Read, Write};
use std::mem::MaybeUninit;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use crate::dnsq::{self, DnsAnswer};
use crate::netns::run_in_netns;

/// The app's source port for live flows.
pub const PROBE_SOURCE_PORT: u16 = 49152;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeOptions {
    /// Bound of each wait (connect, first answer byte, datagram, echo reply).
    pub timeout: Duration,
    pub source_port: u16,
}

impl Default for ProbeOptions {
    fn default() -> Self {
        ProbeOptions { timeout: Duration::from_secs(2), source_port: PROBE_SOURCE_PORT }
    }
}

/// What came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeReply {
    /// The peer answered: who, and its text (TCP, UDP; empty for ICMP).
    Answer { from: SocketAddrV4, text: String },
    /// A reject came back (TCP reset, ICMP unreachable): the error as the socket reported it.
    Rejected(String),
    /// Nothing within the timeout.
    Silent,
}

impl ProbeReply {
    pub fn answered(&self) -> bool {
        matches!(self, ProbeReply::Answer { .. })
    }
}

/// Errors that mean "the network said no" rather than "the probe is broken".
fn rejection(e: &io::Error) -> Option<ProbeReply> {
    use io::ErrorKind::*;
    match e.kind() {
        TimedOut | WouldBlock => Some(ProbeReply::Silent),
        ConnectionRefused | ConnectionReset | ConnectionAborted | HostUnreachable | NetworkUnreachable | PermissionDenied => {
            Some(ProbeReply::Rejected(e.to_string()))
        }
        _ => None,
    }
}

fn classify(result: io::Result<ProbeReply>) -> io::Result<ProbeReply> {
    result.or_else(|e| rejection(&e).ok_or(e))
}

fn bound_socket(ty: Type, proto: Protocol, port: u16) -> io::Result<Socket> {
    let sock = Socket::new(Domain::IPV4, ty, Some(proto))?;
    sock.set_reuse_address(true)?;
    sock.bind(&SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port).into()).map_err(|e| io::Error::new(e.kind(), format!("binding source port {port}: {e}")))?;
    Ok(sock)
}

/// TCP: connect, send one line, read the answer until the peer closes.
pub fn tcp_probe(ns: &str, dst: SocketAddrV4, opts: &ProbeOptions) -> io::Result<ProbeReply> {
    run_in_netns(ns, || classify(tcp_exchange(dst, opts)))?
}

fn tcp_exchange(dst: SocketAddrV4, opts: &ProbeOptions) -> io::Result<ProbeReply> {
    let sock = bound_socket(Type::STREAM, Protocol::TCP, opts.source_port)?;
    // Probes reuse one source port: closing with a reset frees the tuple at
    // once. A FIN close would leave it in LAST_ACK until the peer's ACK
    // crosses the engine, and a quick next probe to the same address would
    // fail with EADDRNOTAVAIL (seen on a loaded machine).
    sock.set_linger(Some(Duration::ZERO))?;
    sock.connect_timeout(&dst.into(), opts.timeout)?;
    let mut stream: std::net::TcpStream = sock.into();
    stream.set_read_timeout(Some(opts.timeout))?;
    stream.set_write_timeout(Some(opts.timeout))?;
    stream.write_all(b"vnetlab-probe\n")?;
    let mut text = String::new();
    let deadline = Instant::now() + opts.timeout;
    let mut buf = [0u8; 1024];
    // Bounded in bytes and time; a read timeout after the connection was
    // accepted still counts as an answer (the handshake went through).
    while text.len() < 65536 && Instant::now() < deadline {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => text.push_str(&String::from_utf8_lossy(&buf[..n])),
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => break,
            Err(e) if text.is_empty() => return Err(e),
            Err(_) => break,
        }
    }
    Ok(ProbeReply::Answer { from: dst, text })
}

/// UDP: one datagram, one answer.
pub fn udp_probe(ns: &str, dst: SocketAddrV4, opts: &ProbeOptions) -> io::Result<ProbeReply> {
    run_in_netns(ns, || {
        classify((|| {
            let sock = bound_socket(Type::DGRAM, Protocol::UDP, opts.source_port)?;
            // Connected, so an ICMP port/host unreachable surfaces as an error.
            sock.connect(&dst.into())?;
            sock.set_read_timeout(Some(opts.timeout))?;
            sock.send(b"vnetlab-probe\n")?;
            let mut buf = [MaybeUninit::<u8>::uninit(); 2048];
            let n = sock.recv(&mut buf)?;
            let bytes: Vec<u8> = buf[..n].iter().map(|b| unsafe_init(*b)).collect();
            Ok(ProbeReply::Answer { from: dst, text: String::from_utf8_lossy(&bytes).into_owned() })
        })())
    })?
}

fn unsafe_init(b: MaybeUninit<u8>) -> u8 {
    // SAFETY: only called on the prefix that recv reported as written.
    unsafe { b.assume_init() }
}

/// ICMP echo over an ICMP datagram socket (identifier = the source port).
pub fn icmp_probe(ns: &str, dst: Ipv4Addr, opts: &ProbeOptions) -> io::Result<ProbeReply> {
    run_in_netns(ns, || {
        classify((|| {
            let sock = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::ICMPV4))?;
            sock.bind(&SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, opts.source_port).into())?;
            sock.connect(&SocketAddrV4::new(dst, 0).into())?;
            let request = [8u8, 0, 0, 0, 0, 0, 0, 1, b'v', b'n', b'e', b't', b'l', b'a', b'b'];
            sock.send(&request)?;
            let deadline = Instant::now() + opts.timeout;
            let mut buf = [MaybeUninit::<u8>::uninit(); 1500];
            // Bounded: each round waits at most until the deadline.
            for _ in 0..64 {
                let left = deadline.checked_duration_since(Instant::now()).ok_or(io::ErrorKind::TimedOut)?;
                sock.set_read_timeout(Some(left.max(Duration::from_millis(1))))?;
                let n = sock.recv(&mut buf)?;
                if n >= 8 && unsafe_init(buf[0]) == 0 {
                    return Ok(ProbeReply::Answer { from: SocketAddrV4::new(dst, 0), text: String::new() });
                }
            }
            Ok(ProbeReply::Silent)
        })())
    })?
}

/// Resolves `name` by a real A query to `server` from inside `ns`, with one
/// retry. Ok(None) when no answer came back at all.
pub fn dns_query(ns: &str, server: SocketAddrV4, name: &str, opts: &ProbeOptions) -> io::Result<Option<DnsAnswer>> {
    run_in_netns(ns, || -> io::Result<Option<DnsAnswer>> {
        let sock = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
        sock.bind(&SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0).into())?;
        sock.connect(&SockAddr::from(server))?;
        let id = query_id(name);
        let query = dnsq::build_query(id, name).ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, format!("{name:?} is not a valid DNS name")))?;
        let mut buf = [MaybeUninit::<u8>::uninit(); 1500];
        for _attempt in 0..2 {
            sock.send(&query)?;
            let deadline = Instant::now() + opts.timeout;
            for _ in 0..16 {
                let Some(left) = deadline.checked_duration_since(Instant::now()) else { break };
                sock.set_read_timeout(Some(left.max(Duration::from_millis(1))))?;
                match sock.recv(&mut buf) {
                    Ok(n) => {
                        let bytes: Vec<u8> = buf[..n].iter().map(|b| unsafe_init(*b)).collect();
                        if let Some(answer) = dnsq::parse_answer(id, &bytes) {
                            return Ok(Some(answer));
                        }
                    }
                    Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => break,
                    Err(e) if rejection(&e).is_some() => return Ok(None),
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(None)
    })?
}

/// A query id that differs between names and runs (not security relevant:
/// it only pairs answers with queries on our own socket).
fn query_id(name: &str) -> u16 {
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    let h = name.bytes().fold(seed, |h, b| h.rotate_left(5) ^ u32::from(b));
    (h ^ (h >> 16)) as u16
}
