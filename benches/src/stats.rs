//! Medians, their confidence intervals, and within-round ratios.
//!
//! Owns: the small statistics the report needs. Must not: know drivers.

/// The median of `values` (mean of the middle two for an even count), `None`
/// when empty. NaNs are ignored.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    Some(if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    })
}

/// A distribution-free interval of about 95 % confidence for the median of
/// the population `values` were drawn from: the order statistics that a
/// binomial count of values below the median (normal approximation) puts
/// at its 2.5 % and 97.5 % points. `None` under 6 values (NaNs ignored),
/// where such an interval would be the whole range or wider.
pub fn median_interval(values: &[f64]) -> Option<(f64, f64)> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    let n = sorted.len();
    if n < 6 {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    // The lower bound's rank, counted from 1: ⌊(n − 1.96·√n) / 2⌋, at
    // least 1; the upper bound's is as far from the top.
    let rank = ((n as f64 - 1.96 * (n as f64).sqrt()) / 2.0)
        .floor()
        .max(1.0) as usize;
    Some((sorted[rank - 1], sorted[n - rank]))
}

/// `a / b`, `None` when `b` is zero.
pub fn ratio(a: f64, b: f64) -> Option<f64> {
    (b != 0.0).then(|| a / b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_even_and_empty() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[f64::NAN, 5.0]), Some(5.0));
    }

    #[test]
    fn median_interval_brackets_the_median_by_rank() {
        assert_eq!(median_interval(&[1.0, 2.0, 3.0, 4.0, 5.0]), None);
        // n = 6: (6 − 4.8) / 2 rounds down to 0, raised to rank 1: the
        // whole range.
        let six = [6.0, 1.0, 5.0, 2.0, 4.0, 3.0];
        assert_eq!(median_interval(&six), Some((1.0, 6.0)));
        // n = 45: (45 − 13.1) / 2 = 15.9, so the 15th and the 31st of 45.
        let values: Vec<f64> = (1..=45).rev().map(f64::from).collect();
        assert_eq!(median_interval(&values), Some((15.0, 31.0)));
        let mut with_nan = values.clone();
        with_nan.push(f64::NAN);
        assert_eq!(median_interval(&with_nan), Some((15.0, 31.0)));
    }

    #[test]
    fn ratio_refuses_zero() {
        assert_eq!(ratio(3.0, 2.0), Some(1.5));
        assert_eq!(ratio(3.0, 0.0), None);
    }
}
