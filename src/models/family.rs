//! The model-family abstraction. A family is its hyperparameter type: it
//! validates itself once ([`Family::check`]), fits on training rows with
//! optional sample weights ([`Family::fit`]) and yields a fitted
//! [`ScoreModel`] that predicts P(nsf = 1). What it can do beyond that is in
//! its [`Capabilities`]. The families nsfsim knows are registered, one line
//! each, in `models/mod.rs` (`families!`), which builds [`super::ModelSpec`]
//! (family + hyperparameters) and [`super::StoredModel`] (`model.json`).
//!
//! Adding a family: one new file with its params type implementing
//! [`Family`] and its fitted type implementing [`ScoreModel`], and one
//! registration line. Callers (train, compare, audit) never name a family.

use std::fmt::Debug;

use ndarray::ArrayView2;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::Result;

/// What a family can do beyond fitting with weights and predicting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Capabilities {
    /// Can start its fit from a fitted model of the same family and feature
    /// columns (`train --warm-start`).
    pub warm_start: bool,
    /// Can train on soft labels: a teacher model's probabilities, given as
    /// two weighted copies of each row (`train --teacher`).
    pub soft_labels: bool,
}

/// The training rows of one fit. Every family accepts sample weights.
#[derive(Debug, Clone, Copy)]
pub struct FitData<'a> {
    /// The design matrix (rows × feature columns).
    pub x: ArrayView2<'a, f32>,
    /// The attributes the columns of `x` were built from (in order).
    pub attributes: &'a [String],
    /// Rows of `x` that are training rows (no copy of the training set).
    pub rows: &'a [usize],
    /// Label per training row, in the order of `rows`.
    pub y: &'a [bool],
    /// Optional weight per training row, in the order of `rows`.
    pub weights: Option<&'a [f64]>,
    /// Training seed (families that draw random numbers use it).
    pub seed: u64,
}

/// A fitted model: predicts probabilities and describes itself.
pub trait ScoreModel {
    /// P(nsf = 1) for every row of `x` (columns as at fit time).
    fn predict_proba(&self, x: ArrayView2<f32>) -> Result<Vec<f64>>;

    /// A human-readable table of the model, if the family has one (the
    /// scorecard's points table).
    fn describe(&self) -> Option<String> {
        None
    }
}

/// A model family, implemented by its hyperparameter type.
pub trait Family:
    Clone + Debug + Default + PartialEq + Serialize + DeserializeOwned + Send + Sync
{
    /// The fitted model, stored in `model.json` under the family's key.
    type Model: ScoreModel + Clone + Debug + PartialEq + Serialize + DeserializeOwned + Send + Sync;

    /// What the family supports.
    const CAPABILITIES: Capabilities;

    /// Reads a missing value itself: on a table with gaps the family gets
    /// NaN where the design holds the median fill (the `<column>=missing`
    /// indicator stays), see [`crate::data::table::with_gaps`]. The trees
    /// put NaN in a missing bin and learn at each split which side it
    /// goes to; the others keep median + indicator.
    const NATIVE_MISSING: bool = false;

    /// Validates the hyperparameters (called once, by `ModelSpec::check`).
    fn check(&self) -> Result<()>;

    /// Fits on `data`; `init` is a fitted model of the same family to start
    /// from (only offered when `CAPABILITIES.warm_start`).
    fn fit(&self, data: &FitData, init: Option<&Self::Model>) -> Result<Self::Model>;
}

/// Registers model families: one line per family,
/// `Variant(params type) = "name", body "key";`, where `name` is the
/// family's name in specs, flags and manifests and `key` the field of
/// `model.json` holding the fitted model. Builds `ModelSpec`,
/// `ValidModelSpec` and `StoredModel` with their dispatch.
macro_rules! families {
    ($( $(#[$doc:meta])* $variant:ident($params:ty) = $name:literal, body $body:literal; )+) => {
        /// A model family with its hyperparameters (unchecked; see
        /// [`ModelSpec::check`]).
        #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(tag = "family")]
        pub enum ModelSpec {
            $( $(#[$doc])* #[serde(rename = $name)] $variant($params), )+
        }

        /// The content of `model.json`: the family, the attributes and
        /// feature columns the model reads, and the fitted model.
        #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(tag = "family")]
        pub enum StoredModel {
            $(
                $(#[$doc])*
                #[serde(rename = $name)]
                $variant {
                    /// Attributes used.
                    features: Vec<String>,
                    /// Derived feature columns.
                    feature_columns: Vec<String>,
                    /// The fitted model.
                    #[serde(rename = $body)]
                    fitted: <$params as $crate::models::family::Family>::Model,
                },
            )+
        }

        impl ModelSpec {
            /// Names of the registered families, in registration order.
            pub const NAMES: &'static [&'static str] = &[$($name),+];

            /// The family `name` with its default hyperparameters.
            pub fn parse(name: &str) -> $crate::error::Result<Self> {
                $( if name == $name { return Ok(Self::$variant(Default::default())); } )+
                Err($crate::error::NsfError::param(
                    "--model",
                    format!(
                        "`{name}` is not an available model family ({})",
                        Self::NAMES.join(", ")
                    ),
                ))
            }

            /// The family's name.
            pub fn name(&self) -> &'static str {
                match self { $( Self::$variant(_) => $name, )+ }
            }

            /// Whether the family reads missing values natively
            /// ([`Family::NATIVE_MISSING`](crate::models::family::Family::NATIVE_MISSING)).
            pub fn native_missing(&self) -> bool {
                match self {
                    $( Self::$variant(_) => <$params as $crate::models::family::Family>::NATIVE_MISSING, )+
                }
            }

            /// What the family supports.
            pub fn capabilities(&self) -> $crate::models::family::Capabilities {
                match self {
                    $( Self::$variant(_) => <$params as $crate::models::family::Family>::CAPABILITIES, )+
                }
            }

            /// The hyperparameters as recorded in a model's manifest.
            pub fn hyperparameters(&self) -> serde_json::Value {
                match self {
                    $( Self::$variant(p) => serde_json::to_value(p).expect("params serialize"), )+
                }
            }

            /// Validates the hyperparameters once.
            pub fn check(self) -> $crate::error::Result<ValidModelSpec> {
                match &self {
                    $( Self::$variant(p) => <$params as $crate::models::family::Family>::check(p)?, )+
                }
                Ok(ValidModelSpec(self))
            }
        }

        impl ValidModelSpec {
            /// Fits the family on `data`, optionally starting from `init`
            /// (a fitted model of the same family), and stores the result
            /// with the attributes and feature columns it reads.
            pub fn fit(
                &self,
                data: &$crate::models::family::FitData,
                feature_columns: &[String],
                init: Option<&StoredModel>,
            ) -> $crate::error::Result<StoredModel> {
                let features = data.attributes.to_vec();
                let gaps = self
                    .native_missing()
                    .then(|| $crate::data::table::with_gaps(data.x, feature_columns))
                    .flatten();
                let data = &$crate::models::family::FitData {
                    x: gaps.as_ref().map_or_else(|| data.x.reborrow(), |g| g.view()),
                    attributes: data.attributes,
                    rows: data.rows,
                    y: data.y,
                    weights: data.weights,
                    seed: data.seed,
                };
                let feature_columns = feature_columns.to_vec();
                match (&self.0, init) {
                    $(
                        (ModelSpec::$variant(p), None) => Ok(StoredModel::$variant {
                            features,
                            feature_columns,
                            fitted: <$params as $crate::models::family::Family>::fit(p, data, None)?,
                        }),
                        (ModelSpec::$variant(p), Some(StoredModel::$variant { fitted: m, .. }))
                            if <$params as $crate::models::family::Family>::CAPABILITIES.warm_start =>
                        {
                            Ok(StoredModel::$variant {
                                features,
                                feature_columns,
                                fitted: <$params as $crate::models::family::Family>::fit(p, data, Some(m))?,
                            })
                        }
                    )+
                    (spec, Some(m)) => Err($crate::error::NsfError::param(
                        "--warm-start",
                        format!(
                            "a {} model cannot start from a {} model",
                            spec.name(),
                            m.family()
                        ),
                    )),
                }
            }
        }

        impl StoredModel {
            /// The family's name.
            pub fn family(&self) -> &'static str {
                match self { $( Self::$variant { .. } => $name, )+ }
            }

            /// Whether the family reads missing values natively.
            pub fn native_missing(&self) -> bool {
                match self {
                    $( Self::$variant { .. } => <$params as $crate::models::family::Family>::NATIVE_MISSING, )+
                }
            }

            /// Attributes the model reads.
            pub fn features(&self) -> &[String] {
                match self { $( Self::$variant { features, .. } => features, )+ }
            }

            /// Feature columns the model reads.
            pub fn feature_columns(&self) -> &[String] {
                match self { $( Self::$variant { feature_columns, .. } => feature_columns, )+ }
            }

            /// The fitted model.
            pub fn model(&self) -> &dyn $crate::models::family::ScoreModel {
                match self { $( Self::$variant { fitted, .. } => fitted, )+ }
            }
        }
    };
}
