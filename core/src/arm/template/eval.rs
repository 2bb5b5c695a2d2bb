//! `vnetlab eval`: one ARM expression evaluated offline, in the context of
//! a template (its parameters with defaults and given values, variables and
//! user-defined functions) or in none, as `bicep console` does for Bicep.
//!
//! It reuses the expander's [`Scope`], so an expression gives here exactly
//! what it gives inside a template, `reference()` of its resources
//! included; parameters are resolved only when the expression reads them,
//! so a template with required parameters can still be queried for
//! anything else.

use super::on_evaluation_stack;
use super::scope::Scope;
use crate::arm::deploy::{DeployContext, ParamValues};
use crate::arm::expr::Budget;
use crate::error::LoadError;
use serde_json::{Map, Value};
use std::rc::Rc;

/// The value of `expression` (with or without the surrounding `[...]`) in
/// the scope of `template`, or of an empty template when there is none (then
/// `parameters()` and `variables()` are errors naming what is missing).
/// `file` names the template, or the expression's origin, in errors.
pub fn eval(template: Option<&Value>, file: &str, params: &ParamValues, ctx: &DeployContext, expression: &str) -> Result<Value, LoadError> {
    let empty = Value::Object(Map::new());
    let template = template.unwrap_or(&empty);
    let trimmed = expression.trim();
    // Text starting with `[` is taken as a template string value, so
    // `[[x]` is ARM's escaped literal `[x]`, as in a template.
    let text = if trimmed.starts_with('[') { trimmed.to_string() } else { format!("[{trimmed}]") };
    let run = || {
        let scope = Scope::new(template, file, params, ctx, "$", 0, Rc::new(Budget::default()))?;
        // The resources `reference()` may read. Enumerating them evaluates
        // names, conditions and copy counts, which may need a parameter the
        // user did not give: then the expression still runs, and a resource
        // not enumerated reads as unknown (`<runtime:... from ...>`), as one
        // outside the template does.
        let _ = scope.enumerate_resources(template, "$", &[]);
        scope.eval_value(&Value::String(text.clone()), "$", &[])
    };
    on_evaluation_stack("vnetlab-eval", file, "evaluates the expression", run)
}
