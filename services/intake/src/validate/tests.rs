use proptest::prelude::*;

use super::*;

fn with_email(email: &str) -> LeadInput {
    LeadInput {
        email: Some(email.to_string()),
        ..LeadInput::default()
    }
}

fn field_of(result: Result<NewLead, IntakeError>) -> (&'static str, &'static str) {
    match result {
        Err(IntakeError::InvalidField { field, code, .. }) => (field, code),
        other => panic!("expected a field error, got {other:?}"),
    }
}

#[test]
fn email_is_trimmed_and_its_domain_lowercased() {
    let lead = validate(&with_email("  Ana.Lima@Acme.IO. ")).unwrap();
    assert_eq!(lead.email, "Ana.Lima@acme.io");
    assert_eq!(lead.email_key, "ana.lima@acme.io");
    assert_eq!(lead.domain, "acme.io");
}

#[test]
fn website_wins_over_the_email_domain() {
    let input = LeadInput {
        website: Some("HTTPS://www.Acme-Corp.com:443/pricing?x=1".into()),
        ..with_email("ana@gmail.com")
    };
    assert_eq!(validate(&input).unwrap().domain, "acme-corp.com");
    let bare = LeadInput {
        website: Some("acme.co.uk".into()),
        ..with_email("ana@gmail.com")
    };
    assert_eq!(validate(&bare).unwrap().domain, "acme.co.uk");
}

#[test]
fn bad_emails_are_refused_naming_the_field() {
    for bad in [
        "",
        "   ",
        "ana",
        "ana@",
        "@acme.io",
        "ana@acme",
        "ana@@acme.io",
        "ana..lima@acme.io",
        ".ana@acme.io",
        "ana lima@acme.io",
        "ana@-acme.io",
        "ana@ac\u{0}me.io",
        "ana\n@acme.io",
        "ana@127.0.0.1",
        "ana@acme_io.com",
    ] {
        let (field, _) = field_of(validate(&with_email(bad)));
        assert_eq!(field, "email", "{bad:?}");
    }
    let (_, code) = field_of(validate(&LeadInput::default()));
    assert_eq!(code, "required");
    let long = format!("{}@acme.io", "a".repeat(250));
    assert_eq!(field_of(validate(&with_email(&long))).1, "too_long");
}

#[test]
fn each_field_is_checked() {
    let cases: Vec<(LeadInput, &str, &str)> = vec![
        (
            LeadInput {
                name: Some("x".repeat(MAX_NAME + 1)),
                ..with_email("a@b.io")
            },
            "name",
            "too_long",
        ),
        (
            LeadInput {
                company: Some("Acme\u{0007}".into()),
                ..with_email("a@b.io")
            },
            "company",
            "control_character",
        ),
        (
            LeadInput {
                name: Some("evil\u{202E}gnp.exe".into()),
                ..with_email("a@b.io")
            },
            "name",
            "control_character",
        ),
        (
            LeadInput {
                phone: Some("call me".into()),
                ..with_email("a@b.io")
            },
            "phone",
            "invalid_format",
        ),
        (
            LeadInput {
                website: Some("ftp://acme.io".into()),
                ..with_email("a@b.io")
            },
            "website",
            "invalid_format",
        ),
        (
            LeadInput {
                website: Some("https://user@acme.io".into()),
                ..with_email("a@b.io")
            },
            "website",
            "invalid_format",
        ),
        (
            LeadInput {
                country: Some("Germany".into()),
                ..with_email("a@b.io")
            },
            "country",
            "invalid_format",
        ),
        (
            LeadInput {
                source: Some("s".repeat(MAX_SOURCE + 1)),
                ..with_email("a@b.io")
            },
            "source",
            "too_long",
        ),
        (
            LeadInput {
                message: Some("hi\u{0000}".into()),
                ..with_email("a@b.io")
            },
            "message",
            "control_character",
        ),
    ];
    for (input, field, code) in cases {
        assert_eq!(field_of(validate(&input)), (field, code), "{input:?}");
    }
}

#[test]
fn messages_may_span_lines_and_optional_fields_normalise() {
    let input = LeadInput {
        message: Some("line one\nline two\tend".into()),
        country: Some(" de ".into()),
        source: Some("Google-Ads".into()),
        phone: Some("+49 (30) 123-4567".into()),
        ..with_email("a@b.io")
    };
    let lead = validate(&input).unwrap();
    assert_eq!(lead.message, "line one\nline two\tend");
    assert_eq!(lead.country, "DE");
    assert_eq!(lead.source, "google-ads");
    assert_eq!(lead.phone, "+49301234567", "E.164-ish");
}

#[test]
fn phones_normalise_to_e164ish() {
    for (raw, expected) in [
        ("+49 (30) 123-4567", Some("+49301234567")),
        ("0049 30 1234567", Some("+49301234567")),
        ("030 1234567", Some("0301234567")),
        ("(555) 010.9999", Some("5550109999")),
        ("+1 555", None),
        ("+0 301234567", None),
        ("12+34567", None),
        ("1234", None),
        ("+1234567890123456", None),
        ("call me", None),
    ] {
        let input = LeadInput {
            phone: Some(raw.into()),
            ..with_email("a@b.io")
        };
        match (validate(&input), expected) {
            (Ok(lead), Some(expected)) => assert_eq!(lead.phone, expected, "{raw}"),
            (Err(err), None) => assert_eq!(err.field_name(), Some("phone"), "{raw}"),
            (other, _) => panic!("{raw}: {other:?}"),
        }
    }
}

#[test]
fn company_size_consent_and_domain_field() {
    let sized = |size: &str| {
        validate(&LeadInput {
            company_size: Some(size.into()),
            ..with_email("a@b.io")
        })
    };
    assert_eq!(sized("250").unwrap().company_size, 250);
    assert_eq!(sized("51-200").unwrap().company_size, 51);
    assert_eq!(sized("1,000+").unwrap().company_size, 1000);
    assert_eq!(sized("").unwrap().company_size, 0);
    for bad in ["many", "200-51", "0", "-5", "99999999999"] {
        assert_eq!(
            sized(bad).unwrap_err().field_name(),
            Some("company_size"),
            "{bad}"
        );
    }
    let consent = |raw: &str| {
        validate(&LeadInput {
            consent: Some(raw.into()),
            ..with_email("a@b.io")
        })
    };
    assert!(consent("on").unwrap().consent);
    assert!(consent("TRUE").unwrap().consent);
    assert!(!consent("").unwrap().consent);
    assert_eq!(consent("maybe").unwrap_err().field_name(), Some("consent"));
    let domain = validate(&LeadInput {
        domain: Some("WWW.Acme.io".into()),
        ..with_email("ana@gmail.com")
    })
    .unwrap();
    assert_eq!(domain.domain, "acme.io");
    assert_eq!(domain.email_domain, "gmail.com");
}

#[test]
fn custom_attributes_are_bounded() {
    let with = |attributes: Vec<(String, String)>| {
        validate(&LeadInput {
            attributes,
            ..with_email("a@b.io")
        })
    };
    let ok = with(vec![
        ("CRM".into(), " hubspot ".into()),
        ("seats".into(), "12".into()),
    ])
    .unwrap();
    assert_eq!(ok.attributes["crm"], "hubspot");
    let many = (0..=MAX_ATTRIBUTES)
        .map(|n| (format!("k{n}"), "v".into()))
        .collect();
    let cases: Vec<(Vec<(String, String)>, &str)> = vec![
        (many, "too_many"),
        (vec![("bad key".into(), "v".into())], "invalid_key"),
        (
            vec![("k".repeat(MAX_ATTRIBUTE_KEY + 1), "v".into())],
            "invalid_key",
        ),
        (vec![(String::new(), "v".into())], "invalid_key"),
        (
            vec![("k".into(), "v".repeat(MAX_ATTRIBUTE_VALUE + 1))],
            "too_long",
        ),
        (vec![("k".into(), "a\u{7}".into())], "control_character"),
        (
            vec![("k".into(), "1".into()), ("K".into(), "2".into())],
            "duplicate",
        ),
    ];
    for (attributes, code) in cases {
        let err = with(attributes).unwrap_err();
        assert_eq!((err.field_name(), err.code()), (Some("attributes"), code));
    }
}

#[test]
fn request_ids_are_optional_but_bounded() {
    assert_eq!(request_id("request_id", "").unwrap(), None);
    assert_eq!(
        request_id("request_id", " r-1 ").unwrap(),
        Some("r-1".into())
    );
    assert!(request_id("request_id", &"r".repeat(MAX_REQUEST_ID + 1)).is_err());
}

fn any_field() -> impl Strategy<Value = Option<String>> {
    prop::option::of(prop_oneof![
        any::<String>(),
        "[a-zA-Z0-9._%+-]{0,70}@[a-zA-Z0-9.-]{0,70}",
        "(https?://)?[a-zA-Z0-9.-]{0,40}(:[0-9]{1,5})?(/[ -~]{0,20})?",
    ])
}

prop_compose! {
    fn any_input()(
        email in any_field(), name in any_field(), company in any_field(),
        phone in any_field(), website in any_field(), domain in any_field(),
        company_size in any_field(), country in any_field(),
        source in any_field(), message in any_field(), plan in any_field(),
        consent in any_field(), utm_source in any_field(),
        attributes in prop::collection::vec((any::<String>(), any::<String>()), 0..25),
    ) -> LeadInput {
        LeadInput {
            email, name, company, phone, website, domain, company_size, country, source,
            message, plan, consent, attributes,
            utm: [utm_source, None, None, None, None],
            ..LeadInput::default()
        }
    }
}

/// The input a stored lead would be if sent again.
fn resubmit(lead: &NewLead) -> LeadInput {
    LeadInput {
        email: Some(lead.email.clone()),
        name: Some(lead.name.clone()),
        company: Some(lead.company.clone()),
        phone: Some(lead.phone.clone()),
        website: Some(lead.website.clone()),
        // The domain field only when it, not the website or email, gave the domain.
        domain: (lead.website.is_empty() && lead.domain != lead.email_domain)
            .then(|| lead.domain.clone()),
        company_size: (lead.company_size > 0).then(|| lead.company_size.to_string()),
        country: Some(lead.country.clone()),
        source: Some(lead.source.clone()),
        utm: lead.utm.clone().map(Some),
        product: Some(lead.product.clone()),
        plan: Some(lead.plan.clone()),
        consent: Some(lead.consent.to_string()),
        message: Some(lead.message.clone()),
        attributes: lead.attributes.clone().into_iter().collect(),
    }
}

/// Text any free-text field accepts: no control or format characters
/// (`\PC`), with blanks around it that validation trims.
fn clean_text(max: usize) -> impl Strategy<Value = String> {
    let text = proptest::string::string_regex(&format!("\\PC{{0,{max}}}")).expect("a regex");
    (" {0,2}", text, " {0,2}").prop_map(|(before, text, after)| format!("{before}{text}{after}"))
}

/// A host name `is_domain` accepts, in any case.
fn host() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9]{1,12}(-[a-zA-Z0-9]{1,6})?(\\.[a-zA-Z0-9]{1,8}){0,2}\\.[a-zA-Z]{2,6}"
        // A website's `www.` is dropped, so `www.io` would leave a bare TLD.
        .prop_filter("not www.<tld>", |host| {
            !host.to_ascii_lowercase().starts_with("www.")
        })
}

/// Digits of a phone number, written with the separators people type.
fn phone_number() -> impl Strategy<Value = String> {
    let international = ("(\\+|00)", "[1-9][0-9]{6,14}");
    let national = ("", "[1-9][0-9]{4,14}|0[1-9][0-9]{3,13}");
    (prop_oneof![international, national], any::<u64>()).prop_map(|((prefix, digits), seps)| {
        // Each bit pair of `seps` puts a separator (or none) after a digit.
        let mut out = prefix;
        for (i, digit) in digits.chars().enumerate() {
            out.push(digit);
            out.push_str(["", " ", "-", "."][(seps >> (2 * (i % 32)) & 3) as usize]);
        }
        out
    })
}

fn company_size_text() -> impl Strategy<Value = String> {
    prop_oneof![
        (1i64..10_000_000).prop_map(|n| n.to_string()),
        (1i64..10_000_000).prop_map(|n| format!("{n}+")),
        (1i64..1_000_000, 0i64..1_000_000).prop_map(|(n, more)| format!("{n}-{}", n + more)),
        Just("1,000+".to_string()),
    ]
}

fn consent_text() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "", "true", "false", "yes", "no", "on", "off", "1", "0", "TRUE", "No", " On ",
    ])
    .prop_map(str::to_string)
}

/// Distinct attribute names (distinct once lowercased) with clean values.
fn attributes() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::btree_map("[a-z0-9_.-]{1,40}", clean_text(60), 0..=MAX_ATTRIBUTES)
        .prop_flat_map(|map| {
            let len = map.len();
            (Just(map), prop::collection::vec(any::<bool>(), len))
        })
        .prop_map(|(map, upper)| {
            map.into_iter()
                .zip(upper)
                .map(|((key, value), upper)| {
                    let key = if upper { key.to_ascii_uppercase() } else { key };
                    (key, value)
                })
                .collect()
        })
}

prop_compose! {
    /// A signup that must be accepted: every field present or absent, each
    /// in a shape validation takes, with the blanks and case it normalises.
    fn valid_input()(
        local in "[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]{1,20}(\\.[a-zA-Z0-9_+-]{1,10}){0,2}",
        email_host in host(),
        email_dot in any::<bool>(),
        name in prop::option::of(clean_text(60)),
        company in prop::option::of(clean_text(60)),
        phone in prop::option::of(phone_number()),
        website in prop::option::of(
            ("(https?://|HTTPS://)?(www\\.)?", host(), "(:[0-9]{1,5})?(/[a-z0-9?=&]{0,20})?")
                .prop_map(|(scheme, host, rest)| format!("{scheme}{host}{rest}"))
        ),
        domain in prop::option::of(("(www\\.)?", host()).prop_map(|(www, host)| format!("{www}{host}"))),
        company_size in prop::option::of(company_size_text()),
        country in prop::option::of(" ?[a-zA-Z]{2} ?"),
        source in prop::option::of("[a-zA-Z0-9-]{0,20}"),
        utm in prop::array::uniform5(prop::option::of(clean_text(40))),
        product in prop::option::of(clean_text(30)),
        plan in prop::option::of(clean_text(30)),
        consent in prop::option::of(consent_text()),
        message in prop::option::of("(\\PC|\n|\t){0,200}"),
        attributes in attributes(),
    ) -> LeadInput {
        let dot = if email_dot { "." } else { "" };
        LeadInput {
            email: Some(format!(" {local}@{email_host}{dot} ")),
            name, company, phone, website, domain, company_size, country, source,
            utm, product, plan, consent, message, attributes,
        }
    }
}

proptest! {
    /// Whatever arrives, validation answers (no panic) and a refusal is a
    /// client error naming a field.
    #[test]
    fn never_panics_and_rejections_are_4xx(input in any_input()) {
        match validate(&input) {
            // The rare junk that passes is normalised too.
            Ok(lead) => prop_assert_eq!(validate(&resubmit(&lead)).ok(), Some(lead)),
            Err(err) => {
                prop_assert!(err.http_status().is_client_error(), "{err:?}");
                prop_assert!(err.field_name().is_some(), "{err:?}");
                prop_assert_eq!(err.grpc_code(), tonic::Code::InvalidArgument);
            }
        }
    }

    /// Every well-formed signup is accepted, and an accepted lead is
    /// normalised: sending it again validates to the same lead.
    #[test]
    fn accepted_leads_are_a_fixed_point(input in valid_input()) {
        let lead = match validate(&input) {
            Ok(lead) => lead,
            Err(err) => return Err(TestCaseError::fail(format!("{input:?} was refused: {err:?}"))),
        };
        let resubmitted = resubmit(&lead);
        match validate(&resubmitted) {
            Ok(again) => prop_assert_eq!(again, lead),
            Err(err) => {
                return Err(TestCaseError::fail(format!("{resubmitted:?} was refused: {err:?}")));
            }
        }
    }

    #[test]
    fn request_id_never_panics(raw in any::<String>()) {
        if let Err(err) = request_id("request_id", &raw) {
            prop_assert!(err.http_status().is_client_error());
        }
    }
}
