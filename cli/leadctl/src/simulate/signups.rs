//! The signup stream: read from a CSV file or generated at a rate.

use leadwheel_wheel_core::{Millis, parse_timestamp};
use rand::Rng;

/// An hour, in milliseconds.
pub const HOUR: Millis = 60 * 60 * 1000;

/// One signup: when it arrived and its tier.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signup {
    pub at: Millis,
    pub tier: String,
}

/// `timestamp,tier` lines; blank lines and `#` comments are skipped, and a
/// first line that is not a timestamp is taken for a header. Sorted by time.
pub fn parse_csv(text: &str) -> Result<Vec<Signup>, String> {
    let mut signups = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut fields = line.split(',').map(|f| f.trim().trim_matches('"'));
        let stamp = fields.next().unwrap_or_default();
        let tier = fields.next().unwrap_or_default().to_string();
        match parse_timestamp(stamp) {
            Ok(at) => signups.push(Signup { at, tier }),
            Err(_) if signups.is_empty() && n == 0 => continue,
            Err(e) => return Err(format!("line {}: {e}", n + 1)),
        }
    }
    if signups.is_empty() {
        return Err("no signups in the file (expected lines of timestamp,tier)".into());
    }
    signups.sort_by_key(|s| s.at);
    Ok(signups)
}

/// `A=1,B=3,C=6` → tiers and weights.
pub fn parse_mix(raw: &str) -> Result<Vec<(String, f64)>, String> {
    let mut mix = Vec::new();
    for part in raw.split(',').filter(|p| !p.trim().is_empty()) {
        let (tier, weight) = part
            .split_once('=')
            .ok_or_else(|| format!("--tier-mix: {part:?} is not TIER=WEIGHT"))?;
        let weight: f64 = weight
            .trim()
            .parse()
            .map_err(|_| format!("--tier-mix: {weight:?} is not a number"))?;
        if !(weight.is_finite() && weight >= 0.0) {
            return Err(format!("--tier-mix: weight {weight} of {tier} is negative"));
        }
        mix.push((tier.trim().to_string(), weight));
    }
    if mix.iter().map(|(_, w)| w).sum::<f64>() <= 0.0 {
        return Err("--tier-mix needs a positive weight (e.g. A=1,B=3,C=6)".into());
    }
    Ok(mix)
}

/// Signups arriving at `per_hour` on average (a Poisson process) from
/// `start` for `span` ms, tiers drawn from `mix`.
pub fn generate(
    per_hour: f64,
    start: Millis,
    span: Millis,
    mix: &[(String, f64)],
    rng: &mut impl Rng,
) -> Vec<Signup> {
    let mean_gap = HOUR as f64 / per_hour;
    let total: f64 = mix.iter().map(|(_, w)| w).sum();
    let mut signups = Vec::new();
    let mut t = start as f64;
    loop {
        t += -mean_gap * (1.0 - rng.random::<f64>()).ln();
        if t >= (start + span) as f64 {
            return signups;
        }
        let mut pick = rng.random::<f64>() * total;
        let tier = mix
            .iter()
            .find(|(_, w)| {
                pick -= w;
                pick < 0.0
            })
            .or(mix.last())
            .map(|(t, _)| t.clone())
            .unwrap_or_default();
        signups.push(Signup {
            at: t.round() as Millis,
            tier,
        });
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    #[test]
    fn csv_with_header_comments_and_both_time_forms() {
        let text = "timestamp,tier\n# a comment\n2024-02-29T12:35:00Z,A\n\n1709210096000,C\n";
        let signups = parse_csv(text).unwrap();
        assert_eq!(
            signups,
            vec![
                Signup {
                    at: 1_709_210_096_000,
                    tier: "C".into()
                },
                Signup {
                    at: 1_709_210_100_000,
                    tier: "A".into()
                },
            ]
        );
        assert!(
            parse_csv("2024-02-29T12:35:00Z,A\nnot a time,B\n")
                .unwrap_err()
                .starts_with("line 2")
        );
        assert!(parse_csv("timestamp,tier\n").is_err());
    }

    #[test]
    fn generated_at_the_asked_rate_and_mix() {
        let mix = parse_mix("A=1,B=3").unwrap();
        let mut rng = StdRng::seed_from_u64(3);
        let signups = generate(100.0, 0, 100 * HOUR, &mix, &mut rng);
        assert!(
            (9_000..11_000).contains(&signups.len()),
            "{}",
            signups.len()
        );
        let a = signups.iter().filter(|s| s.tier == "A").count() as f64;
        assert!((a / signups.len() as f64 - 0.25).abs() < 0.03);
        assert!(signups.windows(2).all(|w| w[0].at <= w[1].at));
        assert!(parse_mix("A=0").is_err());
        assert!(parse_mix("A").is_err());
    }
}
