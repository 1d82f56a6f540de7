//! Page sizes and opaque page tokens for list calls (AIP-158).
//!
//! Lists are keyset-paged, newest first, on `(time, id)`. A token carries
//! the last row's position and the query it came from, so a token replayed
//! against another query is refused instead of silently skipping rows.
//!
//! Failures are a [`PagingError`] naming the request field at fault; each
//! service maps it into its own error type (an invalid argument).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

/// Page size when the request leaves it unset (0), as AIP-158 suggests.
pub const DEFAULT_PAGE_SIZE: i32 = 50;
/// Largest page a caller may ask for.
pub const MAX_PAGE_SIZE: i32 = 500;

/// A `page_size` or `page_token` the service will not take.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PagingError {
    /// `page_size` is negative or above [`MAX_PAGE_SIZE`].
    PageSize {
        /// What the caller asked for.
        requested: i32,
    },
    /// `page_token` is not one this service issued for this query.
    PageToken {
        /// What is wrong with it, for a human.
        reason: &'static str,
    },
}

impl PagingError {
    /// The request field at fault: `page_size` or `page_token`.
    pub fn field(&self) -> &'static str {
        match self {
            Self::PageSize { .. } => "page_size",
            Self::PageToken { .. } => "page_token",
        }
    }

    /// What is wrong with the field, without its name.
    pub fn reason(&self) -> String {
        match self {
            Self::PageSize { requested } => {
                format!("must be between 1 and {MAX_PAGE_SIZE}, got {requested}")
            }
            Self::PageToken { reason } => (*reason).to_string(),
        }
    }
}

impl std::fmt::Display for PagingError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid {}: {}", self.field(), self.reason())
    }
}

impl std::error::Error for PagingError {}

/// Checks `requested`: 0 means the default, 1..=500 is taken as is.
pub fn page_size(requested: i32) -> Result<i64, PagingError> {
    match requested {
        0 => Ok(i64::from(DEFAULT_PAGE_SIZE)),
        1..=MAX_PAGE_SIZE => Ok(i64::from(requested)),
        _ => Err(PagingError::PageSize { requested }),
    }
}

/// Where the next page starts: strictly after `(after_ms, after_id)` in
/// descending order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// The query the token belongs to.
    #[serde(rename = "q")]
    pub query: String,
    /// The last row's sort time.
    #[serde(rename = "t")]
    pub after_ms: i64,
    /// The last row's id (tie-break within one millisecond).
    #[serde(rename = "i")]
    pub after_id: String,
}

impl Cursor {
    /// The position before the first row of `query`.
    pub fn start(query: &str) -> Self {
        Self {
            query: query.to_string(),
            after_ms: i64::MAX,
            after_id: String::new(),
        }
    }

    /// Reads `token` for `query`; an empty token is the first page.
    pub fn decode(token: &str, query: &str) -> Result<Self, PagingError> {
        if token.is_empty() {
            return Ok(Self::start(query));
        }
        let cursor: Cursor = URL_SAFE_NO_PAD
            .decode(token)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or(PagingError::PageToken {
                reason: "not a token this service issued",
            })?;
        if cursor.query != query {
            return Err(PagingError::PageToken {
                reason: "the token belongs to a different query; pass the same filters as the first page",
            });
        }
        Ok(cursor)
    }

    /// The opaque token form.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).expect("a cursor serializes"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_size_bounds() {
        assert_eq!(page_size(0).unwrap(), 50);
        assert_eq!(page_size(1).unwrap(), 1);
        assert_eq!(page_size(500).unwrap(), 500);
        assert!(page_size(501).is_err());
        assert!(page_size(-1).is_err());
        let err = page_size(501).unwrap_err();
        assert_eq!(err.field(), "page_size");
        assert_eq!(err.reason(), "must be between 1 and 500, got 501");
    }

    #[test]
    fn token_round_trips_and_is_bound_to_its_query() {
        let cursor = Cursor {
            query: "to=ana".into(),
            after_ms: 42,
            after_id: "alert-1".into(),
        };
        let token = cursor.encode();
        assert_eq!(Cursor::decode(&token, "to=ana").unwrap(), cursor);
        assert!(Cursor::decode(&token, "to=bo").is_err());
        assert!(Cursor::decode("not-a-token", "to=ana").is_err());
        assert_eq!(
            Cursor::decode("not-a-token", "to=ana").unwrap_err().field(),
            "page_token"
        );
        assert_eq!(Cursor::decode("", "q").unwrap(), Cursor::start("q"));
    }
}
