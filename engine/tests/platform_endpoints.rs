//! The platform host's endpoints, driven as the engine drives them (the
//! datapath, then `Platform`, then `Datapath::from_platform`) with packets
//! built by etherparse and an injected clock: no namespace, no root, no
//! real time. The app side is a small TCP client written out here.
//!
//! Scenario: the embedded default (site func-app, instance 10.0.2.4 in
//! 10.0.2.0/24; stfuncdata.blob.core.windows.net resolves through its
//! private endpoint to 10.0.1.4).

use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;

use etherparse::{IcmpEchoHeader, Icmpv4Type, NetSlice, PacketBuilder, SlicedPacket, TransportSlice};
use serde_json::Value;
use vnetlab_core::datapath::packet::Offload;
use vnetlab_core::datapath::{Datapath, DatapathOptions, Verdict};
use vnetlab_core::decision::{World, AZURE_DNS, IMDS};
use vnetlab_core::platform::{Instance, Mode, Platform};
use vnetlab_core::policy::Policy;
use vnetlab_core::time::Timestamp;
use vnetlab_engine::live::PlatformHost;
use vnetlab_testbed::dnsq::{self, DnsAnswer};
use vnetlab_testbed::{Seen, SeenLog, SeenProto};

const APP: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 4);
const CLIENT_ISN: u32 = 1000;

fn policy() -> Policy {
    vnetlab_core::scenario::load_policy(&vnetlab_engine::disk::Disk, &Default::default(), &Default::default()).expect("embedded scenario")
}

/// The engine's two sans-IO halves and a clock.
struct Host {
    dp: Datapath<Policy>,
    pf: Platform,
    now: Timestamp,
}

impl Host {
    fn new(mode: Mode) -> Host {
        let policy = policy();
        assert_eq!(policy.instance_ip(), APP);
        let pf = Platform::new(Instance::of(&policy), mode);
        Host { dp: Datapath::new(policy, DatapathOptions::default()), pf, now: Timestamp::from_secs(1) }
    }

    /// An app packet through the datapath; what comes back to the app.
    fn send(&mut self, mut pkt: Vec<u8>) -> Vec<Vec<u8>> {
        let mut reply = [0u8; 2048];
        match self.dp.from_app(&mut pkt, Offload::default(), self.now, &mut reply) {
            Verdict::ToPlatform => {
                self.pf.from_app(&pkt, self.now, &|n| self.dp.policy().resolve(n));
                self.drain()
            }
            Verdict::ReplyToApp { len } => vec![reply[..len].to_vec()],
            v => panic!("unexpected verdict {v:?}"),
        }
    }

    fn drain(&mut self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while let Some(mut p) = self.pf.pop() {
            assert_eq!(self.dp.from_platform(&mut p, self.now), Verdict::ToApp, "the platform answers on its flow");
            out.push(p);
        }
        out
    }

    /// Lets `ms` pass and runs the platform's due timers.
    fn advance(&mut self, ms: u64) -> Vec<Vec<u8>> {
        self.now = Timestamp(self.now.0 + ms * 1_000_000);
        self.pf.poll(self.now, &|n| self.dp.policy().resolve(n));
        self.drain()
    }
}

/// A TCP segment as etherparse sees it.
struct Seg {
    seq: u32,
    syn: bool,
    fin: bool,
    rst: bool,
    payload: Vec<u8>,
    src: SocketAddrV4,
    dst: SocketAddrV4,
}

fn seg(pkt: &[u8]) -> Option<Seg> {
    let s = SlicedPacket::from_ip(pkt).expect("an IPv4 packet");
    let Some(NetSlice::Ipv4(ip)) = &s.net else { return None };
    let (src, dst) = (ip.header().source_addr(), ip.header().destination_addr());
    match s.transport {
        Some(TransportSlice::Tcp(t)) => Some(Seg {
            seq: t.sequence_number(),
            syn: t.syn(),
            fin: t.fin(),
            rst: t.rst(),
            payload: t.payload().to_vec(),
            src: SocketAddrV4::new(src, t.source_port()),
            dst: SocketAddrV4::new(dst, t.destination_port()),
        }),
        _ => None,
    }
}

/// The client's control flag.
#[derive(Clone, Copy, PartialEq)]
enum Ctl {
    Syn,
    Fin,
    None,
}

fn tcp(sport: u16, dst: Ipv4Addr, dport: u16, seq: u32, ack: Option<u32>, ctl: Ctl, payload: &[u8]) -> Vec<u8> {
    let mut b = PacketBuilder::ipv4(APP.octets(), dst.octets(), 64).tcp(sport, dport, seq, 64240);
    match ctl {
        Ctl::Syn => b = b.syn(),
        Ctl::Fin => b = b.fin(),
        Ctl::None => {}
    }
    if let Some(a) = ack {
        b = b.ack(a);
    }
    if !payload.is_empty() {
        b = b.psh();
    }
    let mut out = Vec::new();
    b.write(&mut out, payload).unwrap();
    out
}

/// What a TCP exchange showed.
#[derive(Debug, Default)]
struct Exchange {
    /// The platform answered the SYN with a SYN-ACK.
    accepted: bool,
    reset: bool,
    /// The platform closed (FIN) after this data.
    closed: bool,
    data: Vec<u8>,
}

impl Exchange {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.data).into_owned()
    }
}

/// Connects from `sport`, sends `request` (maybe nothing), reads until the
/// platform closes or resets (bounded in rounds of 100 ms), closes.
fn exchange(h: &mut Host, sport: u16, dst: Ipv4Addr, dport: u16, request: &[u8]) -> Exchange {
    exchange_with(h, sport, dst, dport, request, false)
}

/// `exchange`; with `close_first` the client closes once answers stopped coming.
fn exchange_with(h: &mut Host, sport: u16, dst: Ipv4Addr, dport: u16, request: &[u8], close_first: bool) -> Exchange {
    let mut ex = Exchange::default();
    let mut next = None::<u32>; // next sequence number expected from the platform
    let mut inbox = h.send(tcp(sport, dst, dport, CLIENT_ISN, None, Ctl::Syn, &[]));
    let mut my_seq = CLIENT_ISN + 1;
    let mut sent_request = false;
    let mut sent_fin = false;
    for _ in 0..100 {
        let mut got = false;
        for s in inbox.drain(..).filter_map(|p| seg(&p)) {
            assert_eq!((s.src, s.dst), (SocketAddrV4::new(dst, dport), SocketAddrV4::new(APP, sport)), "the platform answers from where the app sent to");
            if s.rst {
                ex.reset = true;
                return ex;
            }
            if s.syn {
                ex.accepted = true;
                next = Some(s.seq.wrapping_add(1));
                got = true;
                continue;
            }
            let Some(n) = next else { continue };
            if s.seq == n && !s.payload.is_empty() {
                ex.data.extend_from_slice(&s.payload);
                next = Some(n.wrapping_add(s.payload.len() as u32));
                got = true;
            }
            if s.fin && next == Some(s.seq.wrapping_add(s.payload.len() as u32)) {
                next = next.map(|n| n.wrapping_add(1));
                ex.closed = true;
                got = true;
            }
        }
        if ex.closed && sent_fin {
            h.send(tcp(sport, dst, dport, my_seq, next, Ctl::None, &[]));
            return ex;
        }
        if let (Some(ack), false) = (next, sent_request) {
            inbox = h.send(tcp(sport, dst, dport, my_seq, Some(ack), Ctl::None, request));
            my_seq += request.len() as u32;
            sent_request = true;
            continue;
        }
        if (ex.closed || (close_first && !got && !ex.data.is_empty())) && !sent_fin {
            inbox = h.send(tcp(sport, dst, dport, my_seq, next, Ctl::Fin, &[]));
            my_seq += 1;
            sent_fin = true;
            continue;
        }
        inbox = if got { h.send(tcp(sport, dst, dport, my_seq, next, Ctl::None, &[])) } else { h.advance(100) };
    }
    ex
}

fn http_get(h: &mut Host, sport: u16, dst: Ipv4Addr, target: &str, headers: &str) -> (String, String) {
    let req = format!("GET {target} HTTP/1.1\r\nHost: {dst}\r\nUser-Agent: curl/8.0\r\n{headers}Accept: */*\r\n\r\n");
    let ex = exchange(h, sport, dst, 80, req.as_bytes());
    assert!(ex.accepted && ex.closed, "{ex:?}");
    let text = ex.text();
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP response");
    (head.lines().next().unwrap_or("").to_string(), body.to_string())
}

fn udp(sport: u16, dst: Ipv4Addr, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ipv4(APP.octets(), dst.octets(), 64).udp(sport, dport).write(&mut out, payload).unwrap();
    out
}

fn udp_payload(pkt: &[u8]) -> Vec<u8> {
    match SlicedPacket::from_ip(pkt).unwrap().transport {
        Some(TransportSlice::Udp(u)) => u.payload().to_vec(),
        _ => panic!("not UDP"),
    }
}

fn echo(dst: Ipv4Addr, id: u16) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ipv4(APP.octets(), dst.octets(), 64).icmpv4_echo_request(id, 1).write(&mut out, b"vnetlab").unwrap();
    out
}

fn icmp_type(pkt: &[u8]) -> Option<Icmpv4Type> {
    match SlicedPacket::from_ip(pkt).ok()?.transport {
        Some(TransportSlice::Icmpv4(i)) => Some(i.icmp_type()),
        _ => None,
    }
}

#[test]
fn dns_over_tcp_answers_what_udp_answers() {
    let mut h = Host::new(Mode::Endpoints);
    let name = "stfuncdata.blob.core.windows.net";
    let query = dnsq::build_query(0x4242, name).unwrap();
    let over_udp = h.send(udp(33000, AZURE_DNS, 53, &query));
    assert_eq!(over_udp.len(), 1);
    let udp_msg = udp_payload(&over_udp[0]);
    assert_eq!(dnsq::parse_answer(0x4242, &udp_msg), Some(DnsAnswer::Addresses(vec![Ipv4Addr::new(10, 0, 1, 4)])));

    // Two framed queries on one connection (RFC 7766 pipelining).
    let other = dnsq::build_query(7, "www.example.org").unwrap();
    let mut framed = Vec::new();
    for q in [&query, &other] {
        framed.extend_from_slice(&(q.len() as u16).to_be_bytes());
        framed.extend_from_slice(q);
    }
    let ex = exchange_with(&mut h, 40000, AZURE_DNS, 53, &framed, true);
    assert!(ex.accepted && !ex.reset, "{ex:?}");
    let d = &ex.data;
    let len = usize::from(u16::from_be_bytes([d[0], d[1]]));
    assert_eq!(&d[2..2 + len], &udp_msg[..], "the same answer over TCP as over UDP");
    let rest = &d[2 + len..];
    let len2 = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
    assert_eq!(rest.len(), 2 + len2);
    assert_eq!(dnsq::parse_answer(7, &rest[2..]), Some(DnsAnswer::Addresses(vec![Ipv4Addr::new(198, 51, 100, 80)])));
    assert!(ex.closed, "closes after the client does");
    assert_eq!(h.pf.connections(), 0, "nothing left once both sides closed");
}

#[test]
fn imds_answers_with_metadata_true_and_refuses_without() {
    let mut h = Host::new(Mode::Endpoints);
    let (status, body) = http_get(&mut h, 40001, IMDS, "/metadata/instance?api-version=2021-02-01", "Metadata: true\r\n");
    assert_eq!(status, "HTTP/1.1 200 OK");
    let v: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(v["compute"]["name"], "func-app");
    assert_eq!(v["compute"]["location"], "westeurope");
    assert_eq!(v["network"]["interface"][0]["ipv4"]["ipAddress"][0]["privateIpAddress"], "10.0.2.4");
    assert_eq!(v["network"]["interface"][0]["ipv4"]["subnet"][0]["prefix"], "24");

    let (status, body) = http_get(&mut h, 40002, IMDS, "/metadata/instance?api-version=2021-02-01", "");
    assert_eq!(status, "HTTP/1.1 400 Bad Request");
    assert_eq!(body, r#"{"error":"Bad request. Required metadata header not specified"}"#);
}

#[test]
fn wireserver_answers_versions() {
    let mut h = Host::new(Mode::Endpoints);
    let (status, body) = http_get(&mut h, 40003, AZURE_DNS, "/?comp=versions", "");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(body.contains("<Preferred>\n    <Version>2015-04-05</Version>"), "{body}");
    // The same source port again while the first connection is in TIME-WAIT.
    assert_eq!(h.pf.connections(), 1, "TIME-WAIT");
    assert_eq!(http_get(&mut h, 40003, AZURE_DNS, "/?comp=versions", "").0, "HTTP/1.1 200 OK");
    h.advance(11_000);
    assert_eq!(h.pf.connections(), 0, "TIME-WAIT over");
    // Not HTTP at all: 400 at once.
    let ex = exchange(&mut h, 40004, AZURE_DNS, 80, b"vnetlab-probe\n");
    assert!(ex.text().starts_with("HTTP/1.1 400 "), "{ex:?}");
}

#[test]
fn run_mode_refuses_other_ports() {
    let mut h = Host::new(Mode::Endpoints);
    for port in [8080, 32526, 443] {
        let ex = exchange(&mut h, 41000 + port % 1000, AZURE_DNS, port, b"x");
        assert!(ex.reset && !ex.accepted, "tcp {port}: {ex:?}");
    }
    let ex = exchange(&mut h, 41999, IMDS, 443, b"");
    assert!(ex.reset, "{ex:?}");
    let out = h.send(udp(33001, AZURE_DNS, 123, b"ntp?"));
    assert_eq!(out.len(), 1);
    assert!(matches!(icmp_type(&out[0]), Some(Icmpv4Type::DestinationUnreachable(etherparse::icmpv4::DestUnreachableHeader::Port))), "port unreachable");
    assert!(h.send(echo(AZURE_DNS, 9)).is_empty(), "no echo reply in run mode");
    assert!(h.send(echo(IMDS, 9)).is_empty());
    let c = h.dp.counters();
    assert_eq!(c.unaccounted(), 0, "{c:?}");
}

fn up_mode() -> (Host, Arc<SeenLog>) {
    let log = Arc::new(SeenLog::default());
    (Host::new(PlatformHost::World(log.clone()).mode()), log)
}

fn line_of(ex: &Exchange) -> Seen {
    Seen::parse_line(&ex.text()).unwrap_or_else(|| panic!("no responder line: {ex:?}"))
}

#[test]
fn up_mode_answers_every_port_as_a_world_host() {
    let (mut h, log) = up_mode();
    let platform = World::Platform.name();
    for (dst, port) in [(AZURE_DNS, 8080), (AZURE_DNS, 32526), (IMDS, 443)] {
        let ex = exchange(&mut h, 42000, dst, port, b"vnetlab-probe\n");
        let seen = line_of(&ex);
        assert_eq!((seen.world.as_str(), seen.proto), (platform, SeenProto::Tcp));
        assert_eq!((seen.src, seen.dst), (SocketAddrV4::new(APP, 42000), SocketAddrV4::new(dst, port)));
        assert_eq!(ex.text(), format!("{seen}\n"), "the testbed responder's exact answer");
        assert!(ex.closed);
    }
    // HTTP gets the line inside a 200, as from a world's responder.
    let ex = exchange(&mut h, 42001, AZURE_DNS, 8080, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(ex.text().starts_with("HTTP/1.1 200 OK\r\n"), "{ex:?}");
    assert_eq!(line_of(&ex).dst.port(), 8080);
    // A client that sends nothing gets the line after the first-bytes wait.
    let ex = exchange(&mut h, 42002, AZURE_DNS, 9000, b"");
    assert_eq!(line_of(&ex).dst.port(), 9000);

    // UDP: any port but 53 gets the line; 53 is DNS.
    let out = h.send(udp(33002, AZURE_DNS, 123, b"vnetlab-probe\n"));
    let seen = Seen::parse_line(&String::from_utf8(udp_payload(&out[0])).unwrap()).expect("a line");
    assert_eq!((seen.proto, seen.src, seen.dst), (SeenProto::Udp, SocketAddrV4::new(APP, 33002), SocketAddrV4::new(AZURE_DNS, 123)));
    let query = dnsq::build_query(5, "stfuncdata.blob.core.windows.net").unwrap();
    let out = h.send(udp(33003, AZURE_DNS, 53, &query));
    assert_eq!(dnsq::parse_answer(5, &udp_payload(&out[0])), Some(DnsAnswer::Addresses(vec![Ipv4Addr::new(10, 0, 1, 4)])));

    // ICMP echo: answered, and recorded as the testbed's ICMP observer would.
    for dst in [AZURE_DNS, IMDS] {
        let out = h.send(echo(dst, 77));
        assert_eq!(out.len(), 1);
        assert!(matches!(icmp_type(&out[0]), Some(Icmpv4Type::EchoReply(IcmpEchoHeader { id: 77, seq: 1 }))));
        let seen = log.find_last(|s| s.proto == SeenProto::Icmp && *s.dst.ip() == dst).expect("recorded");
        assert_eq!((seen.world.as_str(), *seen.src.ip()), (platform, APP));
    }

    // The real endpoints still answer as themselves, and are recorded.
    let (status, _) = http_get(&mut h, 42003, IMDS, "/metadata/instance?api-version=2021-02-01", "Metadata: true\r\n");
    assert_eq!(status, "HTTP/1.1 200 OK");
    let seen = log.find_last(|s| s.dst == SocketAddrV4::new(IMDS, 80)).expect("recorded");
    assert_eq!((seen.world.as_str(), seen.src), (platform, SocketAddrV4::new(APP, 42003)));

    let c = h.dp.counters();
    assert_eq!(c.unaccounted(), 0, "{c:?}");
    assert!(c.to_platform.packets > 0 && c.from_platform.packets > 0);
}

#[test]
fn platform_flows_are_in_the_flow_log() {
    let (mut h, _) = up_mode();
    exchange(&mut h, 43000, AZURE_DNS, 8080, b"hello");
    h.dp.end_all(h.now);
    let mut records = Vec::new();
    h.dp.drain_log(&mut records);
    let end = records.iter().find(|r| r.flow.dst_port == 8080 && r.state == vnetlab_core::datapath::flowlog::RecordState::End).expect("an end record");
    assert_eq!(end.world, Some(World::Platform));
    assert_eq!(end.translated, Some((APP, 43000)), "private source, port kept");
    assert!(end.out.packets >= 3 && end.inb.packets >= 3, "{:?} {:?}", end.out, end.inb);
}
