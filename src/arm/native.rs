//! The native TOML scenario format, converted into ARM-shaped resources.

use super::{DeployContext, Resource};
use crate::error::LoadError;

/// Loads a native TOML scenario.
pub fn load_native(_text: &str, file: &str, _ctx: &DeployContext) -> Result<Vec<Resource>, LoadError> {
    Err(LoadError::new(file, "", "native scenarios: not implemented yet"))
}
