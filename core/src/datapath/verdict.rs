//! The datapath's vocabulary towards its callers: what it needs of a
//! policy (`PolicyView`), its options, and what it says about each packet
//! (`Verdict`, and `DropCause` for the packets it drops).

use std::net::Ipv4Addr;

use super::packet::PacketError;
use crate::decision::{Decision, NatGatewayInfo, Resolution, RuleIdx, World};
use crate::flow::Flow;
use crate::policy::Policy;

/// What the datapath needs of a compiled policy. `Policy` implements it;
/// tests implement it with hand-built decisions.
pub trait PolicyView {
    fn decide(&self, flow: &Flow) -> Decision;
    fn nat_gateway(&self) -> Option<&NatGatewayInfo>;
    fn outbound_ips(&self) -> &[Ipv4Addr];
    fn resolve(&self, name: &str) -> Resolution;
    fn rule_name(&self, idx: RuleIdx) -> &str;
}

impl PolicyView for Policy {
    fn decide(&self, flow: &Flow) -> Decision {
        Policy::decide(self, flow)
    }
    fn nat_gateway(&self) -> Option<&NatGatewayInfo> {
        Policy::nat_gateway(self)
    }
    fn outbound_ips(&self) -> &[Ipv4Addr] {
        Policy::outbound_ips(self)
    }
    fn resolve(&self, name: &str) -> Resolution {
        Policy::resolve(self, name)
    }
    fn rule_name(&self, idx: RuleIdx) -> &str {
        Policy::rule_name(self, idx)
    }
}

/// Choices beyond the policy: how denials answer, the table bound, the seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DatapathOptions {
    /// Answer denied flows with TCP RST / ICMP unreachable instead of a silent drop.
    pub reject: bool,
    /// Flow table bound; new flows beyond it are refused.
    pub max_flows: usize,
    /// Seed of the SNAT port choice (deterministic runs).
    pub seed: u64,
    /// Connect before forwarding (`vnetlab run`): the first SYN of a new
    /// allowed TCP flow is held (`Verdict::Connect`) until the caller has
    /// tried the real destination and reports with `Datapath::connect_result`;
    /// SYN retransmissions meanwhile are dropped (`DropCause::Connecting`).
    pub connect_first: bool,
    /// DNS to 168.63.129.16 for names only public DNS could answer goes to
    /// the caller's upstream resolver (`Verdict::DnsUpstream`, answered with
    /// `Datapath::dns_upstream_answer`) instead of NXDOMAIN (`vnetlab run`).
    pub dns_upstream: bool,
}

impl Default for DatapathOptions {
    fn default() -> Self {
        DatapathOptions { reject: false, max_flows: 1 << 20, seed: 0x0076_6e65_746c_6162, connect_first: false, dns_upstream: false }
    }
}

/// What to do with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The packet (rewritten in place, checksums fixed) goes to this world's device.
    ToWorld(World),
    /// The packet (reverse-translated in place) goes back to the app's device.
    ToApp,
    /// A reply was written into the reply buffer (first `len` bytes): write
    /// it to the app's device. RSTs / ICMP unreachables and DNS answers.
    ReplyToApp { len: usize },
    /// The packet (unchanged: platform flows keep the private source) is for
    /// the platform host's endpoints (`crate::platform::Platform::from_app`);
    /// what they send back goes through `Datapath::from_platform` to the app.
    ToPlatform,
    /// Dropped (counted).
    Drop(DropCause),
    /// `connect_first`: the translated first SYN of the new TCP flow `flow`
    /// (the app's tuple) is in the packet buffer; the caller keeps it, tries
    /// the real destination and reports with `Datapath::connect_result`.
    Connect { flow: Flow, world: World },
    /// `dns_upstream`: the packet is a DNS query (UDP to 168.63.129.16:53)
    /// for a name only public DNS answers. The caller sends its payload to
    /// the upstream resolver and hands the answer, with this query packet,
    /// to `Datapath::dns_upstream_answer`.
    DnsUpstream,
}

/// How the caller's connect to the real destination ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectOutcome {
    /// Something accepted: release the held SYN into the flow's world.
    Connected,
    /// Refused: the app gets a TCP RST answering its SYN; the flow ends.
    Refused,
    /// No answer (or no way there): nothing; the app's own SYN timeout
    /// plays out as on Azure, and the flow expires half-open.
    TimedOut,
}

/// Why a packet was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropCause {
    /// Not a parsable IPv4 packet (truncated, bad lengths, bad quote).
    Malformed,
    /// An IPv4 fragment (NAT gateway carries none).
    Fragment,
    /// Not IPv4.
    NotIpv4,
    /// The policy denied the flow (route, NSG or platform rule).
    Denied,
    /// To 168.63.129.16 / 169.254.169.254 but nothing there takes it: IP
    /// protocols other than TCP, UDP and ICMP echo, and ICMP errors.
    Platform,
    /// A DNS query to the platform resolver that could not be parsed at all.
    DnsMalformed,
    /// TCP from the app that is not a SYN and matches no flow.
    NoFlowFromApp,
    /// From a world and matching no flow (unsolicited or expired).
    NoFlowFromWorld,
    /// A reply that came from another world than its flow went to.
    WrongWorld,
    /// The flow table is full.
    TableFull,
    /// No SNAT port left for the destination.
    SnatExhausted,
    /// The reply tuple of a new flow is already taken by another flow.
    TupleConflict,
    /// ICMP messages from the app other than echo requests and errors.
    Unsupported,
    /// A SYN retransmission while the caller connects (`connect_first`).
    Connecting,
    /// Default outbound SNAT: every port towards the destination is in use
    /// or cooling; the new flow waits (the app's retransmission retries).
    SnatWait,
}

impl DropCause {
    pub const ALL: [DropCause; 15] = [
        DropCause::Malformed,
        DropCause::Fragment,
        DropCause::NotIpv4,
        DropCause::Denied,
        DropCause::Platform,
        DropCause::DnsMalformed,
        DropCause::NoFlowFromApp,
        DropCause::NoFlowFromWorld,
        DropCause::WrongWorld,
        DropCause::TableFull,
        DropCause::SnatExhausted,
        DropCause::TupleConflict,
        DropCause::Unsupported,
        DropCause::Connecting,
        DropCause::SnatWait,
    ];
    pub fn name(self) -> &'static str {
        match self {
            DropCause::Malformed => "malformed",
            DropCause::Fragment => "fragment",
            DropCause::NotIpv4 => "not_ipv4",
            DropCause::Denied => "denied",
            DropCause::Platform => "platform",
            DropCause::DnsMalformed => "dns_malformed",
            DropCause::NoFlowFromApp => "no_flow_from_app",
            DropCause::NoFlowFromWorld => "no_flow_from_world",
            DropCause::WrongWorld => "wrong_world",
            DropCause::TableFull => "table_full",
            DropCause::SnatExhausted => "snat_exhausted",
            DropCause::TupleConflict => "tuple_conflict",
            DropCause::Unsupported => "unsupported",
            DropCause::Connecting => "connecting",
            DropCause::SnatWait => "snat_wait",
        }
    }
    pub(super) fn of(e: PacketError) -> DropCause {
        match e {
            PacketError::NotIpv4(_) => DropCause::NotIpv4,
            PacketError::Fragment => DropCause::Fragment,
            _ => DropCause::Malformed,
        }
    }
}
