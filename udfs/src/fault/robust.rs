//! Median and median absolute deviation shared by `mad` and
//! `robust_zscore`.

/// Scale that makes the MAD a consistent estimator of a normal standard
/// deviation (≈ 1 / Φ⁻¹(3/4)), as fixed by the issue: 1.4826.
pub const MAD_NORMAL_SCALE: f64 = 1.4826;

/// Median of `values` (reordered in place); the mean of the two middle
/// values for an even count, as numpy's `median`. `None` when empty, NaN
/// when any value is NaN.
pub fn median_in_place(values: &mut [f64]) -> Option<f64> {
    let n = values.len();
    if n == 0 {
        return None;
    }
    if values.iter().any(|v| v.is_nan()) {
        return Some(f64::NAN);
    }
    let (lower, upper, _) = values.select_nth_unstable_by(n / 2, f64::total_cmp);
    let upper = *upper;
    if n % 2 == 1 {
        return Some(upper);
    }
    let below = lower.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    Some(below + (upper - below) / 2.0)
}

/// Median and median absolute deviation (unscaled) of `values`, which are
/// overwritten with the absolute deviations.
pub fn median_and_mad(values: &mut [f64]) -> Option<(f64, f64)> {
    let median = median_in_place(values)?;
    values.iter_mut().for_each(|v| *v = (*v - median).abs());
    let mad = median_in_place(values)?;
    Some((median, mad))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_even_and_empty() {
        assert_eq!(median_in_place(&mut []), None);
        assert_eq!(median_in_place(&mut [3.0]), Some(3.0));
        assert_eq!(median_in_place(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median_in_place(&mut [4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert!(median_in_place(&mut [1.0, f64::NAN]).unwrap().is_nan());
    }

    #[test]
    fn mad_of_a_small_set() {
        // Deviations from the median 2 are 1, 1, 0, 0, 2, 4, 7 → MAD 1.
        let mut v = [1.0, 1.0, 2.0, 2.0, 4.0, 6.0, 9.0];
        assert_eq!(median_and_mad(&mut v), Some((2.0, 1.0)));
    }

    #[test]
    fn even_median_of_huge_values_does_not_overflow() {
        assert_eq!(median_in_place(&mut [f64::MAX, f64::MAX]), Some(f64::MAX));
    }
}
