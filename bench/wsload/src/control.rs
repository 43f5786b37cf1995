//! The control protocol with bench/api.ts: commands, one per line on stdin
//! (`start`, `report`, `exit`), and one JSON object per line on stdout.

use std::fmt::Write as _;

use crate::client::Tally;

/// A command read from stdin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Reset the CPU counter.
    Start,
    /// Print the arrivals line.
    Report,
    /// Close every socket and exit 0.
    Exit,
}

/// A stdin line as a command (None for a blank line).
pub fn parse_command(line: &str) -> Result<Option<Command>, String> {
    match line.trim() {
        "" => Ok(None),
        "start" => Ok(Some(Command::Start)),
        "report" => Ok(Some(Command::Report)),
        "exit" => Ok(Some(Command::Exit)),
        other => Err(format!("unknown command {other:?} (expected start, report or exit)")),
    }
}

/// Splits the bytes read from stdin into lines (a line may span reads).
#[derive(Debug, Default)]
pub struct Lines {
    partial: Vec<u8>,
}

impl Lines {
    /// The lines completed by `bytes`, without their `\n` (and `\r`).
    pub fn push(&mut self, bytes: &[u8]) -> Vec<String> {
        self.partial.extend_from_slice(bytes);
        let Some(last_newline) = self.partial.iter().rposition(|b| *b == b'\n') else { return Vec::new() };
        let done: Vec<u8> = self.partial.drain(..=last_newline).collect();
        done[..last_newline].split(|b| *b == b'\n').map(|l| String::from_utf8_lossy(l.strip_suffix(b"\r").unwrap_or(l)).into_owned()).collect()
    }

    /// What is left at end of input (a last line without `\n`), if anything.
    pub fn finish(&mut self) -> Option<String> {
        let rest = std::mem::take(&mut self.partial);
        (!rest.is_empty()).then(|| String::from_utf8_lossy(&rest).into_owned())
    }
}

/// `{"kind":"ready","clients":N}`.
pub fn ready_line(clients: usize) -> String {
    format!(r#"{{"kind":"ready","clients":{clients}}}"#)
}

/// `{"kind":"arrivals","made":[...],"at":[...],"errorFrames":E,"closes":C,"protocolErrors":P,"cpuUs":U}`,
/// arrival times in ms with 3 decimals (µs).
pub fn arrivals_line(tally: &Tally, cpu_us: u64) -> String {
    let mut s = String::with_capacity(32 + tally.made.len() * 32);
    s.push_str(r#"{"kind":"arrivals","made":["#);
    for (i, m) in tally.made.iter().enumerate() {
        let _ = write!(s, "{}{m}", if i > 0 { "," } else { "" });
    }
    s.push_str(r#"],"at":["#);
    for (i, t) in tally.at.iter().enumerate() {
        let _ = write!(s, "{}{t:.3}", if i > 0 { "," } else { "" });
    }
    let _ = write!(
        s,
        r#"],"errorFrames":{},"closes":{},"protocolErrors":{},"cpuUs":{cpu_us}}}"#,
        tally.error_frames, tally.closes, tally.protocol_errors
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands() {
        assert_eq!(parse_command("start"), Ok(Some(Command::Start)));
        assert_eq!(parse_command(" report \r"), Ok(Some(Command::Report)));
        assert_eq!(parse_command("exit"), Ok(Some(Command::Exit)));
        assert_eq!(parse_command(""), Ok(None));
        assert!(parse_command("{\"kind\":\"start\"}").is_err());
    }

    #[test]
    fn lines_across_reads() {
        let mut l = Lines::default();
        assert!(l.push(b"sta").is_empty());
        assert_eq!(l.push(b"rt\nrep"), ["start"]);
        assert_eq!(l.push(b"ort\r\n\nexit\nx"), ["report", "", "exit"]);
        assert_eq!(l.finish().as_deref(), Some("x"));
        assert_eq!(l.finish(), None);
    }

    #[test]
    fn output_lines() {
        assert_eq!(ready_line(2500), r#"{"kind":"ready","clients":2500}"#);
        let empty = Tally::default();
        assert_eq!(arrivals_line(&empty, 0), r#"{"kind":"arrivals","made":[],"at":[],"errorFrames":0,"closes":0,"protocolErrors":0,"cpuUs":0}"#);
        let t = Tally { made: vec![1_723_161_660_000, -1], at: vec![123_456.789_4, 0.0005], error_frames: 1, closes: 2, protocol_errors: 3 };
        assert_eq!(
            arrivals_line(&t, 4567),
            r#"{"kind":"arrivals","made":[1723161660000,-1],"at":[123456.789,0.001],"errorFrames":1,"closes":2,"protocolErrors":3,"cpuUs":4567}"#
        );
    }
}
