//! The Azure objects that matter for egress, after loading and validation.
//!
//! Built once from the flat resource list (`build`), whatever the input
//! format was. References between objects are indices into the vectors of
//! `Scenario`, resolved and checked at build time, so the policy compiler
//! never meets a dangling reference or an unparsed prefix.
//!
//! The types live in `scenario`, the builder in `build` and its JSON
//! accessors in `json`; this module only re-exports them.

mod build;
pub mod json;
mod scenario;

pub use build::{build, build_with, BuildOptions, DeployValue};
pub use scenario::{
    Access, AccessRule, AccessRules, AccessSource, AddrItem, Connection, Direction, DnsZone, FlexibleServer, LocalGateway, NatGateway, Nsg, NsgProtocol,
    Origin, PeerRemote, Peering, Plan, PlanKind, PrivateEndpoint, RouteAll, RoutePrefix, RouteTable, Scenario, SecurityRule, ServiceEndpoint, Site, SiteAccess,
    Subnet, SubnetRef, UserRoute, Vnet, VnetGateway, ZoneLink,
};
