//! The client side of leadwheel's security and addressing, shared by
//! `leadctl`, the services and the console so that every party signs and
//! reads tokens and links with the same code:
//!
//! - [`token`]: the HS256 bearer tokens every gRPC call carries;
//! - [`secret`]: secrets from the environment or `*_FILE` files;
//! - [`defaults`]: the development secret and the default ports;
//! - [`link`]: the console's one-time sign-in links;
//! - [`bearer`]: the tonic interceptor that sends a token;
//! - [`tls`]: TLS for `https://` gRPC URLs.

pub mod bearer;
pub mod defaults;
pub mod link;
pub mod secret;
pub mod tls;
pub mod token;

/// Seconds since the Unix epoch, now.
pub fn unix_now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs() as i64)
        .unwrap_or(0)
}
