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
