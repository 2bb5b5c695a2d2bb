//! The ARM template expression language: a parser for `[...]` strings and an
//! evaluator for the template functions the importer needs.
//!
//! Evaluation is lazy where ARM's is (`if` only evaluates the chosen branch,
//! lambdas evaluate their body per element) because templates rely on it:
//! the untaken branch of an `if` often reads a property that does not exist.
//! Values read through `reference()`, `list*()` and `deployment()` are
//! "runtime" values: Azure fills them in at deployment time, so a property
//! missing from them yields a `<runtime:NAME>` placeholder instead of an error
//! (`access`). A resource no input holds is unknown (`unknown`): what derives
//! from it stays a marker naming it, which every function accepts.
//!
//! `uniqueString`, `guid`, `newGuid` and `utcNow` are deterministic stand-ins:
//! the same inputs always give the same output, but not Azure's output.
//!
//! The parts: `parse` turns the text into an `Expr`; `eval` walks it against
//! an `Env` (parameters, variables, `reference()`, copy loops, lambdas,
//! user-defined functions); `functions` is the library of built-in template
//! functions, with `values` (type names, ARM's text conversion, argument
//! checks), `text` (.NET formatting, base64, URIs) with `numfmt` (.NET
//! numeric format strings), `ids` (resource ids), `cidr` (`parseCidr`,
//! `cidrSubnet`, `cidrHost`, IPv4 and IPv6), `standins` (deterministic
//! `uniqueString`/`guid`, `environment()`) and the families `fn_date`
//! (`dateTimeAdd`, epochs), `fn_uri` (`parseUri`, `buildUri`, data URIs),
//! `fn_collection` (`indexFromEnd`, `float`, `fail`, `json`, array
//! `indexOf`), `fn_scope` (management groups, `deployer`, `providers`,
//! zones) and `fn_roles` (`roleDefinitions`) behind it (`functions` keeps the one table of names), and
//! `error` (`EvalError`) and `budget` (bounds on depth, value sizes and
//! total work, for hostile input) under all of them. This module only re-exports.

mod access;
pub mod budget;
mod cidr;
mod error;
mod eval;
mod fn_collection;
mod fn_date;
mod fn_roles;
mod fn_scope;
mod fn_uri;
mod functions;
mod ids;
mod numfmt;
mod parse;
mod standins;
#[cfg(test)]
mod testenv;
mod text;
pub mod unknown;
mod values;

pub use budget::Budget;
pub use error::EvalError;
pub use eval::{parse_expression, CopyFrame, Env, Evaluator, UserFunction, MAX_EXPRESSION_CHARS};
pub use ids::{parse_resource_id, resource_group_id, type_name_path, TENANT_ID};
pub use parse::{is_expression, parse, unescape_literal, Expr};
pub use standins::unique_string;
pub use text::dotnet_format;
pub use unknown::{placeholder, public_ip_placeholder, Placeholder};
pub use values::{json_eq, kind, lookup, stringify};
