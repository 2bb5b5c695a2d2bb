//! The builder's state and what every resource family's pass shares: the
//! user's `BuildOptions`, the lowercase resource type names, the
//! index of resources by full id (`arm::refs`), and reference resolution
//! (with the warning for a reference the assumed resource group did not
//! answer).

use super::deploytime::{DeployTime, DeployValue};
use crate::addr::{has_host_bits, parse_prefix};
use crate::arm::deploy::DeploymentGroup;
use crate::arm::expr::unknown;
pub(super) use crate::arm::refs::{id_segment, parent_id};
use crate::arm::refs::{Found, Refs};
use crate::arm::resource::Resource;
use crate::error::LoadError;
use crate::model::json::At;
use crate::model::scenario::{Origin, Scenario, SubnetRef};
use crate::warning::Warning;
use ipnet::Ipv4Net;
use std::cell::RefCell;
use std::collections::HashSet;
use std::net::Ipv4Addr;

/// Values the user supplies for what templates cannot know.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// `--public-ip NAME=ADDR`: addresses of public IP resources.
    pub public_ips: Vec<(String, Ipv4Addr)>,
    /// `--outbound-ips`: the site's outbound addresses.
    pub outbound_ips: Vec<Ipv4Addr>,
    /// `--deploy-value`: real addresses of deploy-time values, by the JSON
    /// path where the builder needs them.
    pub deploy_values: Vec<DeployValue>,
    /// The resource group the templates deploy into (`--resource-group`),
    /// for the references that name it (`arm::refs`).
    pub resource_group: DeploymentGroup,
}

pub(super) use crate::arm::expr::parse_resource_id as parse_id;

pub(super) const T_NSG: &str = "microsoft.network/networksecuritygroups";
pub(super) const T_NSG_RULE: &str = "microsoft.network/networksecuritygroups/securityrules";
pub(super) const T_RT: &str = "microsoft.network/routetables";
pub(super) const T_RT_ROUTE: &str = "microsoft.network/routetables/routes";
pub(super) const T_PIP: &str = "microsoft.network/publicipaddresses";
pub(super) const T_PIP_PREFIX: &str = "microsoft.network/publicipprefixes";
pub(super) const T_NAT: &str = "microsoft.network/natgateways";
pub(super) const T_VNET: &str = "microsoft.network/virtualnetworks";
pub(super) const T_SUBNET: &str = "microsoft.network/virtualnetworks/subnets";
pub(super) const T_PEERING: &str = "microsoft.network/virtualnetworks/virtualnetworkpeerings";
pub(super) const T_PE: &str = "microsoft.network/privateendpoints";
pub(super) const T_PE_ZG: &str = "microsoft.network/privateendpoints/privatednszonegroups";
pub(super) const T_ZONE: &str = "microsoft.network/privatednszones";
pub(super) const T_ZONE_A: &str = "microsoft.network/privatednszones/a";
pub(super) const T_ZONE_CNAME: &str = "microsoft.network/privatednszones/cname";
pub(super) const T_ZONE_LINK: &str = "microsoft.network/privatednszones/virtualnetworklinks";
pub(super) const T_PLAN: &str = "microsoft.web/serverfarms";
pub(super) const T_SITE: &str = "microsoft.web/sites";
pub(super) const T_SITE_CONFIG: &str = "microsoft.web/sites/config";
pub(super) const T_SITE_NETCFG: &str = "microsoft.web/sites/networkconfig";
pub(super) const T_SLOT: &str = "microsoft.web/sites/slots";
pub(super) const T_SLOT_CONFIG: &str = "microsoft.web/sites/slots/config";
pub(super) const T_SLOT_NETCFG: &str = "microsoft.web/sites/slots/networkconfig";
pub(super) const T_VNG: &str = "microsoft.network/virtualnetworkgateways";
pub(super) const T_LNG: &str = "microsoft.network/localnetworkgateways";
pub(super) const T_CONN: &str = "microsoft.network/connections";

/// Azure's limits on what one resource may hold (fact sheet 13.6, from
/// the virtual network limits): more is refused at load, as Azure would.
pub(super) const MAX_SUBNETS_PER_VNET: usize = 3_000;
pub(super) const MAX_RULES_PER_NSG: usize = 2_000;
pub(super) const MAX_ROUTES_PER_TABLE: usize = 1_000;

/// The error for the first object over one of Azure's limits.
pub(super) fn over_limit(at: &Origin, what: &str, owner: &str, n: usize, max: usize) -> LoadError {
    LoadError::new(&at.file, &at.path, format!("{owner} has {n} {what}; Azure's limit is {max}"))
}

/// Merges separate child resources (`securityRules`, `routes`) into their
/// parent's inline list: a separate one replaces any earlier one of the same
/// name (case-insensitive) and goes last, as if each were applied in turn.
/// Linear, with a set of names, since the lists can be long.
pub(super) fn merge_by_name<T>(inline: &mut Vec<T>, separate: Vec<T>, name: impl Fn(&T) -> &str) {
    if separate.is_empty() {
        return;
    }
    let mut later: HashSet<String> = HashSet::new();
    let mut kept: Vec<T> = Vec::with_capacity(separate.len());
    for x in separate.into_iter().rev() {
        if later.insert(name(&x).to_ascii_lowercase()) {
            kept.push(x);
        }
    }
    kept.reverse();
    inline.retain(|x| !later.contains(&name(x).to_ascii_lowercase()));
    inline.extend(kept);
}

pub(super) struct Builder<'r> {
    pub(super) res: &'r [Resource],
    pub(super) opts: &'r BuildOptions,
    pub(super) sc: Scenario,
    /// Each resource's index into the scenario vector of its type, found
    /// by full id (see `arm::refs`).
    pub(super) index: Refs<usize>,
    /// Subnets (inline or separate), by full id and `vnet/subnet` name.
    pub(super) subnets: Refs<SubnetRef>,
    /// Deploy-time values: synthetic addresses and their warnings. In a
    /// cell: the passes read them inside closures that borrow the builder.
    pub(super) deploy: RefCell<DeployTime>,
    /// References taken from another resource group than the assumed one
    /// their ids name: one warning each. In a cell for the same reason.
    pub(super) elsewhere: RefCell<Vec<Warning>>,
}

pub(super) fn ty(r: &Resource) -> String {
    r.rtype.to_ascii_lowercase()
}

pub(super) fn origin(r: &Resource) -> Origin {
    Origin { file: r.file.clone(), path: r.path.clone() }
}

/// The last segment of a child resource's full name.
pub(super) fn leaf(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

pub(super) fn parent(name: &str) -> &str {
    name.rsplit_once('/').map(|(p, _)| p).unwrap_or("")
}

impl<'r> Builder<'r> {
    pub(super) fn of(&self, t: &'static str) -> impl Iterator<Item = &'r Resource> + use<'r> {
        self.res.iter().filter(move |r| ty(r) == t)
    }

    pub(super) fn at(r: &'r Resource) -> At<'r> {
        At::root(&r.body, &r.file, &r.path)
    }

    /// Resolves `{id}` at `key` of `at` to an index of type `t`.
    pub(super) fn resolve(&self, at: &At<'_>, key_name: &str, t: &str, what: &str) -> Result<Option<usize>, LoadError> {
        let Some(id) = at.ref_id(key_name)? else { return Ok(None) };
        self.resolve_id(at, key_name, id, t, what).map(Some)
    }

    pub(super) fn resolve_id(&self, at: &At<'_>, key_name: &str, id: &str, t: &str, what: &str) -> Result<usize, LoadError> {
        self.lookup_ref(at, key_name, id, t, what, |rn| self.index.find(t, rn, id))
    }

    /// What a reference found; a note that it was found in another
    /// resource group than the assumed one its id names becomes one
    /// warning, located as `at` would locate an error there.
    pub(super) fn take<V>(&self, found: Option<Found<V>>, at: impl Fn(String) -> LoadError) -> Option<V> {
        let found = found?;
        if let Some(note) = found.note {
            let message = at(note).to_string();
            let mut seen = self.elsewhere.borrow_mut();
            if !seen.iter().any(|w| w.message == message) {
                seen.push(Warning::always(message));
            }
        }
        Some(found.v)
    }

    /// A lookup's answer: its error located by `at`, else what it found
    /// (`take`).
    pub(super) fn follow<V>(&self, found: Result<Option<Found<V>>, String>, at: impl Fn(String) -> LoadError) -> Result<Option<V>, LoadError> {
        let found = found.map_err(&at)?;
        Ok(self.take(found, at))
    }

    /// Registers resource `r` of type `t` as entry `v` of its scenario vector.
    pub(super) fn register(&mut self, t: &str, r: &Resource, v: usize) {
        self.index.insert(t, &r.name, &r.id, v);
    }

    /// Checks that `id` is a resource id of type `t` and finds the resource
    /// it names.
    fn lookup_ref<V>(
        &self,
        at: &At<'_>,
        key_name: &str,
        id: &str,
        t: &str,
        what: &str,
        find: impl Fn(&str) -> Result<Option<Found<V>>, String>,
    ) -> Result<V, LoadError> {
        let err = |m: String| LoadError::new(at.file, format!("{}.{}", at.path(), key_name), m);
        if let Some(m) = unknown_ref(id) {
            return Err(err(m));
        }
        let (rt, rn) = parse_id(id).ok_or_else(|| err(format!("'{id}' is not a resource id (expected /subscriptions/.../providers/<type>/<name>)")))?;
        if rt.to_ascii_lowercase() != t {
            return Err(err(format!("'{id}' refers to a {rt}, expected a {what}")));
        }
        self.follow(find(&rn), err)?.ok_or_else(|| err(format!("unknown resource reference: no {what} named '{rn}' in the input")))
    }

    /// The parent of child resource `r` (a subnet's VNet, a rule's NSG):
    /// the resource its id's parent names, as any reference.
    pub(super) fn parent_index(&self, r: &Resource, t: &str, what: &str) -> Result<usize, LoadError> {
        let p = parent(&r.name);
        let err = |m: String| LoadError::new(&r.file, &r.path, format!("{} '{}': {m}", r.rtype, r.name));
        self.follow(self.index.find(t, p, parent_id(&r.id)), err)?
            .ok_or_else(|| LoadError::new(&r.file, &r.path, format!("{} '{}' belongs to {what} '{p}', which is not in the input", r.rtype, r.name)))
    }

    /// Subnets have their own index: a (vnet, subnet) pair, with no limit
    /// on either count beyond Azure's.
    pub(super) fn subnet_ref(&self, at: &At<'_>, key_name: &str, id: &str) -> Result<SubnetRef, LoadError> {
        self.lookup_ref(at, key_name, id, T_SUBNET, "subnet", |rn| self.subnets.find(T_SUBNET, rn, id))
    }
}

/// Why a reference cannot be followed when it is a value Azure knows only
/// at deployment (`arm::expr::unknown`): it names the resource to supply.
pub(super) fn unknown_ref(id: &str) -> Option<String> {
    let m = unknown::find(id)?;
    Some(match unknown::source(m) {
        Some(src) => format!(
            "'{id}' is known only at deployment: it is read from '{src}', which is in none of the inputs; give that resource with -t (its `az ... show -o json` output, or the template that declares it)"
        ),
        None => format!("'{id}' is known only at deployment (Azure computes it), so this reference cannot be followed"),
    })
}

/// Address spaces and subnets: host bits set are an error, as in Azure.
pub(super) fn strict_prefix(s: &str, file: &str, path: &str) -> Result<Ipv4Net, LoadError> {
    let net = parse_prefix(s).map_err(|m| LoadError::new(file, path, m))?;
    if has_host_bits(&net) {
        return Err(LoadError::new(file, path, format!("'{s}' has host bits set: a prefix must start at its network address (did you mean {}?)", net.trunc())));
    }
    Ok(net)
}
