//! One websocket client's protocol state, apart from its socket: the bytes
//! it reads go in (with their arrival time), the bytes it must write come out
//! in [`Client::out`]. The event loop (src/event_loop.rs) owns the sockets.
//!
//! Phases: upgrading (request sent, waiting for `HTTP/1.1 101` with the
//! right `Sec-WebSocket-Accept`) → subscribing (subscribe frame sent, waiting
//! for a `snapshot` text frame; skipped without a subscription) → ready.
//! Anything that goes wrong before ready is fatal (an `Err` with the reason):
//! the load would not be what was asked for. After ready, problems are
//! counted in the [`Tally`].

use crate::frame::{self, Frame, Parsed, OP_CLOSE, OP_PING, OP_PONG, OP_TEXT};
use crate::handshake;
use crate::message::{self, Text};
use crate::rng::Rng;

/// What every client of the process has seen (reported on `report`).
#[derive(Debug, Default)]
pub struct Tally {
    /// `made_at_ms` of each prediction frame received...
    pub made: Vec<i64>,
    /// ...and its arrival (CLOCK_MONOTONIC ms), index by index.
    pub at: Vec<f64>,
    /// `{"type":"error"` frames after ready.
    pub error_frames: u64,
    /// Close frames received (each answered with a close frame).
    pub closes: u64,
    /// Fragmented, masked or oversized server frames, prediction frames with
    /// no `made_at_ms`, and connections lost after ready without a close frame.
    pub protocol_errors: u64,
}

/// What the clients of a process share: the tally, the random source for
/// masks, and the subscribe payload (None: ready once upgraded).
pub struct Shared {
    /// Counts and arrivals.
    pub tally: Tally,
    /// Masking keys.
    pub rng: Rng,
    /// `{"op":"subscribe","pairs":[...]}`, sent after the upgrade.
    pub subscribe: Option<Vec<u8>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Upgrading,
    Subscribing,
    Ready,
}

/// One client.
pub struct Client {
    phase: Phase,
    /// The `Sec-WebSocket-Accept` the server must answer with.
    accept: String,
    /// The start of a head or frame not yet whole (bytes of earlier reads).
    pending: Vec<u8>,
    /// Bytes to write to the socket (the event loop drains it).
    pub out: Vec<u8>,
    /// A close frame arrived and was answered: nothing more is read.
    close_received: bool,
    /// The byte stream cannot be followed any more (oversized frame header).
    broken: bool,
}

impl Client {
    /// A client about to send the upgrade `request` (queued in `out`), which
    /// carries `key`.
    pub fn new(request: &str, key: &str) -> Self {
        Self {
            phase: Phase::Upgrading,
            accept: handshake::accept_for(key),
            pending: Vec::new(),
            out: request.as_bytes().to_vec(),
            close_received: false,
            broken: false,
        }
    }

    /// Upgraded, and subscribed if a subscription was asked for.
    pub fn is_ready(&self) -> bool {
        self.phase == Phase::Ready
    }

    /// A close frame was answered: shut the write side once `out` is written.
    pub fn close_received(&self) -> bool {
        self.close_received
    }

    /// The stream is lost (counted as a protocol error): close the socket.
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// A chunk read from the socket at `at_ms`. Frames may span chunks.
    pub fn on_bytes(&mut self, chunk: &[u8], at_ms: f64, shared: &mut Shared) -> Result<(), String> {
        if self.pending.is_empty() {
            let used = self.consume(chunk, at_ms, shared)?;
            self.pending.extend_from_slice(&chunk[used..]);
        } else {
            let mut buf = std::mem::take(&mut self.pending);
            buf.extend_from_slice(chunk);
            let used = self.consume(&buf, at_ms, shared)?;
            buf.drain(..used);
            self.pending = buf;
        }
        Ok(())
    }

    /// Handles the head and the whole frames at the start of `buf`; returns
    /// the bytes used (the rest waits for the next chunk).
    fn consume(&mut self, buf: &[u8], at_ms: f64, shared: &mut Shared) -> Result<usize, String> {
        if self.close_received || self.broken {
            return Ok(buf.len());
        }
        let mut at = 0;
        if self.phase == Phase::Upgrading {
            let Some(end) = handshake::head_end(buf) else {
                if buf.len() > handshake::MAX_HEAD_BYTES {
                    return Err(format!("websocket upgrade: no end of the response head in {} bytes", buf.len()));
                }
                return Ok(0);
            };
            handshake::check_response(&buf[..end - 4], &self.accept)?;
            match &shared.subscribe {
                Some(payload) => {
                    frame::write_client_frame(&mut self.out, OP_TEXT, payload, shared.rng.mask());
                    self.phase = Phase::Subscribing;
                }
                None => self.phase = Phase::Ready,
            }
            at = end;
        }
        while at < buf.len() {
            match frame::parse(&buf[at..]) {
                Parsed::Incomplete => break,
                Parsed::TooLong(len) => {
                    if !self.is_ready() {
                        return Err(format!("the server announced a {len}-byte frame before ready"));
                    }
                    shared.tally.protocol_errors += 1;
                    self.broken = true;
                    return Ok(buf.len());
                }
                Parsed::Frame(f, used) => {
                    at += used;
                    self.on_frame(&f, at_ms, shared)?;
                    if self.close_received {
                        return Ok(buf.len());
                    }
                }
            }
        }
        Ok(at)
    }

    fn on_frame(&mut self, f: &Frame<'_>, at_ms: f64, shared: &mut Shared) -> Result<(), String> {
        let tally = &mut shared.tally;
        if f.is_protocol_error() {
            tally.protocol_errors += 1; // fragmented or masked: not expected from /v1/ws
            return Ok(());
        }
        match f.opcode {
            OP_TEXT => match message::classify(f.payload) {
                Text::Prediction(Some(made)) => {
                    tally.made.push(made);
                    tally.at.push(at_ms);
                }
                Text::Prediction(None) => tally.protocol_errors += 1,
                Text::Snapshot => {
                    if self.phase == Phase::Subscribing {
                        self.phase = Phase::Ready;
                    }
                }
                Text::Error if !self.is_ready() => {
                    return Err(format!("the server answered with an error frame before ready: {}", excerpt(f.payload)));
                }
                Text::Error => tally.error_frames += 1,
                Text::Other => {}
            },
            OP_PING => frame::write_client_frame(&mut self.out, OP_PONG, f.payload, shared.rng.mask()),
            OP_CLOSE => {
                tally.closes += 1;
                let code = &f.payload[..f.payload.len().min(2)];
                frame::write_client_frame(&mut self.out, OP_CLOSE, code, shared.rng.mask());
                self.close_received = true;
                if !self.is_ready() {
                    return Err(format!("the server closed the websocket before ready: {}", close_reason(f.payload)));
                }
            }
            _ => {} // binary, pong: nothing to do
        }
        Ok(())
    }
}

/// The start of a payload as text, for error messages.
fn excerpt(payload: &[u8]) -> String {
    let cut = &payload[..payload.len().min(300)];
    format!("{}{}", String::from_utf8_lossy(cut), if cut.len() < payload.len() { "..." } else { "" })
}

/// "code N: reason" of a close frame payload.
fn close_reason(payload: &[u8]) -> String {
    match payload {
        [hi, lo, reason @ ..] => format!("code {}: {}", u16::from_be_bytes([*hi, *lo]), excerpt(reason)),
        _ => "no code".to_owned(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test
mod tests {
    use super::*;

    const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
    const RESPONSE: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";

    fn shared(subscribe: bool) -> Shared {
        Shared {
            tally: Tally::default(),
            rng: Rng::with_seed(7),
            subscribe: subscribe.then(|| br#"{"op":"subscribe","pairs":["BTC/USD"]}"#.to_vec()),
        }
    }

    /// An unmasked server frame with a 7 or 16-bit length.
    fn server(b0: u8, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![b0];
        if payload.len() < 126 {
            f.push(payload.len() as u8);
        } else {
            f.push(126);
            f.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        }
        f.extend_from_slice(payload);
        f
    }

    fn prediction(made: i64) -> Vec<u8> {
        server(0x81, format!(r#"{{"type":"prediction","pair":"BTC/USD","data":{{"made_at_ms":{made},"horizon_s":300}}}}"#).as_bytes())
    }

    /// Unmasks the client frames in `out`: (opcode, payload) each.
    fn client_frames(mut out: &[u8]) -> Vec<(u8, Vec<u8>)> {
        let mut frames = Vec::new();
        while let Parsed::Frame(f, used) = frame::parse(out) {
            assert!(f.masked && f.fin);
            let key = &out[used - f.payload.len() - 4..used - f.payload.len()];
            frames.push((f.opcode, f.payload.iter().zip(key.iter().cycle()).map(|(b, m)| b ^ m).collect()));
            out = &out[used..];
        }
        assert!(out.is_empty(), "trailing bytes");
        frames
    }

    fn take_request(c: &mut Client) -> Vec<u8> {
        std::mem::take(&mut c.out)
    }

    #[test]
    fn plain_client_is_ready_once_upgraded() {
        let mut s = shared(false);
        let mut c = Client::new(&handshake::request("h:1", "/", KEY), KEY);
        assert!(take_request(&mut c).starts_with(b"GET / HTTP/1.1\r\n"));
        c.on_bytes(RESPONSE, 1.0, &mut s).unwrap();
        assert!(c.is_ready());
        assert!(c.out.is_empty());
    }

    /// The whole conversation fed one byte at a time, then in one chunk: the
    /// same outcome (frames and the head split anywhere across reads).
    #[test]
    fn subscribe_then_predictions_in_any_split() {
        let mut stream = RESPONSE.to_vec();
        let after_head = stream.len();
        stream.extend(server(0x81, br#"{"type":"subscribed","pairs":["BTC/USD"]}"#));
        stream.extend(server(0x81, format!(r#"{{"type":"snapshot","pair":"BTC/USD","candles":[{}]}}"#, "1,".repeat(100) + "1").as_bytes()));
        stream.extend(prediction(1_723_161_660_000));
        let first_prediction_last_byte = stream.len() - 1;
        stream.extend(server(0x89, b"hb"));
        stream.extend(prediction(1_723_161_720_000));
        for chunk in [1, 7, stream.len()] {
            let mut s = shared(true);
            let mut c = Client::new("", KEY);
            for (i, piece) in stream.chunks(chunk).enumerate() {
                c.on_bytes(piece, i as f64, &mut s).unwrap();
                if (i + 1) * chunk < after_head {
                    assert!(c.out.is_empty(), "nothing sent before the 101");
                }
            }
            assert!(c.is_ready());
            let sent = client_frames(&c.out);
            assert_eq!(sent[0], (OP_TEXT, br#"{"op":"subscribe","pairs":["BTC/USD"]}"#.to_vec()));
            assert_eq!(sent[1], (OP_PONG, b"hb".to_vec()));
            assert_eq!(s.tally.made, [1_723_161_660_000, 1_723_161_720_000]);
            assert_eq!(s.tally.protocol_errors, 0);
            if chunk == stream.len() {
                assert_eq!(s.tally.at, [0.0, 0.0], "stamped with the time of the read");
            } else {
                // Stamped with the read holding the frame's last byte.
                assert_eq!(s.tally.at[0], (first_prediction_last_byte / chunk) as f64);
            }
        }
    }

    #[test]
    fn not_ready_until_the_snapshot() {
        let mut s = shared(true);
        let mut c = Client::new("", KEY);
        let mut bytes = RESPONSE.to_vec();
        bytes.extend(server(0x81, br#"{"type":"subscribed","pairs":["BTC/USD"]}"#));
        c.on_bytes(&bytes, 0.0, &mut s).unwrap();
        assert!(!c.is_ready());
        c.on_bytes(&server(0x81, br#"{"type":"snapshot"}"#), 0.0, &mut s).unwrap();
        assert!(c.is_ready());
    }

    #[test]
    fn failed_handshakes_are_fatal() {
        let mut s = shared(false);
        let mut c = Client::new("", KEY);
        let e = c.on_bytes(b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n", 0.0, &mut s).unwrap_err();
        assert!(e.contains("401"), "{e}");
        let mut c = Client::new("", "AAAAAAAAAAAAAAAAAAAAAA==");
        assert!(c.on_bytes(RESPONSE, 0.0, &mut s).unwrap_err().contains("Sec-WebSocket-Accept"));
        let mut c = Client::new("", KEY);
        assert!(c.on_bytes(&vec![b'x'; handshake::MAX_HEAD_BYTES + 1], 0.0, &mut s).is_err());
    }

    #[test]
    fn error_or_close_before_ready_is_fatal() {
        let mut s = shared(true);
        let mut c = Client::new("", KEY);
        let mut bytes = RESPONSE.to_vec();
        bytes.extend(server(0x81, br#"{"type":"error","code":"INVALID_MESSAGE"}"#));
        assert!(c.on_bytes(&bytes, 0.0, &mut s).unwrap_err().contains("INVALID_MESSAGE"));
        let mut c = Client::new("", KEY);
        let mut bytes = RESPONSE.to_vec();
        bytes.extend(server(0x88, &[0x03, 0xe8, b'b', b'y', b'e']));
        assert!(c.on_bytes(&bytes, 0.0, &mut s).unwrap_err().contains("code 1000: bye"));
    }

    #[test]
    fn after_ready_problems_are_counted() {
        let mut s = shared(false);
        let mut c = Client::new("", KEY);
        c.on_bytes(RESPONSE, 0.0, &mut s).unwrap();
        let mut bytes = server(0x81, br#"{"type":"error","code":"X"}"#);
        bytes.extend(server(0x01, br#"{"type":"prediction","#)); // FIN = 0
        bytes.extend(server(0x80, br#""made_at_ms":1}"#)); // continuation
        bytes.extend([0x81, 0x80 | 2, 1, 2, 3, 4, 0, 0]); // masked
        bytes.extend(server(0x81, br#"{"type":"prediction","data":{}}"#)); // no made_at_ms
        bytes.extend(prediction(5));
        bytes.extend(server(0x88, &[0x03, 0xe9]));
        bytes.extend(prediction(6)); // after the close: ignored
        c.on_bytes(&bytes, 2.5, &mut s).unwrap();
        let t = &s.tally;
        assert_eq!((t.error_frames, t.protocol_errors, t.closes), (1, 4, 1));
        assert_eq!((t.made.as_slice(), t.at.as_slice()), (&[5][..], &[2.5][..]));
        assert!(c.close_received());
        assert_eq!(client_frames(&c.out), [(OP_CLOSE, vec![0x03, 0xe9])], "the close code echoed");
    }

    #[test]
    fn oversized_frame_after_ready_breaks_the_stream() {
        let mut s = shared(false);
        let mut c = Client::new("", KEY);
        c.on_bytes(RESPONSE, 0.0, &mut s).unwrap();
        let mut huge = vec![0x81, 127];
        huge.extend_from_slice(&(1u64 << 40).to_be_bytes());
        c.on_bytes(&huge, 0.0, &mut s).unwrap();
        assert!(c.is_broken());
        assert_eq!(s.tally.protocol_errors, 1);
    }
}
