//! ARM deployment templates: expression evaluation and expansion into a flat
//! list of concrete resources.
//!
//! Everything downstream (`model::build`) sees only `Resource` values whose
//! expressions are evaluated, copies expanded, false conditions dropped and
//! nested children flattened with their full `parent/child` names. `az ...
//! show` output and the native TOML format are normalised into the same shape
//! (see `az` and `native`), so there is one model builder.
//!
//! The shared types live in leaf modules (`resource`: `Resource`; `deploy`:
//! `DeployContext`, `ParamValues`) that the loaders import directly;
//! `detect` picks the loader for an input; `combine` loads several inputs
//! that read each other's resources, found by the one rule of `refs`. This
//! module only re-exports.

pub mod az;
mod combine;
pub(crate) mod deploy;
mod detect;
pub mod expr;
mod jsonc;
pub mod native;
pub(crate) mod refs;
pub(crate) mod resource;
pub mod template;

pub use az::load_az;
pub use combine::{load_together, Input};
pub use deploy::{DeployContext, DeploymentGroup, ParamValues};
pub use detect::detect_and_load;
pub use expr::parse_resource_id;
pub use native::load_native;
pub use resource::Resource;
pub use template::{eval, expand_template, parameter_values_from_object, parse_json, parse_param_assignment, read_parameters_file};
