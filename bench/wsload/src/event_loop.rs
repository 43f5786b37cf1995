//! The one thread: one epoll instance watching every client socket
//! (edge-triggered) and stdin (level-triggered), blocking in epoll_wait.
//!
//! Sockets are registered once for EPOLLIN | EPOLLOUT | EPOLLRDHUP with
//! EPOLLET: the first EPOLLOUT says the connect finished, later ones only
//! come after a write found the send buffer full; nothing is re-armed. A
//! socket is read until EAGAIN or a short read (for a stream socket the
//! kernel had no more; epoll(7)), which saves one read(2) per wake-up.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::AsFd;

use crate::cli::Options;
use crate::client::{Client, Shared, Tally};
use crate::control::{self, Command, Lines};
use crate::handshake;
use crate::message;
use crate::rng::Rng;
use crate::sys::{self, Epoll, Events, EPOLLERR, EPOLLET, EPOLLHUP, EPOLLIN, EPOLLOUT, EPOLLRDHUP};

const STDIN_TOKEN: u64 = u64::MAX;
/// Descriptors besides the sockets: stdio, epoll, stdin's duplicate, spare.
const SPARE_FDS: u64 = 16;
const READ_BUFFER_BYTES: usize = 64 * 1024;
const MAX_EVENTS: usize = 4096;

/// One socket and its client.
struct Connection {
    stream: TcpStream,
    client: Client,
    connected: bool,
    write_shut: bool,
}

/// What became of a connection after an event.
enum After {
    Open,
    /// Closed after ready (normally or not; counted): drop the socket.
    Closed,
}

/// Runs until `exit` or end of stdin; Err is a fatal error (message for stderr).
pub fn run(opts: &Options) -> Result<(), String> {
    let limit = sys::raise_open_files_limit().map_err(|e| format!("getrlimit(RLIMIT_NOFILE): {e}"))?;
    let needed = opts.clients as u64 + SPARE_FDS;
    if needed > limit {
        return Err(format!(
            "--clients {} needs {needed} file descriptors but the open-files limit (RLIMIT_NOFILE, soft raised to hard) is {limit}: \
             raise the hard limit (ulimit -Hn, limits.conf, docker --ulimit nofile=...) or spread the clients over more processes",
            opts.clients
        ));
    }
    let addr = resolve(&opts.url.host, opts.url.port)?;
    let request_host = opts.url.authority();
    let epoll = Epoll::new().map_err(|e| format!("epoll_create1: {e}"))?;

    let stdin_fd = io::stdin().as_fd().try_clone_to_owned().map_err(|e| format!("stdin: {e}"))?;
    epoll.add(stdin_fd.as_fd(), EPOLLIN, STDIN_TOKEN).map_err(|e| {
        if e.raw_os_error() == Some(libc::EPERM) {
            "stdin must be a pipe or a terminal (it is watched with epoll), not a regular file or /dev/null".to_owned()
        } else {
            format!("epoll_ctl(stdin): {e}")
        }
    })?;
    let mut stdin = Some(File::from(stdin_fd));
    let mut stdin_lines = Lines::default();
    let mut commands: VecDeque<Command> = VecDeque::new();
    let mut stdin_ended = false;

    let mut shared = Shared {
        tally: Tally::default(),
        rng: Rng::from_os(),
        subscribe: opts.subscribe.as_deref().map(message::subscribe_payload),
    };
    let mut connections: Vec<Option<Connection>> = Vec::with_capacity(opts.clients);
    let mut ready = 0usize;
    let mut announced = false;
    let mut cpu_start_us = 0u64;
    let mut buf = vec![0u8; READ_BUFFER_BYTES];
    let mut events = Events::with_capacity(MAX_EVENTS);

    loop {
        // Keep `concurrency` clients between connect and ready.
        while connections.len() < opts.clients && connections.len() - ready < opts.concurrency {
            let token = connections.len() as u64;
            connections.push(Some(open(&epoll, addr, &request_host, &opts.url.path, token, &mut shared.rng)?));
        }
        if !announced && ready == opts.clients {
            announced = true;
            cpu_start_us = sys::cpu_time_us();
            print_line(&control::ready_line(ready))?;
        }
        if announced {
            while let Some(cmd) = commands.pop_front() {
                match cmd {
                    Command::Start => cpu_start_us = sys::cpu_time_us(),
                    Command::Report => print_line(&control::arrivals_line(&shared.tally, sys::cpu_time_us().saturating_sub(cpu_start_us)))?,
                    Command::Exit => return Ok(()),
                }
            }
            if stdin_ended {
                return Ok(());
            }
        }

        let n = epoll.wait(&mut events, -1).map_err(|e| format!("epoll_wait: {e}"))?;
        for i in 0..n {
            let (token, flags) = events.get(i);
            if token == STDIN_TOKEN {
                let Some(file) = stdin.as_mut() else { continue };
                let got = match file.read(&mut buf) {
                    Ok(0) => None,
                    Ok(n) => Some(n),
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    Err(e) => {
                        eprintln!("tickcast-wsload: reading stdin: {e} (taken as end of input)");
                        None
                    }
                };
                let lines = match got {
                    Some(n) => stdin_lines.push(&buf[..n]),
                    None => {
                        // Level-triggered: stop watching, or EOF would wake us forever.
                        let _ = epoll.delete(file.as_fd());
                        stdin = None;
                        stdin_ended = true;
                        stdin_lines.finish().into_iter().collect()
                    }
                };
                for line in lines {
                    match control::parse_command(&line) {
                        Ok(Some(cmd)) => commands.push_back(cmd),
                        Ok(None) => {}
                        Err(e) => eprintln!("tickcast-wsload: {e}"),
                    }
                }
                continue;
            }
            let slot = usize::try_from(token).ok().and_then(|i| connections.get_mut(i));
            let Some(slot) = slot else { continue };
            let Some(conn) = slot.as_mut() else { continue }; // closed earlier in this batch
            let was_ready = conn.client.is_ready();
            let after = on_socket_event(conn, flags, &mut buf, &mut shared, addr)?;
            if !was_ready && conn.client.is_ready() {
                ready += 1;
            }
            if matches!(after, After::Closed) {
                *slot = None; // closing the socket also removes it from the epoll set
            }
        }
    }
}

fn resolve(host: &str, port: u16) -> Result<SocketAddr, String> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    (bare, port)
        .to_socket_addrs()
        .map_err(|e| format!("resolving {host}: {e}"))?
        .next()
        .ok_or_else(|| format!("resolving {host}: no address"))
}

fn open(epoll: &Epoll, addr: SocketAddr, host: &str, path: &str, token: u64, rng: &mut Rng) -> Result<Connection, String> {
    let stream = sys::connect_nonblocking(addr).map_err(|e| format!("connect to {addr}: {e}"))?;
    epoll
        .add(stream.as_fd(), EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, token)
        .map_err(|e| format!("epoll_ctl(socket): {e}"))?;
    let key = handshake::key(rng.key_bytes());
    let client = Client::new(&handshake::request(host, path, &key), &key);
    Ok(Connection { stream, client, connected: false, write_shut: false })
}

/// Handles one epoll event of a connection. Err: fatal (before ready).
fn on_socket_event(conn: &mut Connection, flags: u32, buf: &mut [u8], shared: &mut Shared, addr: SocketAddr) -> Result<After, String> {
    if !conn.connected {
        if flags & (EPOLLOUT | EPOLLERR | EPOLLHUP) == 0 {
            return Ok(After::Open);
        }
        match conn.stream.take_error() {
            Ok(None) => conn.connected = true,
            Ok(Some(e)) | Err(e) => return Err(format!("connect to {addr}: {e}")),
        }
    }
    let mut lost: Option<String> = None; // why the connection ended, if it did
    if flags & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR) != 0 {
        let drain = flags & (EPOLLRDHUP | EPOLLHUP | EPOLLERR) != 0;
        loop {
            match (&conn.stream).read(buf) {
                Ok(0) => {
                    lost = Some("closed by the server".to_owned());
                    break;
                }
                Ok(n) => {
                    let at_ms = sys::monotonic_ms();
                    conn.client.on_bytes(&buf[..n], at_ms, shared)?;
                    if n < buf.len() && !drain {
                        break; // short read: nothing more for now
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    lost = Some(e.to_string());
                    break;
                }
            }
        }
    }
    if lost.is_none() && !conn.client.out.is_empty() {
        if let Err(e) = flush(conn) {
            lost = Some(format!("write: {e}"));
        }
    }
    if lost.is_none() && conn.client.close_received() && conn.client.out.is_empty() && !conn.write_shut {
        conn.write_shut = true;
        let _ = conn.stream.shutdown(Shutdown::Write); // our close frame is out; wait for the server's FIN
    }
    if conn.client.is_broken() {
        return Ok(After::Closed); // counted by the client
    }
    match lost {
        None => Ok(After::Open),
        Some(why) if !conn.client.is_ready() => Err(format!("connection to {addr} lost before ready: {why}")),
        Some(_) => {
            if !conn.client.close_received() {
                shared.tally.protocol_errors += 1; // no close frame first
            }
            Ok(After::Closed)
        }
    }
}

/// Writes what the client has queued, until done or the send buffer is full
/// (the rest goes out on the next EPOLLOUT edge).
fn flush(conn: &mut Connection) -> io::Result<()> {
    let out = &mut conn.client.out;
    let mut written = 0;
    let result = loop {
        if written == out.len() {
            break Ok(());
        }
        match (&conn.stream).write(&out[written..]) {
            Ok(n) => written += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => break Ok(()),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => break Err(e),
        }
    };
    out.drain(..written);
    result
}

fn print_line(line: &str) -> Result<(), String> {
    let mut out = io::stdout().lock();
    out.write_all(line.as_bytes()).and_then(|()| out.write_all(b"\n")).and_then(|()| out.flush()).map_err(|e| format!("writing stdout: {e}"))
}
