//! Readiness: a service is ready when its admin port answers `/readyz` with 200.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One `GET /readyz`; false on any failure or a non-200 answer.
pub async fn is_ready(admin: SocketAddr) -> bool {
    let attempt = async {
        let mut stream = TcpStream::connect(admin).await.ok()?;
        stream
            .write_all(b"GET /readyz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .await
            .ok()?;
        let mut head = [0u8; 12];
        stream.read_exact(&mut head).await.ok()?;
        Some(is_200(&head))
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(1), attempt).await,
        Ok(Some(true))
    )
}

fn is_200(status_line: &[u8]) -> bool {
    status_line.starts_with(b"HTTP/1.1 200") || status_line.starts_with(b"HTTP/1.0 200")
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    #[test]
    fn status_lines() {
        assert!(is_200(b"HTTP/1.1 200"));
        assert!(!is_200(b"HTTP/1.1 503"));
    }

    async fn serve_once(answer: &'static [u8]) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 256];
            let _ = socket.read(&mut buf).await;
            let _ = socket.write_all(answer).await;
        });
        addr
    }

    #[tokio::test]
    async fn ready_and_not_ready() {
        let ok = serve_once(b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nok\n").await;
        assert!(is_ready(ok).await);
        let busy = serve_once(b"HTTP/1.1 503 Service Unavailable\r\n\r\n").await;
        assert!(!is_ready(busy).await);
    }
}
