//! The daily transfer stream: event rows per user, day and category, sharded, as Hive-partitioned Parquet.

pub mod plan;
pub mod shard;
pub mod volume;
pub mod wallet;
