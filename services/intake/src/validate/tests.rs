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
    assert_eq!(lead.phone, "+49 (30) 123-4567");
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
        phone in any_field(), website in any_field(), country in any_field(),
        source in any_field(), message in any_field(),
    ) -> LeadInput {
        LeadInput { email, name, company, phone, website, country, source, message }
    }
}

proptest! {
    /// Whatever arrives, validation answers (no panic) and a refusal is a
    /// client error naming a field.
    #[test]
    fn never_panics_and_rejections_are_4xx(input in any_input()) {
        match validate(&input) {
            Ok(lead) => {
                // Accepted leads are normalised: validating them again is a fixed point.
                let again = validate(&LeadInput {
                    email: Some(lead.email.clone()),
                    name: Some(lead.name.clone()),
                    company: Some(lead.company.clone()),
                    phone: Some(lead.phone.clone()),
                    website: Some(lead.website.clone()),
                    country: Some(lead.country.clone()),
                    source: Some(lead.source.clone()),
                    message: Some(lead.message.clone()),
                }).unwrap();
                prop_assert_eq!(again, lead);
            }
            Err(err) => {
                prop_assert!(err.http_status().is_client_error(), "{err:?}");
                prop_assert!(err.field_name().is_some(), "{err:?}");
                prop_assert_eq!(err.grpc_code(), tonic::Code::InvalidArgument);
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
