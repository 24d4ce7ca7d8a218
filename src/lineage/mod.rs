//! The registry of models and what was derived from them, and destruction orders carried out through that lineage.

pub mod destroy;
pub mod registry;
