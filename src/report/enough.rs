//! The report's "enough consented users" sentence of one family, in plain
//! words: the geometric mean with its interval across replicates, the one
//! replicate's figure when there is one (no interval), or why there is no
//! figure (the replicates whose consented curve never comes within the
//! tolerance, and the others' figures).

use crate::experiment::Enough;

/// A ratio in words: "45 %" below 2, "4.7×" up to 10, "64×" above.
pub fn ratio(q: f64) -> String {
    if q < 2.0 {
        format!("{:.0} %", 100.0 * q)
    } else if q < 9.95 {
        format!("{q:.1}×")
    } else {
        format!("{q:.0}×")
    }
}

/// "1 replicate" / "4 replicates".
fn replicates(n: usize) -> String {
    if n == 1 {
        "1 replicate".into()
    } else {
        format!("{n} replicates")
    }
}

/// The "enough" sentence of `e` (AUC points of the selection cost as
/// `points` writes them).
pub fn finding(e: &Enough, points: &dyn Fn(f64) -> String) -> String {
    let rel = match (e.selection_cost_auc, e.tolerance_over_selection_cost) {
        (Some(c), Some(q)) if q < 2.0 => format!(
            " ({} of the measured selection cost of consented training, {} points)",
            ratio(q),
            points(c)
        ),
        (Some(c), Some(q)) => format!(
            " ({} the measured selection cost of consented training, {} points)",
            ratio(q),
            points(c)
        ),
        _ => String::new(),
    };
    let head = format!(
        "Consented users enough to come within {:.3} AUC{rel} of `all` ({})",
        e.tolerance, e.family
    );
    let reps = e.per_replicate.len();
    let figures: Vec<String> = e
        .per_replicate
        .iter()
        .flatten()
        .map(|n| format!("{n:.0}"))
        .collect();
    match (&e.users, e.never_within, figures.as_slice()) {
        (Some(u), _, _) => format!(
            "{head}: {:.0} (geometric mean, 95% interval {:.0}–{:.0} across {}; per replicate {}), each curve fitted with its own asymptote.",
            u.mean,
            u.ci95[0],
            u.ci95[1],
            replicates(reps),
            figures.join(", ")
        ),
        (None, 0, [one]) => format!(
            "{head}: {one} (1 replicate, so no interval across replicates), the curves fitted with their own asymptotes."
        ),
        (None, never, []) => format!(
            "{head}: no figure — the fitted consented curve never comes within the tolerance in {never} of {}.",
            replicates(reps)
        ),
        (None, never, others) => format!(
            "{head}: no figure — the fitted consented curve never comes within the tolerance in {never} of {} (the other{}: {}).",
            replicates(reps),
            if others.len() == 1 { "" } else { "s" },
            others.join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::interval::Interval;

    fn enough(per: &[Option<f64>], users: Option<Interval>) -> Enough {
        Enough {
            family: "logistic".into(),
            tolerance: 0.005,
            selection_cost_auc: Some(-0.00107),
            tolerance_over_selection_cost: Some(0.005 / 0.00107),
            per_replicate: per.to_vec(),
            fits: Vec::new(),
            never_within: per.iter().filter(|v| v.is_none()).count() as u32,
            users,
        }
    }

    fn pts(v: f64) -> String {
        format!("{:+.2}", 100.0 * v)
    }

    #[test]
    fn one_replicate_with_a_figure_is_not_reported_as_never_within() {
        let s = finding(&enough(&[Some(121_722.0)], None), &pts);
        assert!(s.contains(": 121722 (1 replicate"), "{s}");
        assert!(!s.contains("never"), "{s}");
        assert!(!s.contains("no figure"), "{s}");
    }

    #[test]
    fn tolerance_ratios_above_two_are_written_as_times() {
        assert_eq!(ratio(0.45), "45 %");
        assert_eq!(ratio(4.68), "4.7×");
        assert_eq!(ratio(63.77), "64×");
        let s = finding(&enough(&[Some(1.0e5)], None), &pts);
        assert!(s.contains("(4.7× the measured selection cost"), "{s}");
        assert!(!s.contains("467 %") && !s.contains("468 %"), "{s}");
    }

    #[test]
    fn k_replicates_say_the_interval_or_which_never_come_within() {
        let iv = Interval {
            mean: 40_000.0,
            ci95: [25_000.0, 55_000.0],
        };
        let all = enough(&[Some(30_000.0), Some(50_000.0)], Some(iv));
        let s = finding(&all, &pts);
        assert!(s.contains(": 40000 (geometric mean, 95% interval 25000–55000 across 2 replicates; per replicate 30000, 50000)"), "{s}");
        let some = enough(
            &[None, Some(92_000.0), Some(142_000.0), Some(214_000.0)],
            None,
        );
        let s = finding(&some, &pts);
        assert!(s.contains("never comes within the tolerance in 1 of 4 replicates (the others: 92000, 142000, 214000)."), "{s}");
        let none = enough(&[None], None);
        let s = finding(&none, &pts);
        assert!(s.contains("in 1 of 1 replicate."), "{s}");
    }
}
