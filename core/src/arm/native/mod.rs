//! The native TOML scenario format (for people without an ARM template),
//! converted into the same ARM-shaped resources a template would give, so
//! that there is one model builder. The format is documented, key by key,
//! in `docs/native-scenario.md`.
//!
//! Unknown keys are errors (`deny_unknown_fields`), and every error names
//! the TOML line. References between objects are by name (`nsg = "nsg-int"`,
//! `subnet = "vnet-app/integration"`) and become ARM `{ "id": ... }` objects.
//!
//! The TOML is read into `schema`, names are checked (`check`), and each
//! section is emitted as ARM resources by its own file, in this order:
//! security, routing (route tables, NAT gateways), network, sites,
//! endpoints (private endpoints, DNS zones), routing again (gateways).

mod builder;
mod check;
mod endpoints;
mod network;
mod routing;
mod schema;
mod security;
mod sites;

use crate::arm::deploy::DeployContext;
use crate::arm::resource::Resource;
use crate::error::LoadError;
use builder::{line_of, Builder};
use check::check_references;
use endpoints::{emit_dns_zones, emit_private_endpoints};
use network::emit_vnets;
use routing::{emit_gateways, emit_nat_gateways, emit_route_tables};
use schema::Scenario;
use security::emit_nsgs;
use sites::emit_sites;

/// Loads a native TOML scenario.
pub fn load_native(text: &str, file: &str, ctx: &DeployContext) -> Result<Vec<Resource>, LoadError> {
    let sc: Scenario = toml::from_str(text).map_err(|e| {
        let at = e.span().map(|s| format!("line {}", line_of(text, s.start))).unwrap_or_default();
        LoadError::new(file, at, e.message().trim().to_string())
    })?;
    let mut ctx = ctx.clone();
    if let Some(l) = &sc.location {
        ctx.location = l.clone();
    }
    let mut b = Builder { text, file, ctx, out: Vec::new() };
    check_references(&b, &sc)?;
    let loc = b.ctx.location.clone();

    emit_nsgs(&mut b, &sc, &loc)?;
    emit_route_tables(&mut b, &sc, &loc)?;
    emit_nat_gateways(&mut b, &sc, &loc)?;
    emit_vnets(&mut b, &sc, &loc)?;
    emit_sites(&mut b, &sc.site, &loc)?;
    emit_private_endpoints(&mut b, &sc, &loc)?;
    emit_dns_zones(&mut b, &sc)?;
    emit_gateways(&mut b, &sc, &loc)?;
    Ok(b.out)
}
