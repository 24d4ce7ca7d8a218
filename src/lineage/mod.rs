//! The registry of models and what was derived from them, and destruction orders carried out through that lineage.

pub mod destroy;
pub mod destroy_data;
pub mod destroy_log;
pub mod destroy_md;
pub mod destroy_record;
pub mod destroy_scan;
pub mod destroy_sign;
pub mod destroy_verify;
pub mod registry;
