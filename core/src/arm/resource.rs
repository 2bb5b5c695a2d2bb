//! The one shape every loader produces: a concrete resource, after template
//! evaluation or normalisation of `az` JSON and native TOML.
//!
//! A leaf: the loaders (`template`, `az`, `native`) and the model builder
//! import it from here; `arm` re-exports it as `arm::Resource`.

use serde_json::Value;

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
