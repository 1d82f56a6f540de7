//! The inbox's SMTP listener: reads lines off each connection (with limits
//! on line length, idle time and connections), feeds them to a
//! [`Session`], and stores each complete message in the [`Store`].

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{
    AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader,
};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use super::session::{Limits, Session, Step};
use super::store::Store;

/// Longest command line (RFC 5321 allows 512; some clients send more).
const MAX_COMMAND_LINE: usize = 2048;
/// How long a client may stay silent.
const IDLE: Duration = Duration::from_secs(60);
/// Conversations at once.
const MAX_CONNECTIONS: usize = 32;

/// Accepts connections until `stop` turns true, then gives open
/// conversations two seconds to finish.
pub async fn serve(listener: TcpListener, store: Arc<Store>, mut stop: watch::Receiver<bool>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut conversations = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|stop| *stop) => break,
        };
        // Reap finished conversations as we go.
        while conversations.try_join_next().is_some() {}
        let Ok((mut socket, _)) = accepted else {
            continue;
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            let _ = socket
                .write_all(b"421 4.3.2 too many connections, try again later\r\n")
                .await;
            continue;
        };
        let store = store.clone();
        conversations.spawn(async move {
            let (read, write) = socket.split();
            converse(BufReader::new(read), write, &store, Limits::default()).await;
            drop(slot);
        });
    }
    let drained = tokio::time::timeout(Duration::from_secs(2), async {
        while conversations.join_next().await.is_some() {}
    });
    if drained.await.is_err() {
        conversations.abort_all();
    }
}

/// What reading one line gave.
enum Line {
    Text(Vec<u8>),
    /// Longer than the limit; the rest of it was skipped.
    TooLong,
    Eof,
}

/// Reads one line of at most `max` bytes, without its CRLF (or bare LF).
async fn read_line(reader: &mut (impl AsyncBufRead + Unpin), max: usize) -> std::io::Result<Line> {
    let mut line = Vec::new();
    let mut too_long = false;
    loop {
        let budget = (max + 2).saturating_sub(line.len()).max(1) as u64;
        let n = (&mut *reader)
            .take(budget)
            .read_until(b'\n', &mut line)
            .await?;
        if n == 0 {
            return Ok(if line.is_empty() && !too_long {
                Line::Eof
            } else if too_long {
                Line::TooLong
            } else {
                // A last line without its ending: the client went away.
                Line::Eof
            });
        }
        if line.ends_with(b"\n") {
            if too_long {
                return Ok(Line::TooLong);
            }
            line.pop();
            if line.ends_with(b"\r") {
                line.pop();
            }
            if line.len() > max {
                return Ok(Line::TooLong);
            }
            return Ok(Line::Text(line));
        }
        if line.len() > max {
            // Skip the rest of this line.
            too_long = true;
            line.clear();
        }
    }
}

/// One SMTP conversation over any stream.
pub async fn converse(
    mut reader: impl AsyncBufRead + Unpin,
    mut writer: impl AsyncWrite + Unpin,
    store: &Store,
    limits: Limits,
) {
    let mut session = Session::new(limits);
    if writer
        .write_all(Session::greeting().as_bytes())
        .await
        .is_err()
    {
        return;
    }
    loop {
        let max = if session.in_data() {
            limits.max_message_bytes
        } else {
            MAX_COMMAND_LINE
        };
        let line = match tokio::time::timeout(IDLE, read_line(&mut reader, max)).await {
            Err(_) => {
                let _ = writer
                    .write_all(b"421 4.4.2 idle for too long, closing\r\n")
                    .await;
                return;
            }
            Ok(Err(_) | Ok(Line::Eof)) => return,
            Ok(Ok(line)) => line,
        };
        let step = match (line, session.in_data()) {
            (Line::Text(text), true) => session.data_line(&text),
            (Line::TooLong, true) => {
                session.data_too_big();
                Step::Continue
            }
            (Line::Text(text), false) => session.command(&String::from_utf8_lossy(&text)),
            (Line::TooLong, false) => session.line_too_long(),
            (Line::Eof, _) => return,
        };
        let answer = match step {
            Step::Continue => continue,
            Step::Reply(text) => text,
            Step::Close(text) => {
                let _ = writer.write_all(text.as_bytes()).await;
                return;
            }
            Step::Message(envelope) => match store.save_email(&envelope).await {
                Ok(id) => format!("250 2.0.0 OK: stored as message {id}\r\n"),
                Err(err) => format!("451 4.3.0 could not store the message: {err}\r\n"),
            },
        };
        if writer.write_all(answer.as_bytes()).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lines_are_limited_and_endings_stripped() {
        let input: &[u8] = b"short\r\nbare lf\nthis one is far too long\r\nok\r\n";
        let mut reader = BufReader::new(input);
        let mut got = Vec::new();
        loop {
            match read_line(&mut reader, 10).await.unwrap() {
                Line::Text(text) => got.push(String::from_utf8(text).unwrap()),
                Line::TooLong => got.push("<too long>".into()),
                Line::Eof => break,
            }
        }
        assert_eq!(got, ["short", "bare lf", "<too long>", "ok"]);
    }
}
