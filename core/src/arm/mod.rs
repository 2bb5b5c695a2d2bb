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

pub use az::load_az;
pub use expr::parse_resource_id;
pub use native::load_native;
pub use template::{expand_template, parameter_values_from_object, parse_json, parse_param_assignment, read_parameters_file};

use crate::error::LoadError;
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

/// Loads any supported input by its shape: a `.toml` file is a native
/// scenario; JSON with `resources` (or a deploymentTemplate `$schema`) is a
/// template; a JSON object with `type` and `id`/`name`, or an array of them,
/// is `az ... show -o json` / `az resource list` output.
pub fn detect_and_load(text: &str, file: &str, params: &ParamValues, ctx: &DeployContext) -> Result<Vec<Resource>, LoadError> {
    if file.to_ascii_lowercase().ends_with(".toml") {
        return load_native(text, file, ctx);
    }
    let v = parse_json(text, file)?;
    let is_template = v.as_object().is_some_and(|o| {
        o.get("resources").is_some_and(|r| r.is_array() || r.is_object())
            || o.get("$schema").and_then(Value::as_str).is_some_and(|s| s.to_ascii_lowercase().contains("deploymenttemplate"))
    });
    if is_template {
        return expand_template(&v, file, params, ctx);
    }
    let looks_az = |x: &Value| x.as_object().is_some_and(|o| o.contains_key("type") && (o.contains_key("id") || o.contains_key("name")));
    let is_az = match &v {
        Value::Array(items) => items.iter().all(looks_az),
        other => looks_az(other),
    };
    if is_az {
        if !params.values.is_empty() {
            return Err(LoadError::new(file, "$", "parameters were given, but this file is az CLI output, which takes no parameters"));
        }
        return load_az(&v, file, ctx);
    }
    Err(LoadError::new(
        file,
        "$",
        "unrecognised input: expected an ARM deployment template (an object with 'resources'), \
         az CLI output (`az ... show -o json`: an object with 'type' and 'id', or an array of them), \
         or a native scenario (a .toml file)",
    ))
}
