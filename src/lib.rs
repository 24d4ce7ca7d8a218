//! nsfsim: a simulator for data minimization in credit-risk (NSF) scoring and
//! for judging an order to destroy a model. See ARCHITECTURE.md for the map.
//!
//! Pipeline: presets → population (+ outcomes) → features → models →
//! experiment → report; registry/lineage → destruction and audit.
#![warn(missing_docs)]

pub mod artifact;
pub mod audit;
pub mod cli;
pub mod destroy;
pub mod error;
pub mod experiment;
pub mod features;
pub mod generate;
pub mod metrics;
pub mod models;
pub mod outcome;
pub mod plot;
pub mod population;
pub mod preset;
pub mod registry;
pub mod reidentify;
pub mod report;
pub mod rng;
pub mod schema;
pub mod train;

pub use error::{NsfError, Result};
