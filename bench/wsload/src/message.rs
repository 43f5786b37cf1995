//! The text messages of /v1/ws: the subscribe message a client sends, and
//! what a server's text frame is, read from its first bytes only (the payload
//! is not parsed as JSON: the clients' own work stays small).

const PREDICTION_HEAD: &[u8] = br#"{"type":"prediction""#;
const SNAPSHOT_HEAD: &[u8] = br#"{"type":"snapshot""#;
const ERROR_HEAD: &[u8] = br#"{"type":"error""#;
const MADE_AT_KEY: &[u8] = br#""made_at_ms":"#;

/// `{"op":"subscribe","pairs":[...]}`.
pub fn subscribe_payload(pairs: &[String]) -> Vec<u8> {
    let pairs: Vec<String> = pairs.iter().map(|p| json_string(p)).collect();
    format!(r#"{{"op":"subscribe","pairs":[{}]}}"#, pairs.join(",")).into_bytes()
}

/// `s` as a JSON string literal.
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The kind of a text frame.
#[derive(Debug, PartialEq, Eq)]
pub enum Text {
    /// `{"type":"prediction"...`, with the integer after its first
    /// `"made_at_ms":` (None when there is none).
    Prediction(Option<i64>),
    /// `{"type":"snapshot"...`: the subscription is live.
    Snapshot,
    /// `{"type":"error"...`.
    Error,
    /// Anything else (`subscribed`, `candle`, ...).
    Other,
}

/// Classifies a text payload.
pub fn classify(payload: &[u8]) -> Text {
    if payload.starts_with(PREDICTION_HEAD) {
        Text::Prediction(made_at_ms(payload))
    } else if payload.starts_with(SNAPSHOT_HEAD) {
        Text::Snapshot
    } else if payload.starts_with(ERROR_HEAD) {
        Text::Error
    } else {
        Text::Other
    }
}

/// The integer after the first `"made_at_ms":` in `payload` (optional
/// spaces and minus sign), or None if the key is absent, no digit follows or
/// it overflows an i64.
pub fn made_at_ms(payload: &[u8]) -> Option<i64> {
    let at = payload.windows(MADE_AT_KEY.len()).position(|w| w == MADE_AT_KEY)? + MADE_AT_KEY.len();
    let rest = &payload[at..];
    let rest = &rest[rest.iter().take_while(|b| **b == b' ').count()..];
    let (negative, rest) = match rest.split_first() {
        Some((b'-', tail)) => (true, tail),
        _ => (false, rest),
    };
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 {
        return None;
    }
    let mut v: i64 = 0;
    for d in &rest[..digits] {
        v = v.checked_mul(10)?.checked_add(i64::from(d - b'0'))?;
    }
    Some(if negative { -v } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The frame the API and the bare `ws` peer send (JSON.stringify of a
    /// prediction, as in bench/api.ts).
    const PREDICTION: &[u8] = br#"{"type":"prediction","pair":"BTC/USD","data":{"pair":"BTC/USD","made_at_ms":1723161660000,"target_ms":1723161960000,"horizon_s":300,"predicted_price":61701.5}}"#;

    #[test]
    fn classifies_by_head() {
        assert_eq!(classify(PREDICTION), Text::Prediction(Some(1_723_161_660_000)));
        assert_eq!(classify(br#"{"type":"snapshot","pair":"BTC/USD","prediction":null}"#), Text::Snapshot);
        assert_eq!(classify(br#"{"type":"error","code":"INVALID_MESSAGE"}"#), Text::Error);
        assert_eq!(classify(br#"{"type":"subscribed","pairs":["BTC/USD"]}"#), Text::Other);
        assert_eq!(classify(br#"{"type":"predictions"}"#), Text::Other, "the head includes the closing quote");
        assert_eq!(classify(b""), Text::Other);
    }

    #[test]
    fn subscribe_message() {
        let pairs = ["BTC/USD".to_owned(), "ETH/USD".to_owned()];
        assert_eq!(subscribe_payload(&pairs), br#"{"op":"subscribe","pairs":["BTC/USD","ETH/USD"]}"#);
        assert_eq!(subscribe_payload(&["a\"b\\\n".to_owned()]), br#"{"op":"subscribe","pairs":["a\"b\\\u000a"]}"#);
    }

    #[test]
    fn made_at_extraction() {
        assert_eq!(made_at_ms(br#"{"made_at_ms":0}"#), Some(0));
        assert_eq!(made_at_ms(br#"{"made_at_ms": 42,"x":1}"#), Some(42));
        assert_eq!(made_at_ms(br#"{"made_at_ms":-5}"#), Some(-5));
        assert_eq!(made_at_ms(br#"{"a":{"made_at_ms":7},"made_at_ms":8}"#), Some(7), "the first one");
        assert_eq!(made_at_ms(br#"{"made_at_ms":9223372036854775807}"#), Some(i64::MAX));
        assert_eq!(made_at_ms(br#"{"made_at_ms":9223372036854775808}"#), None, "overflow");
        assert_eq!(made_at_ms(br#"{"made_at_ms":null}"#), None);
        assert_eq!(made_at_ms(br#"{"made_at_ms":"#), None, "key at the very end");
        assert_eq!(made_at_ms(br#"{"target_ms":5}"#), None);
        assert_eq!(classify(br#"{"type":"prediction","data":{}}"#), Text::Prediction(None));
    }
}
