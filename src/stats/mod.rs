//! Shared statistics below every stage that reports a figure:
//! discrimination and calibration metrics, the paired bootstrap and
//! intervals, and the grouping policy's money.

pub mod bootstrap;
pub mod calibration;
pub mod decision;
pub mod interval;
pub mod metrics;
pub mod money;
pub mod multiple;
pub mod scale;
