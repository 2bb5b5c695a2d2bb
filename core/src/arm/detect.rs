//! Choosing the loader by the input's shape: native TOML, an ARM deployment
//! template, or `az` CLI JSON output.

use super::az::load_az;
use super::deploy::{DeployContext, ParamValues};
use super::native::load_native;
use super::resource::Resource;
use super::template::{expand_template_with, parse_json, External};
use crate::error::LoadError;
use serde_json::Value;

/// Loads any supported input by its shape: a `.toml` file is a native
/// scenario; JSON with `resources` (or a deploymentTemplate `$schema`) is a
/// template; a JSON object with `type` and `id`/`name`, or an array of them,
/// is `az ... show -o json` / `az resource list` output.
pub fn detect_and_load(text: &str, file: &str, params: &ParamValues, ctx: &DeployContext) -> Result<Vec<Resource>, LoadError> {
    detect_and_load_with(text, file, params, ctx, None)
}

/// As [`detect_and_load`]; a template may read the resources of `external`
/// (the other inputs) through `reference()` and `existing` resources.
pub fn detect_and_load_with(
    text: &str,
    file: &str,
    params: &ParamValues,
    ctx: &DeployContext,
    external: Option<&External>,
) -> Result<Vec<Resource>, LoadError> {
    if file.to_ascii_lowercase().ends_with(".toml") {
        return load_native(text, file, ctx);
    }
    let v = parse_json(text, file)?;
    let is_template = v.as_object().is_some_and(|o| {
        o.get("resources").is_some_and(|r| r.is_array() || r.is_object())
            || o.get("$schema").and_then(Value::as_str).is_some_and(|s| s.to_ascii_lowercase().contains("deploymenttemplate"))
    });
    if is_template {
        return expand_template_with(&v, file, params, ctx, external);
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
