//! Data on disk: generating a population into Parquet/CSV, staged output folders and hashing writers, and the design matrix built from it.

pub mod artifact;
pub mod chunks;
pub mod columns;
pub mod features;
pub mod generate;
pub mod score_file;
pub mod table;
pub mod validate;
