//! Every request on a kept-alive connection gets its own answer.
//!
//! Intake refuses cheaply, before reading the body (a rate limit, a content
//! type, a size), and axum answers unknown paths and methods without
//! reading it either. hyper then closes the connection after the answer,
//! since the unread body is still in the way of the next request, but
//! without saying `Connection: close`: a keep-alive client's next request on
//! that connection fails with a broken pipe or a reset (which can even eat
//! the answer it was reading), instead of getting its own answer.
//!
//! This layer gives the unread rest of the body back after the handler
//! answers, and reads it (up to the body limit, within [`DRAIN_TIMEOUT`]) so
//! the connection stays usable. When the rest is too big, too slow or
//! broken, or the client waits on `Expect: 100-continue` (reading would
//! invite the body the answer refuses), the answer says `Connection: close`
//! instead, so the client knows to open a new connection.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, BodyDataStream, Bytes};
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use futures::{Stream, StreamExt};
use tokio::sync::oneshot;

/// Longest wait for the rest of an unread body before giving up on the
/// connection.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs `next`, then reads what it left of the request body (at most
/// `max_body_bytes` in all) or marks the answer `Connection: close`.
pub async fn answer_after_body(max_body_bytes: usize, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let expects_continue = headers
        .get(header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    let (parts, body) = request.into_parts();
    let (back, mut returned) = oneshot::channel();
    let tracked = Tracked {
        inner: Some(body.into_data_stream()),
        read: 0,
        back: Some(back),
    };
    let mut response = next
        .run(Request::from_parts(parts, Body::from_stream(tracked)))
        .await;
    let keep = match returned.try_recv() {
        // Read to its end (or failed, which ends the connection anyway).
        Err(oneshot::error::TryRecvError::Closed) => true,
        // Still held somewhere past the answer: nothing to read it here.
        Err(oneshot::error::TryRecvError::Empty) => false,
        Ok(Rest { read: 0, .. }) if expects_continue => false,
        // Too big to read: no point waiting for it.
        Ok(Rest { read, .. })
            if read > max_body_bytes || declared.is_some_and(|n| n > max_body_bytes) =>
        {
            false
        }
        Ok(Rest { stream, read }) => {
            let allowed = max_body_bytes.saturating_sub(read);
            matches!(
                tokio::time::timeout(DRAIN_TIMEOUT, drain(stream, allowed)).await,
                Ok(true)
            )
        }
    };
    if !keep {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// Reads `stream` to its end: true when it ended within `allowed` bytes.
async fn drain(mut stream: BodyDataStream, allowed: usize) -> bool {
    let mut seen = 0usize;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(bytes) => {
                seen = seen.saturating_add(bytes.len());
                if seen > allowed {
                    return false;
                }
            }
            Err(_) => return false,
        }
    }
    true
}

/// What a handler left of a body: the stream and how much was read.
struct Rest {
    stream: BodyDataStream,
    read: usize,
}

/// The request body as the handler sees it; dropped before its end, it
/// sends the rest back to [`answer_after_body`].
struct Tracked {
    inner: Option<BodyDataStream>,
    read: usize,
    back: Option<oneshot::Sender<Rest>>,
}

impl Stream for Tracked {
    type Item = Result<Bytes, axum::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let Some(inner) = self.inner.as_mut() else {
            return Poll::Ready(None);
        };
        let item = std::task::ready!(inner.poll_next_unpin(cx));
        match &item {
            Some(Ok(bytes)) => self.read = self.read.saturating_add(bytes.len()),
            // The end, or a broken body: nothing left to give back.
            Some(Err(_)) | None => self.inner = None,
        }
        Poll::Ready(item)
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        if let (Some(stream), Some(back)) = (self.inner.take(), self.back.take()) {
            let _ = back.send(Rest {
                stream,
                read: self.read,
            });
        }
    }
}
