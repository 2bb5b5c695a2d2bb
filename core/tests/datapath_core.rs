//! The datapath driven with real packets and a hand-built policy (decisions
//! made by a small fake), virtual time only: translation and return traffic,
//! timeouts, FIN/RST, deny vs reject, DNS, ICMP errors, SNAT exhaustion,
//! malformed input.

mod common;

use std::net::Ipv4Addr;

use common::{checked, tcp, Tcp};
use etherparse::{Ipv4Header, PacketBuilder, TcpHeader, UdpHeader};
use proptest::prelude::*;
use vnetlab_core::datapath::flowlog::{FlowRecord, RecordState};
use vnetlab_core::datapath::packet::{self, Offload};
use vnetlab_core::datapath::{Datapath, DatapathOptions, DropCause, PolicyView, Verdict};
use vnetlab_core::decision::{AppRouting, BlockedBy, Decision, DropReason, NatGatewayInfo, NextHopType, World};
use vnetlab_core::decision::{Resolution, RuleIdx, SourceNat};
use vnetlab_core::flow::Flow;
use vnetlab_core::time::Timestamp;

const APP: [u8; 4] = [10, 0, 1, 4];
const VM: [u8; 4] = [10, 0, 2, 5];
const WEB: [u8; 4] = [198, 18, 0, 9];
const NAT_IP: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 10);
const SITE_IP: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 77);
const WIRESERVER: [u8; 4] = [168, 63, 129, 16];

/// A site: 10/8 is the VNet (private source), 168.63.129.16 the platform,
/// TCP/UDP port 25 denied by a user rule, everything else to the internet
/// through the NAT gateway if there is one, else the site's outbound address.
struct FakePolicy {
    nat: Option<NatGatewayInfo>,
    outbound: Vec<Ipv4Addr>,
}

fn site(nat: bool, idle_minutes: u32) -> FakePolicy {
    FakePolicy {
        nat: nat.then(|| NatGatewayInfo { name: "nat".into(), public_ips: vec![NAT_IP], idle_timeout_minutes: idle_minutes }),
        outbound: vec![SITE_IP],
    }
}

impl PolicyView for FakePolicy {
    fn decide(&self, f: &Flow) -> Decision {
        let snat = if self.nat.is_some() { SourceNat::NatGateway } else { SourceNat::SiteOutbound };
        let mut d = Decision { nsg_rule: Some(1), ..common::internet_allowed(Ipv4Addr::from(APP), snat) };
        if f.dst == Ipv4Addr::from(WIRESERVER) {
            d.world = World::Platform;
            d.app_routing = AppRouting::Platform;
            (d.route, d.next_hop, d.nsg_rule, d.snat) = (None, None, None, SourceNat::Private);
        } else if f.dst.octets()[0] == 10 {
            (d.world, d.snat, d.next_hop) = (World::Vnet, SourceNat::Private, Some(NextHopType::VnetLocal));
        } else if f.dst_port == 25 {
            (d.allowed, d.nsg_rule, d.blocked_by, d.drop_reason) = (false, Some(0), Some(BlockedBy::Nsg), Some(DropReason::NsgDeny));
        }
        d
    }
    fn nat_gateway(&self) -> Option<&NatGatewayInfo> {
        self.nat.as_ref()
    }
    fn outbound_ips(&self) -> &[Ipv4Addr] {
        &self.outbound
    }
    fn resolve(&self, name: &str) -> Resolution {
        if name == "db.internal.example" {
            Resolution::Addresses { addrs: vec![VM.into()], chain: vec![name.into()], answered_by: "zone".into(), placeholder: false }
        } else {
            Resolution::NxDomain { chain: vec![name.into()], answered_by: "azure".into(), public: false }
        }
    }
    fn rule_name(&self, idx: RuleIdx) -> &str {
        ["deny-smtp", "AllowInternetOutBound"][idx as usize % 2]
    }
}

fn dp(policy: FakePolicy, reject: bool) -> Datapath<FakePolicy> {
    Datapath::new(policy, DatapathOptions { reject, max_flows: 1000, seed: 42, ..Default::default() })
}

fn at(s: u64) -> Timestamp {
    Timestamp::from_secs(s)
}

fn udp(src: [u8; 4], dst: [u8; 4], sp: u16, dp: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv4(src, dst, 64).udp(sp, dp).write(&mut v, payload).unwrap();
    v
}

fn ports(b: &[u8]) -> (u16, u16) {
    let (ip, rest) = Ipv4Header::from_slice(b).unwrap();
    let _ = ip;
    (u16::from_be_bytes([rest[0], rest[1]]), u16::from_be_bytes([rest[2], rest[3]]))
}

struct Run {
    dp: Datapath<FakePolicy>,
    reply: [u8; 1500],
}

impl Run {
    fn new(policy: FakePolicy, reject: bool) -> Run {
        Run { dp: dp(policy, reject), reply: [0; 1500] }
    }
    fn app(&mut self, mut pkt: Vec<u8>, now: Timestamp) -> (Verdict, Vec<u8>) {
        let v = self.dp.from_app(&mut pkt, Offload::default(), now, &mut self.reply);
        match v {
            Verdict::ReplyToApp { len } => (v, self.reply[..len].to_vec()),
            _ => (v, pkt),
        }
    }
    fn world(&mut self, w: World, mut pkt: Vec<u8>, now: Timestamp) -> (Verdict, Vec<u8>) {
        let v = self.dp.from_world(w, &mut pkt, Offload::default(), now, &mut self.reply);
        (v, pkt)
    }
    fn log(&mut self) -> Vec<FlowRecord> {
        let mut v = Vec::new();
        self.dp.drain_log(&mut v);
        v
    }
    /// Opens a NAT'd TCP connection; returns the translated source port.
    fn connect(&mut self, sport: u16, now: Timestamp) -> u16 {
        let (v, out) = self.app(tcp(APP, WEB, sport, 443, Tcp::Syn), now);
        assert_eq!(v, Verdict::ToWorld(World::Internet));
        let nat_port = ports(&out).0;
        let nat_ip = checked(&out).0.source;
        let (v, _) = self.world(World::Internet, tcp(WEB, nat_ip, 443, nat_port, Tcp::SynAck), now);
        assert_eq!(v, Verdict::ToApp);
        nat_port
    }
}

#[test]
fn nat_gateway_translates_and_return_traffic_is_restored() {
    let mut r = Run::new(site(true, 4), false);
    let (v, out) = r.app(tcp(APP, WEB, 40000, 443, Tcp::Syn), at(1));
    assert_eq!(v, Verdict::ToWorld(World::Internet));
    let (ip, _) = checked(&out);
    assert_eq!((Ipv4Addr::from(ip.source), Ipv4Addr::from(ip.destination)), (NAT_IP, WEB.into()));
    let (nat_port, dport) = ports(&out);
    assert!(nat_port >= 1024);
    assert_eq!(dport, 443);

    let (v, back) = r.world(World::Internet, tcp(WEB, NAT_IP.octets(), 443, nat_port, Tcp::SynAck), at(1));
    assert_eq!(v, Verdict::ToApp);
    let (ip, _) = checked(&back);
    assert_eq!((ip.source, ip.destination), (WEB, APP));
    assert_eq!(ports(&back), (443, 40000));

    let log = r.log();
    assert_eq!(log.len(), 1);
    assert_eq!((log[0].state, log[0].translated), (RecordState::Begin, Some((NAT_IP, nat_port))));
    assert_eq!(log[0].rule.as_deref(), Some("DefaultRule_AllowInternetOutBound"));
    assert_eq!(r.dp.counters().flows_created, 1);
}

#[test]
fn world_packets_without_a_flow_are_dropped() {
    let mut r = Run::new(site(true, 4), false);
    let nat_port = r.connect(40000, at(0));
    let (v, _) = r.world(World::Internet, tcp(WEB, NAT_IP.octets(), 443, nat_port.wrapping_add(1), Tcp::Ack), at(1));
    assert_eq!(v, Verdict::Drop(DropCause::NoFlowFromWorld));
    let (v, _) = r.world(World::Internet, tcp(WEB, NAT_IP.octets(), 8443, nat_port, Tcp::Ack), at(1));
    assert_eq!(v, Verdict::Drop(DropCause::NoFlowFromWorld));
    let (v, _) = r.world(World::Vnet, tcp(WEB, NAT_IP.octets(), 443, nat_port, Tcp::Ack), at(1));
    assert_eq!(v, Verdict::Drop(DropCause::WrongWorld));
    assert_eq!(r.dp.counters().drops(DropCause::NoFlowFromWorld), 2);
}

#[test]
fn vnet_destinations_keep_the_private_source() {
    let mut r = Run::new(site(true, 4), false);
    let (v, out) = r.app(udp(APP, VM, 5000, 1433, b"x"), at(0));
    assert_eq!(v, Verdict::ToWorld(World::Vnet));
    assert_eq!(ports(&out), (5000, 1433));
    assert_eq!(checked(&out).0.source, APP);
    let (v, back) = r.world(World::Vnet, udp(VM, APP, 1433, 5000, b"y"), at(1));
    assert_eq!(v, Verdict::ToApp);
    assert_eq!(checked(&back).0.destination, APP);
}

#[test]
fn half_open_tcp_expires_after_30_seconds() {
    let mut r = Run::new(site(true, 4), false);
    let (_, out) = r.app(tcp(APP, WEB, 40000, 443, Tcp::Syn), at(0));
    let nat_port = ports(&out).0;
    r.dp.tick(at(29));
    assert_eq!(r.dp.active_flows(), 1);
    r.dp.tick(at(30));
    assert_eq!(r.dp.active_flows(), 0);
    let (v, _) = r.world(World::Internet, tcp(WEB, NAT_IP.octets(), 443, nat_port, Tcp::SynAck), at(31));
    assert_eq!(v, Verdict::Drop(DropCause::NoFlowFromWorld));
    let end = r.log().pop().unwrap();
    assert_eq!((end.state, end.reason), (RecordState::End, Some("half_open")));
}

fn idle_lifetime(policy: FakePolicy, last: u64, probes: [u64; 2]) -> [usize; 2] {
    let mut r = Run::new(policy, false);
    r.connect(40000, at(0));
    r.app(tcp(APP, WEB, 40000, 443, Tcp::Ack), at(last));
    probes.map(|t| {
        r.dp.tick(at(t));
        r.dp.active_flows()
    })
}

#[test]
fn established_idle_timeout_follows_the_nat_gateway() {
    assert_eq!(idle_lifetime(site(true, 4), 100, [339, 340]), [1, 0]);
    assert_eq!(idle_lifetime(site(true, 10), 100, [699, 700]), [1, 0]);
    // Without a NAT gateway (site outbound SNAT) the idle timeout is 4 min.
    assert_eq!(idle_lifetime(site(false, 0), 100, [339, 340]), [1, 0]);
}

#[test]
fn udp_idles_out_after_4_minutes() {
    let mut r = Run::new(site(true, 30), false);
    r.app(udp(APP, WEB, 5000, 443, b"q"), at(0));
    r.app(udp(APP, WEB, 5000, 443, b"q"), at(60));
    r.dp.tick(at(299));
    assert_eq!(r.dp.active_flows(), 1);
    r.dp.tick(at(300));
    assert_eq!(r.dp.active_flows(), 0);
}

#[test]
fn fin_both_ways_closes_and_lingers_briefly() {
    let mut r = Run::new(site(true, 4), false);
    let p = r.connect(40000, at(0));
    r.app(tcp(APP, WEB, 40000, 443, Tcp::Fin), at(5));
    let (v, _) = r.world(World::Internet, tcp(WEB, NAT_IP.octets(), 443, p, Tcp::Fin), at(5));
    assert_eq!(v, Verdict::ToApp);
    // The last ACK still passes during the linger.
    assert_eq!(r.app(tcp(APP, WEB, 40000, 443, Tcp::Ack), at(6)).0, Verdict::ToWorld(World::Internet));
    r.dp.tick(at(14));
    assert_eq!(r.dp.active_flows(), 1);
    r.dp.tick(at(15));
    assert_eq!(r.dp.active_flows(), 0);
    let end = r.log().pop().unwrap();
    assert_eq!(end.reason, Some("fin"));
    assert_eq!((end.out.packets, end.inb.packets), (3, 2));
}

#[test]
fn rst_closes_and_a_new_syn_replaces_the_flow() {
    let mut r = Run::new(site(true, 4), false);
    let p = r.connect(40000, at(0));
    r.world(World::Internet, tcp(WEB, NAT_IP.octets(), 443, p, Tcp::Rst), at(3));
    // Same app tuple again: a fresh flow (the old one ended by RST).
    assert_eq!(r.app(tcp(APP, WEB, 40000, 443, Tcp::Syn), at(4)).0, Verdict::ToWorld(World::Internet));
    let log = r.log();
    let ends: Vec<_> = log.iter().filter(|l| l.state == RecordState::End).collect();
    assert_eq!(ends.len(), 1);
    assert_eq!(ends[0].reason, Some("replaced"));
    assert_eq!(r.dp.counters().flows_created, 2);
}

#[test]
fn tcp_without_a_flow_from_the_app_is_dropped_or_reset() {
    let mut r = Run::new(site(true, 4), false);
    assert_eq!(r.app(tcp(APP, WEB, 1, 443, Tcp::Ack), at(0)).0, Verdict::Drop(DropCause::NoFlowFromApp));
    let mut r = Run::new(site(true, 4), true);
    let (v, rst) = r.app(tcp(APP, WEB, 1, 443, Tcp::Ack), at(0));
    assert!(matches!(v, Verdict::ReplyToApp { .. }));
    let (_, t) = checked(&rst);
    let (h, _) = TcpHeader::from_slice(&t).unwrap();
    assert!(h.rst && !h.ack);
    assert_eq!(h.sequence_number, 5000);
}

#[test]
fn denied_flows_drop_silently_by_default() {
    let mut r = Run::new(site(true, 4), false);
    assert_eq!(r.app(tcp(APP, WEB, 40000, 25, Tcp::Syn), at(0)).0, Verdict::Drop(DropCause::Denied));
    assert_eq!(r.app(tcp(APP, WEB, 40000, 25, Tcp::Syn), at(1)).0, Verdict::Drop(DropCause::Denied));
    let c = r.dp.counters();
    assert_eq!((c.flows_denied, c.drops(DropCause::Denied), c.flows_created), (1, 2, 0));
    let log = r.log();
    assert_eq!(log.len(), 1);
    assert!(!log[0].decision.allowed);
    assert_eq!(log[0].rule.as_deref(), Some("UserRule_deny-smtp"));
    // The drop entry expires 30 s after the last packet, with an end record.
    r.dp.tick(at(31));
    assert_eq!(r.dp.active_flows(), 0);
    let end = r.log().pop().unwrap();
    assert_eq!((end.state, end.out.packets), (RecordState::End, 2));
}

#[test]
fn reject_answers_a_syn_with_rst_and_udp_with_icmp_unreachable() {
    let mut r = Run::new(site(true, 4), true);
    let (v, rst) = r.app(tcp(APP, WEB, 40000, 25, Tcp::Syn), at(0));
    assert_eq!(v, Verdict::ReplyToApp { len: 40 });
    let (ip, t) = checked(&rst);
    assert_eq!((ip.source, ip.destination), (WEB, APP));
    let (h, _) = TcpHeader::from_slice(&t).unwrap();
    assert!(h.rst && h.ack);
    assert_eq!((h.source_port, h.destination_port, h.acknowledgment_number), (25, 40000, 1001));

    let query = udp(APP, WEB, 5353, 25, b"data");
    let (v, unreach) = r.app(query.clone(), at(0));
    assert!(matches!(v, Verdict::ReplyToApp { .. }));
    let (ip, icmp) = checked(&unreach);
    assert_eq!((ip.source, ip.destination, ip.protocol.0), (WEB, APP, 1));
    assert_eq!((icmp[0], icmp[1]), (3, 13));
    assert_eq!(&icmp[8..], &query[..28]);
    assert_eq!(r.dp.counters().rejects, 2);
}

fn dns_query(name: &str, qtype: u16) -> Vec<u8> {
    let mut m = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for l in name.split('.') {
        m.push(l.len() as u8);
        m.extend_from_slice(l.as_bytes());
    }
    m.extend_from_slice(&[0, (qtype >> 8) as u8, qtype as u8, 0, 1]);
    m
}

#[test]
fn dns_to_the_platform_resolver_is_answered() {
    let mut r = Run::new(site(true, 4), false);
    let q = dns_query("DB.internal.example", 1);
    let (v, ans) = r.app(udp(APP, WIRESERVER, 33000, 53, &q), at(0));
    assert!(matches!(v, Verdict::ReplyToApp { .. }));
    let (ip, u) = checked(&ans);
    assert_eq!((ip.source, ip.destination), (WIRESERVER, APP));
    let (uh, msg) = UdpHeader::from_slice(&u).unwrap();
    assert_eq!((uh.source_port, uh.destination_port), (53, 33000));
    assert_eq!(&msg[..4], &[0x12, 0x34, 0x81, 0x80]);
    assert_eq!(&msg[6..8], &[0, 1], "one answer");
    assert_eq!(&msg[msg.len() - 4..], &VM);

    let (_, nx) = r.app(udp(APP, WIRESERVER, 33001, 53, &dns_query("nope.example", 1)), at(0));
    let (_, u) = checked(&nx);
    assert_eq!(u[8 + 3] & 0xf, 3, "NXDOMAIN");
    // DNS over UDP creates no flows; other platform traffic goes to the
    // platform host on a flow entry of its own, and its answers come back.
    assert_eq!(r.dp.active_flows(), 0);
    let (v, syn) = r.app(tcp(APP, WIRESERVER, 40000, 80, Tcp::Syn), at(0));
    assert_eq!(v, Verdict::ToPlatform);
    assert_eq!(syn, tcp(APP, WIRESERVER, 40000, 80, Tcp::Syn), "platform flows are not translated");
    assert_eq!(r.dp.active_flows(), 1);
    let mut synack = tcp(WIRESERVER, APP, 80, 40000, Tcp::SynAck);
    assert_eq!(r.dp.from_platform(&mut synack, at(0)), Verdict::ToApp);
    let mut stray = tcp(WIRESERVER, APP, 80, 40001, Tcp::SynAck);
    assert_eq!(r.dp.from_platform(&mut stray, at(0)), Verdict::Drop(DropCause::NoFlowFromWorld));
    let c = r.dp.counters();
    assert_eq!((c.to_platform.packets, c.from_platform.packets, c.dns_responses, c.unaccounted()), (1, 2, 2, 0));
    let rec = r.log();
    assert_eq!(rec.last().map(|r| (r.state, r.world)), Some((RecordState::Begin, Some(World::Platform))));
    // Other IP protocols have nothing there.
    let mut h = Ipv4Header::new(8, 64, etherparse::IpNumber(50), APP, WIRESERVER).unwrap();
    h.header_checksum = h.calc_header_checksum();
    let mut esp = h.to_bytes().to_vec();
    esp.extend_from_slice(&[0; 8]);
    assert_eq!(r.app(esp, at(0)).0, Verdict::Drop(DropCause::Platform));
    let (v, _) = r.app(udp(APP, WIRESERVER, 33002, 53, b"short"), at(0));
    assert_eq!(v, Verdict::Drop(DropCause::DnsMalformed));
}

#[test]
fn icmp_errors_from_the_world_reach_the_app_translated_back() {
    let mut r = Run::new(site(true, 4), false);
    let (_, sent) = r.app(udp(APP, WEB, 5000, 9999, b"hello"), at(0));
    let nat_port = ports(&sent).0;
    let mut err = Vec::new();
    PacketBuilder::ipv4([198, 18, 0, 1], NAT_IP.octets(), 64).icmpv4_raw(3, 3, [0; 4]).write(&mut err, &sent).unwrap();
    let (v, back) = r.world(World::Internet, err, at(1));
    assert_eq!(v, Verdict::ToApp);
    let (ip, icmp) = checked(&back);
    assert_eq!(ip.destination, APP);
    let (qip, qrest) = Ipv4Header::from_slice(&icmp[8..]).unwrap();
    assert_eq!(qip.source, APP);
    assert_eq!(qip.header_checksum, qip.calc_header_checksum());
    let (qu, payload) = UdpHeader::from_slice(qrest).unwrap();
    assert_eq!(qu.source_port, 5000);
    assert_eq!(qu.checksum, qu.calc_checksum_ipv4(&qip, payload).unwrap());
    assert_ne!(nat_port, 0);
}

#[test]
fn icmp_errors_from_the_app_go_to_the_flow_translated() {
    let mut r = Run::new(site(true, 4), false);
    let (_, sent) = r.app(udp(APP, WEB, 5000, 9999, b"hello"), at(0));
    let nat_port = ports(&sent).0;
    let (v, reply) = r.world(World::Internet, udp(WEB, NAT_IP.octets(), 9999, nat_port, b"answer"), at(1));
    assert_eq!(v, Verdict::ToApp);
    // The app's socket is gone: its stack answers port unreachable, quoting the reply it got.
    let mut err = Vec::new();
    PacketBuilder::ipv4(APP, WEB, 64).icmpv4_raw(3, 3, [0; 4]).write(&mut err, &reply).unwrap();
    let (v, out) = r.app(err, at(2));
    assert_eq!(v, Verdict::ToWorld(World::Internet));
    let (ip, icmp) = checked(&out);
    assert_eq!((ip.source, ip.destination), (NAT_IP.octets(), WEB));
    let (qip, qrest) = Ipv4Header::from_slice(&icmp[8..]).unwrap();
    assert_eq!((qip.source, qip.destination), (WEB, NAT_IP.octets()));
    assert_eq!(qip.header_checksum, qip.calc_header_checksum());
    let (qu, payload) = UdpHeader::from_slice(qrest).unwrap();
    assert_eq!((qu.source_port, qu.destination_port), (9999, nat_port));
    assert_eq!(qu.checksum, qu.calc_checksum_ipv4(&qip, payload).unwrap());

    // An error about a packet the engine never carried goes nowhere.
    let mut stray = Vec::new();
    let unknown = udp(WEB, APP, 9999, 6000, b"?");
    PacketBuilder::ipv4(APP, WEB, 64).icmpv4_raw(3, 3, [0; 4]).write(&mut stray, &unknown).unwrap();
    assert_eq!(r.app(stray, at(2)).0, Verdict::Drop(DropCause::NoFlowFromApp));
    assert_eq!(r.dp.counters().unaccounted(), 0);
}

#[test]
fn site_outbound_exhausts_at_128_ports_per_destination() {
    let mut r = Run::new(site(false, 0), false);
    for sport in 0..128u16 {
        let (v, out) = r.app(udp(APP, WEB, 10000 + sport, 443, b"q"), at(0));
        assert_eq!(v, Verdict::ToWorld(World::Internet));
        assert_eq!(checked(&out).0.source, SITE_IP.octets());
    }
    // Default outbound SNAT makes the new flow wait (datapath_snat.rs).
    let (v, _) = r.app(udp(APP, WEB, 20000, 443, b"q"), at(0));
    assert_eq!(v, Verdict::Drop(DropCause::SnatWait));
    assert_eq!(r.dp.counters().drops(DropCause::SnatWait), 1);
    assert_eq!(r.log().pop().unwrap().reason, Some("snat_wait"));
    // Existing flows are unaffected; another destination still works.
    assert_eq!(r.app(udp(APP, WEB, 10000, 443, b"q"), at(1)).0, Verdict::ToWorld(World::Internet));
    assert_eq!(r.app(udp(APP, WEB, 20000, 444, b"q"), at(1)).0, Verdict::ToWorld(World::Internet));
}

#[test]
fn full_table_refuses_new_flows() {
    let mut d = Datapath::new(site(true, 4), DatapathOptions { reject: false, max_flows: 2, seed: 1, ..Default::default() });
    let mut reply = [0u8; 1500];
    for sport in 1..=3u16 {
        let mut p = udp(APP, WEB, sport, 443, b"q");
        let v = d.from_app(&mut p, Offload::default(), at(0), &mut reply);
        let want = if sport < 3 { Verdict::ToWorld(World::Internet) } else { Verdict::Drop(DropCause::TableFull) };
        assert_eq!(v, want);
    }
}

#[test]
fn continue_records_every_five_minutes() {
    let mut r = Run::new(site(true, 120), false);
    r.connect(40000, at(0));
    r.log();
    for s in (10..=600).step_by(10) {
        r.app(tcp(APP, WEB, 40000, 443, Tcp::Ack), at(s));
        r.dp.tick(at(s));
    }
    let states: Vec<_> = r.log().iter().map(|l| (l.state, l.at.as_secs())).collect();
    assert_eq!(states, vec![(RecordState::Continue, 300), (RecordState::Continue, 600)]);
}

#[test]
fn malformed_and_fragmented_packets_are_counted() {
    let mut r = Run::new(site(true, 4), false);
    let mut frag = udp(APP, WEB, 1, 2, b"abc");
    frag[6] = 0x20; // MF
    assert_eq!(r.app(frag, at(0)).0, Verdict::Drop(DropCause::Fragment));
    assert_eq!(r.app(vec![0x60, 0, 0, 0], at(0)).0, Verdict::Drop(DropCause::NotIpv4));
    assert_eq!(r.app(vec![0x45, 0, 0], at(0)).0, Verdict::Drop(DropCause::Malformed));
    assert_eq!(r.world(World::Internet, vec![0x45; 30], at(0)).0, Verdict::Drop(DropCause::Malformed));
    let c = r.dp.counters();
    assert_eq!(c.drops(DropCause::Malformed), 2);
    assert_eq!(c.total_drops(), 4);
}

/// Every packet of a mixed run (forwarded, replies, denied, rejected, DNS,
/// malformed, unsolicited) is accounted for exactly once, and after
/// `end_all` the flow log's per-flow totals add up to the counters.
#[test]
fn counters_balance_and_flow_log_totals_match() {
    for reject in [false, true] {
        let mut r = Run::new(site(true, 4), reject);
        let mut log = Vec::new();
        let p = r.connect(40000, at(0));
        for s in 1..4 {
            r.app(tcp(APP, WEB, 40000, 443, Tcp::Ack), at(s));
            r.world(World::Internet, tcp(WEB, NAT_IP.octets(), 443, p, Tcp::Ack), at(s));
        }
        r.app(udp(APP, VM, 5000, 53, b"to the vnet"), at(1));
        r.app(tcp(APP, WEB, 40001, 25, Tcp::Syn), at(1)); // denied
        r.app(tcp(APP, WEB, 40001, 25, Tcp::Syn), at(2)); // denied again, same entry
        r.app(udp(APP, WIRESERVER, 33000, 53, &dns_query("db.internal.example", 1)), at(2));
        r.app(tcp(APP, WEB, 40002, 443, Tcp::Ack), at(2)); // no flow
        r.app(vec![0x45, 0, 0], at(2)); // malformed
        r.world(World::Internet, tcp(WEB, NAT_IP.octets(), 443, 9, Tcp::Ack), at(2)); // unsolicited
        r.dp.tick(at(2));
        r.dp.drain_log(&mut log);
        r.dp.end_all(at(3));
        r.dp.drain_log(&mut log);
        assert_eq!(r.dp.active_flows(), 0);

        let c = r.dp.counters().clone();
        assert_eq!(c.unaccounted(), 0, "reject={reject}: {c:?}");
        assert_eq!(c.from_app.packets, 9, "reject={reject}"); // the malformed one is a drop only
        let ends: Vec<_> = log.iter().filter(|l| l.state == RecordState::End).collect();
        assert_eq!(ends.len() as u64, c.flows_created + c.flows_denied);
        assert!(ends.iter().all(|l| l.reason.is_some()));
        let sum = |allowed: bool, f: fn(&FlowRecord) -> u64| ends.iter().filter(|l| l.decision.allowed == allowed).map(|l| f(l)).sum::<u64>();
        assert_eq!(sum(true, |l| l.out.packets), c.to_world.packets, "reject={reject}");
        assert_eq!(sum(true, |l| l.out.bytes), c.to_world.bytes, "reject={reject}");
        assert_eq!(sum(true, |l| l.inb.packets), c.to_app.packets - c.rejects - c.dns_responses);
        assert_eq!(sum(false, |l| l.out.packets), c.drops(DropCause::Denied));
    }
}

/// A TCP packet whose checksum field holds what a kernel with checksum
/// offload leaves there: the pseudo-header sum, not complemented.
fn partial_tcp(src: [u8; 4], dst: [u8; 4], sp: u16, dp: u16, payload: usize) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv4(src, dst, 64).tcp(sp, dp, 1000, 64240).ack(5000).write(&mut v, &vec![0x5a; payload]).unwrap();
    let seg_len = v.len() - 20;
    let partial = !packet::checksum(&[], packet::pseudo_header_sum(src.into(), dst.into(), 6, seg_len));
    v[36..38].copy_from_slice(&partial.to_be_bytes());
    v
}

/// What the device does with a partial checksum: sums the segment (the
/// field included) and stores the complement.
fn complete_checksum(v: &mut [u8]) {
    let c = packet::checksum(&v[20..], 0);
    v[36..38].copy_from_slice(&c.to_be_bytes());
}

#[test]
fn tso_segments_with_partial_checksums_are_translated_and_counted_per_wire_packet() {
    let mut r = Run::new(site(true, 4), false);
    let nat_port = r.connect(40000, at(0));
    let before = r.dp.counters().clone();
    let tso = Offload { csum_partial: true, gso_size: 1448 };

    let mut out = partial_tcp(APP, WEB, 40000, 443, 4000);
    assert_eq!(r.dp.from_app(&mut out, tso, at(1), &mut r.reply), Verdict::ToWorld(World::Internet));
    // Still partial, now for the translated addresses; the port change is
    // left to whoever completes it, which then gets a valid checksum.
    let want = !packet::checksum(&[], packet::pseudo_header_sum(NAT_IP, WEB.into(), 6, out.len() - 20));
    assert_eq!(u16::from_be_bytes([out[36], out[37]]), want);
    assert_eq!(ports(&out), (nat_port, 443));
    complete_checksum(&mut out);
    checked(&out);

    let mut back = partial_tcp(WEB, NAT_IP.octets(), 443, nat_port, 3000);
    assert_eq!(r.dp.from_world(World::Internet, &mut back, tso, at(1), &mut r.reply), Verdict::ToApp);
    complete_checksum(&mut back);
    let (ip, _) = checked(&back);
    assert_eq!((ip.destination, ports(&back)), (APP, (443, 40000)));

    // 4000 bytes at 1448 per segment are 3 wire packets; 3000 are 3 too.
    let c = r.dp.counters();
    assert_eq!(c.to_world.packets - before.to_world.packets, 3);
    assert_eq!(c.to_app.packets - before.to_app.packets, 3);
    assert_eq!(c.unaccounted(), 0);
    assert_eq!(c.tso_segments - before.tso_segments, 2);
    r.dp.end_all(at(2));
    let end = r.log().into_iter().find(|l| l.state == RecordState::End).unwrap();
    assert_eq!((end.out.packets, end.inb.packets), (1 + 3, 1 + 3));
}

proptest! {
    #[test]
    fn random_input_never_panics(
        bytes in prop::collection::vec(any::<u8>(), 0..200),
        flips in prop::collection::vec((0..80usize, any::<u8>()), 0..6),
        which in 0..4u8,
    ) {
        let mut r = Run::new(site(true, 4), true);
        let p = r.connect(40000, at(0));
        let mut valid = match which {
            0 => tcp(APP, WEB, 40000, 443, Tcp::Ack),
            1 => udp(APP, WIRESERVER, 33000, 53, &dns_query("db.internal.example", 1)),
            2 => tcp(WEB, NAT_IP.octets(), 443, p, Tcp::Ack),
            _ => udp(APP, WEB, 5, 25, b"zz"),
        };
        for (i, b) in flips {
            if let Some(x) = valid.get_mut(i) { *x = b; }
        }
        let _ = r.app(valid.clone(), at(1));
        let _ = r.world(World::Internet, valid, at(1));
        let _ = r.app(bytes.clone(), at(2));
        let _ = r.world(World::Vnet, bytes, at(2));
        r.dp.tick(at(1000));
        prop_assert_eq!(r.dp.active_flows(), 0);
    }
}
