//! `az ... show -o json` (and `az resource list`) output, normalised to the
//! ARM resource shape so that the one model builder reads it.
//!
//! The az CLI flattens network resources: `az network vnet show` prints
//! `addressSpace` and `subnets[].addressPrefix` where ARM has
//! `properties.addressSpace` and `subnets[].properties.addressPrefix`. The
//! envelope (`id`, `name`, `type`, `location`, `sku`, ...) stays on top,
//! everything else moves under `properties`, and so on recursively for
//! child collections (subnets, securityRules, routes, peerings, ...).
//! An object that already has `properties` (`az resource show`) is kept.
//! `null` values, which az prints for every unset field, are dropped.

use super::deploy::DeployContext;
use super::expr::{self, parse_resource_id};
use super::resource::Resource;
use crate::error::LoadError;
use serde_json::{Map, Value};

/// Top-level keys of an ARM resource (never under `properties`).
const ENVELOPE: [&str; 15] = [
    "id",
    "name",
    "type",
    "location",
    "sku",
    "kind",
    "tags",
    "etag",
    "resourceGroup",
    "identity",
    "zones",
    "extendedLocation",
    "managedBy",
    "plan",
    "systemData",
];

/// Keys of a sub-resource that stay beside its `properties`.
const SUB_RESOURCE_ENVELOPE: [&str; 5] = ["name", "id", "etag", "type", "resourceGroup"];

/// Arrays whose elements are ARM sub-resources `{name, id, properties}`.
const CHILD_COLLECTIONS: [&str; 20] = [
    "subnets",
    "securityRules",
    "defaultSecurityRules",
    "routes",
    "virtualNetworkPeerings",
    "ipConfigurations",
    "privateLinkServiceConnections",
    "manualPrivateLinkServiceConnections",
    "delegations",
    "privateDnsZoneConfigs",
    "frontendIPConfigurations",
    "backendAddressPools",
    "inboundNatRules",
    "loadBalancingRules",
    "probes",
    "outboundRules",
    "serviceEndpointPolicies",
    "serviceEndpointPolicyDefinitions",
    "applicationGatewayIPConfigurations",
    "ipConfigurationProfiles",
];

/// az derives its keys from the Python SDK's snake_case names, so `IP`
/// becomes `Ip`; ARM (and the model builder) spell these with `IP`.
const ARM_SPELLING: [(&str, &str); 6] = [
    ("privateIpAddress", "privateIPAddress"),
    ("privateIpAddressVersion", "privateIPAddressVersion"),
    ("privateIpAllocationMethod", "privateIPAllocationMethod"),
    ("publicIpAddress", "publicIPAddress"),
    ("publicIpAddressVersion", "publicIPAddressVersion"),
    ("publicIpAllocationMethod", "publicIPAllocationMethod"),
];

fn arm_key(k: &str) -> String {
    ARM_SPELLING.iter().find(|(az, _)| *az == k).map(|(_, arm)| arm.to_string()).unwrap_or_else(|| k.to_string())
}

/// Loads az CLI output: one resource object or an array of them.
pub fn load_az(value: &Value, file: &str, ctx: &DeployContext) -> Result<Vec<Resource>, LoadError> {
    match value {
        Value::Array(items) => items.iter().enumerate().map(|(i, v)| one(v, file, &format!("$[{i}]"), ctx)).collect(),
        Value::Object(_) => Ok(vec![one(value, file, "$", ctx)?]),
        other => Err(LoadError::new(file, "$", format!("az output must be a resource object or an array of them, not {}", expr::kind(other)))),
    }
}

fn one(v: &Value, file: &str, path: &str, ctx: &DeployContext) -> Result<Resource, LoadError> {
    let Some(o) = v.as_object() else {
        return Err(LoadError::new(file, path, format!("expected an az resource object with 'type' and 'id' or 'name', found {}", expr::kind(v))));
    };
    let rtype = match o.get("type") {
        Some(Value::String(t)) if t.contains('/') => t.clone(),
        Some(t) => {
            return Err(LoadError::new(
                file,
                format!("{path}.type"),
                format!("'type' must be a resource type like Microsoft.Network/virtualNetworks, found {t}"),
            ))
        }
        None => return Err(LoadError::new(file, path, "expected an az resource object with 'type' and 'id' or 'name'; this one has no 'type'")),
    };
    let (name, id) = match o.get("id").and_then(Value::as_str).filter(|s| !s.is_empty()) {
        Some(id) => {
            let (id_type, id_name) = parse_resource_id(id).ok_or_else(|| {
                LoadError::new(file, format!("{path}.id"), format!("'{id}' is not a resource id (/subscriptions/.../providers/Namespace/type/name)"))
            })?;
            if !id_type.eq_ignore_ascii_case(&rtype) {
                return Err(LoadError::new(file, path, format!("'type' is {rtype} but the id names a {id_type}")));
            }
            (id_name, id.to_string())
        }
        None => {
            let name = o
                .get("name")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| LoadError::new(file, path, "an az resource needs an 'id' or a 'name'"))?;
            let id = expr::resource_group_id(ctx, &rtype, name)
                .map_err(|m| LoadError::new(file, format!("{path}.name"), format!("{m}; a child resource needs its full 'id' (or a 'parent/child' name)")))?;
            (name.to_string(), id)
        }
    };
    let mut body = normalise_resource(o);
    if let Value::Object(b) = &mut body {
        b.insert("type".into(), Value::String(rtype.clone()));
        b.insert("name".into(), Value::String(name.clone()));
        b.insert("id".into(), Value::String(id.clone()));
    }
    Ok(Resource { rtype, name, id, body, file: file.to_string(), path: path.to_string() })
}

fn is_envelope(k: &str) -> bool {
    ENVELOPE.iter().any(|e| e.eq_ignore_ascii_case(k))
}

/// A top-level resource: envelope on top, the rest under `properties`.
fn normalise_resource(o: &Map<String, Value>) -> Value {
    wrap_properties(o, is_envelope)
}

/// Keeps the keys `stays_on_top` accepts where they are and moves every
/// other field under `properties`; an object that already has `properties`
/// only loses its nulls.
fn wrap_properties(o: &Map<String, Value>, stays_on_top: fn(&str) -> bool) -> Value {
    if let Some(Value::Object(props)) = o.get("properties") {
        let mut out = drop_nulls_obj(o);
        out.insert("properties".into(), normalise_props(props));
        return Value::Object(out);
    }
    let mut out = Map::new();
    let mut props = Map::new();
    for (k, v) in o {
        if v.is_null() || k == "properties" {
            continue;
        }
        if stays_on_top(k) {
            out.insert(k.clone(), drop_nulls(v));
        } else {
            props.insert(k.clone(), v.clone());
        }
    }
    out.insert("properties".into(), normalise_props(&props));
    Value::Object(out)
}

/// Properties of a resource or sub-resource: child collections get their
/// elements wrapped, nulls go.
fn normalise_props(p: &Map<String, Value>) -> Value {
    let mut out = Map::new();
    for (k, v) in p {
        match v {
            Value::Null => {}
            Value::Array(items) if is_child_collection(k, items) => {
                let wrapped = items.iter().filter(|x| !x.is_null()).map(normalise_sub_resource).collect();
                out.insert(arm_key(k), Value::Array(wrapped));
            }
            other => {
                out.insert(arm_key(k), drop_nulls(other));
            }
        }
    }
    Value::Object(out)
}

fn is_child_collection(key: &str, items: &[Value]) -> bool {
    if CHILD_COLLECTIONS.iter().any(|c| c.eq_ignore_ascii_case(key)) {
        return true;
    }
    // Unknown collections: elements that carry a sub-resource's identity.
    !items.is_empty()
        && items.iter().all(|x| {
            x.as_object().is_some_and(|o| {
                o.contains_key("name") && (o.contains_key("etag") || o.get("id").and_then(Value::as_str).is_some_and(|s| s.contains("/providers/")))
            })
        })
}

/// `{name, id, etag, type, <fields>}` → `{name, id, etag, type, properties: {<fields>}}`.
fn normalise_sub_resource(v: &Value) -> Value {
    let Some(o) = v.as_object() else { return drop_nulls(v) };
    wrap_properties(o, is_sub_resource_envelope)
}

fn is_sub_resource_envelope(k: &str) -> bool {
    SUB_RESOURCE_ENVELOPE.iter().any(|e| e.eq_ignore_ascii_case(k))
}

fn drop_nulls_obj(o: &Map<String, Value>) -> Map<String, Value> {
    o.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (arm_key(k), drop_nulls(v))).collect()
}

fn drop_nulls(v: &Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(drop_nulls_obj(o)),
        Value::Array(a) => Value::Array(a.iter().filter(|x| !x.is_null()).map(drop_nulls).collect()),
        other => other.clone(),
    }
}
