//! The inbox's folder (`<data-dir>/inbox/`): one file per arrival, named
//! so a listing needs no index. `000007-1764456000123.eml` is message 7,
//! an email received at that Unix time in ms (the envelope on top, then
//! the message as sent); `000008-1764456000125.demo.json` is a webhook
//! body POSTed to `/hooks/demo`, exactly as sent. Files are written under
//! a temporary name and renamed into place, so a reader never sees half a
//! message. One writer per folder: `leadwheel dev` runs one per data dir.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

use super::mail;
use super::session::Envelope;

/// The folder under the data dir.
pub fn dir_in(data_dir: &Path) -> PathBuf {
    data_dir.join("inbox")
}

/// How much of a file a listing reads (an email's headers come first).
const SUMMARY_BYTES: u64 = 64 * 1024;

/// Where new arrivals are written.
#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
    next: AtomicU64,
}

/// A hook name: what follows `/hooks/` (letters, digits, `_`, `-`).
pub fn valid_hook(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl Store {
    /// Opens (creating) the folder; numbering goes on after the highest
    /// message there.
    pub fn open(dir: PathBuf) -> std::io::Result<Self> {
        std::fs::create_dir_all(&dir)?;
        let highest = list_names(&dir)?
            .iter()
            .map(|name| name.id)
            .max()
            .unwrap_or(0);
        Ok(Self {
            dir,
            next: AtomicU64::new(highest + 1),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Stores an email with its envelope on top; returns its number.
    pub async fn save_email(&self, envelope: &Envelope) -> std::io::Result<u64> {
        let mut content = mail::envelope_headers(&envelope.from, &envelope.to).into_bytes();
        content.extend_from_slice(&envelope.data);
        self.save(".eml".into(), content).await
    }

    /// Stores a webhook body POSTed to `/hooks/<hook>`; returns its number.
    pub async fn save_webhook(&self, hook: &str, body: &[u8]) -> std::io::Result<u64> {
        debug_assert!(valid_hook(hook));
        self.save(format!(".{hook}.json"), body.to_vec()).await
    }

    async fn save(&self, suffix: String, content: Vec<u8>) -> std::io::Result<u64> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let received_at_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let tmp = self.dir.join(format!(".incoming-{id:06}.tmp"));
        let name = self.dir.join(format!("{id:06}-{received_at_ms}{suffix}"));
        tokio::fs::write(&tmp, &content).await?;
        tokio::fs::rename(&tmp, &name).await?;
        Ok(id)
    }
}

/// Email or webhook.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Email,
    Webhook,
}

impl Channel {
    pub fn name(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Webhook => "webhook",
        }
    }
}

/// What a file name says.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Name {
    id: u64,
    received_at_ms: i64,
    channel: Channel,
    /// The hook's name, for a webhook.
    hook: Option<String>,
    file: String,
}

fn parse_name(file: &str) -> Option<Name> {
    let (stem, rest) = file.split_once('.')?;
    let (id, at) = stem.split_once('-')?;
    if id.len() < 6 || !id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (channel, hook) = match rest.rsplit_once('.') {
        None if rest == "eml" => (Channel::Email, None),
        Some((hook, "json")) if valid_hook(hook) => (Channel::Webhook, Some(hook.to_string())),
        _ => return None,
    };
    Some(Name {
        id: id.parse().ok()?,
        received_at_ms: at.parse().ok()?,
        channel,
        hook,
        file: file.to_string(),
    })
}

fn list_names(dir: &Path) -> std::io::Result<Vec<Name>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        if let Some(name) = entry?.file_name().to_str().and_then(parse_name) {
            names.push(name);
        }
    }
    names.sort_by_key(|name| name.id);
    Ok(names)
}

/// One arrival, as the listings show it.
#[derive(Clone, Debug, Serialize)]
pub struct Entry {
    pub id: u64,
    pub received_at_ms: i64,
    pub channel: Channel,
    /// An email's recipients, or the webhook's path (`/hooks/demo`).
    pub to: String,
    /// An email's subject, or a webhook body's `text`.
    pub summary: String,
    /// The file, under the inbox folder.
    pub file: String,
}

fn read_head(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut head = Vec::new();
    std::fs::File::open(path)?
        .take(SUMMARY_BYTES)
        .read_to_end(&mut head)?;
    Ok(head)
}

fn entry(dir: &Path, name: Name) -> std::io::Result<Entry> {
    let head = read_head(&dir.join(&name.file))?;
    let (to, summary) = match name.channel {
        Channel::Email => mail::email_summary(&head),
        Channel::Webhook => (
            format!("/hooks/{}", name.hook.unwrap_or_default()),
            mail::webhook_summary(&head),
        ),
    };
    Ok(Entry {
        id: name.id,
        received_at_ms: name.received_at_ms,
        channel: name.channel,
        to,
        summary,
        file: name.file,
    })
}

/// Every arrival in `dir`, oldest first.
pub fn list(dir: &Path) -> std::io::Result<Vec<Entry>> {
    list_names(dir)?
        .into_iter()
        .map(|name| entry(dir, name))
        .collect()
}

/// Message `id` and its whole file; None when there is no such message.
pub fn read(dir: &Path, id: u64) -> std::io::Result<Option<(Entry, Vec<u8>)>> {
    let Some(name) = list_names(dir)?.into_iter().find(|name| name.id == id) else {
        return Ok(None);
    };
    let content = std::fs::read(dir.join(&name.file))?;
    Ok(Some((entry(dir, name)?, content)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_say_what_arrived() {
        let email = parse_name("000007-1764456000123.eml").unwrap();
        assert_eq!(
            (email.id, email.received_at_ms, email.channel),
            (7, 1_764_456_000_123, Channel::Email)
        );
        let hook = parse_name("000008-1764456000125.demo.json").unwrap();
        assert_eq!(
            (hook.channel, hook.hook.as_deref()),
            (Channel::Webhook, Some("demo"))
        );
        for other in [
            ".incoming-1-2.tmp",
            "notes.txt",
            "7-1.eml",
            "000009-1.a.b.json",
            "000009-x.eml",
        ] {
            assert_eq!(parse_name(other), None, "{other}");
        }
    }

    #[tokio::test]
    async fn arrivals_are_numbered_on_across_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("inbox")).unwrap();
        let envelope = Envelope {
            from: "alerts@localhost".into(),
            to: vec!["ana@demo.example".into()],
            data: b"Subject: =?utf-8?q?caf=C3=A9?=\r\n\r\nbody\r\n".to_vec(),
        };
        assert_eq!(store.save_email(&envelope).await.unwrap(), 1);
        assert_eq!(
            store
                .save_webhook("demo", br#"{"text":"hello"}"#)
                .await
                .unwrap(),
            2
        );
        let store = Store::open(dir.path().join("inbox")).unwrap();
        assert_eq!(store.save_webhook("x", b"{}").await.unwrap(), 3);

        let entries = list(store.dir()).unwrap();
        let seen: Vec<(u64, Channel, &str, &str)> = entries
            .iter()
            .map(|e| (e.id, e.channel, e.to.as_str(), e.summary.as_str()))
            .collect();
        assert_eq!(
            seen,
            [
                (1, Channel::Email, "ana@demo.example", "café"),
                (2, Channel::Webhook, "/hooks/demo", "hello"),
                (3, Channel::Webhook, "/hooks/x", "{}"),
            ]
        );
        let (entry, content) = read(store.dir(), 1).unwrap().unwrap();
        assert_eq!(entry.id, 1);
        assert!(
            content.starts_with(
                b"Return-Path: <alerts@localhost>\r\nDelivered-To: ana@demo.example\r\n"
            )
        );
        assert!(read(store.dir(), 99).unwrap().is_none());
        // No temporary file is left behind.
        let names: Vec<String> = std::fs::read_dir(store.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 3, "{names:?}");
    }
}
