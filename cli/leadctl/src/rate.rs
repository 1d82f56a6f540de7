//! Rates on the command line. `demo signups --rate` and `simulate --rate`
//! read the same forms through [`per_second`], so what works for one works
//! for the other: a bare number is per second (`2`, `0.2`), and `N/UNIT`
//! names the unit (`2/s`, `30/m`, `40/h`, `500/d`).

/// The forms, for error messages and help.
pub const FORMS: &str = "a number per second (2, 0.5) or N/UNIT with s, m, h or d (30/h)";

/// `raw` as events per second. Each command bounds the result itself.
pub fn per_second(raw: &str) -> Result<f64, String> {
    let (count, seconds) = match raw.split_once('/') {
        None => (raw, 1.0),
        Some((count, unit)) => {
            let seconds = match unit.trim() {
                "s" | "sec" => 1.0,
                "m" | "min" => 60.0,
                "h" | "hour" => 3_600.0,
                "d" | "day" => 86_400.0,
                other => {
                    return Err(format!(
                        "{raw:?}: unknown unit {other:?} (use s, m, h or d)"
                    ));
                }
            };
            (count, seconds)
        }
    };
    let count: f64 = count
        .trim()
        .parse()
        .map_err(|_| format!("{raw:?} is not a rate: use {FORMS}"))?;
    let rate = count / seconds;
    if rate.is_finite() && rate > 0.0 {
        Ok(rate)
    } else {
        Err(format!("{raw:?}: the rate must be above 0"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_number_is_per_second_and_units_convert() {
        assert_eq!(per_second("2"), Ok(2.0));
        assert_eq!(per_second("0.2"), Ok(0.2));
        assert_eq!(per_second("2/s"), Ok(2.0));
        assert_eq!(per_second("30/m"), Ok(0.5));
        assert_eq!(per_second("36/h"), Ok(0.01));
        assert_eq!(per_second(" 864 / d "), Ok(0.01));
    }

    #[test]
    fn nonsense_is_refused_with_the_forms() {
        let err = per_second("fast").unwrap_err();
        assert!(err.contains("30/h"), "{err}");
        assert!(per_second("0").is_err());
        assert!(per_second("-1/h").is_err());
        assert!(per_second("NaN").is_err());
        assert!(per_second("5/week").unwrap_err().contains("unknown unit"));
    }
}
