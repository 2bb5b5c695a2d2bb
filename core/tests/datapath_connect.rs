//! `DatapathOptions::connect_first` (`vnetlab run`'s connect before
//! forwarding), virtual time only: the first SYN of a new TCP flow is held
//! for the caller, retransmissions are dropped while it connects, and the
//! outcome releases the SYN, answers the app with an RST, or lets the flow
//! expire half-open.

mod common;

use std::net::Ipv4Addr;

use common::checked;
use etherparse::{PacketBuilder, TcpHeader};
use vnetlab_core::datapath::flowlog::RecordState;
use vnetlab_core::datapath::packet::Offload;
use vnetlab_core::datapath::table::TCP_HALF_OPEN_SECS;
use vnetlab_core::datapath::{ConnectOutcome, Datapath, DatapathOptions, DropCause, PolicyView, Verdict};
use vnetlab_core::decision::{Decision, NatGatewayInfo, Resolution, RuleIdx, SourceNat, World};
use vnetlab_core::flow::{Flow, Proto};
use vnetlab_core::time::Timestamp;

const APP: [u8; 4] = [10, 0, 1, 4];
const WEB: [u8; 4] = [198, 18, 0, 9];
const NAT_IP: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 10);

/// Everything allowed, to the internet through a NAT gateway.
struct Allow(NatGatewayInfo);

impl PolicyView for Allow {
    fn decide(&self, _: &Flow) -> Decision {
        common::internet_allowed(NAT_IP, SourceNat::NatGateway)
    }
    fn nat_gateway(&self) -> Option<&NatGatewayInfo> {
        Some(&self.0)
    }
    fn outbound_ips(&self) -> &[Ipv4Addr] {
        &[]
    }
    fn resolve(&self, name: &str) -> Resolution {
        Resolution::NxDomain { chain: vec![name.into()], answered_by: "azure".into(), public: false }
    }
    fn rule_name(&self, _: RuleIdx) -> &str {
        ""
    }
}

fn dp(connect_first: bool) -> Datapath<Allow> {
    let nat = NatGatewayInfo { name: "nat".into(), public_ips: vec![NAT_IP], idle_timeout_minutes: 4 };
    Datapath::new(Allow(nat), DatapathOptions { connect_first, seed: 7, ..Default::default() })
}

fn syn(sport: u16) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv4(APP, WEB, 64).tcp(sport, 443, 1000, 64240).syn().write(&mut v, &[]).unwrap();
    v
}

fn syn_ack(nat_port: u16) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv4(WEB, NAT_IP.octets(), 64).tcp(443, nat_port, 9000, 64240).syn().ack(1001).write(&mut v, &[]).unwrap();
    v
}

fn at(ms: u64) -> Timestamp {
    Timestamp(ms * 1_000_000)
}

const FLOW: Flow = Flow { proto: Proto::Tcp, src: Ipv4Addr::new(10, 0, 1, 4), src_port: 40000, dst: Ipv4Addr::new(198, 18, 0, 9), dst_port: 443 };

/// Sends the first SYN; returns the held (translated) SYN and its NAT port.
fn hold(d: &mut Datapath<Allow>, reply: &mut [u8]) -> (Vec<u8>, u16) {
    let mut pkt = syn(40000);
    let v = d.from_app(&mut pkt, Offload::default(), at(0), reply);
    assert_eq!(v, Verdict::Connect { flow: FLOW, world: World::Internet });
    let (ip, l4) = checked(&pkt);
    assert_eq!(Ipv4Addr::from(ip.source), NAT_IP, "the held SYN is already translated");
    let (tcp, _) = TcpHeader::from_slice(&l4).unwrap();
    (pkt, tcp.source_port)
}

#[test]
fn without_the_option_the_syn_is_forwarded_at_once() {
    let mut d = dp(false);
    let mut reply = [0u8; 1500];
    let mut pkt = syn(40000);
    assert_eq!(d.from_app(&mut pkt, Offload::default(), at(0), &mut reply), Verdict::ToWorld(World::Internet));
}

#[test]
fn syn_is_held_retransmissions_dropped_and_connected_releases_it() {
    let mut d = dp(true);
    let mut reply = [0u8; 1500];
    let (held, nat_port) = hold(&mut d, &mut reply);
    for ms in [1000, 3000] {
        let mut again = syn(40000);
        assert_eq!(d.from_app(&mut again, Offload::default(), at(ms), &mut reply), Verdict::Drop(DropCause::Connecting));
    }
    assert_eq!(d.counters().drops(DropCause::Connecting), 2);
    // Nothing from the world matches before the release either way, but the
    // flow's reply tuple is known: after release, the SYN-ACK goes back.
    assert_eq!(d.connect_result(&FLOW, ConnectOutcome::Connected, &held, at(3100), &mut reply), Verdict::ToWorld(World::Internet));
    let mut back = syn_ack(nat_port);
    assert_eq!(d.from_world(World::Internet, &mut back, Offload::default(), at(3101), &mut reply), Verdict::ToApp);
    let (ip, _) = checked(&back);
    assert_eq!(ip.destination, APP);
    // Reported twice: the second is not for a connecting flow.
    assert_eq!(d.connect_result(&FLOW, ConnectOutcome::Connected, &held, at(3102), &mut reply), Verdict::Drop(DropCause::NoFlowFromApp));
    assert_eq!((d.counters().connects, d.counters().unaccounted()), (1, 0));
}

#[test]
fn refused_answers_the_app_with_an_rst_and_ends_the_flow() {
    let mut d = dp(true);
    let mut reply = [0u8; 1500];
    let (held, _) = hold(&mut d, &mut reply);
    let v = d.connect_result(&FLOW, ConnectOutcome::Refused, &held, at(20), &mut reply);
    let Verdict::ReplyToApp { len } = v else { panic!("expected an RST, got {v:?}") };
    let (ip, l4) = checked(&reply[..len]);
    assert_eq!((ip.source, ip.destination), (WEB, APP));
    let (tcp, _) = TcpHeader::from_slice(&l4).unwrap();
    assert_eq!((tcp.source_port, tcp.destination_port), (443, 40000));
    assert!(tcp.rst && tcp.ack);
    assert_eq!(tcp.acknowledgment_number, 1001, "acknowledges the app's SYN");
    assert_eq!(d.active_flows(), 0);
    let mut log = Vec::new();
    d.drain_log(&mut log);
    let end = log.iter().find(|r| r.state == RecordState::End).expect("an end record");
    assert_eq!(end.reason, Some("refused"));
    assert_eq!((d.counters().connects_refused, d.counters().unaccounted()), (1, 0));
    // The app may try again: a new SYN is a new connect.
    let mut again = syn(40000);
    assert!(matches!(d.from_app(&mut again, Offload::default(), at(30), &mut reply), Verdict::Connect { .. }));
}

#[test]
fn timed_out_leaves_the_flow_half_open_until_it_expires() {
    let mut d = dp(true);
    let mut reply = [0u8; 1500];
    let (held, _) = hold(&mut d, &mut reply);
    assert_eq!(d.connect_result(&FLOW, ConnectOutcome::TimedOut, &held, at(21_000), &mut reply), Verdict::Drop(DropCause::Connecting));
    let mut again = syn(40000);
    assert_eq!(d.from_app(&mut again, Offload::default(), at(22_000), &mut reply), Verdict::Drop(DropCause::Connecting));
    d.tick(at(TCP_HALF_OPEN_SECS * 1000 - 1));
    assert_eq!(d.active_flows(), 1);
    d.tick(at(TCP_HALF_OPEN_SECS * 1000 + 1));
    assert_eq!(d.active_flows(), 0);
    let mut log = Vec::new();
    d.drain_log(&mut log);
    assert_eq!(log.last().map(|r| (r.state, r.reason)), Some((RecordState::End, Some("half_open"))));
    assert_eq!(d.counters().connects_timed_out, 1);
}
