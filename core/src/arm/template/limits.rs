//! ARM's limits on one template (fact sheet 13.6), enforced as load errors
//! that name the limit and the JSON path: 256 parameters, 512 variables
//! (the newer limit; the older text says 256, and vnetlab never refuses
//! what Azure accepts), 64 outputs, 800 resources including copies, copy
//! counts of 0 to 800. A nested template has its own limits; the total
//! across nested deployments is bounded by the expansion's `Budget`.

use super::names::obj_get;
use crate::error::LoadError;
use serde_json::{Map, Value};

pub(super) const MAX_PARAMETERS: usize = 256;
pub(super) const MAX_VARIABLES: usize = 512;
pub(super) const MAX_OUTPUTS: usize = 64;
/// Resources per template, each copy counted.
pub(super) const MAX_RESOURCES: usize = 800;
/// ARM's limit on copy loop sizes.
pub(super) const MAX_COPY: i64 = 800;

/// Checks the declared parameters, variables and outputs of the template at
/// `base` against ARM's limits.
pub(super) fn check_sections(t: &Map<String, Value>, file: &str, base: &str) -> Result<(), LoadError> {
    let count = |key: &str| match obj_get(t, key) {
        Some(Value::Object(o)) if key == "variables" => {
            let copies = match o.get("copy") {
                Some(Value::Array(c)) => c.len(),
                _ => 0,
            };
            o.keys().filter(|k| k.as_str() != "copy").count() + copies
        }
        Some(Value::Object(o)) => o.len(),
        _ => 0,
    };
    for (key, what, max) in [("parameters", "parameters", MAX_PARAMETERS), ("variables", "variables", MAX_VARIABLES), ("outputs", "outputs", MAX_OUTPUTS)] {
        let n = count(key);
        if n > max {
            return Err(LoadError::new(file, format!("{base}.{key}"), format!("the template declares {n} {what}; ARM's limit is {max} per template")));
        }
    }
    Ok(())
}

/// The error for the resource over `MAX_RESOURCES` in one template.
pub(super) fn too_many_resources(file: &str, path: &str) -> LoadError {
    LoadError::new(file, path, format!("the template has more than {MAX_RESOURCES} resources (copies counted); ARM's limit is {MAX_RESOURCES} per template"))
}
