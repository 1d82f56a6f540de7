use std::collections::BTreeMap;

use super::*;

const EXAMPLE: &str = include_str!("../../../config/scoring.toml");

fn example() -> Rules {
    Rules::parse(EXAMPLE).expect("the shipped example parses")
}

#[test]
fn the_builtin_list_is_real() {
    assert!(
        builtin_freemail_count() >= 300,
        "{}",
        builtin_freemail_count()
    );
    for domain in [
        "gmail.com",
        "outlook.com",
        "yahoo.co.uk",
        "gmx.de",
        "qq.com",
        "proton.me",
    ] {
        assert!(is_builtin_freemail(domain), "{domain}");
    }
    assert!(!is_builtin_freemail("acme.io"));
}

#[test]
fn table_of_signups_and_their_scores() {
    let rules = example();
    let attrs: BTreeMap<String, String> =
        [("use_case".to_string(), "Round-Robin".to_string())].into();
    // (signals, score, tier, rules fired besides base)
    let cases: Vec<(Signals<'_>, i32, &str, Vec<&str>)> = vec![
        (Signals::default(), 30, "C", vec![]),
        (
            Signals {
                email_domain: "gmail.com",
                ..Signals::default()
            },
            10,
            "C",
            vec!["freemail:gmail.com:-20"],
        ),
        (
            Signals {
                email_domain: "acme.io",
                company_size: 5000,
                country: "us",
                source: "Partner",
                plan: "enterprise",
                ..Signals::default()
            },
            100,
            "A",
            vec![
                "company_size:1000+:+35",
                "country:US:+10",
                "source:partner:+20",
                "plan:enterprise:+25",
            ],
        ),
        (
            Signals {
                email_domain: "acme.io",
                company_size: 250,
                country: "DE",
                ..Signals::default()
            },
            65,
            "B",
            vec!["company_size:200..999:+25", "country:DE:+10"],
        ),
        (
            Signals {
                email_domain: "hotmail.com",
                company_size: 3,
                ..Signals::default()
            },
            0,
            "C",
            vec!["freemail:hotmail.com:-20", "company_size:1..9:-10"],
        ),
        (
            Signals {
                company_size: 60,
                attributes: Some(&attrs),
                ..Signals::default()
            },
            55,
            "B",
            vec![
                "company_size:50..199:+15",
                "attribute:use_case=round-robin:+10",
            ],
        ),
    ];
    for (signals, score, tier, fired) in cases {
        let scored = rules.score(&signals);
        let got: Vec<String> = scored
            .fired
            .iter()
            .skip(1)
            .map(ToString::to_string)
            .collect();
        assert_eq!(got, fired, "{signals:?}");
        assert_eq!(
            (scored.score, scored.tier.as_str()),
            (score, tier),
            "{signals:?}"
        );
        assert_eq!(scored.fired[0].rule, "base");
    }
}

#[test]
fn bad_files_name_the_line_at_fault() {
    let cases = [
        ("base = 10\n[tiers]\nA = 50\nC = 0\nbogus = = 1\n", 5, ""),
        (
            "[tiers]\nA = 50\nC = 0\n[country]\nGermany = 5\n",
            5,
            "alpha-2",
        ),
        (
            "[tiers]\nA = 50\nC = 0\n\n[source]\nweb = 500\n",
            6,
            "between",
        ),
        ("[tiers]\nA = 50\nB = 20\n", 1, "threshold 0"),
        (
            "[tiers]\nA = 50\nC = 0\n[[company_size]]\nmin = 1\npoints = 2\n[[company_size]]\nmin = 9\nmax = 2\npoints = 1\n",
            7,
            "min <= max",
        ),
        ("surprise = 1\n[tiers]\nA = 50\nC = 0\n", 1, "unknown field"),
        ("[tiers]\nA = 150\nC = 0\n", 2, "0..100"),
        (
            "[tiers]\nA = 50\nC = 0\n[freemail]\npoints = -20\nextra_domains = [\"not a domain\"]\n",
            6,
            "not a domain",
        ),
        (
            "[tiers]\nA = 50\nC = 0\n[plan]\nPro = 5\npro = 6\n",
            6,
            "twice",
        ),
    ];
    for (text, line, needle) in cases {
        let err = Rules::parse(text).expect_err(text);
        assert_eq!(err.line, line, "{text:?}: {err}");
        assert!(err.message.contains(needle), "{text:?}: {err}");
    }
}

#[test]
fn extra_freemail_domains_count_as_freemail() {
    let rules = Rules::parse(
        "[tiers]\nA = 50\nC = 0\n[freemail]\npoints = -5\nextra_domains = [\"Mail.Example.ORG\"]\n",
    )
    .unwrap();
    assert!(rules.is_freemail("mail.example.org"));
    assert!(rules.is_freemail("gmail.com"));
    let scored = rules.score(&Signals {
        email_domain: "mail.example.org",
        ..Signals::default()
    });
    assert_eq!(scored.score, 0, "clamped at 0");
}
