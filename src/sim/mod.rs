//! The simulated world: presets, the attribute schema, keyed random streams, the population and its outcome window.

pub mod lanes;
pub mod outcome;
pub mod population;
pub mod preset;
pub mod rng;
pub mod schema;
pub mod traits;
