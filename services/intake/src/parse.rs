//! Turning a signup body into a [`LeadInput`]: JSON or a URL-encoded form.
//!
//! Unknown-field policy: fields intake does not know are ignored, on both
//! encodings. Website forms post whatever their page holds (tracking ids,
//! honeypots, submit buttons), and refusing those would lose real signups;
//! the body limit bounds what can be sent, and nothing unknown is stored or
//! forwarded. Known fields are strict: the wrong type, or a field given
//! twice in a form, is refused naming the field.
//!
//! JSON is read in two steps, first as any value and then field by field, so
//! a field of the wrong type is reported by name (serde's typed errors only
//! say "invalid type at line 1 column 12").

use serde_json::Value;

use crate::error::IntakeError;
use crate::validate::{LeadInput, UTM_FIELDS};

/// The plain text fields, by name.
const TEXT_FIELDS: [&str; 12] = [
    "email",
    "name",
    "company",
    "phone",
    "website",
    "domain",
    "country",
    "source",
    "product",
    "plan",
    "message",
    "company_size",
];

fn slot<'a>(input: &'a mut LeadInput, field: &str) -> Option<&'a mut Option<String>> {
    Some(match field {
        "email" => &mut input.email,
        "name" => &mut input.name,
        "company" => &mut input.company,
        "phone" => &mut input.phone,
        "website" => &mut input.website,
        "domain" => &mut input.domain,
        "country" => &mut input.country,
        "source" => &mut input.source,
        "product" => &mut input.product,
        "plan" => &mut input.plan,
        "message" => &mut input.message,
        "company_size" => &mut input.company_size,
        "consent" => &mut input.consent,
        _ => {
            let index = UTM_FIELDS.iter().position(|utm| *utm == field)?;
            &mut input.utm[index]
        }
    })
}

/// The `'static` name of a known field (error messages need one).
fn static_name(field: &str) -> &'static str {
    TEXT_FIELDS
        .iter()
        .chain(UTM_FIELDS.iter())
        .chain(["consent", "attributes"].iter())
        .find(|known| **known == field)
        .copied()
        .unwrap_or("body")
}

/// Parses a JSON object body.
pub fn json(body: &[u8]) -> Result<LeadInput, IntakeError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|err| IntakeError::MalformedJson(err.to_string()))?;
    let Value::Object(object) = value else {
        return Err(IntakeError::MalformedJson(
            "expected a JSON object with an \"email\" field".into(),
        ));
    };
    let mut input = LeadInput::default();
    for (key, value) in &object {
        if key == "attributes" {
            input.attributes = json_attributes(value)?;
            continue;
        }
        let name = static_name(key);
        let Some(slot) = slot(&mut input, key) else {
            continue; // unknown: ignored (see the module docs)
        };
        *slot = match value {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            Value::Number(n) if name == "company_size" => Some(n.to_string()),
            Value::Bool(b) if name == "consent" => Some(b.to_string()),
            _ => {
                let expected = match name {
                    "company_size" => "must be a number or a string such as \"51-200\"",
                    "consent" => "must be true or false",
                    _ => "must be a string",
                };
                return Err(IntakeError::field(name, "wrong_type", expected));
            }
        };
    }
    Ok(input)
}

fn json_attributes(value: &Value) -> Result<Vec<(String, String)>, IntakeError> {
    let object = match value {
        Value::Null => return Ok(Vec::new()),
        Value::Object(object) => object,
        _ => {
            return Err(IntakeError::field(
                "attributes",
                "wrong_type",
                "must be an object of names to strings",
            ));
        }
    };
    object
        .iter()
        .map(|(key, value)| {
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => {
                    return Err(IntakeError::field(
                        "attributes",
                        "wrong_type",
                        format!(
                            "attribute {:?} must be a string, number or boolean",
                            key.chars().take(60).collect::<String>()
                        ),
                    ));
                }
            };
            Ok((key.clone(), text))
        })
        .collect()
}

/// Parses an `application/x-www-form-urlencoded` body. Custom attributes
/// are sent as `attributes[name]=value`.
pub fn form(body: &[u8]) -> Result<LeadInput, IntakeError> {
    let mut input = LeadInput::default();
    let mut seen = std::collections::HashSet::new();
    for pair in body.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
        let (key, value) = match pair.iter().position(|b| *b == b'=') {
            Some(at) => (&pair[..at], &pair[at + 1..]),
            None => (pair, &b""[..]),
        };
        let key = decode(key)?;
        let value = decode(value)?;
        if let Some(attribute) = key
            .strip_prefix("attributes[")
            .and_then(|rest| rest.strip_suffix(']'))
        {
            input.attributes.push((attribute.to_string(), value));
            continue;
        }
        let name = static_name(&key);
        let Some(slot) = slot(&mut input, &key) else {
            continue; // unknown: ignored (see the module docs)
        };
        if !seen.insert(name) {
            return Err(IntakeError::field(
                name,
                "duplicate",
                "is given more than once",
            ));
        }
        *slot = Some(value);
    }
    Ok(input)
}

/// Percent-decodes one form component (`+` is a space); the result must
/// be UTF-8, as the body of any other signup.
fn decode(raw: &[u8]) -> Result<String, IntakeError> {
    let malformed = |why: &str| IntakeError::MalformedForm(why.to_string());
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = raw
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| malformed("a % is not followed by two hex digits"))?;
                out.push(hex);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| malformed("a value is not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    #[test]
    fn wrong_types_are_named() {
        for (body, field) in [
            (&br#"{"email": "a@b.io", "phone": 123}"#[..], "phone"),
            (br#"{"email": "a@b.io", "consent": "x", "plan": 1}"#, "plan"),
            (br#"{"email": "a@b.io", "consent": 1}"#, "consent"),
            (
                br#"{"email": "a@b.io", "company_size": [1]}"#,
                "company_size",
            ),
            (br#"{"email": "a@b.io", "attributes": [1]}"#, "attributes"),
            (
                br#"{"email": "a@b.io", "attributes": {"a": {}}}"#,
                "attributes",
            ),
        ] {
            let err = json(body).unwrap_err();
            assert_eq!(err.field_name(), Some(field));
            assert_eq!(err.http_status(), StatusCode::UNPROCESSABLE_ENTITY);
        }
    }

    #[test]
    fn non_objects_are_malformed() {
        for body in [&b"[1]"[..], b"\"a@b.io\"", b"{", b""] {
            let err = json(body).unwrap_err();
            assert_eq!(err.http_status(), StatusCode::BAD_REQUEST, "{body:?}");
        }
    }

    #[test]
    fn json_numbers_and_booleans_where_they_fit() {
        let input = json(
            br#"{"email":"a@b.io","company_size":250,"consent":true,"utm_source":"li",
                "attributes":{"seats":12,"crm":"hubspot","beta":false},"unknown":{"x":1}}"#,
        )
        .unwrap();
        assert_eq!(input.company_size.as_deref(), Some("250"));
        assert_eq!(input.consent.as_deref(), Some("true"));
        assert_eq!(input.utm[0].as_deref(), Some("li"));
        assert_eq!(input.attributes.len(), 3);
    }

    #[test]
    fn forms_decode_like_browsers_send_them() {
        let input = form(
            b"email=ana%40acme.io&name=Ana+Lima&consent=on&attributes%5Bcrm%5D=hubspot&submit=Go&utm_campaign=q3%20launch",
        )
        .unwrap();
        assert_eq!(input.email.as_deref(), Some("ana@acme.io"));
        assert_eq!(input.name.as_deref(), Some("Ana Lima"));
        assert_eq!(input.consent.as_deref(), Some("on"));
        assert_eq!(input.utm[2].as_deref(), Some("q3 launch"));
        assert_eq!(input.attributes, vec![("crm".into(), "hubspot".into())]);

        let twice = form(b"email=a%40b.io&email=c%40d.io").unwrap_err();
        assert_eq!(
            (twice.field_name(), twice.code()),
            (Some("email"), "duplicate")
        );
        for bad in [&b"email=%zz"[..], b"email=%e9", b"email=%4"] {
            assert_eq!(
                form(bad).unwrap_err().http_status(),
                StatusCode::BAD_REQUEST
            );
        }
    }
}

#[cfg(test)]
mod fuzz {
    //! Whatever arrives, parsing and validation answer without panicking,
    //! and every refusal is a client error.
    use proptest::prelude::*;

    use super::*;
    use crate::validate::validate;

    fn check(result: Result<LeadInput, IntakeError>) -> Result<(), TestCaseError> {
        let outcome = result.and_then(|input| validate(&input).map(|_| ()));
        if let Err(err) = outcome {
            prop_assert!(err.http_status().is_client_error(), "{err:?}");
            prop_assert_eq!(err.grpc_code(), tonic::Code::InvalidArgument);
        }
        Ok(())
    }

    fn any_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(json_number),
            any::<f64>()
                .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
            ".{0,40}".prop_map(Value::String),
            "[a-z0-9.+-]{1,20}@[a-z0-9.-]{1,20}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
                prop::collection::vec((field_name(), inner), 0..12)
                    .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
            ]
        })
    }

    fn json_number(n: i64) -> Value {
        Value::Number(n.into())
    }

    /// Mostly the field names intake knows, so the interesting paths run.
    fn field_name() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::sample::select(vec![
                "email",
                "name",
                "company",
                "phone",
                "website",
                "domain",
                "company_size",
                "country",
                "source",
                "utm_source",
                "utm_term",
                "product",
                "plan",
                "consent",
                "message",
                "attributes",
            ])
            .prop_map(str::to_string),
            ".{0,12}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn arbitrary_bytes_as_json_or_form(body in prop::collection::vec(any::<u8>(), 0..512)) {
            check(json(&body))?;
            check(form(&body))?;
        }

        #[test]
        fn arbitrary_json_values(value in any_json()) {
            let body = serde_json::to_vec(&value).unwrap();
            check(json(&body))?;
        }

        #[test]
        fn arbitrary_form_pairs(
            pairs in prop::collection::vec((field_name(), ".{0,40}"), 0..20)
        ) {
            let body: String = pairs
                .iter()
                .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
                .collect::<Vec<_>>()
                .join("&");
            check(form(body.as_bytes()))?;
        }
    }

    fn encode(text: &str) -> String {
        text.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    }
}
