//! The measurements. Each module turns recorded inputs (pod observations,
//! metric scrapes, process samples) into a summary by pure computation;
//! collecting the inputs is the runner's job.

pub mod api_responsiveness;
pub mod pod_startup;
pub mod request_counts;
pub mod resource_usage;
pub mod scheduling;

/// Index pairs `(start, end)` of the readings to compute rates between:
/// neighbours, except that a reading less than half the median spacing
/// after the previous one (the extra reading at gather, or ticks bunched by
/// a stall) is folded into the interval before it. Counters such as CPU
/// seconds have a 10 ms resolution, so a rate over a few milliseconds is
/// noise that would show as a spike. Readings at the same time as their
/// predecessor are skipped.
pub fn rate_windows(times: &[f64]) -> Vec<(usize, usize)> {
    let mut gaps: Vec<f64> = times
        .windows(2)
        .map(|w| w[1] - w[0])
        .filter(|d| *d > 0.0)
        .collect();
    gaps.sort_by(f64::total_cmp);
    let min_gap = gaps.get(gaps.len() / 2).map_or(0.0, |m| m * 0.5);
    let mut out: Vec<(usize, usize)> = Vec::new();
    let mut anchor = 0;
    for (i, t) in times.iter().enumerate().skip(1) {
        let dt = t - times[anchor];
        if dt > 0.0 && dt >= min_gap {
            out.push((anchor, i));
            anchor = i;
        }
    }
    // A short last interval joins the one before it.
    let last = times.len().saturating_sub(1);
    if anchor < last && times[last] > times[anchor] {
        match out.last_mut() {
            Some(w) => w.1 = last,
            None => out.push((0, last)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_fold_short_intervals() {
        type Case<'a> = (&'a [f64], &'a [(usize, usize)]);
        let cases: &[Case] = &[
            (&[], &[]),
            (&[1.0], &[]),
            (&[1.0, 1.0], &[]),
            (&[0.0, 1.0, 2.0, 3.0], &[(0, 1), (1, 2), (2, 3)]),
            // The reading at gather, 20 ms after the last tick.
            (&[0.0, 1.0, 2.0, 3.0, 3.02], &[(0, 1), (1, 2), (2, 4)]),
            // Half the median spacing is still an interval of its own.
            (&[0.0, 1.0, 2.0, 2.5], &[(0, 1), (1, 2), (2, 3)]),
            // Two ticks bunched after a stall, and a repeated time.
            (&[0.0, 1.0, 1.1, 2.0, 2.0, 3.0], &[(0, 1), (1, 3), (3, 5)]),
            // Only short gaps: one interval over all.
            (&[0.0, 0.01], &[(0, 1)]),
        ];
        for (times, want) in cases {
            assert_eq!(rate_windows(times), want.to_vec(), "{times:?}");
        }
    }
}
