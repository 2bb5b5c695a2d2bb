//! The platform host's endpoints: what Azure's host answers at
//! 168.63.129.16 and 169.254.169.254, on a userspace TCP/IP stack
//! (smoltcp). The datapath hands every allowed platform flow here
//! (`Verdict::ToPlatform`, after the policy allowed it and with a flow
//! entry, so counters and flow logs see it); what comes out goes back
//! through `Datapath::from_platform` to the app.
//!
//! **Why in the core.** smoltcp has no I/O of its own: it reads and writes
//! packets through a `Device` we implement on two queues, and it reads no
//! clock (every call takes an `Instant`, made here from the caller's
//! `Timestamp`). So the endpoints are a sans-IO state machine like the
//! datapath: a packet and a timestamp in, packets out, and [`Platform::poll_at`]
//! says when the timers (retransmission, TIME-WAIT, the endpoints' own
//! deadlines) want [`Platform::poll`]. Tests drive them with packets and an
//! injected clock, without namespaces or root; the engine only moves the
//! packets and sleeps until `poll_at`.
//!
//! **One interface, a socket set per flow.** One smoltcp `Interface` (IP
//! medium, any-IP mode with the platform addresses as its own, so it takes
//! packets for both) serves every flow, but each TCP connection has its own
//! `SocketSet` holding its one socket: `Interface::poll` takes the set as
//! an argument, so a packet is matched against its own connection's socket
//! only (found by tuple in a hash map), never against a list of all. A
//! packet that has no connection and opens none is polled against an empty
//! set, where smoltcp answers as a host without the port does (TCP RST,
//! ICMP port unreachable). Receive checksums are not verified (packets
//! come from the app's own TUN, possibly with offloaded checksums);
//! transmitted ones are computed.
//!
//! **What answers** ([`Mode`], chosen by the shell):
//!
//! | flow                         | `Endpoints` (`vnetlab run`)   | `WorldHost` (`up`, live runs) |
//! | ---------------------------- | ----------------------------- | ----------------------------- |
//! | TCP 168.63.129.16:53         | DNS over TCP                  | same                          |
//! | TCP 168.63.129.16:80         | wireserver (`http`)           | same                          |
//! | TCP 169.254.169.254:80       | IMDS (`http`)                 | same                          |
//! | other TCP ports              | RST (refused)                 | accepted, the responder's answer |
//! | UDP 168.63.129.16:53         | DNS (the datapath answers it) | same                          |
//! | other UDP ports              | ICMP port unreachable         | the responder's answer        |
//! | ICMP echo                    | nothing (as on Azure)         | echo reply                    |
//!
//! In `WorldHost` mode the platform behaves as a world host of the testbed
//! would, so the live runner sees the same for every port as the static
//! answer says (allowed, world `platform`, the instance's private source):
//! the shell's [`WorldHost`] records each flow and writes the responder's
//! answer (one implementation, the testbed's). DNS over TCP takes its
//! answers from `dnswire::reply`, the datapath's UDP answer.

pub mod http;

use std::collections::{BTreeSet, HashMap};
use std::net::{Ipv4Addr, SocketAddrV4};

use smoltcp::iface::{Config, Interface, PollResult, SocketHandle, SocketSet};
use smoltcp::phy::{self, Checksum, ChecksumCapabilities, Device, DeviceCapabilities, Medium};
use smoltcp::socket::tcp;
use smoltcp::time::Instant;
use smoltcp::wire::{HardwareAddress, IpCidr};

use crate::datapath::dnswire;
use crate::datapath::packet::{self, Transport};
use crate::decision::{Resolution, AZURE_DNS, IMDS};
use crate::flow::Proto;
use crate::policy::{Policy, Sender};
use crate::time::Timestamp;
pub use http::Instance;

/// How long the responder waits for a connection's first bytes before it
/// answers anyway (the testbed responder's `FIRST_BYTES_TIMEOUT`).
pub const FIRST_BYTES_MS: u64 = 300;
/// A connection with no traffic for this long is closed.
pub const IDLE_SECS: u64 = 60;
/// Largest request kept per connection (a DNS message and its prefix).
const MAX_REQUEST: usize = 2 + dnswire::MAX_TCP_MESSAGE;
const SOCKET_BUFFER: usize = 16 * 1024;
/// Poll rounds per event (each round sends at most one segment per socket).
const MAX_ROUNDS: usize = 64;
/// MTU of the interface (the app's TUN).
const MTU: usize = 1500;
/// Live TCP connections at most; SYNs beyond get a RST.
pub const MAX_CONNECTIONS: usize = 4096;

/// The shell's side of `WorldHost` mode: the testbed's way of recording
/// what arrived and of answering it.
pub trait WorldHost: Send {
    /// A flow arrived (a TCP connection, a UDP datagram, an ICMP echo
    /// request, whose identifier stands in both ports): record it.
    fn saw(&mut self, proto: Proto, src: SocketAddrV4, dst: SocketAddrV4);
    /// The responder's answer to a flow on a port without a real endpoint:
    /// for TCP what to send before closing (`request`: the first bytes the
    /// app sent, maybe none), for UDP the reply datagram.
    fn answer(&mut self, proto: Proto, src: SocketAddrV4, dst: SocketAddrV4, request: &[u8]) -> Vec<u8>;
}

/// What the platform answers beyond its real endpoints (table above).
pub enum Mode {
    /// `vnetlab run`: the real endpoints only.
    Endpoints,
    /// `vnetlab up` and live runs: every port, as a world host does.
    WorldHost(Box<dyn WorldHost>),
}

impl Instance {
    /// The instance the policy emulates.
    pub fn of(policy: &Policy) -> Instance {
        let name = match &policy.sender {
            Sender::Site { name, .. } => name.clone(),
            Sender::Nic => policy.subnet_name.replace('/', "-"),
        };
        Instance::new(&name, &policy.tags.region, None, policy.instance_ip(), policy.instance_subnet())
    }
}

/// The real endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Service {
    Dns,
    Wireserver,
    Imds,
    /// `WorldHost` mode, any other port.
    Responder,
}

fn service(dst: Ipv4Addr, port: u16, world_host: bool) -> Option<Service> {
    match (dst, port) {
        (AZURE_DNS, 53) => Some(Service::Dns),
        (AZURE_DNS, 80) => Some(Service::Wireserver),
        (IMDS, 80) => Some(Service::Imds),
        _ if world_host => Some(Service::Responder),
        _ => None,
    }
}

fn instant(t: Timestamp) -> Instant {
    Instant::from_micros((t.as_nanos() / 1000) as i64)
}

fn timestamp(i: Instant) -> Timestamp {
    Timestamp(i.total_micros().max(0) as u64 * 1000)
}

fn ms(t: Timestamp, ms: u64) -> Timestamp {
    Timestamp(t.0.saturating_add(ms.saturating_mul(1_000_000)))
}

/// The device between smoltcp and the caller: the one packet being
/// received, and the packets sent.
struct Wire {
    rx: Option<Vec<u8>>,
    tx: std::collections::VecDeque<Vec<u8>>,
}

struct RxToken(Vec<u8>);
struct TxToken<'a>(&'a mut std::collections::VecDeque<Vec<u8>>);

impl phy::RxToken for RxToken {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl phy::TxToken for TxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut buf = vec![0u8; len];
        let r = f(&mut buf);
        self.0.push_back(buf);
        r
    }
}

impl Device for Wire {
    type RxToken<'a> = RxToken;
    type TxToken<'a> = TxToken<'a>;

    fn receive(&mut self, _: Instant) -> Option<(RxToken, TxToken<'_>)> {
        let pkt = self.rx.take()?;
        Some((RxToken(pkt), TxToken(&mut self.tx)))
    }

    fn transmit(&mut self, _: Instant) -> Option<TxToken<'_>> {
        Some(TxToken(&mut self.tx))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut checksum = ChecksumCapabilities::default();
        checksum.ipv4 = Checksum::Tx;
        checksum.udp = Checksum::Tx;
        checksum.tcp = Checksum::Tx;
        checksum.icmpv4 = Checksum::Tx;
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ip;
        caps.max_transmission_unit = MTU;
        caps.checksum = checksum;
        caps
    }
}

/// A connection: the app's tuple (app address and port, platform address and port).
type Key = (Ipv4Addr, u16, Ipv4Addr, u16);

/// One TCP connection and its own socket set.
struct Conn {
    sockets: SocketSet<'static>,
    handle: SocketHandle,
    service: Service,
    src: SocketAddrV4,
    dst: SocketAddrV4,
    /// Bytes received and not yet consumed.
    request: Vec<u8>,
    /// Bytes to send that the socket's buffer has not taken yet.
    pending: Vec<u8>,
    /// HTTP and responder: the answer is decided (then close once sent).
    answered: bool,
    closing: bool,
    opened: Timestamp,
    last_activity: Timestamp,
    /// Its entry in `Platform::timers`.
    wake: Option<Timestamp>,
}

/// What the endpoints need from outside for one event.
struct Ctx<'a> {
    now: Timestamp,
    resolve: &'a dyn Fn(&str) -> Resolution,
    mode: &'a mut Mode,
    instance: &'a Instance,
}

impl Conn {
    fn new(key: Key, service: Service, now: Timestamp) -> Conn {
        let mut socket = tcp::Socket::new(tcp::SocketBuffer::new(vec![0; SOCKET_BUFFER]), tcp::SocketBuffer::new(vec![0; SOCKET_BUFFER]));
        socket.set_ack_delay(None);
        socket.set_nagle_enabled(false);
        // Cannot fail: the port is not 0 and the socket is closed.
        let _ = socket.listen(key.3);
        let mut sockets = SocketSet::new(Vec::with_capacity(1));
        let handle = sockets.add(socket);
        Conn {
            sockets,
            handle,
            service,
            src: SocketAddrV4::new(key.0, key.1),
            dst: SocketAddrV4::new(key.2, key.3),
            request: Vec::new(),
            pending: Vec::new(),
            answered: false,
            closing: false,
            opened: now,
            last_activity: now,
            wake: None,
        }
    }

    fn state(&self) -> tcp::State {
        self.sockets.get::<tcp::Socket>(self.handle).state()
    }

    /// Moves bytes between the socket and the endpoint; true if anything happened.
    fn serve(&mut self, cx: &mut Ctx) -> bool {
        let sock = self.sockets.get_mut::<tcp::Socket>(self.handle);
        let mut progressed = false;
        while sock.can_recv() && self.request.len() < MAX_REQUEST {
            let room = MAX_REQUEST - self.request.len();
            let got = sock.recv(|buf| {
                let n = buf.len().min(room);
                self.request.extend_from_slice(&buf[..n]);
                (n, n)
            });
            match got {
                Ok(n) if n > 0 => {
                    progressed = true;
                    self.last_activity = cx.now;
                }
                _ => break,
            }
        }
        let peer_closed = matches!(sock.state(), tcp::State::CloseWait | tcp::State::LastAck | tcp::State::Closing | tcp::State::TimeWait);
        let established = sock.may_send();
        match self.service {
            Service::Dns => {
                // RFC 1035 4.2.2: each message after its 2-byte length.
                while let Some(&[a, b]) = self.request.get(..2) {
                    let len = usize::from(u16::from_be_bytes([a, b]));
                    let Some(msg) = self.request.get(2..2 + len) else { break };
                    let mut out = vec![0u8; 2 + dnswire::MAX_TCP_MESSAGE];
                    if let dnswire::Reply::Answer(n) | dnswire::Reply::Error(n) =
                        dnswire::reply(msg, dnswire::MAX_TCP_MESSAGE, false, cx.resolve, &mut out[2..])
                    {
                        out[..2].copy_from_slice(&(n as u16).to_be_bytes());
                        self.pending.extend_from_slice(&out[..2 + n]);
                    }
                    self.request.drain(..2 + len);
                    progressed = true;
                }
            }
            Service::Wireserver | Service::Imds if !self.answered => {
                let answer = match http::parse_head(&self.request) {
                    http::Head::Incomplete if !peer_closed && self.request.len() < MAX_REQUEST => None,
                    http::Head::Incomplete | http::Head::Bad => Some(http::bad_request()),
                    http::Head::Request(req) if self.service == Service::Imds => Some(http::imds(&req, cx.instance)),
                    http::Head::Request(req) => Some(http::wireserver(&req)),
                };
                if let Some(a) = answer {
                    self.pending = a;
                    self.answered = true;
                    progressed = true;
                }
            }
            Service::Responder if !self.answered && established => {
                let due = !self.request.is_empty() || peer_closed || cx.now >= ms(self.opened, FIRST_BYTES_MS);
                if let (true, Mode::WorldHost(host)) = (due, &mut *cx.mode) {
                    self.pending = host.answer(Proto::Tcp, self.src, self.dst, &self.request);
                    self.answered = true;
                    progressed = true;
                }
            }
            _ => {}
        }
        if !self.pending.is_empty() && sock.may_send() {
            let n = sock.send_slice(&self.pending).unwrap_or(0);
            if n > 0 {
                self.pending.drain(..n);
                progressed = true;
                self.last_activity = cx.now;
            }
        }
        let done = match self.service {
            Service::Dns => peer_closed,
            _ => self.answered,
        };
        let idle = cx.now >= self.last_activity.saturating_add_secs(IDLE_SECS);
        if !self.closing && ((done && self.pending.is_empty()) || idle) {
            sock.close();
            self.closing = true;
            progressed = true;
        }
        progressed
    }

    /// When this connection wants to be polled again.
    fn next_wake(&self, iface: &mut Interface, now: Timestamp) -> Option<Timestamp> {
        let mut next = iface.poll_at(instant(now), &self.sockets).map(timestamp);
        let mut at = |t: Timestamp| next = Some(next.map_or(t, |n| n.min(t)));
        if self.service == Service::Responder && !self.answered {
            at(ms(self.opened, FIRST_BYTES_MS));
        }
        if !self.closing {
            at(self.last_activity.saturating_add_secs(IDLE_SECS));
        }
        // Never in the past: what was due has just been polled.
        next.map(|t| t.max(ms(now, 1)))
    }
}

/// The platform host: its endpoints, their connections and timers.
pub struct Platform {
    iface: Interface,
    wire: Wire,
    conns: HashMap<Key, Conn>,
    /// (when, connection): the connections' next wake-ups, earliest first.
    timers: BTreeSet<(Timestamp, Key)>,
    /// For packets that belong to no connection.
    empty: SocketSet<'static>,
    mode: Mode,
    instance: Instance,
}

impl Platform {
    pub fn new(instance: Instance, mode: Mode) -> Platform {
        let mut wire = Wire { rx: None, tx: Default::default() };
        let mut config = Config::new(HardwareAddress::Ip);
        config.random_seed = 0x0076_6e65_746c_6162;
        let mut iface = Interface::new(config, &mut wire, Instant::ZERO);
        iface.update_ip_addrs(|a| {
            // Two addresses fit the default capacity (iface-max-addr-count-2).
            let _ = a.push(IpCidr::new(AZURE_DNS.into(), 32));
            let _ = a.push(IpCidr::new(IMDS.into(), 32));
        });
        // Any-IP: a packet to any address routed via one of ours is ours.
        iface.set_any_ip(true);
        let _ = iface.routes_mut().add_default_ipv4_route(AZURE_DNS);
        Platform { iface, wire, conns: HashMap::new(), timers: BTreeSet::new(), empty: SocketSet::new(Vec::new()), mode, instance }
    }

    pub fn instance(&self) -> &Instance {
        &self.instance
    }

    /// Live TCP connections.
    pub fn connections(&self) -> usize {
        self.conns.len()
    }

    /// A packet of a platform flow from the app (`Verdict::ToPlatform`; IP,
    /// no device header). `resolve` is the policy's DNS (`Policy::resolve`).
    /// What the endpoints send back is queued: take it with [`Platform::pop`].
    pub fn from_app(&mut self, pkt: &[u8], now: Timestamp, resolve: &dyn Fn(&str) -> Resolution) {
        let Ok(p) = packet::parse(pkt) else { return };
        let world_host = matches!(self.mode, Mode::WorldHost(_));
        let src = SocketAddrV4::new(p.src, p.src_port);
        let dst = SocketAddrV4::new(p.dst, p.dst_port);
        let pkt = &pkt[..p.len];
        match p.transport {
            Transport::Tcp { flags, .. } => {
                let key = (p.src, p.src_port, p.dst, p.dst_port);
                let fresh_syn = flags.syn() && !flags.ack();
                if fresh_syn && self.conns.get(&key).is_some_and(|c| c.state() == tcp::State::TimeWait) {
                    // The app reuses the tuple of a connection in TIME-WAIT: a new one.
                    self.forget(key);
                }
                if !self.conns.contains_key(&key) {
                    let opens = fresh_syn && self.conns.len() < MAX_CONNECTIONS;
                    match service(p.dst, p.dst_port, world_host).filter(|_| opens) {
                        Some(svc) => {
                            if let Mode::WorldHost(host) = &mut self.mode {
                                host.saw(Proto::Tcp, src, dst);
                            }
                            self.conns.insert(key, Conn::new(key, svc, now));
                        }
                        None => return self.stateless(pkt, now),
                    }
                }
                self.wire.rx = Some(pkt.to_vec());
                self.drive(key, now, resolve);
            }
            Transport::Udp { payload_len } => {
                let payload = &pkt[p.l4 + 8..p.l4 + 8 + payload_len];
                let answer = if (p.dst, p.dst_port) == (AZURE_DNS, 53) {
                    let mut out = vec![0u8; packet::UDP_REPLY_PAYLOAD + dnswire::MAX_UDP_MESSAGE];
                    match dnswire::reply(payload, dnswire::MAX_UDP_MESSAGE, false, resolve, &mut out[packet::UDP_REPLY_PAYLOAD..]) {
                        dnswire::Reply::Answer(n) | dnswire::Reply::Error(n) => Some((out, n)),
                        // Not asked for (`upstream` is false).
                        dnswire::Reply::Drop | dnswire::Reply::Upstream => None,
                    }
                } else if let Mode::WorldHost(host) = &mut self.mode {
                    host.saw(Proto::Udp, src, dst);
                    let a = host.answer(Proto::Udp, src, dst, payload);
                    let n = a.len().min(MTU - packet::UDP_REPLY_PAYLOAD);
                    let mut out = vec![0u8; packet::UDP_REPLY_PAYLOAD + n];
                    out[packet::UDP_REPLY_PAYLOAD..].copy_from_slice(&a[..n]);
                    Some((out, n))
                } else {
                    // No port here: smoltcp's ICMP port unreachable.
                    return self.stateless(pkt, now);
                };
                if let Some((mut out, n)) = answer {
                    if let Some(len) = packet::finish_udp_reply(&mut out, p.dst, p.dst_port, p.src, p.src_port, n) {
                        out.truncate(len);
                        self.wire.tx.push_back(out);
                    }
                }
            }
            Transport::IcmpEcho { request: true } => {
                if let Mode::WorldHost(host) = &mut self.mode {
                    host.saw(Proto::Icmp, src, SocketAddrV4::new(p.dst, p.src_port));
                    self.stateless(pkt, now);
                }
            }
            _ => {}
        }
    }

    /// Polls the connections whose timers are due.
    pub fn poll(&mut self, now: Timestamp, resolve: &dyn Fn(&str) -> Resolution) {
        while let Some(&(at, key)) = self.timers.first() {
            if at > now {
                break;
            }
            self.timers.pop_first();
            if let Some(c) = self.conns.get_mut(&key) {
                c.wake = None;
            }
            self.drive(key, now, resolve);
        }
    }

    /// When [`Platform::poll`] is next wanted (None: no timers).
    pub fn poll_at(&self) -> Option<Timestamp> {
        self.timers.first().map(|&(at, _)| at)
    }

    /// The next packet for the app (IP, checksums complete).
    pub fn pop(&mut self) -> Option<Vec<u8>> {
        self.wire.tx.pop_front()
    }

    fn forget(&mut self, key: Key) {
        if let Some(at) = self.conns.remove(&key).and_then(|c| c.wake) {
            self.timers.remove(&(at, key));
        }
    }

    /// A packet that belongs to no connection: smoltcp answers it as a
    /// host with nothing on that port (RST, port unreachable, echo reply).
    fn stateless(&mut self, pkt: &[u8], now: Timestamp) {
        self.wire.rx = Some(pkt.to_vec());
        self.iface.poll(instant(now), &mut self.wire, &mut self.empty);
        self.wire.rx = None;
    }

    /// Polls one connection (with the packet in `wire.rx`, if any) until it
    /// has nothing more to say, then files its next wake-up or removes it.
    fn drive(&mut self, key: Key, now: Timestamp, resolve: &dyn Fn(&str) -> Resolution) {
        let Some(conn) = self.conns.get_mut(&key) else { return };
        let mut cx = Ctx { now, resolve, mode: &mut self.mode, instance: &self.instance };
        for _ in 0..MAX_ROUNDS {
            let polled = self.iface.poll(instant(now), &mut self.wire, &mut conn.sockets);
            let served = conn.serve(&mut cx);
            if polled == PollResult::None && !served {
                break;
            }
        }
        self.wire.rx = None;
        if let Some(old) = conn.wake.take() {
            self.timers.remove(&(old, key));
        }
        if conn.state() == tcp::State::Closed {
            self.conns.remove(&key);
            return;
        }
        conn.wake = conn.next_wake(&mut self.iface, now);
        if let Some(at) = conn.wake {
            self.timers.insert((at, key));
        }
    }
}
