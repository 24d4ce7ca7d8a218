//! NSF score models. Each family fits on a design matrix and labels and
//! predicts calibrated probabilities; no I/O here.

pub mod gbdt;
pub mod logistic;
pub mod scorecard;
pub mod train;
