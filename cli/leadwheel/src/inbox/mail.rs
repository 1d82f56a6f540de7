//! Reading what arrived, without I/O: an email's headers (unfolded, RFC 2047
//! encoded words decoded) and a webhook body's text, for the listings.

use base64::Engine;

/// The envelope headers the inbox writes on top of each stored email, as
/// a mail server does: `Return-Path` (MAIL FROM) and one `Delivered-To`
/// per RCPT TO.
pub fn envelope_headers(from: &str, to: &[String]) -> String {
    let mut head = format!("Return-Path: <{from}>\r\n");
    for rcpt in to {
        head.push_str(&format!("Delivered-To: {rcpt}\r\n"));
    }
    head
}

/// The header fields of a message (up to the first empty line), each
/// unfolded, in order.
pub fn headers(raw: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(raw);
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            // A folded continuation of the field before.
            if let Some((_, value)) = fields.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
            continue;
        }
        if let Some((name, value)) = line.split_once(':') {
            fields.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    fields
}

/// Every value of the field `name` (any case), decoded.
pub fn field(fields: &[(String, String)], name: &str) -> Vec<String> {
    fields
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| decode_words(v))
        .collect()
}

/// Decodes RFC 2047 encoded words (`=?utf-8?B?…?=`, `=?utf-8?Q?…?=`) in
/// UTF-8 or US-ASCII; anything else is left as written. Whitespace between
/// two encoded words is dropped, as the RFC says.
pub fn decode_words(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    let mut after_word = false;
    while let Some(start) = rest.find("=?") {
        let (before, candidate) = rest.split_at(start);
        let Some((decoded, len)) = encoded_word(candidate) else {
            out.push_str(before);
            out.push_str("=?");
            rest = &candidate[2..];
            after_word = false;
            continue;
        };
        if !(after_word && before.trim().is_empty()) {
            out.push_str(before);
        }
        out.push_str(&decoded);
        rest = &candidate[len..];
        after_word = true;
    }
    out.push_str(rest);
    out
}

/// One encoded word at the start of `text`: its text and its length.
fn encoded_word(text: &str) -> Option<(String, usize)> {
    let body = text.strip_prefix("=?")?;
    let (charset, body) = body.split_once('?')?;
    let (encoding, body) = body.split_once('?')?;
    let end = body.find("?=")?;
    let payload = &body[..end];
    let charset = charset.split('*').next().unwrap_or(charset);
    if !(charset.eq_ignore_ascii_case("utf-8") || charset.eq_ignore_ascii_case("us-ascii")) {
        return None;
    }
    let bytes = match encoding {
        "B" | "b" => base64::engine::general_purpose::STANDARD
            .decode(payload)
            .ok()?,
        "Q" | "q" => q_decode(payload)?,
        _ => return None,
    };
    let len = 2 + charset.len() + 1 + encoding.len() + 1 + end + 2;
    Some((String::from_utf8(bytes).ok()?, len))
}

/// The "Q" encoding: `_` is a space, `=XX` a byte.
fn q_decode(payload: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut bytes = payload.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'_' => out.push(b' '),
            b'=' => {
                let hex = [bytes.next()?, bytes.next()?];
                out.push(u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?);
            }
            other => out.push(other),
        }
    }
    Some(out)
}

/// The text a person reads in an email: its `text/plain` part (the
/// message itself, or the first such part of a multipart one, nested
/// parts included), with its transfer encoding undone (quoted-printable:
/// soft line breaks joined, `=XX` bytes; base64). None when it has none.
pub fn plain_text(raw: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(raw);
    plain_text_of(&text.replace("\r\n", "\n"), 0)
}

fn plain_text_of(entity: &str, depth: usize) -> Option<String> {
    let (head, body) = entity.split_once("\n\n").unwrap_or((entity, ""));
    let fields = headers(head.as_bytes());
    let content_type = field(&fields, "Content-Type")
        .into_iter()
        .next()
        .unwrap_or_else(|| "text/plain".into());
    let kind = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if kind.starts_with("multipart/") {
        if depth > 4 {
            return None;
        }
        let boundary = parameter(&content_type, "boundary")?;
        let delimiter = format!("--{boundary}");
        return body
            .split(delimiter.as_str())
            .skip(1)
            .take_while(|part| !part.starts_with("--"))
            .find_map(|part| plain_text_of(part.strip_prefix('\n').unwrap_or(part), depth + 1));
    }
    if kind != "text/plain" {
        return None;
    }
    let encoding = field(&fields, "Content-Transfer-Encoding")
        .into_iter()
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let bytes = match encoding.trim() {
        "quoted-printable" => qp_decode(body),
        "base64" => base64::engine::general_purpose::STANDARD
            .decode(body.split_whitespace().collect::<String>())
            .ok()?,
        _ => body.as_bytes().to_vec(),
    };
    Some(String::from_utf8_lossy(&bytes).trim_end().to_string() + "\n")
}

/// A `name=value` (or `name="value"`) parameter of a header value.
fn parameter(value: &str, name: &str) -> Option<String> {
    value.split(';').skip(1).find_map(|p| {
        let (key, v) = p.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().trim_matches('"').to_string())
    })
}

/// Quoted-printable (RFC 2045): `=` at a line's end joins it to the next,
/// `=XX` is a byte; anything malformed is kept as written.
fn qp_decode(body: &str) -> Vec<u8> {
    let mut out = Vec::new();
    // The first line has no break before it; a soft break joins the next.
    let mut joined = true;
    for line in body.split('\n') {
        if !joined {
            out.push(b'\n');
        }
        let line = line.trim_end_matches([' ', '\t']);
        let (line, soft) = match line.strip_suffix('=') {
            Some(line) => (line, true),
            None => (line, false),
        };
        let bytes = line.as_bytes();
        let mut at = 0;
        while at < bytes.len() {
            let hex = bytes
                .get(at + 1..at + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            match (bytes[at], hex) {
                (b'=', Some(byte)) => {
                    out.push(byte);
                    at += 3;
                }
                (other, _) => {
                    out.push(other);
                    at += 1;
                }
            }
        }
        joined = soft;
    }
    out
}

/// (to, subject) of a stored email: the envelope's recipients (else the
/// `To` field) and the decoded subject.
pub fn email_summary(raw: &[u8]) -> (String, String) {
    let fields = headers(raw);
    let mut to = field(&fields, "Delivered-To");
    if to.is_empty() {
        to = field(&fields, "To");
    }
    let subject = field(&fields, "Subject").into_iter().next();
    (
        to.join(", "),
        subject.unwrap_or_else(|| "(no subject)".into()),
    )
}

/// A webhook body's text: Slack's `text` field, else the body itself, on
/// one line.
pub fn webhook_summary(body: &[u8]) -> String {
    let text = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|json| json.get("text")?.as_str().map(str::to_string))
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plain_text_part_is_found_and_decoded() {
        // As lettre writes an alert email: multipart/alternative, the
        // text quoted-printable with a long link broken by soft breaks.
        let raw = "Delivered-To: ana@demo.example\r\nSubject: [leadwheel] Alert\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/alternative;\r\n boundary=\"XyZ\"\r\n\r\n\
--XyZ\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
Sign in: http://127.0.0.1:8090/signin/link?token=3Dabc.def&next=3D%2Fal=\r\nerts%2Falert_1\r\n\
Caf=C3=A9 =E2=80=94 done\r\n\
--XyZ\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>html</p>\r\n--XyZ--\r\n";
        assert_eq!(
            plain_text(raw.as_bytes()).unwrap(),
            "Sign in: http://127.0.0.1:8090/signin/link?token=abc.def&next=%2Falerts%2Falert_1\nCafé — done\n"
        );
        // A single-part message, in base64, and one with no text at all.
        let single = "Subject: x\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\naGVs\r\nbG8=\r\n";
        assert_eq!(plain_text(single.as_bytes()).unwrap(), "hello\n");
        let html = "Content-Type: text/html\r\n\r\n<p>x</p>\r\n";
        assert_eq!(plain_text(html.as_bytes()), None);
    }

    #[test]
    fn headers_unfold_and_stop_at_the_body() {
        let raw = b"Return-Path: <a@b>\r\nDelivered-To: ana@demo.example\r\nSubject: a long\r\n  subject\r\nTo: Ana <ana@demo.example>\r\n\r\nSubject: not a header\r\n";
        let fields = headers(raw);
        assert_eq!(field(&fields, "subject"), ["a long subject"]);
        assert_eq!(
            email_summary(raw),
            ("ana@demo.example".into(), "a long subject".into())
        );
    }

    #[test]
    fn encoded_words_are_decoded() {
        assert_eq!(
            decode_words("=?utf-8?b?W2xlYWR3aGVlbF0gw6lsw6k=?="),
            "[leadwheel] élé"
        );
        assert_eq!(
            decode_words("=?UTF-8?Q?caf=C3=A9_ok?= =?utf-8?q?_and?= more"),
            "café ok and more"
        );
        assert_eq!(
            decode_words("plain =?koi8-r?B?xxx?= text"),
            "plain =?koi8-r?B?xxx?= text"
        );
        assert_eq!(decode_words("=?broken"), "=?broken");
    }

    #[test]
    fn webhook_text_or_body() {
        assert_eq!(
            webhook_summary(br#"{"text":"Alert: x\nnext line","blocks":[]}"#),
            "Alert: x next line"
        );
        assert_eq!(webhook_summary(br#"{"other":1}"#), r#"{"other":1}"#);
        assert_eq!(
            envelope_headers("a@b", &["c@d".into(), "e@f".into()]),
            "Return-Path: <a@b>\r\nDelivered-To: c@d\r\nDelivered-To: e@f\r\n"
        );
    }
}
