//! Command line: options, the `ws://` URL, and `--help`.

/// `--help`.
pub const HELP: &str = r#"tickcast-wsload: websocket load generator for bench/api.ts (RFC 6455 over raw TCP,
one thread, one epoll). Opens N clients, then reports when each prediction frame arrived.

USAGE:
  tickcast-wsload --url ws://127.0.0.1:PORT/v1/ws --clients N [--subscribe BTC/USD[,ETH/USD]] [--concurrency 200]

OPTIONS:
  --url URL           ws://host[:port]/path[?query] (no wss)
  --clients N         clients (TCP connections) to open; needs N + 16 file descriptors
                      (the soft RLIMIT_NOFILE is raised to the hard limit at start)
  --subscribe PAIRS   comma-separated pairs: after the upgrade each client sends the masked text
                      frame {"op":"subscribe","pairs":[...]} and is ready once a text frame starting
                      {"type":"snapshot" arrives. Without it a client is ready once upgraded.
  --concurrency K     clients between connect and ready at any time (default 200)
  --help              this text

EACH CLIENT: connects (non-blocking, TCP_NODELAY), sends the HTTP/1.1 upgrade with a random
16-byte Sec-WebSocket-Key, requires "HTTP/1.1 101" and the exact Sec-WebSocket-Accept, then reads
the server's frames by their headers (7/16/64-bit lengths). Text frames starting
{"type":"prediction" are recorded: made_at_ms (the integer after "made_at_ms":) and the arrival
time, CLOCK_MONOTONIC in ms (Node's process.hrtime.bigint() / 1e6) taken right after the read()
that returned the bytes, before parsing. {"type":"error" frames are counted; pings are answered
with a masked pong (same payload); a close frame is answered with a masked close echoing its code,
and counted. Protocol errors (counted): fragmented (FIN=0, opcode 0), masked or oversized server
frames, prediction frames without made_at_ms, connections lost without a close frame.
Before all clients are ready, any failure (refused connection, failed handshake, error or close
frame, lost connection) ends the program with status 1 and the reason on stderr.

CONTROL (one JSON object per line on stdout; commands one per line on stdin, a pipe or terminal):
  stdout  {"kind":"ready","clients":N}              once all N clients are ready
  stdin   start    resets the CPU counter (getrusage(RUSAGE_SELF): user + system)
  stdin   report   prints {"kind":"arrivals","made":[...],"at":[...],"errorFrames":E,"closes":C,
                   "protocolErrors":P,"cpuUs":U}: every prediction frame so far (made_at_ms and
                   arrival ms with 3 decimals, index by index), counts, CPU µs since start
                   (or since ready)
  stdin   exit     closes every socket and exits 0 (so does end of input)
Commands sent before ready wait until ready. The sockets are served all the while.
"#;

/// What to run.
#[derive(Debug, PartialEq, Eq)]
pub struct Options {
    /// Where to connect.
    pub url: WsUrl,
    /// Clients to open.
    pub clients: usize,
    /// Pairs to subscribe to (None: ready once upgraded).
    pub subscribe: Option<Vec<String>>,
    /// Clients between connect and ready at any time.
    pub concurrency: usize,
}

/// A parsed `ws://` URL.
#[derive(Debug, PartialEq, Eq)]
pub struct WsUrl {
    /// Host as written (IPv6 in brackets), for connecting and the Host header.
    pub host: String,
    /// Port (80 when absent).
    pub port: u16,
    /// Path and query (`/` when absent).
    pub path: String,
}

impl WsUrl {
    /// The Host header value: host:port.
    pub fn authority(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// The command line: run, or print the help.
#[derive(Debug, PartialEq, Eq)]
pub enum Cli {
    /// Run with these options.
    Run(Options),
    /// `--help`.
    Help,
}

/// Parses the arguments after the program name.
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Cli, String> {
    let (mut url, mut clients, mut subscribe, mut concurrency) = (None, None, None, 200);
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_owned(), Some(v.to_owned())),
            _ => (arg, None),
        };
        if name == "--help" || name == "-h" {
            return Ok(Cli::Help);
        }
        let mut value = || inline.clone().or_else(|| args.next()).ok_or_else(|| format!("{name} needs a value"));
        match name.as_str() {
            "--url" => url = Some(parse_url(&value()?)?),
            "--clients" => clients = Some(positive(&name, &value()?)?),
            "--concurrency" => concurrency = positive(&name, &value()?)?,
            "--subscribe" => {
                let v = value()?;
                let pairs: Vec<String> = v.split(',').map(|p| p.trim().to_owned()).collect();
                if pairs.iter().any(String::is_empty) {
                    return Err(format!("--subscribe {v:?}: expected pairs separated by commas, e.g. BTC/USD,ETH/USD"));
                }
                subscribe = Some(pairs);
            }
            _ => return Err(format!("unknown argument {name:?} (see --help)")),
        }
    }
    Ok(Cli::Run(Options {
        url: url.ok_or("--url is required (see --help)")?,
        clients: clients.ok_or("--clients is required (see --help)")?,
        subscribe,
        concurrency,
    }))
}

fn positive(name: &str, v: &str) -> Result<usize, String> {
    match v.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("{name} {v:?}: expected a positive integer")),
    }
}

/// Parses `ws://host[:port][/path][?query]`.
pub fn parse_url(s: &str) -> Result<WsUrl, String> {
    let bad = |why: &str| format!("--url {s:?}: {why}");
    let rest = s.strip_prefix("ws://").ok_or_else(|| bad("expected ws://host:port/path (wss is not supported)"))?;
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) if rest.as_bytes()[i] == b'?' => (&rest[..i], format!("/{}", &rest[i..])),
        Some(i) => (&rest[..i], rest[i..].to_owned()),
        None => (rest, "/".to_owned()),
    };
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (inside, after) = v6.split_once(']').ok_or_else(|| bad("unclosed ["))?;
        (format!("[{inside}]"), after.strip_prefix(':'))
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h.to_owned(), Some(p)),
            None => (authority.to_owned(), None),
        }
    };
    if host.is_empty() || host == "[]" || host.contains('@') {
        return Err(bad("expected a host (and no user info)"));
    }
    let port = match port {
        None => 80,
        Some(p) => p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| bad("bad port"))?,
    };
    Ok(WsUrl { host, port, path })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn urls() {
        let u = parse_url("ws://127.0.0.1:8080/v1/ws").unwrap();
        assert_eq!(u, WsUrl { host: "127.0.0.1".into(), port: 8080, path: "/v1/ws".into() });
        assert_eq!(u.authority(), "127.0.0.1:8080");
        assert_eq!(parse_url("ws://localhost").unwrap(), WsUrl { host: "localhost".into(), port: 80, path: "/".into() });
        assert_eq!(parse_url("ws://h:1?token=a").unwrap().path, "/?token=a");
        assert_eq!(parse_url("ws://h:1/v1/ws?token=a").unwrap().path, "/v1/ws?token=a");
        let v6 = parse_url("ws://[::1]:9000/x").unwrap();
        assert_eq!((v6.host.as_str(), v6.port, v6.authority()), ("[::1]", 9000, "[::1]:9000".to_owned()));
        for bad in ["http://h:1/", "wss://h:1/", "ws://:1/", "ws://h:0/", "ws://h:99999/", "ws://h:x/", "ws://[::1/", "ws://u@h:1/"] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn options() {
        let cli = parse(args("--url ws://127.0.0.1:1/v1/ws --clients 5000 --subscribe BTC/USD,ETH/USD --concurrency=50")).unwrap();
        assert_eq!(
            cli,
            Cli::Run(Options {
                url: parse_url("ws://127.0.0.1:1/v1/ws").unwrap(),
                clients: 5000,
                subscribe: Some(vec!["BTC/USD".into(), "ETH/USD".into()]),
                concurrency: 50,
            })
        );
        let Ok(Cli::Run(o)) = parse(args("--clients=3 --url=ws://h:2/")) else { unreachable!() };
        assert_eq!((o.clients, o.subscribe, o.concurrency), (3, None, 200));
        assert_eq!(parse(args("--clients 3 --help")), Ok(Cli::Help));
    }

    #[test]
    fn option_errors() {
        for (line, says) in [
            ("--clients 3", "--url is required"),
            ("--url ws://h:1/", "--clients is required"),
            ("--url ws://h:1/ --clients 0", "positive"),
            ("--url ws://h:1/ --clients -2", "positive"),
            ("--url ws://h:1/ --clients", "needs a value"),
            ("--url ws://h:1/ --clients 1 --subscribe BTC/USD,", "commas"),
            ("--url ws://h:1/ --clients 1 --pairs x", "unknown argument"),
        ] {
            let e = parse(args(line)).unwrap_err();
            assert!(e.contains(says), "{line}: {e}");
        }
    }
}
