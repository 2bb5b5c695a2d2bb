//! What a deployment is given besides the template: the subscription,
//! resource group and location it targets (`DeployContext`) and the
//! parameter values the user supplied (`ParamValues`).
//!
//! A leaf: the expression evaluator, the template expander and the `az` and
//! native loaders import these from here; `arm` re-exports them.

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
        DeployContext { subscription_id: "00000000-0000-0000-0000-000000000000".into(), resource_group: "rg-vnetlab".into(), location: "westeurope".into() }
    }
}

/// Parameter values given by the user, overriding defaults.
#[derive(Debug, Clone, Default)]
pub struct ParamValues {
    /// In order of precedence (later wins), each with where it came from.
    pub values: Vec<(String, Value, String)>,
}
