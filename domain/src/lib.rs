//! placeholder
pub mod mapping;
