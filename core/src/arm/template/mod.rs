//! Expansion of an ARM deployment template into concrete resources.
//!
//! Two phases, because resources may `reference()` each other in any order:
//! 1. enumerate: evaluate each resource's `copy` count, `condition`, `type`
//!    and `name`, flatten nested children and inline nested deployments, and
//!    register every instance with its full type, name and id;
//! 2. evaluate each instance's body on demand (a `reference()` evaluates its
//!    target first), with cycle detection.
//!
//! Parameters are resolved eagerly (a missing value is an error even if the
//! parameter is unused, as in ARM); variables lazily, with cycle detection.
//!
//! The stages live in their own files: `input` (JSON text, parameter
//! files and `-p` values), `scope` (what a template's expressions can read,
//! and evaluation of JSON trees), `parameters` and `variables`, `resources`
//! (copy loops, conditions, enumeration, bodies) and `deployments` (nested
//! deployments and outputs).

mod deployments;
mod input;
mod names;
mod parameters;
mod resources;
mod scope;
mod variables;

pub use input::{parameter_values_from_object, parse_json, parse_param_assignment, read_parameters_file};
pub use names::{child_path, full_type_and_name};

use crate::arm::deploy::{DeployContext, ParamValues};
use crate::arm::resource::Resource;
use crate::error::LoadError;
use deployments::expand_at;
use serde_json::Value;

/// Expands a template with the given parameter values.
pub fn expand_template(template: &Value, file: &str, params: &ParamValues, ctx: &DeployContext) -> Result<Vec<Resource>, LoadError> {
    expand_at(template, file, params, ctx, "$", 0, false).map(|(rs, _)| rs)
}
