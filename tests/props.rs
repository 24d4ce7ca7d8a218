//! Property tests (proptest): preset and experiment-spec parsing and `--set`
//! overrides never panic on any input, and a valid override is applied
//! exactly (the value read back is the value given).

use proptest::prelude::*;

use nsfsim::sim::preset;

/// Keys that exist, keys that do not, and noise.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("users".to_string()),
        Just("seed".to_string()),
        Just("consent.rate".to_string()),
        Just("consent.strength".to_string()),
        Just("registration.share".to_string()),
        Just("population.as_of".to_string()),
        Just("outcome.price_tiers_krw".to_string()),
        Just("name".to_string()),
        "[a-z_.]{0,24}",
        any::<String>(),
    ]
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<f64>().prop_map(|v| v.to_string()),
        any::<i64>().prop_map(|v| v.to_string()),
        Just("1e308".to_string()),
        Just("NaN".to_string()),
        Just("-inf".to_string()),
        Just("2019-02-30".to_string()),
        Just("[1, 2, \"x\"]".to_string()),
        Just("\"../../escape\"".to_string()),
        any::<String>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// No override, however malformed, panics; each returns Ok or an error.
    #[test]
    fn any_override_is_parsed_or_refused(k in key(), v in value(), eq in any::<bool>()) {
        let set = if eq { format!("{k}={v}") } else { format!("{k}{v}") };
        if let Ok(p) = preset::load("small", std::slice::from_ref(&set)) {
            let _ = p.check();
        }
        let _ = nsfsim::experiment::load_spec("default", &[set]).map(|s| s.check());
    }

    /// A valid share override is applied exactly.
    #[test]
    fn a_valid_override_is_applied_exactly(rate in 0.0f64..=1.0) {
        let p = preset::load("small", &[format!("consent.rate={rate:?}")]).unwrap();
        prop_assert_eq!(p.consent.rate, rate);
    }

    /// Any text as a preset or spec file is parsed or refused, never a panic.
    #[test]
    fn any_toml_text_is_parsed_or_refused(text in any::<String>(), base in any::<bool>()) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.toml");
        let text = if base {
            format!("{}\n{text}", toml_head())
        } else {
            text
        };
        std::fs::write(&path, &text).unwrap();
        if let Ok(p) = preset::load(path.to_str().unwrap(), &[]) {
            let _ = p.check();
        }
        let _ = nsfsim::experiment::load_spec(path.to_str().unwrap(), &[]).map(|s| s.check());
    }
}

fn toml_head() -> &'static str {
    "name = \"fuzz\"\nusers = 10\nseed = 1\n"
}

use nsfsim::sim::preset::{FieldRange, PRESET_RANGES};

/// Integer fields of the preset and the spec (written without a fraction).
const INTEGER_FIELDS: [&str; 10] = [
    "users",
    "seed",
    "outcome.window_days",
    "outcome.grouping_days",
    "replicates",
    "bootstrap",
    "policy.max_score_for_grouping",
    "sweep.users",
    "sweep.replicates",
    "outcome.prob_paths",
];

/// Fields whose validity also depends on another field (only "accepted ⇒
/// in range" holds for them).
const CROSS_CHECKED: [&str; 4] = [
    "registration.share",
    "registration.android_rate",
    "outcome.window_days",
    "outcome.grouping_days",
];

/// A value for `r`: inside the documented range, on a bound, just outside
/// it, or extreme.
fn number_for(r: FieldRange) -> impl Strategy<Value = f64> {
    let (lo, hi) = (r.lo.max(-1e12), r.hi.min(1e12));
    let step = 1e-3 * (1.0 + (hi - lo).abs());
    prop_oneof![
        6 => lo..=hi,
        1 => Just(r.lo),
        1 => Just(r.hi),
        1 => Just(lo - step),
        1 => Just(hi + step),
        1 => prop::sample::select(vec![1e308, -1e308, f64::NAN, f64::INFINITY, -0.0, -1.0]),
    ]
}

/// Whether `v` is written as a TOML integer (an i64; larger values are
/// written as floats and refused for an integer field).
fn is_integer(field: &str, v: f64) -> bool {
    INTEGER_FIELDS.contains(&field) && v.is_finite() && v.abs() <= 9.3e18
}

/// `field=value` as `--set` takes it (TOML literals).
fn assignment(field: &str, v: f64) -> String {
    let text = if is_integer(field, v) {
        format!("{}", v.round() as i64)
    } else if v.is_nan() {
        "nan".to_string()
    } else {
        format!("{v:?}")
    };
    format!("{field}={text}")
}

/// The value `assignment` writes, as the field will hold it.
fn written(field: &str, v: f64) -> f64 {
    if is_integer(field, v) {
        (v.round() as i64) as f64
    } else {
        v
    }
}

/// A scalar field of `ranges` with a value for it.
fn field_and_value(ranges: &'static [FieldRange]) -> impl Strategy<Value = (FieldRange, f64)> {
    let scalars: Vec<FieldRange> = ranges
        .iter()
        .filter(|r| !r.field.contains('['))
        .copied()
        .collect();
    prop::sample::select(scalars).prop_flat_map(|r| (Just(r), number_for(r)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(192))]

    /// Issue 11: a preset value is accepted exactly when it lies in its
    /// documented range (`PRESET_RANGES`; for fields checked against another
    /// field, accepted only inside it), a refusal names the field, and every
    /// accepted preset generates users without a panic at a small size.
    #[test]
    fn a_preset_value_is_accepted_within_its_range_and_then_runs(
        (r, v) in field_and_value(&PRESET_RANGES)
    ) {
        let mut sets = vec![assignment(r.field, v)];
        if r.field != "users" {
            sets.push("users=300".into());
        }
        let value = written(r.field, v);
        let checked = preset::load("small", &sets).and_then(|p| p.check());
        match &checked {
            Ok(_) => prop_assert!(r.contains(value), "{sets:?} accepted outside {}", r.shown()),
            Err(e) => {
                let e = e.to_string();
                prop_assert!(
                    !r.contains(value) || CROSS_CHECKED.contains(&r.field),
                    "{sets:?} refused inside its range: {e}"
                );
                prop_assert!(e.contains(r.field.split('.').next().unwrap()), "{e}");
            }
        }
        if let Ok(p) = checked {
            let p = if p.users > 300 {
                let mut q = p.preset().clone();
                q.users = 300;
                q.check().unwrap()
            } else {
                p
            };
            let cal = nsfsim::sim::population::calibrate(&p, p.seed);
            for u in 0..p.users {
                let user = nsfsim::sim::population::generate_user(&p, &cal, p.seed, u);
                prop_assert!((0.0..=1.0).contains(&user.nsf_prob), "{sets:?}: {}", user.nsf_prob);
            }
        }
    }

    /// Issue 11: the same for every numeric field of an experiment spec
    /// (`SPEC_RANGES`).
    #[test]
    fn a_spec_value_is_accepted_exactly_within_its_range(
        (r, v) in field_and_value(&nsfsim::experiment::spec::SPEC_RANGES)
    ) {
        let value = written(r.field, v);
        let set = assignment(r.field, v);
        let with_sweep = r.field.starts_with("sweep.");
        let spec = if with_sweep { "sweep-consent" } else { "default" };
        let checked = nsfsim::experiment::load_spec(spec, std::slice::from_ref(&set))
            .and_then(|s| s.check());
        match checked {
            Ok(_) => prop_assert!(r.contains(value), "{set} accepted outside {}", r.shown()),
            Err(e) => prop_assert!(!r.contains(value), "{set} refused inside its range: {e}"),
        }
    }
}
