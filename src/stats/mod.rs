//! Shared statistics below every stage that reports a figure:
//! discrimination and calibration metrics, the paired bootstrap and
//! intervals, and the grouping policy's money.

pub mod bootstrap;
pub mod interval;
pub mod metrics;
pub mod money;
