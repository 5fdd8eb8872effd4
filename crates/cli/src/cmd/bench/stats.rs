//! The statistics every figure of `traceledger bench` is reduced with.

/// The median of `v` (the upper one of an even count); 0 for none.
pub(super) fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// The `q` quantile (0..=1) of `sorted`, nearest rank; 0 for none.
pub(super) fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}
