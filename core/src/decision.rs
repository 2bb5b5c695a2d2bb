//! The answer: what Azure does with one flow (`Decision`), the words it is
//! made of (path, next hop, why dropped, source translation, the world it is
//! delivered to) and what the app's resolver gets (`Resolution`). A leaf
//! module, shared by the policy that produces decisions, the datapath that
//! caches them and the shells that print them.

use std::net::Ipv4Addr;

/// The platform's DNS resolver and wireserver: answered by the host, never routed.
pub const AZURE_DNS: Ipv4Addr = Ipv4Addr::new(168, 63, 129, 16);
/// The instance metadata service.
pub const IMDS: Ipv4Addr = Ipv4Addr::new(169, 254, 169, 254);

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

/// Where an allowed flow is delivered: the next hop's side of the network.
/// The engine has one device per forwarded world; the platform is answered
/// by the host itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum World {
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

impl World {
    /// The worlds a flow is forwarded into (each a device of the engine).
    pub const FORWARDED: [World; 4] = [World::Vnet, World::OnPremises, World::Appliance, World::Internet];

    /// Short name, used for testbed namespaces and in flow logs.
    pub fn name(self) -> &'static str {
        match self {
            World::Vnet => "vnet",
            World::OnPremises => "onprem",
            World::Appliance => "nva",
            World::Internet => "inet",
            World::Platform => "platform",
        }
    }
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
    pub world: World,
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

impl NatGatewayInfo {
    /// Azure's limit on a NAT gateway's public addresses.
    pub const MAX_PUBLIC_IPS: usize = 16;

    /// The public addresses in the order source NAT uses them: a new flow
    /// takes a port on the first address that has one free for its
    /// destination. So the first is every first flow's source, and what
    /// `Decision.source` reports.
    pub fn snat_order(&self) -> &[Ipv4Addr] {
        &self.public_ips[..self.public_ips.len().min(Self::MAX_PUBLIC_IPS)]
    }
}

/// What the app's resolver gets for a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// Addresses in answer order, with the chain of names followed
    /// (`acct.blob.core.windows.net` -> `acct.privatelink.blob...`) and who answered.
    /// `placeholder`: public DNS decides the name and the input does not say
    /// what it answers, so the address stands in for it (static commands only).
    Addresses { addrs: Vec<Ipv4Addr>, chain: Vec<String>, answered_by: String, placeholder: bool },
    /// The name does not exist (NXDOMAIN), and who said so. `public` is
    /// true when no private zone decided and the input does not say what
    /// public DNS answers (`public_dns`, `--public-dns`): the conformance
    /// answer is NXDOMAIN (FORMAT.md: a name nobody answers does not
    /// resolve), the other static commands answer a placeholder address
    /// instead (`PolicyOptions::public_dns_placeholders`), and `vnetlab run`
    /// asks the real upstream resolver, as Azure DNS resolves public names.
    NxDomain { chain: Vec<String>, answered_by: String, public: bool },
}
