//! Error types. A load error always names where the fault is (file and JSON
//! path or line) and what was expected, so that a user can fix the input
//! without reading vnetlab's source.

use std::fmt;

/// Something in a scenario's input that vnetlab cannot use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    /// The file the input came from (`<inline>` for inline templates).
    pub file: String,
    /// A JSONPath-like location: `$.resources[2].properties.subnets[0]`.
    pub path: String,
    /// What is wrong and what was expected.
    pub message: String,
}

impl LoadError {
    pub fn new(file: impl Into<String>, path: impl Into<String>, message: impl Into<String>) -> Self {
        LoadError { file: file.into(), path: path.into(), message: message.into() }
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() || self.path == "$" {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(f, "{}: at {}: {}", self.file, self.path, self.message)
        }
    }
}

impl std::error::Error for LoadError {}

/// Errors of the policy engine once a scenario is loaded.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input could not be loaded.
    #[error("{0}")]
    Load(#[from] LoadError),
    /// The chosen site has no regional virtual network integration.
    #[error("{0}")]
    NoIntegration(String),
    /// A feature that vnetlab does not model; never silently allowed.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// A flow or name given on the command line could not be parsed.
    #[error("{0}")]
    BadArgument(String),
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
