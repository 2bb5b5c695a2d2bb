//! `az ... show -o json` output, normalised to the ARM resource shape.

use super::{DeployContext, Resource};
use crate::error::LoadError;
use serde_json::Value;

/// Loads az CLI output: one resource object or an array of them.
pub fn load_az(_value: &Value, file: &str, _ctx: &DeployContext) -> Result<Vec<Resource>, LoadError> {
    Err(LoadError::new(file, "$", "az input: not implemented yet"))
}
