//! Shared statistics below every stage that reports a figure: discrimination and calibration metrics.

pub mod metrics;
