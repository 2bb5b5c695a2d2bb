//! `roleDefinitions(roleName)` (Bicep 0.42 and later): a built-in role's
//! definition id by its display name, `{id, roleDefinitionId}` with `id`
//! the subscription-scoped resource id
//! (`/subscriptions/<sub>/providers/Microsoft.Authorization/roleDefinitions/<guid>`).
//!
//! Offline, the GUIDs come from a table of the built-in roles templates
//! near App Service networking use (the GUIDs are the same in every
//! tenant); a role not in it gets a deterministic stand-in GUID derived
//! from its name, as `guid()` does, so assignments stay stable across runs.
//! Role assignments do not change what vnetlab models.
//!
//! A leaf of `expr`: imports only `error`, `values` and `standins`.

use super::error::R;
use super::standins::guid_of;
use super::values::{arity, str_arg};
use crate::arm::deploy::DeployContext;
use serde_json::{json, Value};

/// Built-in roles by display name (compared case-insensitively).
const BUILT_IN_ROLES: [(&str, &str); 22] = [
    ("Owner", "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"),
    ("Contributor", "b24988ac-6180-42a0-ab88-20f7382dd24c"),
    ("Reader", "acdd72a7-3385-48ef-bd42-f606fba81ae7"),
    ("User Access Administrator", "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"),
    ("Role Based Access Control Administrator", "f58310d9-a9f6-439a-9e8d-f62e7b41a168"),
    ("Network Contributor", "4d97b98b-1d4f-4787-a291-c67834d212e7"),
    ("Private DNS Zone Contributor", "b12aa53e-6015-4669-85d0-8515ebb3ae7f"),
    ("DNS Zone Contributor", "befefa01-2a29-4197-83a8-272ff33ce314"),
    ("Virtual Machine Contributor", "9980e02c-c2be-4d73-94e8-173b1dc7cf3c"),
    ("Resource Policy Contributor", "36243c78-bf99-498c-9df9-86d9f8d28608"),
    ("Monitoring Contributor", "749f88d5-cbae-40b8-bcfc-e573ddc772fa"),
    ("Monitoring Reader", "43d0d8ad-25c7-4714-9337-8ba259a9fe05"),
    ("Monitoring Metrics Publisher", "3913510d-42f4-4e42-8a64-420c390055eb"),
    ("Log Analytics Reader", "73c42c96-874c-492b-b04d-ab87d138a893"),
    ("Storage Account Contributor", "17d1049b-9a84-46fb-8f53-869881c3d3ab"),
    ("Storage Blob Data Owner", "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"),
    ("Storage Blob Data Contributor", "ba92f5b4-2d11-453d-a403-e96b0029c9fe"),
    ("Storage Blob Data Reader", "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"),
    ("Storage Table Data Contributor", "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3"),
    ("Storage File Data SMB Share Contributor", "0c867c2a-1d8c-454a-a3db-ab2ea1bdc8bb"),
    ("Key Vault Secrets User", "4633458b-17de-408a-b874-0445c86b69e6"),
    ("AcrPull", "7f951dda-4ed3-4680-a7ca-43fe172d538d"),
];

/// `roleDefinitions(roleName)`.
pub(super) fn call(name: &str, a: &[Value], ctx: &DeployContext) -> R<Value> {
    arity(name, a.len(), 1, 1)?;
    let role = str_arg(name, a, 0)?;
    let guid = match BUILT_IN_ROLES.iter().find(|(n, _)| n.eq_ignore_ascii_case(role)) {
        Some((_, g)) => g.to_string(),
        None => guid_of(&format!("vnetlab-roleDefinitions-{}", role.to_ascii_lowercase())),
    };
    Ok(json!({
        "id": format!("/subscriptions/{}/providers/Microsoft.Authorization/roleDefinitions/{guid}", ctx.subscription_id),
        "roleDefinitionId": guid
    }))
}
