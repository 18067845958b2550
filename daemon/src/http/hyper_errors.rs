//! JSON bodies for the answers hyper writes on its own. A request hyper cannot parse (a bad request
//! line, headers above its buffer, a URI above 64 KiB) never reaches a router: hyper answers `400`,
//! `431` or `414` with an empty body and closes. [`JsonErrors`] sits between hyper and the socket
//! and replaces exactly those answers with the JSON [`ApiError`] body, so every error a client sees
//! has the documented shape.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use axum::http::StatusCode;
use keeper_shared::api::{ApiError, ErrorCode};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The error body for a status the serve loop answers itself, with a message for humans.
pub fn error_body(status: StatusCode, message: &str) -> Vec<u8> {
    let code = match status {
        StatusCode::REQUEST_TIMEOUT => ErrorCode::Timeout,
        StatusCode::SERVICE_UNAVAILABLE => ErrorCode::Unavailable,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => ErrorCode::HeadersTooLarge,
        StatusCode::URI_TOO_LONG => ErrorCode::UriTooLong,
        _ => ErrorCode::BadRequest,
    };
    serde_json::to_vec(&ApiError::new(code, message)).unwrap_or_default()
}

/// The statuses hyper answers on its own after a parse error (`hyper::proto::h1::role::Server::on_error`).
const HYPER_STATUSES: [(StatusCode, &str); 3] = [
    (StatusCode::BAD_REQUEST, "the request is not valid HTTP/1.1 (request line, method, version or a header)"),
    (StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, "the request's headers are too large"),
    (StatusCode::URI_TOO_LONG, "the request's URI is too long"),
];

/// A complete response (head and JSON body) that closes the connection.
pub fn response(status: StatusCode, message: &str) -> Vec<u8> {
    let json = error_body(status, message);
    let mut bytes = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        json.len()
    )
    .into_bytes();
    bytes.extend_from_slice(&json);
    bytes
}

/// The status of `buf` if it is one of hyper's automatic error answers: a whole head, nothing
/// after it, a parse-error status and `content-length: 0`. Every answer of our routers has a body,
/// so none of them matches.
fn hyper_error(buf: &[u8]) -> Option<StatusCode> {
    let head = buf.strip_suffix(b"\r\n\r\n")?;
    if head.windows(4).any(|w| w == b"\r\n\r\n") {
        return None;
    }
    let text = std::str::from_utf8(head).ok()?;
    let mut lines = text.split("\r\n");
    let status = lines.next()?.strip_prefix("HTTP/1.1 ")?.get(..3)?;
    let status = StatusCode::from_bytes(status.as_bytes()).ok()?;
    let empty = lines.any(|line| line.eq_ignore_ascii_case("content-length: 0"));
    (empty && HYPER_STATUSES.iter().any(|(s, _)| *s == status)).then_some(status)
}

/// The connection's IO as hyper sees it, with hyper's bodiless error answers rewritten. Writes are
/// not vectored, so hyper hands each response head over in one buffer.
pub struct JsonErrors<IO> {
    io: IO,
    /// The replacement answer and how much of it is written.
    pending: Option<(Vec<u8>, usize)>,
    /// Whether anything was written (an answer) yet.
    wrote: bool,
    /// Whether bytes arrived since the last answer was written: a request is on its way.
    read_since_write: bool,
}

impl<IO> JsonErrors<IO> {
    pub fn new(io: IO) -> Self {
        Self { io, pending: None, wrote: false, read_since_write: false }
    }

    /// Whether a header read timeout cut a request short (a new connection, or part of a head
    /// received) rather than ending an idle kept-alive connection, which closes without a word.
    pub fn awaits_a_request(&self) -> bool {
        !self.wrote || self.read_since_write
    }

    /// The IO, for the serve loop to answer a header read timeout once hyper is done with it.
    pub fn get_mut(&mut self) -> &mut IO {
        &mut self.io
    }
}

impl<IO: AsyncWrite + Unpin> JsonErrors<IO> {
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((bytes, written)) = &mut self.pending {
            if *written == bytes.len() {
                self.pending = None;
                break;
            }
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, &bytes[*written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *written += n;
        }
        Poll::Ready(Ok(()))
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for JsonErrors<IO> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        ready!(Pin::new(&mut self.io).poll_read(cx, buf))?;
        if buf.filled().len() > before {
            self.read_since_write = true;
        }
        Poll::Ready(Ok(()))
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for JsonErrors<IO> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        ready!(self.poll_pending(cx))?;
        (self.wrote, self.read_since_write) = (true, false);
        if let Some(status) = hyper_error(buf) {
            let message = HYPER_STATUSES.iter().find(|(s, _)| *s == status).map_or("bad request", |(_, m)| *m);
            self.pending = Some((response(status, message), 0));
            // hyper's bytes count as written; ours go out before anything else.
            let _ = self.poll_pending(cx)?;
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// The serve loop's body names, for each status it answers itself, the code that answers with
    /// that status, and parses as the error of both servers.
    #[test]
    fn the_serve_loop_body_names_the_code_of_its_status() {
        let cases = [
            (StatusCode::REQUEST_TIMEOUT, ErrorCode::Timeout),
            (StatusCode::SERVICE_UNAVAILABLE, ErrorCode::Unavailable),
            (StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, ErrorCode::HeadersTooLarge),
            (StatusCode::URI_TOO_LONG, ErrorCode::UriTooLong),
            (StatusCode::BAD_REQUEST, ErrorCode::BadRequest),
        ];
        for (status, code) in cases {
            let json = error_body(status, "why");
            let error: ApiError = serde_json::from_slice(&json).unwrap();
            assert_eq!((error.code, error.message.as_str()), (code, "why"), "{status}");
            assert_eq!(error.code.http_status(), status.as_u16(), "{status}");
            assert_eq!(json, format!(r#"{{"code":"{code}","message":"why"}}"#).into_bytes(), "{status}");
        }
    }

    #[test]
    fn only_hypers_bodiless_parse_error_answers_are_recognised() {
        let hyper = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        assert_eq!(hyper_error(hyper), Some(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE));
        assert_eq!(
            hyper_error(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n"),
            Some(StatusCode::BAD_REQUEST)
        );
        // Ours: a body; another status; a head followed by more bytes.
        assert_eq!(hyper_error(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 12\r\n\r\n"), None);
        assert_eq!(hyper_error(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"), None);
        assert_eq!(hyper_error(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\nHTTP/1.1 200 OK\r\n\r\n"), None);
    }

    #[tokio::test]
    async fn a_hyper_error_is_replaced_by_the_json_answer_and_the_rest_passes() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (client, server) = tokio::io::duplex(4096);
        let mut wrapped = JsonErrors::new(server);
        wrapped.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok").await.unwrap();
        wrapped.write_all(b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\n\r\n").await.unwrap();
        wrapped.shutdown().await.unwrap();
        drop(wrapped);
        let mut text = String::new();
        let mut client = client;
        client.read_to_string(&mut text).await.unwrap();
        let (first, second) = text.split_at("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok".len());
        assert!(first.ends_with("ok"));
        assert!(second.starts_with("HTTP/1.1 414 URI Too Long\r\ncontent-type: application/json\r\n"), "{second}");
        assert!(second.ends_with(r#"{"code":"uri_too_long","message":"the request's URI is too long"}"#), "{second}");
    }
}
