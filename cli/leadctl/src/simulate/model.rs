//! Modelled reps: how likely they claim, how fast they answer, when they
//! work and how much they can hold; read from flags, a spec or a file.

use std::path::Path;

use leadwheel_wheel_core::Millis;
use rand::Rng;
use serde::Deserialize;

use crate::duration;
use leadwheel_wheel_core::{Shift, TimeZone};

/// A distribution of times.
#[derive(Clone, Debug, PartialEq)]
pub enum Dist {
    /// Log-normal, given by its median and 90th percentile.
    LogNormal { mu: f64, sigma: f64 },
    /// Uniform between two times.
    Uniform { min: Millis, max: Millis },
    /// Always the same time.
    Fixed(Millis),
    /// Never (a rep who never answers; a pool nobody claims from).
    Never,
}

/// z of the 90th percentile of the standard normal.
const Z90: f64 = 1.281_551_565_5;

impl Dist {
    /// `lognormal:20s/60s`, `uniform:5s..40s`, `fixed:10s`, `never`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let text = raw.trim();
        if text == "never" {
            return Ok(Self::Never);
        }
        let (kind, args) = text.split_once(':').ok_or_else(|| {
            format!("{raw:?} is not a distribution (lognormal:MEDIAN/P90, uniform:MIN..MAX, fixed:T, never)")
        })?;
        match kind {
            "lognormal" => {
                let (median, p90) = args
                    .split_once('/')
                    .ok_or_else(|| format!("{raw:?}: lognormal takes MEDIAN/P90 (e.g. 20s/60s)"))?;
                let (median, p90) = (duration::parse_ms(median)?, duration::parse_ms(p90)?);
                if median <= 0 || p90 < median {
                    return Err(format!("{raw:?}: needs 0 < median <= p90"));
                }
                Ok(Self::LogNormal {
                    mu: (median as f64).ln(),
                    sigma: (p90 as f64 / median as f64).ln() / Z90,
                })
            }
            "uniform" => {
                let (min, max) = args
                    .split_once("..")
                    .ok_or_else(|| format!("{raw:?}: uniform takes MIN..MAX (e.g. 5s..40s)"))?;
                let (min, max) = (duration::parse_ms(min)?, duration::parse_ms(max)?);
                if min > max {
                    return Err(format!("{raw:?}: min is above max"));
                }
                Ok(Self::Uniform { min, max })
            }
            "fixed" => Ok(Self::Fixed(duration::parse_ms(args)?)),
            other => Err(format!(
                "{raw:?}: unknown distribution {other:?} (lognormal, uniform, fixed, never)"
            )),
        }
    }

    /// One draw; None for never.
    pub fn sample(&self, rng: &mut impl Rng) -> Option<Millis> {
        match *self {
            Self::LogNormal { mu, sigma } => {
                // Box–Muller; 1 - u keeps the logarithm's argument in (0, 1].
                let u1: f64 = 1.0 - rng.random::<f64>();
                let u2: f64 = rng.random();
                let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
                Some((mu + sigma * z).exp().round() as Millis)
            }
            Self::Uniform { min, max } => Some(rng.random_range(min..=max)),
            Self::Fixed(t) => Some(t),
            Self::Never => None,
        }
    }
}

/// An exponential draw with the given mean.
pub fn exponential(mean: Millis, rng: &mut impl Rng) -> Millis {
    let u: f64 = 1.0 - rng.random::<f64>();
    (-(mean as f64) * u.ln()).round() as Millis
}

/// A modelled rep.
#[derive(Clone, Debug, PartialEq)]
pub struct RepModel {
    pub id: String,
    /// Chance they claim when they answer within the window (else they pass).
    pub claim_prob: f64,
    /// Time from offer to answer; past the deadline means an expiry.
    pub response: Dist,
    /// Working hours; None is always on.
    pub shift: Option<Shift>,
    /// Leads in work plus offers in flight at which they are skipped (0: none).
    pub capacity: u32,
    /// Mean time a claimed lead stays in work.
    pub work_ms: Millis,
    /// For ability order.
    pub rank: i32,
    /// Lead tiers they take (empty: all).
    pub tiers: Vec<String>,
}

/// What a rep is when their spec or file says nothing.
#[derive(Clone, Debug)]
pub struct Defaults {
    pub rep: RepModel,
    pub days: String,
    /// The zone of shifts (`--tz`).
    pub zone: TimeZone,
}

/// One rep in a file; every field but the id falls back to the defaults.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RepEntry {
    id: String,
    claim_prob: Option<f64>,
    response: Option<String>,
    shift: Option<String>,
    days: Option<String>,
    capacity: Option<u32>,
    work: Option<String>,
    rank: Option<i32>,
    tiers: Option<Vec<String>>,
}

impl RepEntry {
    fn build(self, defaults: &Defaults) -> Result<RepModel, String> {
        let id = self.id.trim().to_string();
        if id.is_empty() {
            return Err("a rep has no id".into());
        }
        let mut rep = defaults.rep.clone();
        rep.id = id.clone();
        let at = |e: String| format!("rep {id}: {e}");
        if let Some(p) = self.claim_prob {
            if !(0.0..=1.0).contains(&p) {
                return Err(at(format!("claim probability {p} is not in 0..1")));
            }
            rep.claim_prob = p;
        }
        if let Some(response) = self.response {
            rep.response = Dist::parse(&response).map_err(at)?;
        }
        let days = self.days.unwrap_or_else(|| defaults.days.clone());
        match self.shift.as_deref().map(str::trim) {
            Some("always" | "none" | "") => rep.shift = None,
            Some(window) => {
                rep.shift = Some(Shift::daily(window, &days, defaults.zone.clone()).map_err(at)?)
            }
            None => {}
        }
        if let Some(capacity) = self.capacity {
            rep.capacity = capacity;
        }
        if let Some(work) = self.work {
            rep.work_ms = duration::parse_ms(&work).map_err(at)?.max(1);
        }
        if let Some(rank) = self.rank {
            rep.rank = rank;
        }
        if let Some(tiers) = self.tiers {
            rep.tiers = tiers.into_iter().filter(|t| !t.is_empty()).collect();
        }
        Ok(rep)
    }
}

/// `ana:p=0.9,response=lognormal:15s/45s,shift=09:00-17:00,days=mon-fri,cap=5,work=2h,rank=9,tiers=A+B`.
pub fn parse_spec(spec: &str, defaults: &Defaults) -> Result<RepModel, String> {
    let (id, rest) = spec.split_once(':').unwrap_or((spec, ""));
    let mut entry = RepEntry {
        id: id.to_string(),
        ..Default::default()
    };
    for pair in rest.split(',').filter(|p| !p.trim().is_empty()) {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| format!("--rep {spec:?}: {pair:?} is not key=value"))?;
        let value = value.trim().to_string();
        match key.trim() {
            "p" | "claim_prob" => {
                entry.claim_prob = Some(
                    value
                        .parse()
                        .map_err(|_| format!("--rep {spec:?}: p={value:?} is not a number"))?,
                )
            }
            "response" => entry.response = Some(value),
            "shift" => entry.shift = Some(value),
            "days" => entry.days = Some(value.replace('+', ",")),
            "cap" | "capacity" => {
                entry.capacity =
                    Some(value.parse().map_err(|_| {
                        format!("--rep {spec:?}: cap={value:?} is not a whole number")
                    })?)
            }
            "work" => entry.work = Some(value),
            "rank" => {
                entry.rank =
                    Some(value.parse().map_err(|_| {
                        format!("--rep {spec:?}: rank={value:?} is not a whole number")
                    })?)
            }
            "tiers" => entry.tiers = Some(value.split('+').map(str::to_string).collect()),
            other => {
                return Err(format!(
                    "--rep {spec:?}: unknown key {other:?} (p, response, shift, days, cap, work, rank, tiers)"
                ));
            }
        }
    }
    entry.build(defaults)
}

/// A file of reps: `[[rep]]` tables in TOML, `{"reps": [...]}` in JSON.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RepTable {
    #[serde(alias = "reps")]
    rep: Vec<RepEntry>,
}

/// Reps from a TOML file (`[[rep]]` tables) or a JSON file (a list, or `{"reps": [...]}`).
pub fn load_file(path: &Path, defaults: &Defaults) -> Result<Vec<RepModel>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("reading reps file {}: {e}", path.display()))?;
    let at = |e: String| {
        format!(
            "reps file {}: {}",
            path.display(),
            crate::error::one_line(&e)
        )
    };
    let trimmed = text.trim_start();
    let entries = if trimmed.starts_with('[') && !trimmed.starts_with("[[") {
        serde_json::from_str::<Vec<RepEntry>>(&text).map_err(|e| at(e.to_string()))?
    } else if trimmed.starts_with('{') {
        serde_json::from_str::<RepTable>(&text)
            .map_err(|e| at(e.to_string()))?
            .rep
    } else {
        toml::from_str::<RepTable>(&text)
            .map_err(|e| at(e.to_string()))?
            .rep
    };
    if entries.is_empty() {
        return Err(at("names no reps".into()));
    }
    entries.into_iter().map(|e| e.build(defaults)).collect()
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    pub fn defaults() -> Defaults {
        Defaults {
            rep: RepModel {
                id: String::new(),
                claim_prob: 0.7,
                response: Dist::Fixed(1_000),
                shift: None,
                capacity: 0,
                work_ms: 3_600_000,
                rank: 0,
                tiers: Vec::new(),
            },
            days: "mon-sun".into(),
            zone: TimeZone::UTC,
        }
    }

    #[test]
    fn lognormal_has_the_asked_median_and_p90() {
        let dist = Dist::parse("lognormal:20s/60s").unwrap();
        let mut rng = StdRng::seed_from_u64(7);
        let mut draws: Vec<Millis> = (0..20_000)
            .map(|_| dist.sample(&mut rng).unwrap())
            .collect();
        draws.sort_unstable();
        let (median, p90) = (draws[10_000], draws[18_000]);
        assert!((19_000..21_000).contains(&median), "{median}");
        assert!((56_000..64_000).contains(&p90), "{p90}");
        assert!(Dist::parse("lognormal:60s/20s").is_err());
        assert_eq!(Dist::parse("never"), Ok(Dist::Never));
        assert_eq!(
            Dist::parse("uniform:1s..2s"),
            Ok(Dist::Uniform {
                min: 1000,
                max: 2000
            })
        );
        assert!(Dist::parse("gamma:1s").is_err());
    }

    #[test]
    fn specs_override_defaults() {
        let rep = parse_spec(
            "ana:p=0.9,response=fixed:5s,cap=3,rank=9,tiers=A+B,shift=09:00-17:00",
            &defaults(),
        )
        .unwrap();
        assert_eq!(rep.id, "ana");
        assert_eq!(rep.claim_prob, 0.9);
        assert_eq!(rep.response, Dist::Fixed(5_000));
        assert_eq!((rep.capacity, rep.rank), (3, 9));
        assert_eq!(rep.tiers, ["A", "B"]);
        assert!(rep.shift.is_some());
        assert_eq!(parse_spec("ben", &defaults()).unwrap().claim_prob, 0.7);
        assert!(parse_spec("ana:p=2", &defaults()).is_err());
        assert!(
            parse_spec("ana:colour=red", &defaults())
                .unwrap_err()
                .contains("unknown key")
        );
    }

    #[test]
    fn files_in_toml_and_json() {
        let dir = std::env::temp_dir().join(format!("leadctl-reps-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let toml_path = dir.join("reps.toml");
        std::fs::write(
            &toml_path,
            "[[rep]]\nid = \"ana\"\nclaim_prob = 0.9\nresponse = \"uniform:5s..40s\"\n\n[[rep]]\nid = \"ben\"\nshift = \"09:00-17:00\"\ndays = \"mon-fri\"\ncapacity = 4\n",
        )
        .unwrap();
        let reps = load_file(&toml_path, &defaults()).unwrap();
        assert_eq!(reps.len(), 2);
        assert_eq!(reps[1].capacity, 4);
        let json_path = dir.join("reps.json");
        std::fs::write(
            &json_path,
            r#"[{"id":"ana","rank":3},{"id":"ben","work":"30m"}]"#,
        )
        .unwrap();
        let reps = load_file(&json_path, &defaults()).unwrap();
        assert_eq!((reps[0].rank, reps[1].work_ms), (3, 1_800_000));
        std::fs::write(&toml_path, "[[rep]]\nid = \"ana\"\nclaim = 1\n").unwrap();
        assert!(load_file(&toml_path, &defaults()).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
