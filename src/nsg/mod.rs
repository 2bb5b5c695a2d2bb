//! TODO
pub mod classify;
