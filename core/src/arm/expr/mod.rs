//! The ARM template expression language: a parser for `[...]` strings and an
//! evaluator for the template functions the importer needs.
//!
//! Evaluation is lazy where ARM's is (`if` only evaluates the chosen branch,
//! lambdas evaluate their body per element) because templates rely on it:
//! the untaken branch of an `if` often reads a property that does not exist.
//! Values read through `reference()`, `list*()` and `deployment()` are
//! "runtime" values: Azure fills them in at deployment time, so a property
//! missing from them yields a `<runtime:NAME>` placeholder instead of an error.
//!
//! `uniqueString`, `guid`, `newGuid` and `utcNow` are deterministic stand-ins:
//! the same inputs always give the same output, but not Azure's output.
//!
//! The parts: `parse` turns the text into an `Expr`; `eval` walks it against
//! an `Env` (parameters, variables, `reference()`, copy loops, lambdas,
//! user-defined functions); `functions` is the library of built-in template
//! functions, with `values` (type names, ARM's text conversion, argument
//! checks), `text` (.NET formatting, base64, URIs), `ids` (resource ids),
//! `cidr` (`parseCidr`, `cidrSubnet`, `cidrHost`) and `standins`
//! (deterministic `uniqueString`/`guid`, `environment()`) behind it.

mod cidr;
mod eval;
mod functions;
mod ids;
mod parse;
mod standins;
#[cfg(test)]
mod testenv;
mod text;
mod values;

pub use eval::{CopyFrame, Env, Evaluator, UserFunction};
pub use ids::{parse_resource_id, resource_group_id, type_name_path, TENANT_ID};
pub use parse::{is_expression, parse, unescape_literal, Expr};
pub use standins::unique_string;
pub use text::dotnet_format;
pub use values::{json_eq, kind, lookup, stringify};

use super::DeployContext;
use crate::error::LoadError;

/// An evaluation failure: either a message still to be located by the
/// caller (the JSON path of the expression), or a fully located error from
/// something the expression read (a variable, a parameter default, another
/// resource via `reference()`), which keeps its own location.
#[derive(Debug, Clone)]
pub enum EvalError {
    Here(String),
    At(LoadError),
}

impl From<String> for EvalError {
    fn from(s: String) -> Self {
        EvalError::Here(s)
    }
}

impl EvalError {
    /// Turns the error into a `LoadError` at `path`, quoting the expression.
    pub fn locate(self, file: &str, path: &str, expr_text: &str) -> LoadError {
        match self {
            EvalError::At(e) => e,
            EvalError::Here(m) => LoadError::new(file, path, format!("{m} in \"{expr_text}\"")),
        }
    }
}

type R<T> = Result<T, EvalError>;

fn err<T>(m: impl Into<String>) -> R<T> {
    Err(EvalError::Here(m.into()))
}
