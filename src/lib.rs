//! nsfsim: a simulator for data minimization in credit-risk (NSF) scoring and
//! for judging an order to destroy a model. See ARCHITECTURE.md for the map.
//!
//! Pipeline: presets → population (+ outcomes) → features → models →
//! experiment → report; registry/lineage → destruction and audit.
#![warn(missing_docs)]

pub mod api;
pub mod audit;
pub mod cli;
pub mod data;
pub mod error;
pub mod experiment;
pub mod lineage;
pub mod models;
pub mod report;
pub mod sim;
pub mod stats;
pub mod stream;

pub use error::{NsfError, Result};
