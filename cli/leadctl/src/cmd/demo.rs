//! `demo signups`: synthetic but realistic trial signups, posted to intake's
//! webhook at a steady rate, with a progress line and a summary.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use hmac::{Hmac, Mac};
use leadwheel_client::secret::{Secret, secret_from_env};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use sha2::Sha256;
use tokio::sync::{Semaphore, mpsc};

use crate::cli::{Output, SignupsArgs};
use crate::conn::Ctx;
use crate::error::{Target, unreachable};
use crate::output::{emit, print_out};

/// Intake's signature header.
const SIGNATURE_HEADER: &str = "x-leadwheel-signature";

/// Requests in flight at once, so a slow intake does not pile up sockets.
const MAX_IN_FLIGHT: usize = 16;

const FIRST: &[&str] = &[
    "Jane", "Omar", "Priya", "Lukas", "Sofia", "Kenji", "Amara", "Mateo", "Chloé", "Noah", "Aisha",
    "Jonas", "Mei", "Diego", "Fatima", "Liam", "Ingrid", "Ravi", "Zoe", "Tomasz", "Hannah",
    "Yusuf", "Elif", "Marco", "Nadia", "Sven", "Leila", "Pedro", "Anya", "Kwame", "Clara", "Hiro",
];
const LAST: &[&str] = &[
    "Doe", "Haddad", "Sharma", "Becker", "Rossi", "Tanaka", "Okafor", "García", "Martin", "Smith",
    "Khan", "Nilsson", "Chen", "López", "Ali", "Murphy", "Larsen", "Patel", "Dubois", "Nowak",
    "Weber", "Yilmaz", "Demir", "Bianchi", "Novak", "Berg", "Rahimi", "Costa", "Ivanova", "Mensah",
];
/// (company, domain, country, size hint for the message)
const COMPANIES: &[(&str, &str, &str)] = &[
    ("Acme Logistics", "acme-logistics.com", "US"),
    ("Nordwind Energie GmbH", "nordwind-energie.de", "DE"),
    ("Bellavista Hotels", "bellavista-hotels.it", "IT"),
    ("Kumo Robotics", "kumo-robotics.jp", "JP"),
    ("Lagos Fintech Ltd", "lagosfintech.ng", "NG"),
    ("Pampa Agro", "pampa-agro.com.ar", "AR"),
    ("Fjord Analytics AS", "fjordanalytics.no", "NO"),
    ("Maple Health", "maplehealth.ca", "CA"),
    ("Sahara Solar", "saharasolar.ma", "MA"),
    ("Brightline Retail", "brightline-retail.co.uk", "GB"),
    ("Orbit Freight", "orbitfreight.com", "US"),
    ("Vltava Software s.r.o.", "vltava.cz", "CZ"),
    ("Anatolia Textiles", "anatoliatextiles.com.tr", "TR"),
    ("Coral Bay Resorts", "coralbay.com.au", "AU"),
    ("Helix Biolabs", "helixbiolabs.com", "US"),
    ("Lumière Cosmétiques", "lumiere-cosmetiques.fr", "FR"),
    ("Tejo Ventures", "tejoventures.pt", "PT"),
    ("Baltic Shipping Group", "balticshipping.pl", "PL"),
    ("Andes Mining Co", "andesmining.cl", "CL"),
    ("Greenleaf Foods", "greenleaf-foods.nl", "NL"),
];
const FREE_MAIL: &[&str] = &["gmail.com", "outlook.com", "yahoo.com", "proton.me"];
const SOURCES: &[&str] = &[
    "website",
    "pricing_page",
    "webinar",
    "referral",
    "ads",
    "blog",
];
const MESSAGES: &[&str] = &[
    "We route about 200 inbound leads a week and lose track of who called whom.",
    "Looking for a fair way to share leads across our 12 reps.",
    "Can we try this with our Salesforce data?",
    "Our reps fight over the good leads. Need something transparent.",
    "Interested in the trial for our EMEA team.",
    "How fast can a lead reach a rep? Speed to lead matters for us.",
    "",
    "",
];

/// One signup body, as the website would post it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Signup {
    pub email: String,
    pub name: String,
    pub company: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub phone: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub website: String,
    pub country: String,
    pub source: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message: String,
}

/// Letters of a name fit for an email address: `Chloé García` → `chloe.garcia`.
fn mailbox(first: &str, last: &str) -> String {
    let ascii = |s: &str| -> String {
        s.chars()
            .filter_map(|c| match c {
                'é' | 'è' | 'ê' => Some('e'),
                'á' | 'à' => Some('a'),
                'í' => Some('i'),
                'ó' | 'ö' => Some('o'),
                'ú' | 'ü' => Some('u'),
                'ñ' => Some('n'),
                'ç' => Some('c'),
                c if c.is_ascii_alphanumeric() => Some(c.to_ascii_lowercase()),
                _ => None,
            })
            .collect()
    };
    format!("{}.{}", ascii(first), ascii(last))
}

/// A plausible signup: mostly business addresses, some free-mail (which
/// intake should score low), a phone number about half the time.
pub fn generate(rng: &mut impl Rng) -> Signup {
    let first = FIRST.choose(rng).expect("names");
    let last = LAST.choose(rng).expect("names");
    let &(company, domain, country) = COMPANIES.choose(rng).expect("companies");
    let free_mail = rng.random_bool(0.15);
    let email_domain = if free_mail {
        FREE_MAIL.choose(rng).expect("domains")
    } else {
        domain
    };
    let phone = if rng.random_bool(0.5) {
        format!(
            "+{} {} {:04} {:04}",
            rng.random_range(1..=99),
            rng.random_range(100..=999),
            rng.random_range(0..10_000),
            rng.random_range(0..10_000)
        )
    } else {
        String::new()
    };
    Signup {
        email: format!("{}@{email_domain}", mailbox(first, last)),
        name: format!("{first} {last}"),
        company: company.to_string(),
        phone,
        website: if free_mail {
            String::new()
        } else {
            format!("https://{domain}")
        },
        country: country.to_string(),
        source: SOURCES.choose(rng).expect("sources").to_string(),
        message: MESSAGES.choose(rng).expect("messages").to_string(),
    }
}

/// What became of one post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Created,
    Duplicate,
    Failed(String),
    Unreachable,
}

/// The tally, also the JSON summary.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct Summary {
    pub sent: u64,
    pub accepted: u64,
    pub duplicates: u64,
    pub failed: u64,
    /// Failure reasons and how often each happened.
    pub failures: BTreeMap<String, u64>,
    pub lead_ids: Vec<String>,
}

impl Summary {
    pub fn record(&mut self, outcome: Outcome, lead_id: Option<String>) {
        self.sent += 1;
        match outcome {
            Outcome::Created => self.accepted += 1,
            Outcome::Duplicate => {
                self.accepted += 1;
                self.duplicates += 1;
            }
            Outcome::Failed(reason) => {
                self.failed += 1;
                *self.failures.entry(reason).or_default() += 1;
            }
            Outcome::Unreachable => {
                self.failed += 1;
                *self
                    .failures
                    .entry("intake unreachable".into())
                    .or_default() += 1;
            }
        }
        if let Some(id) = lead_id {
            self.lead_ids.push(id);
        }
    }

    pub fn progress(&self, elapsed: Duration) -> String {
        let rate = if elapsed.as_secs_f64() > 0.0 {
            self.sent as f64 / elapsed.as_secs_f64()
        } else {
            0.0
        };
        format!(
            "sent {} · accepted {} ({} duplicate) · failed {} · {rate:.1}/s",
            self.sent, self.accepted, self.duplicates, self.failed
        )
    }

    pub fn text(&self) -> String {
        let mut out = format!(
            "sent {}: {} accepted ({} of them duplicates of earlier signups), {} failed\n",
            self.sent, self.accepted, self.duplicates, self.failed
        );
        for (reason, count) in &self.failures {
            out.push_str(&format!("  {count} × {reason}\n"));
        }
        out
    }
}

/// The line printed the moment a signup is accepted: the lead id first
/// (what `leadctl claim` and `leads show` take), then who signed up.
pub fn accepted_line(outcome: &Outcome, lead_id: Option<&str>, signup: &Signup) -> Option<String> {
    let lead_id = lead_id?;
    let who = format!("{} ({})", signup.name, signup.company);
    match outcome {
        Outcome::Created => Some(format!("{lead_id}  {who}\n")),
        Outcome::Duplicate => Some(format!(
            "{lead_id}  {who} · duplicate: the same lead as an earlier signup\n"
        )),
        Outcome::Failed(_) | Outcome::Unreachable => None,
    }
}

/// Reads intake's answer: 201 created, 200 duplicate, 4xx/5xx with
/// `{"error":{"code","message","field"}}`.
pub fn read_answer(status: u16, body: &str) -> (Outcome, Option<String>) {
    let json: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    if (200..300).contains(&status) {
        let lead_id = json
            .get("lead_id")
            .and_then(|v| v.as_str())
            .map(str::to_string);
        let duplicate = json
            .get("duplicate")
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
        let outcome = if duplicate {
            Outcome::Duplicate
        } else {
            Outcome::Created
        };
        return (outcome, lead_id);
    }
    let error = json.get("error");
    let field = |name: &str| {
        error
            .and_then(|e| e.get(name))
            .and_then(|v| v.as_str())
            .unwrap_or("")
    };
    let mut reason = format!("HTTP {status}");
    if !field("code").is_empty() {
        reason.push_str(&format!(" {}", field("code")));
    }
    if !field("field").is_empty() {
        reason.push_str(&format!(" ({})", field("field")));
    }
    if !field("message").is_empty() {
        reason.push_str(&format!(": {}", field("message")));
    }
    (Outcome::Failed(reason), None)
}

/// The `X-Leadwheel-Signature` value intake verifies when it has a webhook
/// secret: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.
pub fn sign(secret: &Secret, timestamp_s: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes())
        .expect("HMAC takes any key length");
    mac.update(timestamp_s.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("t={timestamp_s},v1={hex}")
}

async fn post(
    client: &reqwest::Client,
    url: &str,
    signup: &Signup,
    key: String,
    secret: Option<&Secret>,
) -> (Outcome, Option<String>) {
    let body = match serde_json::to_vec(signup) {
        Ok(body) => body,
        Err(err) => return (Outcome::Failed(err.to_string()), None),
    };
    let mut request = client
        .post(url)
        .header("content-type", "application/json")
        .header("idempotency-key", key);
    if let Some(secret) = secret {
        let now_s = crate::clock::local_now_ms() / 1000;
        request = request.header(SIGNATURE_HEADER, sign(secret, now_s, &body));
    }
    let response = request.body(body).send().await;
    match response {
        Ok(response) => {
            let status = response.status().as_u16();
            let body = response.text().await.unwrap_or_default();
            read_answer(status, &body)
        }
        Err(err) if err.is_connect() => (Outcome::Unreachable, None),
        Err(err) => (
            Outcome::Failed(crate::error::one_line(&err.to_string())),
            None,
        ),
    }
}

pub async fn signups(ctx: &Ctx, args: SignupsArgs) -> Result<()> {
    let base = ctx
        .url(Target::IntakeHttp)
        .trim_end_matches('/')
        .to_string();
    let url = format!("{base}/v1/signups");
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(3))
        .timeout(Duration::from_secs(15))
        .build()?;
    // The same variable intake reads: export it once for both.
    let secret = secret_from_env("LEADWHEEL_INTAKE_WEBHOOK_SECRET")?.map(Arc::new);
    let mut rng = match args.seed {
        Some(seed) => StdRng::seed_from_u64(seed),
        None => StdRng::from_os_rng(),
    };
    let show_progress = ctx.output() == Output::Table && std::io::stderr().is_terminal();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let permits = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / args.rate));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let started = Instant::now();
    let mut summary = Summary::default();
    let mut launched: u64 = 0;
    let mut stopping = false;
    // A per-run prefix, so keys differ between runs with the same --seed.
    let run_id: u64 = rand::random();

    loop {
        let done_launching = stopping || args.count.is_some_and(|count| launched >= count);
        if done_launching && summary.sent == launched {
            break;
        }
        tokio::select! {
            _ = &mut ctrl_c, if !stopping => stopping = true,
            _ = tick.tick(), if !done_launching => {
                let signup = generate(&mut rng);
                let key = format!("leadctl-demo-{run_id:016x}-{launched}");
                let permit = permits.clone().acquire_owned().await?;
                let (client, url, tx, secret) = (client.clone(), url.clone(), tx.clone(), secret.clone());
                tokio::spawn(async move {
                    let (outcome, lead_id) = post(&client, &url, &signup, key, secret.as_deref()).await;
                    drop(permit);
                    let _ = tx.send((outcome, lead_id, signup));
                });
                launched += 1;
            }
            Some((outcome, lead_id, signup)) = rx.recv() => {
                if outcome == Outcome::Unreachable && summary.accepted == 0 {
                    if show_progress { eprintln!(); }
                    bail!(unreachable(Target::IntakeHttp, &base));
                }
                // Each id as it is accepted, so the next command can use it
                // at once; JSON gets them all in the summary.
                let line = accepted_line(&outcome, lead_id.as_deref(), &signup);
                if let (Output::Table, Some(line)) = (ctx.output(), line) {
                    if show_progress {
                        eprint!("\r\x1b[K");
                    }
                    print_out(&line);
                }
                summary.record(outcome, lead_id);
                if show_progress {
                    eprint!("\r\x1b[K{}", summary.progress(started.elapsed()));
                }
            }
        }
    }
    if show_progress {
        eprintln!();
    }
    emit(ctx.output(), &summary, Summary::text)?;
    if summary.sent > 0 && summary.accepted == 0 {
        let reason = summary.failures.keys().next().cloned().unwrap_or_default();
        bail!("no signup was accepted: {reason}");
    }
    if stopping && ctx.output() == Output::Table {
        print_out("stopped by Ctrl-C\n");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signups_look_real_and_are_reproducible() {
        let mut a = StdRng::seed_from_u64(7);
        let mut b = StdRng::seed_from_u64(7);
        for _ in 0..200 {
            let signup = generate(&mut a);
            assert_eq!(signup, generate(&mut b));
            let (mailbox, domain) = signup.email.split_once('@').unwrap();
            assert!(
                mailbox.contains('.') && mailbox.is_ascii(),
                "{}",
                signup.email
            );
            assert!(domain.contains('.'));
            assert!(signup.name.contains(' '));
            assert!(!signup.company.is_empty() && signup.country.len() == 2);
            let json = serde_json::to_value(&signup).unwrap();
            assert!(json.get("email").is_some() && json.get("company").is_some());
        }
    }

    #[test]
    fn signatures_match_what_intake_verifies() {
        let secret = Secret::new("webhook-secret-0123456789");
        let body = br#"{"email":"jane.doe@acme-logistics.com"}"#;
        assert_eq!(
            sign(&secret, 1_700_000_000, body),
            leadwheel_intake::signature::sign(&secret, 1_700_000_000, body)
        );
        assert_eq!(
            SIGNATURE_HEADER,
            leadwheel_intake::signature::SIGNATURE_HEADER
        );
    }

    #[test]
    fn mailboxes_are_ascii() {
        assert_eq!(mailbox("Chloé", "García"), "chloe.garcia");
        assert_eq!(mailbox("Jane", "O'Neil"), "jane.oneil");
    }

    #[test]
    fn reads_intake_answers() {
        assert_eq!(
            read_answer(201, r#"{"lead_id":"L1","duplicate":false}"#),
            (Outcome::Created, Some("L1".into()))
        );
        assert_eq!(
            read_answer(200, r#"{"lead_id":"L1","duplicate":true}"#),
            (Outcome::Duplicate, Some("L1".into()))
        );
        assert_eq!(
            read_answer(
                400,
                r#"{"error":{"code":"invalid_argument","message":"not an email","field":"email"}}"#
            ),
            (
                Outcome::Failed("HTTP 400 invalid_argument (email): not an email".into()),
                None
            )
        );
        assert_eq!(
            read_answer(502, "bad gateway"),
            (Outcome::Failed("HTTP 502".into()), None)
        );
    }

    #[test]
    fn summary_counts() {
        let mut summary = Summary::default();
        summary.record(Outcome::Created, Some("L1".into()));
        summary.record(Outcome::Duplicate, Some("L1".into()));
        summary.record(Outcome::Failed("HTTP 400".into()), None);
        summary.record(Outcome::Failed("HTTP 400".into()), None);
        assert_eq!(
            (
                summary.sent,
                summary.accepted,
                summary.duplicates,
                summary.failed
            ),
            (4, 2, 1, 2)
        );
        assert_eq!(summary.failures["HTTP 400"], 2);
        let text = summary.text();
        assert!(
            text.starts_with("sent 4: 2 accepted (1 of them duplicates"),
            "{text}"
        );
        assert!(text.contains("2 × HTTP 400"), "{text}");
        assert!(summary.progress(Duration::from_secs(2)).ends_with("2.0/s"));
    }

    #[test]
    fn each_accepted_signup_prints_its_lead_id_first() {
        let signup = generate(&mut StdRng::seed_from_u64(1));
        let line = accepted_line(&Outcome::Created, Some("lead_01A"), &signup).unwrap();
        assert_eq!(
            line,
            format!("lead_01A  {} ({})\n", signup.name, signup.company)
        );
        let again = accepted_line(&Outcome::Duplicate, Some("lead_01A"), &signup).unwrap();
        assert!(
            again.starts_with("lead_01A  ") && again.contains("duplicate"),
            "{again}"
        );
        assert_eq!(
            accepted_line(&Outcome::Failed("HTTP 429".into()), None, &signup),
            None
        );
    }
}
