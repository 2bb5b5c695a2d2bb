//! TODO
pub mod lpm;
