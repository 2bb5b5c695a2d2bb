//! Resource ids: building them (`resourceId` and its subscription, tenant
//! and extension variants, ids in the deployment's resource group) and
//! splitting a full id back into type and name.

use super::error::{err, EvalError, R};
use super::values::{kind, str_arg, stringify};
use crate::arm::deploy::DeployContext;
use serde_json::Value;

/// The fixed tenant id vnetlab reports for `subscription()` and `tenant()`.
pub const TENANT_ID: &str = "00000000-0000-0000-0000-000000000001";

pub(super) enum IdScope {
    ResourceGroup,
    Subscription,
    Tenant,
}

pub(super) fn names_of(fname: &str, a: &[Value]) -> R<Vec<String>> {
    let mut names = Vec::new();
    for v in a {
        match v {
            Value::String(s) => names.extend(s.split('/').map(str::to_string)),
            Value::Number(_) => names.push(stringify(v)),
            v => return err(format!("'{fname}': resource names must be strings but got {}", kind(v))),
        }
    }
    Ok(names)
}

/// `Microsoft.Network/virtualNetworks/subnets` + `[vnet, sub]` →
/// `Microsoft.Network/virtualNetworks/vnet/subnets/sub`.
pub fn type_name_path(rtype: &str, names: &[String]) -> Result<String, String> {
    let segs: Vec<&str> = rtype.split('/').filter(|s| !s.is_empty()).collect();
    if segs.len() < 2 {
        return Err(format!("'{rtype}' is not a resource type (expected 'Namespace/type[/childType...]')"));
    }
    if segs.len() - 1 != names.len() {
        return Err(format!("resource type '{rtype}' needs {} name segment(s) but got {} ({})", segs.len() - 1, names.len(), names.join("/")));
    }
    let mut out = segs[0].to_string();
    for (t, n) in segs[1..].iter().zip(names) {
        out.push('/');
        out.push_str(t);
        out.push('/');
        out.push_str(n);
    }
    Ok(out)
}

/// The id of a resource deployed in the context's resource group.
pub fn resource_group_id(ctx: &DeployContext, rtype: &str, full_name: &str) -> Result<String, String> {
    let names: Vec<String> = full_name.split('/').map(str::to_string).collect();
    Ok(format!("/subscriptions/{}/resourceGroups/{}/providers/{}", ctx.subscription_id, ctx.resource_group, type_name_path(rtype, &names)?))
}

pub(super) fn resource_id_fn(fname: &str, a: &[Value], ctx: &DeployContext, scope: IdScope) -> R<Value> {
    // The type is the first argument with a '/'; subscription and group
    // names never contain one.
    let Some(tpos) = a.iter().position(|v| matches!(v, Value::String(s) if s.contains('/'))) else {
        return err(format!("'{fname}' needs a resource type such as 'Microsoft.Network/virtualNetworks'"));
    };
    let rtype = str_arg(fname, a, tpos)?;
    let names = names_of(fname, &a[tpos + 1..])?;
    let path = type_name_path(rtype, &names).map_err(EvalError::Here)?;
    let pre: Vec<String> = a[..tpos].iter().map(stringify).collect();
    let id = match scope {
        IdScope::ResourceGroup => {
            let (sub, rg) = match pre.as_slice() {
                [] => (ctx.subscription_id.clone(), ctx.resource_group.clone()),
                [rg] => (ctx.subscription_id.clone(), rg.clone()),
                [sub, rg] => (sub.clone(), rg.clone()),
                _ => return err(format!("'{fname}' takes at most a subscription id and a resource group before the type")),
            };
            format!("/subscriptions/{sub}/resourceGroups/{rg}/providers/{path}")
        }
        IdScope::Subscription => {
            let sub = match pre.as_slice() {
                [] => ctx.subscription_id.clone(),
                [sub] => sub.clone(),
                _ => return err(format!("'{fname}' takes at most a subscription id before the type")),
            };
            format!("/subscriptions/{sub}/providers/{path}")
        }
        IdScope::Tenant => {
            if !pre.is_empty() {
                return err(format!("'{fname}' takes the resource type as its first argument"));
            }
            format!("/providers/{path}")
        }
    };
    Ok(Value::String(id))
}

/// Splits a full resource id (any subscription or resource group) into its
/// full type and full name: `(Microsoft.Network/virtualNetworks/subnets,
/// vnet/sub)`. For extension resources the last provider segment counts.
pub fn parse_resource_id(id: &str) -> Option<(String, String)> {
    let segs: Vec<&str> = id.trim_matches('/').split('/').collect();
    let p = segs.iter().rposition(|s| s.eq_ignore_ascii_case("providers"))?;
    let rest = &segs[p + 1..];
    if rest.len() < 3 || rest.len() % 2 == 0 || rest.iter().any(|s| s.is_empty()) {
        return None;
    }
    let mut rtype = rest[0].to_string();
    let mut names = Vec::new();
    for pair in rest[1..].chunks(2) {
        rtype.push('/');
        rtype.push_str(pair[0]);
        names.push(pair[1]);
    }
    Some((rtype, names.join("/")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arm::expr::testenv::{ev, ev_err};
    use serde_json::json;

    #[test]
    fn resource_ids() {
        let rg = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-vnetlab";
        assert_eq!(
            ev("[resourceId('Microsoft.Network/virtualNetworks/subnets', 'vnet', 'sub')]"),
            json!(format!("{rg}/providers/Microsoft.Network/virtualNetworks/vnet/subnets/sub"))
        );
        assert_eq!(
            ev("[resourceId('other-rg', 'Microsoft.Network/virtualNetworks', 'v')]"),
            json!("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/other-rg/providers/Microsoft.Network/virtualNetworks/v")
        );
        assert_eq!(
            ev("[resourceId('sub1', 'rg1', 'Microsoft.Network/virtualNetworks', 'v')]"),
            json!("/subscriptions/sub1/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworks/v")
        );
        assert_eq!(
            ev("[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'r')]"),
            json!("/subscriptions/00000000-0000-0000-0000-000000000000/providers/Microsoft.Authorization/roleDefinitions/r")
        );
        assert_eq!(ev("[tenantResourceId('Microsoft.Management/managementGroups', 'm')]"), json!("/providers/Microsoft.Management/managementGroups/m"));
        assert_eq!(ev("[extensionResourceId('/x/y', 'Microsoft.Authorization/locks', 'l')]"), json!("/x/y/providers/Microsoft.Authorization/locks/l"));
        assert!(ev_err("[resourceId('Microsoft.Network/virtualNetworks/subnets', 'vnet')]").contains("needs 2 name segment(s)"));
        assert_eq!(
            parse_resource_id("/subscriptions/s/resourceGroups/RG/providers/Microsoft.Network/virtualNetworks/vnet/subnets/sub"),
            Some(("Microsoft.Network/virtualNetworks/subnets".into(), "vnet/sub".into()))
        );
        assert_eq!(parse_resource_id("/subscriptions/s/resourceGroups/rg"), None);
    }
}
