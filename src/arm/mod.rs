//! ARM deployment templates: expression evaluation and expansion into a flat
//! list of concrete resources.
//!
//! Everything downstream (`model::build`) sees only `Resource` values whose
//! expressions are evaluated, copies expanded, false conditions dropped and
//! nested children flattened with their full `parent/child` names. `az ...
//! show` output and the native TOML format are normalised into the same shape
//! (see `az` and `native`), so there is one model builder.

pub mod az;
pub mod expr;
pub mod native;
pub mod template;

use serde_json::Value;

/// Deployment-time values that templates read through `resourceGroup()`,
/// `subscription()` and `environment()`.
#[derive(Debug, Clone)]
pub struct DeployContext {
    pub subscription_id: String,
    pub resource_group: String,
    pub location: String,
}

impl Default for DeployContext {
    fn default() -> Self {
        DeployContext {
            subscription_id: "00000000-0000-0000-0000-000000000000".into(),
            resource_group: "rg-vnetlab".into(),
            location: "westeurope".into(),
        }
    }
}

/// One concrete resource after template evaluation.
#[derive(Debug, Clone)]
pub struct Resource {
    /// Full type, e.g. `Microsoft.Network/virtualNetworks/subnets`.
    pub rtype: String,
    /// Full name, e.g. `vnet-app/integration` for a child.
    pub name: String,
    /// Full resource id, `/subscriptions/.../resourceGroups/.../providers/...`.
    pub id: String,
    /// The evaluated resource object (`properties`, `sku`, `kind`, ...);
    /// `null()`-valued properties are removed.
    pub body: Value,
    /// Where it came from, for error messages: file and JSON path
    /// (`$.resources[3]`, `$.resources[1].resources[0]`, `copy` index noted).
    pub file: String,
    pub path: String,
}

/// Parameter values given by the user, overriding defaults.
#[derive(Debug, Clone, Default)]
pub struct ParamValues {
    /// In order of precedence (later wins), each with where it came from.
    pub values: Vec<(String, Value, String)>,
}
