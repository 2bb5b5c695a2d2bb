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
//! (copy loops, conditions, enumeration, bodies), `deployments` (nested
//! deployments and outputs) and `limits` (ARM's limits on one template).

mod deployments;
mod eval;
mod external;
mod input;
mod limits;
mod names;
mod parameters;
mod resources;
mod scope;
mod state;
mod types;
mod variables;

pub use eval::eval;
pub use external::External;
pub use input::{parameter_values_from_object, parse_json, parse_param_assignment, read_parameters_file};
pub use names::{child_path, full_type_and_name};

use crate::arm::deploy::{DeployContext, ParamValues};
use crate::arm::expr::Budget;
use crate::arm::resource::Resource;
use crate::error::LoadError;
use deployments::{expand_at, Nesting};
use serde_json::Value;
use std::rc::Rc;

/// The stack of the thread that expands a template or evaluates an
/// expression: evaluation recurses (bounded by `expr::budget::MAX_EVAL_DEPTH`),
/// and the caller's stack may be small (2 MiB for test threads). Only the
/// pages used are committed.
const EVALUATION_STACK_BYTES: usize = 64 << 20;

/// Runs `run` on a thread of its own whose stack fits the deepest
/// evaluation allowed; `what` says what it does, in the error when the
/// thread cannot start.
fn on_evaluation_stack<T: Send>(name: &str, file: &str, what: &str, run: impl FnOnce() -> Result<T, LoadError> + Send) -> Result<T, LoadError> {
    std::thread::scope(|s| {
        let spawned = std::thread::Builder::new().name(name.into()).stack_size(EVALUATION_STACK_BYTES).spawn_scoped(s, run);
        match spawned.map(|h| h.join()) {
            Ok(Ok(r)) => r,
            Ok(Err(panic)) => std::panic::resume_unwind(panic),
            Err(e) => Err(LoadError::new(file, "$", format!("cannot start the thread that {what}: {e}"))),
        }
    })
}

/// Expands a template with the given parameter values, within ARM's
/// template limits and vnetlab's evaluation budget (`expr::budget`), on a
/// thread of its own with a stack that fits the deepest evaluation allowed.
pub fn expand_template(template: &Value, file: &str, params: &ParamValues, ctx: &DeployContext) -> Result<Vec<Resource>, LoadError> {
    expand_template_with(template, file, params, ctx, None)
}

/// As [`expand_template`], with the resources of other inputs that
/// `reference()` and `existing` resources may read (`external` then tells
/// what the expansion read and missed).
pub fn expand_template_with(
    template: &Value,
    file: &str,
    params: &ParamValues,
    ctx: &DeployContext,
    external: Option<&External>,
) -> Result<Vec<Resource>, LoadError> {
    let top = || Nesting { depth: 0, budget: Rc::new(Budget::default()), module: None, outer: None, external };
    let run = || expand_at(template, file, params, ctx, "$", top(), false).map(|(rs, _)| rs);
    on_evaluation_stack("vnetlab-expand", file, "expands the template", run)
}
