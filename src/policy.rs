//! The policy core: a scenario compiled for one site, asked `decide(flow)`.
//!
//! This is the one place that shows what Azure does with an outbound flow of
//! an app with regional virtual network integration, top to bottom:
//! platform addresses, application routing (Route All), the integration
//! subnet's NSG, the route, the hop's own rules, and the source address after
//! translation. No I/O, no clock: the datapath and every command call this.

use std::net::Ipv4Addr;

/// Transport protocol of a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Proto {
    Tcp,
    Udp,
    Icmp,
    /// Any other IP protocol number (ESP 50, AH 51, ...).
    Other(u8),
}

impl Proto {
    pub fn number(self) -> u8 {
        match self {
            Proto::Tcp => 6,
            Proto::Udp => 17,
            Proto::Icmp => 1,
            Proto::Other(n) => n,
        }
    }
    pub fn from_number(n: u8) -> Proto {
        match n {
            6 => Proto::Tcp,
            17 => Proto::Udp,
            1 => Proto::Icmp,
            n => Proto::Other(n),
        }
    }
    pub fn has_ports(self) -> bool {
        matches!(self, Proto::Tcp | Proto::Udp)
    }
}

/// An outbound flow as the app's instance sends it (before translation).
/// For ICMP the ports are zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Flow {
    pub proto: Proto,
    pub src: Ipv4Addr,
    pub src_port: u16,
    pub dst: Ipv4Addr,
    pub dst_port: u16,
}

/// Whether the app sends a flow into the virtual network integration or out
/// of its own public route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Path {
    Vnet,
    Direct,
}

/// Why the flow took its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AppRouting {
    /// 168.63.129.16 or 169.254.169.254: always via the platform.
    Platform,
    /// Route All is on (which setting decided is in the policy's summary).
    RouteAll,
    /// Flex Consumption routes everything into the VNet.
    FlexConsumption,
    /// Route All off, destination in 10/8, 172.16/12 or 192.168/16.
    Rfc1918,
    /// Route All off, destination in a service endpoint of the subnet.
    ServiceEndpoint,
    /// Route All off and none of the above: leaves directly.
    NotRouted,
}

/// Next hop types as Azure's effective routes name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NextHopType {
    VnetLocal,
    VNetPeering,
    InterfaceEndpoint,
    VirtualNetworkGateway,
    VirtualNetworkServiceEndpoint,
    VirtualAppliance,
    Internet,
    None,
}

impl NextHopType {
    pub fn as_str(self) -> &'static str {
        match self {
            NextHopType::VnetLocal => "VnetLocal",
            NextHopType::VNetPeering => "VNetPeering",
            NextHopType::InterfaceEndpoint => "InterfaceEndpoint",
            NextHopType::VirtualNetworkGateway => "VirtualNetworkGateway",
            NextHopType::VirtualNetworkServiceEndpoint => "VirtualNetworkServiceEndpoint",
            NextHopType::VirtualAppliance => "VirtualAppliance",
            NextHopType::Internet => "Internet",
            NextHopType::None => "None",
        }
    }
}

/// Why a flow was dropped, in FORMAT.md's order of precedence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BlockedBy {
    Route,
    Nsg,
    Platform,
    Dns,
}

impl BlockedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            BlockedBy::Route => "route",
            BlockedBy::Nsg => "nsg",
            BlockedBy::Platform => "platform",
            BlockedBy::Dns => "dns",
        }
    }
}

/// The specific platform rule behind `BlockedBy::Platform` or a route drop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// Next hop `None`.
    NoneRoute,
    /// A `VirtualNetworkGateway` route in a VNet without a gateway.
    NoGateway,
    /// Outbound TCP 25 to the internet (the port-25 knob).
    Port25,
    /// A NAT gateway carries only TCP and UDP.
    NatGatewayProtocol,
    /// `Internet` next hop for an address outside the `Internet` tag.
    InternetHopNotInternet,
    /// The NSG rule denied it.
    NsgDeny,
}

/// How the source address is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceNat {
    /// The instance's private address is kept.
    Private,
    /// Translated by the integration subnet's NAT gateway.
    NatGateway,
    /// Leaves from the site's outbound addresses.
    SiteOutbound,
}

/// The world a forwarded flow is delivered to (what the datapath needs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Egress {
    /// Hosts of the integrated VNet, peered VNets and private endpoints.
    Vnet,
    /// On-premises networks behind the VNet gateway.
    OnPremises,
    /// A network virtual appliance at `Decision::next_hop_ip`.
    Appliance,
    /// Public internet (including service endpoint services).
    Internet,
    /// The platform (168.63.129.16, 169.254.169.254), answered locally.
    Platform,
}

/// Index of a route in `Policy::routes()`.
pub type RouteIdx = u32;
/// Index of a rule in `Policy::rules()`.
pub type RuleIdx = u32;

/// What Azure does with one flow. Small and `Copy`: the trace is encoded as
/// indices into the policy's routes and rules, and rendered by `Policy::explain`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub path: Path,
    pub app_routing: AppRouting,
    /// The effective route that was chosen (path `Vnet`, not platform).
    pub route: Option<RouteIdx>,
    pub next_hop: Option<NextHopType>,
    pub next_hop_ip: Option<Ipv4Addr>,
    /// The integration subnet NSG's rule that matched, if an NSG applied.
    pub nsg_rule: Option<RuleIdx>,
    /// The source address at the next hop.
    pub source: Ipv4Addr,
    pub snat: SourceNat,
    pub egress: Egress,
    pub blocked_by: Option<BlockedBy>,
    pub drop_reason: Option<DropReason>,
}

/// The NAT gateway of the integration subnet, as the datapath needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatGatewayInfo {
    pub name: String,
    /// Public addresses in order (addresses first, then prefixes expanded).
    pub public_ips: Vec<Ipv4Addr>,
    /// TCP idle timeout, 4 to 120 minutes (UDP is fixed at 4).
    pub idle_timeout_minutes: u32,
}

/// What the app's resolver gets for a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// Addresses in answer order, with the chain of names followed
    /// (`acct.blob.core.windows.net` -> `acct.privatelink.blob...`) and who answered.
    Addresses { addrs: Vec<Ipv4Addr>, chain: Vec<String>, answered_by: String },
    /// The name does not exist (NXDOMAIN), and who said so.
    NxDomain { chain: Vec<String>, answered_by: String },
}

/// A scenario compiled for one site. Built once, then asked many times.
/// (Being implemented: the signatures below are the contract.)
pub struct Policy {
    _private: (),
}

impl Policy {
    /// What happens to `flow`. Deterministic, allocation-free.
    pub fn decide(&self, _flow: &Flow) -> Decision {
        unimplemented!("policy engine in progress")
    }
    /// The instance's private address (first assignable of the subnet).
    pub fn instance_ip(&self) -> Ipv4Addr {
        unimplemented!("policy engine in progress")
    }
    /// The integration subnet's NAT gateway, if any.
    pub fn nat_gateway(&self) -> Option<&NatGatewayInfo> {
        unimplemented!("policy engine in progress")
    }
    /// The site's outbound addresses (`outboundIpAddresses`).
    pub fn outbound_ips(&self) -> &[Ipv4Addr] {
        unimplemented!("policy engine in progress")
    }
    /// How the app resolves `name`.
    pub fn resolve(&self, _name: &str) -> Resolution {
        unimplemented!("policy engine in progress")
    }
    /// The display name of an NSG rule from `Decision::nsg_rule`.
    pub fn rule_name(&self, _idx: RuleIdx) -> &str {
        unimplemented!("policy engine in progress")
    }
}
