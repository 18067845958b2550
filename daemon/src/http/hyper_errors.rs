//! JSON bodies for the answers hyper writes on its own. A request hyper cannot parse (a bad request
//! line, headers above its buffer, a URI above 64 KiB) never reaches a router: hyper answers `400`,
//! `431` or `414` with an empty body and closes. [`JsonErrors`] sits between hyper and the socket
//! and replaces exactly those answers with the server's JSON error body, so every error a client
//! sees has the documented shape.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use axum::http::StatusCode;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A server's error body for a status the serve loop answers itself, with a message for humans.
pub type ErrorBody = fn(StatusCode, &str) -> Vec<u8>;

/// The error body of both servers (the aggregator's endpoint and the control API) for the answers
/// of the serve loop: `{"code", "message"}` with the code both protocols' `ErrorCode` name the same
/// way (a test holds them to it).
pub fn error_body(status: StatusCode, message: &str) -> Vec<u8> {
    let code = match status {
        StatusCode::REQUEST_TIMEOUT => "timeout",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => "headers_too_large",
        StatusCode::URI_TOO_LONG => "uri_too_long",
        _ => "bad_request",
    };
    serde_json::to_vec(&serde_json::json!({ "code": code, "message": message })).unwrap_or_default()
}

/// The statuses hyper answers on its own after a parse error (`hyper::proto::h1::role::Server::on_error`).
const HYPER_STATUSES: [(StatusCode, &str); 3] = [
    (StatusCode::BAD_REQUEST, "the request is not valid HTTP/1.1 (request line, method, version or a header)"),
    (StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, "the request's headers are too large"),
    (StatusCode::URI_TOO_LONG, "the request's URI is too long"),
];

/// A complete response (head and JSON body) that closes the connection.
pub fn response(status: StatusCode, body: ErrorBody, message: &str) -> Vec<u8> {
    let json = body(status, message);
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
    body: ErrorBody,
    /// The replacement answer and how much of it is written.
    pending: Option<(Vec<u8>, usize)>,
    /// Whether anything was written (an answer) yet.
    wrote: bool,
    /// Whether bytes arrived since the last answer was written: a request is on its way.
    read_since_write: bool,
}

impl<IO> JsonErrors<IO> {
    pub fn new(io: IO, body: ErrorBody) -> Self {
        Self { io, body, pending: None, wrote: false, read_since_write: false }
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
            self.pending = Some((response(status, self.body, message), 0));
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

    fn body(status: StatusCode, message: &str) -> Vec<u8> {
        format!(r#"{{"status":{},"message":"{message}"}}"#, status.as_u16()).into_bytes()
    }

    /// The one body is a valid error of both protocols, with the code each names for the status.
    #[test]
    fn the_serve_loop_body_parses_as_both_protocols_errors() {
        use crate::protocol::{ApiError as AggregatorError, ErrorCode as AggregatorCode};
        use keeper_shared::api::{ApiError as ControlError, ErrorCode as ControlCode};
        let cases = [
            (StatusCode::REQUEST_TIMEOUT, AggregatorCode::Timeout, ControlCode::Timeout),
            (StatusCode::SERVICE_UNAVAILABLE, AggregatorCode::Unavailable, ControlCode::Unavailable),
            (
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                AggregatorCode::HeadersTooLarge,
                ControlCode::HeadersTooLarge,
            ),
            (StatusCode::URI_TOO_LONG, AggregatorCode::UriTooLong, ControlCode::UriTooLong),
            (StatusCode::BAD_REQUEST, AggregatorCode::BadRequest, ControlCode::BadRequest),
        ];
        for (status, aggregator, control) in cases {
            let json = error_body(status, "why");
            let a: AggregatorError = serde_json::from_slice(&json).unwrap();
            let c: ControlError = serde_json::from_slice(&json).unwrap();
            assert_eq!((a.code, a.message.as_str()), (aggregator, "why"), "{status}");
            assert_eq!((c.code, c.message.as_str()), (control, "why"), "{status}");
            assert_eq!(a.code.http_status(), status.as_u16(), "{status}");
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
        let mut wrapped = JsonErrors::new(server, body);
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
        assert!(second.ends_with(r#"{"status":414,"message":"the request's URI is too long"}"#), "{second}");
    }
}
