//! RFC 6455 frames: reading the server's by their headers (7, 16 or 64-bit
//! payload lengths) and writing the client's (always masked, one fragment).

/// Opcodes used here.
pub const OP_CONTINUATION: u8 = 0x0;
/// Text frame.
pub const OP_TEXT: u8 = 0x1;
/// Close frame.
pub const OP_CLOSE: u8 = 0x8;
/// Ping frame.
pub const OP_PING: u8 = 0x9;
/// Pong frame.
pub const OP_PONG: u8 = 0xA;

/// Longest server frame payload accepted (a snapshot is a few kB; anything
/// near this is a broken stream, not a message).
pub const MAX_PAYLOAD_BYTES: u64 = 16 * 1024 * 1024;

/// One frame at the start of a buffer.
#[derive(Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    /// FIN bit: last fragment of its message.
    pub fin: bool,
    /// Low 4 bits of the first byte.
    pub opcode: u8,
    /// MASK bit (servers must not mask; the payload is left as sent).
    pub masked: bool,
    /// The payload bytes.
    pub payload: &'a [u8],
}

impl Frame<'_> {
    /// What a client of /v1/ws never expects from the server: a fragment
    /// (FIN = 0 or a continuation) or a masked frame.
    pub fn is_protocol_error(&self) -> bool {
        !self.fin || self.opcode == OP_CONTINUATION || self.masked
    }
}

/// The result of reading the start of a buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed<'a> {
    /// A whole frame, and the bytes it took (header + payload).
    Frame(Frame<'a>, usize),
    /// Not a whole frame yet: wait for more bytes.
    Incomplete,
    /// A header announcing more than [`MAX_PAYLOAD_BYTES`] bytes.
    TooLong(u64),
}

/// Reads the frame at the start of `buf`.
pub fn parse(buf: &[u8]) -> Parsed<'_> {
    let [b0, b1, ..] = *buf else { return Parsed::Incomplete };
    let masked = b1 & 0x80 != 0;
    let (len, mut off) = match b1 & 0x7f {
        126 => match buf.get(2..4) {
            Some(b) => (u64::from(u16::from_be_bytes([b[0], b[1]])), 4),
            None => return Parsed::Incomplete,
        },
        127 => match buf.get(2..10).and_then(|b| <[u8; 8]>::try_from(b).ok()) {
            Some(b) => (u64::from_be_bytes(b), 10),
            None => return Parsed::Incomplete,
        },
        n => (u64::from(n), 2),
    };
    if len > MAX_PAYLOAD_BYTES {
        return Parsed::TooLong(len);
    }
    if masked {
        off += 4; // the masking key
    }
    let end = off + len as usize; // len <= MAX_PAYLOAD_BYTES: no overflow
    match buf.get(off..end) {
        Some(payload) => Parsed::Frame(Frame { fin: b0 & 0x80 != 0, opcode: b0 & 0x0f, masked, payload }, end),
        None => Parsed::Incomplete,
    }
}

/// Appends a client frame to `out`: FIN, `opcode`, masked with `mask`.
pub fn write_client_frame(out: &mut Vec<u8>, opcode: u8, payload: &[u8], mask: [u8; 4]) {
    out.push(0x80 | opcode);
    match payload.len() {
        n @ 0..=125 => out.push(0x80 | n as u8),
        n @ 126..=0xffff => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&mask);
    out.extend(payload.iter().zip(mask.iter().cycle()).map(|(b, m)| b ^ m));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server frame built by hand, independently of [`parse`].
    fn server_frame(b0: u8, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![b0];
        let n = payload.len();
        if n < 126 {
            f.push(n as u8);
        } else if n <= 0xffff {
            f.push(126);
            f.push((n >> 8) as u8);
            f.push(n as u8);
        } else {
            f.push(127);
            for shift in (0..8).rev() {
                f.push((n as u64 >> (8 * shift)) as u8);
            }
        }
        f.extend_from_slice(payload);
        f
    }

    fn whole(buf: &[u8]) -> (Frame<'_>, usize) {
        match parse(buf) {
            Parsed::Frame(f, used) => (f, used),
            other => unreachable!("expected a frame, got {other:?}"),
        }
    }

    #[test]
    fn seven_sixteen_and_sixtyfour_bit_lengths() {
        for n in [0, 1, 125, 126, 127, 65_535, 65_536, 200_000] {
            let payload: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
            let f = server_frame(0x81, &payload);
            let header = f.len() - n;
            assert_eq!(header, if n < 126 { 2 } else if n <= 0xffff { 4 } else { 10 }, "n = {n}");
            let (frame, used) = whole(&f);
            assert_eq!(used, f.len());
            assert_eq!(frame, Frame { fin: true, opcode: OP_TEXT, masked: false, payload: &payload });
            assert!(!frame.is_protocol_error());
        }
    }

    #[test]
    fn sixteen_bit_length_may_encode_a_small_payload() {
        // Non-minimal but legal for our reader: 126 then 0x0003.
        let buf = [0x81, 126, 0, 3, b'a', b'b', b'c'];
        assert_eq!(whole(&buf).0.payload, b"abc");
    }

    /// Every split of two frames into a prefix and the rest: the prefix is
    /// incomplete until it holds the first frame, and the frames come back whole.
    #[test]
    fn split_across_reads() {
        let mut stream = server_frame(0x81, &[b'x'; 300]);
        stream.extend(server_frame(0x89, b"ping!"));
        let first_len = 4 + 300;
        for cut in 0..stream.len() {
            let prefix = &stream[..cut];
            match parse(prefix) {
                Parsed::Incomplete => assert!(cut < first_len, "cut {cut}"),
                Parsed::Frame(f, used) => {
                    assert!(cut >= first_len, "cut {cut}");
                    assert_eq!((f.payload.len(), used), (300, first_len));
                }
                Parsed::TooLong(n) => unreachable!("{n}"),
            }
        }
        let (second, used) = whole(&stream[first_len..]);
        assert_eq!((second.opcode, second.payload, used), (OP_PING, &b"ping!"[..], 7));
    }

    #[test]
    fn incomplete_headers() {
        assert_eq!(parse(&[]), Parsed::Incomplete);
        assert_eq!(parse(&[0x81]), Parsed::Incomplete);
        assert_eq!(parse(&[0x81, 126, 0]), Parsed::Incomplete);
        assert_eq!(parse(&[0x81, 127, 0, 0, 0, 0, 0, 0, 1]), Parsed::Incomplete);
        assert_eq!(parse(&[0x81, 0x85, 1, 2, 3, 4, b'a']), Parsed::Incomplete, "masked: key then payload");
    }

    #[test]
    fn fragments_and_masked_frames_are_protocol_errors() {
        let fragment = server_frame(0x01, b"part"); // FIN = 0, text
        assert!(whole(&fragment).0.is_protocol_error());
        let continuation = server_frame(0x80, b"rest"); // FIN = 1, opcode 0
        assert!(whole(&continuation).0.is_protocol_error());
        // Masked: the 4-byte key is skipped, so the next frame still lines up.
        let mut masked = vec![0x81, 0x80 | 2, 9, 9, 9, 9, b'h' ^ 9, b'i' ^ 9];
        masked.extend(server_frame(0x81, b"next"));
        let (m, used) = whole(&masked);
        assert!(m.is_protocol_error());
        assert_eq!(used, 8);
        assert_eq!(whole(&masked[used..]).0.payload, b"next");
    }

    #[test]
    fn absurd_lengths_are_refused() {
        let mut huge = vec![0x81, 127];
        huge.extend_from_slice(&u64::MAX.to_be_bytes());
        assert_eq!(parse(&huge), Parsed::TooLong(u64::MAX));
    }

    /// RFC 6455 section 5.7: a masked "Hello" with key 37 fa 21 3d.
    #[test]
    fn client_frame_matches_rfc6455_example() {
        let mut out = Vec::new();
        write_client_frame(&mut out, OP_TEXT, b"Hello", [0x37, 0xfa, 0x21, 0x3d]);
        assert_eq!(out, [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    }

    #[test]
    fn client_frame_lengths_and_unmasking() {
        for n in [0usize, 125, 126, 65_535, 65_536] {
            let payload: Vec<u8> = (0..n).map(|i| i as u8).collect();
            let mut out = Vec::new();
            let mask = [1, 2, 3, 4];
            write_client_frame(&mut out, OP_PONG, &payload, mask);
            let (f, used) = whole(&out);
            assert_eq!((f.fin, f.opcode, f.masked, used), (true, OP_PONG, true, out.len()));
            let unmasked: Vec<u8> = f.payload.iter().zip(mask.iter().cycle()).map(|(b, m)| b ^ m).collect();
            assert_eq!(unmasked, payload);
        }
    }
}
