//! `write_all` over real loopback TCP sockets: every byte arrives once and in
//! order, a full send buffer is reported exactly, and failures come back as
//! `-errno` without a SIGPIPE.
#![allow(unsafe_code, clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use tickcast_fanout::{threads_for, write_all, MIN_SOCKETS_PER_THREAD};

/// `n` connected pairs: (server side, non-blocking, written by `write_all`; client side, read by the test).
fn pairs(n: usize) -> Vec<(TcpStream, TcpStream)> {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    (0..n)
        .map(|_| {
            let client = TcpStream::connect(addr).unwrap();
            let (server, _) = listener.accept().unwrap();
            server.set_nonblocking(true).unwrap();
            (server, client)
        })
        .collect()
}

/// Reads exactly `len` bytes (blocking, with a timeout so a missing byte fails instead of hanging).
fn read_exact(s: &mut TcpStream, len: usize) -> Vec<u8> {
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = vec![0u8; len];
    s.read_exact(&mut buf).unwrap();
    buf
}

/// Reads whatever arrives until the peer has been quiet for `quiet`.
fn drain(s: &mut TcpStream, quiet: Duration) -> Vec<u8> {
    s.set_read_timeout(Some(quiet)).unwrap();
    let mut all = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return all,
            Ok(n) => all.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::TimedOut => return all,
            Err(e) => panic!("read: {e}"),
        }
    }
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
}

#[test]
fn thread_count_follows_the_socket_count() {
    assert_eq!(threads_for(0, 4), 1);
    assert_eq!(threads_for(MIN_SOCKETS_PER_THREAD - 1, 4), 1);
    assert_eq!(threads_for(2 * MIN_SOCKETS_PER_THREAD, 4), 2);
    assert_eq!(threads_for(100 * MIN_SOCKETS_PER_THREAD, 4), 4);
    assert_eq!(threads_for(100 * MIN_SOCKETS_PER_THREAD, 0), 1);
}

#[test]
fn every_socket_gets_every_frame_whole_and_in_order_over_several_threads() {
    // 3 threads' worth of sockets, an uneven count so the last share is short.
    let mut socks = pairs(3 * MIN_SOCKETS_PER_THREAD + 17);
    let fds: Vec<i32> = socks.iter().map(|(s, _)| s.as_raw_fd()).collect();
    let frames: Vec<Vec<u8>> = (0..5u8).map(|k| pattern(300 + 97 * usize::from(k), k)).collect();
    for f in &frames {
        let mut out = vec![i32::MIN; fds.len()];
        write_all(f, &fds, &mut out, 3);
        assert!(out.iter().all(|&o| o == f.len() as i32), "a socket with room took less than the whole frame");
    }
    let expected: Vec<u8> = frames.concat();
    for (_, client) in socks.iter_mut() {
        assert_eq!(read_exact(client, expected.len()), expected);
    }
    // On loopback a completed send is already in the peer's receive queue:
    // a non-blocking read must find nothing more.
    for (_, client) in socks.iter_mut() {
        client.set_nonblocking(true).unwrap();
        let mut extra = [0u8; 1];
        match client.read(&mut extra) {
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            other => panic!("bytes beyond the frames arrived: {other:?}"),
        }
    }
}

#[test]
fn a_full_send_buffer_is_reported_exactly_and_the_rest_can_follow() {
    let mut socks = pairs(2);
    let fds: Vec<i32> = socks.iter().map(|(s, _)| s.as_raw_fd()).collect();
    let frame = pattern(64 * 1024, 7);
    let mut sent_to_stalled = Vec::new();
    let mut sent_to_reader = 0usize;
    // Socket 0's reader never reads: write until its send path is full.
    let started = Instant::now();
    let partial = loop {
        let mut out = [0i32; 2];
        write_all(&frame, &fds, &mut out, 1);
        assert!(out[0] >= 0 && out[0] as usize <= frame.len(), "outcome {} out of range", out[0]);
        sent_to_stalled.extend_from_slice(&frame[..out[0] as usize]);
        // Socket 1 is read right away, so it always has room.
        assert_eq!(out[1] as usize, frame.len());
        sent_to_reader += read_exact(&mut socks[1].1, frame.len()).len();
        if (out[0] as usize) < frame.len() {
            break out[0];
        }
        assert!(started.elapsed() < Duration::from_secs(20), "the send buffer never filled");
    };
    assert!(partial >= 0);
    // The caller writes the rest (here: after the reader drains) and nothing is lost or doubled.
    let rest = frame[partial as usize..].to_vec();
    let received_before = drain(&mut socks[0].1, Duration::from_millis(200));
    let mut server = socks[0].0.try_clone().unwrap();
    server.set_nonblocking(false).unwrap();
    let writer = std::thread::spawn(move || server.write_all(&rest).unwrap());
    let mut received = received_before;
    received.extend(read_exact(&mut socks[0].1, sent_to_stalled.len() + (frame.len() - partial as usize) - received.len()));
    writer.join().unwrap();
    let mut expected = sent_to_stalled;
    expected.extend_from_slice(&frame[partial as usize..]);
    assert_eq!(received.len(), expected.len());
    assert!(received == expected, "stream content differs from what was reported written");
    assert!(sent_to_reader > 0);
}

#[test]
fn failures_are_negative_errno_and_never_a_sigpipe() {
    // With the default SIGPIPE action a send without MSG_NOSIGNAL to a reset
    // connection would kill this test process.
    // SAFETY: restoring the default disposition of a signal; no handler is installed.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let (server, client) = pairs(1).pop().unwrap();
    drop(client);
    let frame = pattern(1000, 3);
    let fd = server.as_raw_fd();
    let started = Instant::now();
    let failure = loop {
        let mut out = [0i32];
        write_all(&frame, &[fd], &mut out, 1);
        if out[0] < 0 {
            break out[0];
        }
        assert!(started.elapsed() < Duration::from_secs(10), "sending to a closed peer never failed");
        std::thread::sleep(Duration::from_millis(5));
    };
    assert!(failure == -libc::EPIPE || failure == -libc::ECONNRESET, "got {failure}");

    let file = std::fs::File::open("Cargo.toml").unwrap();
    let mut out = [0i32; 2];
    write_all(&frame, &[-1, file.as_raw_fd()], &mut out, 1);
    assert_eq!(out, [-libc::EBADF, -libc::ENOTSOCK]);
}

#[test]
fn an_out_slice_shorter_than_fds_is_clipped_not_overrun() {
    let socks = pairs(3);
    let fds: Vec<i32> = socks.iter().map(|(s, _)| s.as_raw_fd()).collect();
    let mut out = [0i32; 2];
    write_all(b"abc", &fds, &mut out, 1);
    assert_eq!(out, [3, 3]);
}
