//! Default outbound SNAT exhaustion (fact sheet 13.3), virtual time only:
//! 128 ports per instance per destination address and port; a new flow that
//! finds none waits (its SYN is dropped, counted and logged, and the app's
//! retransmission goes through once a port has cooled down: 15 s after an
//! RST, 240 s after a FIN), while a NAT gateway still fails new flows.

mod common;

use std::net::Ipv4Addr;

use common::{checked, tcp, Tcp};
use vnetlab_core::datapath::flowlog::RecordState;
use vnetlab_core::datapath::nat::SITE_OUTBOUND_PORTS_PER_DESTINATION;
use vnetlab_core::datapath::packet::Offload;
use vnetlab_core::datapath::{ConnectOutcome, Datapath, DatapathOptions, DropCause, PolicyView, Verdict};
use vnetlab_core::decision::{AppRouting, Decision, NatGatewayInfo, Path, Resolution, RuleIdx, SourceNat, World};
use vnetlab_core::flow::{Flow, Proto};
use vnetlab_core::time::Timestamp;

const APP: [u8; 4] = [10, 0, 2, 4];
const WEB: [u8; 4] = [198, 18, 0, 9];
const SITE_IP: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 77);
const NAT_IP: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 10);

/// Everything allowed to the internet: through a NAT gateway when there is
/// one, else from the site's outbound address.
struct Internet(Option<NatGatewayInfo>);

impl PolicyView for Internet {
    fn decide(&self, _: &Flow) -> Decision {
        let (source, snat, app_routing) = match &self.0 {
            Some(_) => (NAT_IP, SourceNat::NatGateway, AppRouting::RouteAll),
            None => (SITE_IP, SourceNat::SiteOutbound, AppRouting::NotRouted),
        };
        let path = if snat == SourceNat::SiteOutbound { Path::Direct } else { Path::Vnet };
        Decision { path, app_routing, route: None, ..common::internet_allowed(source, snat) }
    }
    fn nat_gateway(&self) -> Option<&NatGatewayInfo> {
        self.0.as_ref()
    }
    fn outbound_ips(&self) -> &[Ipv4Addr] {
        std::slice::from_ref(&SITE_IP)
    }
    fn resolve(&self, name: &str) -> Resolution {
        Resolution::NxDomain { chain: vec![name.into()], answered_by: "azure".into(), public: false }
    }
    fn rule_name(&self, _: RuleIdx) -> &str {
        ""
    }
}

fn at(s: u64) -> Timestamp {
    Timestamp::from_secs(s)
}

struct Run {
    dp: Datapath<Internet>,
    reply: [u8; 1500],
}

impl Run {
    fn new(nat: bool, connect_first: bool) -> Run {
        let nat = nat.then(|| NatGatewayInfo { name: "nat".into(), public_ips: vec![NAT_IP], idle_timeout_minutes: 4 });
        Run { dp: Datapath::new(Internet(nat), DatapathOptions { seed: 11, connect_first, ..Default::default() }), reply: [0; 1500] }
    }
    /// The app's packet; returns the verdict and the (rewritten) packet.
    fn app(&mut self, mut pkt: Vec<u8>, now: Timestamp) -> (Verdict, Vec<u8>) {
        let v = self.dp.from_app(&mut pkt, Offload::default(), now, &mut self.reply);
        (v, pkt)
    }
    /// A packet from the internet.
    fn world(&mut self, mut pkt: Vec<u8>, now: Timestamp) -> Verdict {
        self.dp.from_world(World::Internet, &mut pkt, Offload::default(), now, &mut self.reply)
    }
    /// A SYN to WEB:`dport` from the app's `sport`.
    fn syn(&mut self, sport: u16, dport: u16, now: Timestamp) -> (Verdict, Vec<u8>) {
        self.app(tcp(APP, WEB, sport, dport, Tcp::Syn), now)
    }
    /// The translated (address, port) of a forwarded packet.
    fn source(pkt: &[u8]) -> (Ipv4Addr, u16) {
        let (ip, l4) = checked(pkt);
        (Ipv4Addr::from(ip.source), u16::from_be_bytes([l4[0], l4[1]]))
    }
    fn reasons(&mut self) -> Vec<Option<&'static str>> {
        let mut v = Vec::new();
        self.dp.drain_log(&mut v);
        v.into_iter().filter(|r| r.state == RecordState::End).map(|r| r.reason).collect()
    }
}

const N: u16 = SITE_OUTBOUND_PORTS_PER_DESTINATION as u16;

/// Fills the 128 ports towards WEB:443 from app ports 40000.., at t=0.
fn fill(r: &mut Run) -> Vec<(Ipv4Addr, u16)> {
    let mut used = Vec::new();
    for i in 0..N {
        let (v, out) = r.syn(40000 + i, 443, at(0));
        assert_eq!(v, Verdict::ToWorld(World::Internet), "flow {i}");
        used.push(Run::source(&out));
    }
    used
}

#[test]
fn the_129th_syn_waits_until_a_port_cools_down_after_rst() {
    let mut r = Run::new(false, false);
    let used = fill(&mut r);
    assert_eq!(N, 128);
    let mut ports: Vec<u16> = used
        .iter()
        .map(|&(ip, p)| {
            assert_eq!(ip, SITE_IP);
            p
        })
        .collect();
    ports.sort_unstable();
    ports.dedup();
    assert_eq!(ports.len(), 128, "128 concurrent flows use 128 distinct ports");
    r.reasons();

    // The 129th SYN waits: not forwarded, no flow, counted, logged.
    let waiting = 41000;
    assert_eq!(r.syn(waiting, 443, at(1)).0, Verdict::Drop(DropCause::SnatWait));
    assert_eq!(r.dp.counters().snat_waits, 1);
    assert_eq!(r.dp.counters().drops(DropCause::SnatWait), 1);
    assert_eq!(r.dp.counters().flows_created, 128);
    assert_eq!(r.reasons(), [Some("snat_wait")]);

    // Another destination port of the same address has its own 128 ports.
    let (v, out) = r.syn(41001, 8443, at(1));
    assert_eq!(v, Verdict::ToWorld(World::Internet));
    assert_eq!(Run::source(&out).0, SITE_IP);

    // One flow ends with an RST at t=2: the port is reusable 15 s later
    // (the closed flow lingers 10 s and goes at a tick).
    assert_eq!(r.app(tcp(APP, WEB, 40000, 443, Tcp::Rst), at(2)).0, Verdict::ToWorld(World::Internet));
    r.dp.tick(at(12));
    // The app's retransmissions (1 s, 3 s, 7 s, 15 s after the first): still waiting at t=16.
    for t in [2, 4, 8, 16] {
        assert_eq!(r.syn(waiting, 443, at(t)).0, Verdict::Drop(DropCause::SnatWait), "t={t}");
    }
    assert_eq!(r.dp.counters().snat_waits, 5);
    // At t=17 (RST + 15 s) the retransmitted SYN goes through on the freed port.
    let (v, out) = r.syn(waiting, 443, at(17));
    assert_eq!(v, Verdict::ToWorld(World::Internet));
    assert_eq!(Run::source(&out), used[0]);
    assert_eq!(r.dp.counters().flows_created, 130);
    assert_eq!(r.dp.counters().unaccounted(), 0);
}

#[test]
fn a_port_freed_by_fin_waits_240_seconds() {
    let mut r = Run::new(false, false);
    let used = fill(&mut r);
    // Established, so that no flow but the closed one ends (half-open ones would at 30 s).
    for &(_, p) in &used {
        assert_eq!(r.world(tcp(WEB, SITE_IP.octets(), 443, p, Tcp::SynAck), at(1)), Verdict::ToApp);
    }
    let port = used[5].1;
    assert_eq!(r.app(tcp(APP, WEB, 40005, 443, Tcp::Fin), at(10)).0, Verdict::ToWorld(World::Internet));
    assert_eq!(r.world(tcp(WEB, SITE_IP.octets(), 443, port, Tcp::Fin), at(10)), Verdict::ToApp);
    r.dp.tick(at(30));
    assert_eq!(r.syn(41000, 443, at(249)).0, Verdict::Drop(DropCause::SnatWait));
    let (v, out) = r.syn(41000, 443, at(250));
    assert_eq!(v, Verdict::ToWorld(World::Internet));
    assert_eq!(Run::source(&out), used[5]);
}

#[test]
fn a_waiting_syn_with_connect_first_is_held_once_a_port_frees() {
    let mut r = Run::new(false, true);
    for i in 0..N {
        let (v, _) = r.syn(40000 + i, 443, at(0));
        assert!(matches!(v, Verdict::Connect { .. }), "flow {i}: {v:?}");
    }
    assert_eq!(r.syn(41000, 443, at(1)).0, Verdict::Drop(DropCause::SnatWait));
    // The host refuses the first flow's connect: it ends with an RST.
    let flow = Flow { proto: Proto::Tcp, src: APP.into(), src_port: 40000, dst: WEB.into(), dst_port: 443 };
    let held = tcp(APP, WEB, 40000, 443, Tcp::Syn);
    let mut reply = [0u8; 1500];
    assert!(matches!(r.dp.connect_result(&flow, ConnectOutcome::Refused, &held, at(1), &mut reply), Verdict::ReplyToApp { .. }));
    assert_eq!(r.syn(41000, 443, at(15)).0, Verdict::Drop(DropCause::SnatWait));
    assert!(matches!(r.syn(41000, 443, at(16)).0, Verdict::Connect { .. }));
}

#[test]
fn nat_gateway_exhaustion_still_fails_new_flows() {
    // 64,512 ports per address towards WEB:443: one flow per app source port.
    let mut r = Run::new(true, false);
    let mut forwarded = 0u32;
    let mut last = None;
    for sp in 1..=u16::MAX {
        match r.syn(sp, 443, at(0)).0 {
            Verdict::ToWorld(_) => forwarded += 1,
            v => {
                last = Some(v);
                break;
            }
        }
    }
    assert_eq!(forwarded, 64_512);
    assert_eq!(last, Some(Verdict::Drop(DropCause::SnatExhausted)));
    assert_eq!(r.dp.counters().snat_waits, 0);
    assert_eq!(r.reasons().last().copied().flatten(), Some("snat_exhausted"));
    // Another destination port is not affected.
    assert_eq!(r.syn(1, 8443, at(1)).0, Verdict::ToWorld(World::Internet));
}

#[test]
fn an_idle_flow_frees_its_port_as_the_4_minute_idle_timeout_ends() {
    let mut r = Run::new(false, false);
    let used = fill(&mut r);
    for &(_, p) in &used {
        assert_eq!(r.world(tcp(WEB, SITE_IP.octets(), 443, p, Tcp::SynAck), at(1)), Verdict::ToApp);
    }
    r.dp.tick(at(240));
    assert_eq!(r.syn(41000, 443, at(240)).0, Verdict::Drop(DropCause::SnatWait));
    // Idle since t=1: ended at 241, reusable at once (no cooldown after the idle timeout).
    r.dp.tick(at(241));
    assert_eq!(r.reasons().iter().filter(|&&x| x == Some("idle")).count(), 128);
    assert_eq!(r.syn(41000, 443, at(241)).0, Verdict::ToWorld(World::Internet));
}
