//! The embedded assets (see `assets/README.md`), served with their content
//! type and a cache lifetime; their URLs carry a version, so a new binary's
//! assets are fetched anew.

use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};

/// htmx, pinned (assets/README.md).
pub const HTMX: &[u8] = include_bytes!("../assets/htmx-2.0.11.min.js");
/// The pinned sha256 of [`HTMX`].
pub const HTMX_SHA256: &str = "d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717";
/// Our script: streams and countdowns.
pub const SCRIPT: &[u8] = include_bytes!("../assets/console.js");
/// Our stylesheet.
pub const STYLE: &[u8] = include_bytes!("../assets/console.css");

/// The URL prefix; the crate version busts caches on upgrade.
pub const PREFIX: &str = concat!("/assets/", env!("CARGO_PKG_VERSION"));

/// `/assets/<version>/<name>`.
pub async fn serve(Path((_version, name)): Path<(String, String)>) -> Response {
    let (bytes, content_type) = match name.as_str() {
        "htmx.min.js" => (HTMX, "text/javascript; charset=utf-8"),
        "console.js" => (SCRIPT, "text/javascript; charset=utf-8"),
        "console.css" => (STYLE, "text/css; charset=utf-8"),
        _ => return (StatusCode::NOT_FOUND, "no such asset\n").into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        bytes,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    #[test]
    fn htmx_is_the_pinned_file() {
        let digest = Sha256::digest(HTMX);
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, HTMX_SHA256);
        let readme = include_str!("../assets/README.md");
        assert!(
            readme.contains(HTMX_SHA256),
            "assets/README.md names the pinned sha256"
        );
    }
}
