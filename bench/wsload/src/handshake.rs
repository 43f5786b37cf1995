//! The client side of the RFC 6455 opening handshake: the upgrade request,
//! the accept value the server must answer with, and the check of its answer.

use crate::{base64, sha1::sha1};

/// RFC 6455 section 1.3: appended to the key before hashing.
const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Longest response head accepted before its blank line.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;

/// The `Sec-WebSocket-Key` for 16 random bytes.
pub fn key(random: [u8; 16]) -> String {
    base64::encode(&random)
}

/// The `Sec-WebSocket-Accept` a server must answer `key` with.
pub fn accept_for(key: &str) -> String {
    base64::encode(&sha1(format!("{key}{GUID}").as_bytes()))
}

/// The HTTP/1.1 upgrade request (`host` as in the Host header: host:port).
pub fn request(host: &str, path: &str, key: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
}

/// Where the response head ends: the index just past its `\r\n\r\n`.
pub fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// Checks a response head (everything before the blank line): status
/// `HTTP/1.1 101` and a `Sec-WebSocket-Accept` header (name in any case)
/// equal to `accept`. The error says what the server answered.
pub fn check_response(head: &[u8], accept: &str) -> Result<(), String> {
    let head = String::from_utf8_lossy(head);
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or("");
    if !status.starts_with("HTTP/1.1 101") {
        return Err(format!("websocket upgrade refused: {status:?}"));
    }
    let got = lines.filter_map(|l| l.split_once(':')).find(|(name, _)| name.trim().eq_ignore_ascii_case("sec-websocket-accept"));
    match got {
        Some((_, value)) if value.trim() == accept => Ok(()),
        Some((_, value)) => Err(format!("websocket upgrade: Sec-WebSocket-Accept is {:?}, expected {accept:?}", value.trim())),
        None => Err("websocket upgrade: no Sec-WebSocket-Accept header in the 101 response".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6455 section 1.3's example.
    #[test]
    fn rfc6455_example_accept() {
        assert_eq!(accept_for("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert_eq!(key(*b"the sample nonce"), "dGhlIHNhbXBsZSBub25jZQ==");
    }

    #[test]
    fn request_is_a_complete_upgrade() {
        let r = request("127.0.0.1:8080", "/v1/ws?x=1", "k");
        assert!(r.starts_with("GET /v1/ws?x=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"));
        assert!(r.contains("\r\nSec-WebSocket-Key: k\r\n"));
        assert_eq!(head_end(r.as_bytes()), Some(r.len()));
    }

    #[test]
    fn head_end_finds_the_blank_line() {
        assert_eq!(head_end(b"HTTP/1.1 101 X\r\n\r\n\x81\x00"), Some(18));
        assert_eq!(head_end(b"HTTP/1.1 101 X\r\n\r"), None);
    }

    #[test]
    fn response_check() {
        let accept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
        let ok = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nsec-websocket-accept:  s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
        assert_eq!(check_response(ok, accept), Ok(()));
        let refused = check_response(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0", accept);
        assert!(refused.is_err_and(|e| e.contains("401 Unauthorized")));
        let wrong = check_response(b"HTTP/1.1 101 OK\r\nSec-WebSocket-Accept: S3PPLMBITXAQ9KYGZZHZRBK+XOO=", accept);
        assert!(wrong.is_err_and(|e| e.contains("expected")), "the value is compared exactly, case included");
        assert!(check_response(b"HTTP/1.1 101 OK\r\nUpgrade: websocket", accept).is_err());
        assert!(check_response(b"HTTP/1.0 101 OK\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", accept).is_err());
    }
}
