//! Deterministic stand-ins for functions that read Azure's state outside
//! the template, like those in `standins`:
//!
//! - `managementGroup()` is the management group `vnetlab-mg` (display
//!   name `vnetlab`, parent the tenant root group), and
//!   `managementGroupResourceId` builds ids under it (or under the group
//!   named as its first argument when that argument has no `/`);
//! - `deployer()` is a fixed principal in vnetlab's tenant;
//! - `providers(namespace, type?)` lists the type in every region with one
//!   API version;
//! - availability zones: a subscription's logical zones are taken to equal
//!   the physical ones, so `toPhysicalZone(sub, 'westus2', '1')` is
//!   `westus2-az1` and `toLogicalZone` maps it back (Azure shuffles them per
//!   subscription; vnetlab cannot know how). `pickZones` treats every
//!   resource type as zonal in every region and returns zone numbers from
//!   `offset` on: `pickZones('Microsoft.Compute', 'virtualMachines',
//!   'westus2')` is `["1"]`, with 2 zones `["1", "2"]`.
//!
//! A leaf of `expr`: imports only `error`, `values` and `ids`.

use super::error::{err, EvalError, R};
use super::ids::{names_of, type_name_path, TENANT_ID};
use super::values::{arity, int_of, kind, str_arg};
use serde_json::{json, Value};

/// The management group `managementGroup()` describes.
pub const MANAGEMENT_GROUP: &str = "vnetlab-mg";
const MG_PREFIX: &str = "/providers/Microsoft.Management/managementGroups";

/// Calls the function `lname` of this family.
pub(super) fn call(name: &str, lname: &str, a: &[Value]) -> R<Value> {
    match lname {
        "managementgroup" => {
            arity(name, a.len(), 0, 0)?;
            Ok(json!({
                "id": format!("{MG_PREFIX}/{MANAGEMENT_GROUP}"),
                "name": MANAGEMENT_GROUP,
                "type": "Microsoft.Management/managementGroups",
                "properties": {
                    "displayName": "vnetlab",
                    "tenantId": TENANT_ID,
                    "details": {"parent": {"id": format!("{MG_PREFIX}/{TENANT_ID}"), "name": TENANT_ID, "displayName": "Tenant Root Group"}}
                }
            }))
        }
        "managementgroupresourceid" => {
            let (mg, rest) = match a.first() {
                Some(Value::String(s)) if !s.contains('/') && a.len() >= 3 => (s.as_str(), &a[1..]),
                _ => (MANAGEMENT_GROUP, a),
            };
            if rest.len() < 2 {
                return err(format!("function '{name}' expects ([managementGroupName], resourceType, resourceName...)"));
            }
            let t = str_arg(name, rest, 0)?;
            let names = names_of(name, &rest[1..])?;
            Ok(Value::String(format!("{MG_PREFIX}/{mg}/providers/{}", type_name_path(t, &names)?)))
        }
        "deployer" => {
            arity(name, a.len(), 0, 0)?;
            Ok(json!({"objectId": "00000000-0000-0000-0000-00000000d001", "tenantId": TENANT_ID, "userPrincipalName": "deployer@vnetlab.invalid"}))
        }
        "providers" => {
            arity(name, a.len(), 1, 2)?;
            let ns = str_arg(name, a, 0)?;
            let entry = |t: &str| json!({"resourceType": t, "locations": ["<any location>"], "apiVersions": ["<runtime:apiVersion>"]});
            match a.get(1) {
                Some(_) => Ok(entry(str_arg(name, a, 1)?)),
                None => Ok(json!({"namespace": ns, "resourceTypes": []})),
            }
        }
        "tophysicalzone" | "tophysicalzones" | "tologicalzone" | "tologicalzones" => zones(name, lname, a),
        "pickzones" => {
            arity(name, a.len(), 3, 5)?;
            for i in 0..3 {
                str_arg(name, a, i)?;
            }
            let count = a.get(3).map(|v| int_of(name, v)).transpose()?.unwrap_or(1);
            let offset = a.get(4).map(|v| int_of(name, v)).transpose()?.unwrap_or(0);
            if !(0..=3).contains(&offset) || count < 0 {
                return err(format!("{name}(): numberOfZones {count} and offset {offset} must be non-negative, offset at most 3"));
            }
            let n = count.min(3 - offset);
            Ok(Value::Array((offset..offset + n).map(|z| Value::String((z + 1).to_string())).collect()))
        }
        _ => err(format!("unsupported template function '{name}'")),
    }
}

/// `toPhysicalZone(s)(subscriptionId, location, zone(s))` and
/// `toLogicalZone(s)(...)`: the identity mapping between `N` and
/// `<location>-azN`.
fn zones(name: &str, lname: &str, a: &[Value]) -> R<Value> {
    arity(name, a.len(), 3, 3)?;
    str_arg(name, a, 0)?;
    let loc = str_arg(name, a, 1)?.to_ascii_lowercase().replace(' ', "");
    let physical = lname.starts_with("tophysical");
    let map = |z: &Value| -> R<Value> {
        let z = match z {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            v => return err(format!("function '{name}' expects zones as strings but got {}", kind(v))),
        };
        if physical {
            return Ok(Value::String(if z.is_empty() { z } else { format!("{loc}-az{z}") }));
        }
        let lower = z.to_ascii_lowercase();
        match lower.rsplit_once("-az") {
            Some((l, n)) if l == loc && !n.is_empty() => Ok(Value::String(n.to_string())),
            _ if z.is_empty() => Ok(Value::String(z)),
            _ => Err(EvalError::Here(format!("{name}(): '{z}' is not a physical zone of {loc} (such as {loc}-az1)"))),
        }
    };
    if lname.ends_with('s') {
        let Value::Array(x) = &a[2] else { return err(format!("function '{name}' expects an array of zones as its third argument but got {}", kind(&a[2]))) };
        Ok(Value::Array(x.iter().map(map).collect::<R<_>>()?))
    } else {
        map(&a[2])
    }
}
