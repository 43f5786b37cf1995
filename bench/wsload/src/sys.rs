//! The operating-system calls std does not offer, as small safe functions:
//! epoll, a non-blocking TCP connect, CLOCK_MONOTONIC, the process's CPU time
//! and the open-files limit. Linux only.
//!
//! Why unsafe here: these are libc calls (std has no epoll, no non-blocking
//! connect and no absolute CLOCK_MONOTONIC reading, which the arrival times
//! must share with Node's `process.hrtime`). Each block is one call with its
//! SAFETY note; nothing else in the crate uses unsafe (denied in Cargo.toml).
#![allow(unsafe_code)]

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// Readiness flags (see epoll_ctl(2)).
pub const EPOLLIN: u32 = libc::EPOLLIN as u32;
/// Writable.
pub const EPOLLOUT: u32 = libc::EPOLLOUT as u32;
/// The peer shut down its write side.
pub const EPOLLRDHUP: u32 = libc::EPOLLRDHUP as u32;
/// Hang-up (always reported).
pub const EPOLLHUP: u32 = libc::EPOLLHUP as u32;
/// Error (always reported).
pub const EPOLLERR: u32 = libc::EPOLLERR as u32;
/// Edge-triggered.
pub const EPOLLET: u32 = libc::EPOLLET as u32;

fn check(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

/// Milliseconds on CLOCK_MONOTONIC, computed as Node does
/// (`Number(process.hrtime.bigint()) / 1e6`): comparable across processes.
pub fn monotonic_ms() -> f64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    // CLOCK_MONOTONIC always exists on Linux, so the call cannot fail.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as i128 * 1_000_000_000 + ts.tv_nsec as i128) as f64 / 1e6
}

/// User + system CPU time of this process, in µs (getrusage(RUSAGE_SELF)).
pub fn cpu_time_us() -> u64 {
    // SAFETY: rusage is plain old data, all-zero is a valid value.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a valid, writable rusage; RUSAGE_SELF cannot fail.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let us = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    us(ru.ru_utime) + us(ru.ru_stime)
}

/// Raises the soft open-files limit (RLIMIT_NOFILE) to the hard one, as far
/// as the kernel allows; returns the soft limit now in force.
pub fn raise_open_files_limit() -> io::Result<u64> {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: `lim` is a valid, writable rlimit.
    check(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) })?;
    if lim.rlim_cur < lim.rlim_max {
        let raised = libc::rlimit { rlim_cur: lim.rlim_max, rlim_max: lim.rlim_max };
        // SAFETY: `raised` is a valid rlimit, only read by the call.
        if check(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) }).is_ok() {
            lim = raised;
        } // else (e.g. an unlimited hard limit above fs.nr_open): keep the soft limit
    }
    Ok(lim.rlim_cur)
}

/// A TCP socket connecting to `addr` without blocking (connect(2) returns
/// EINPROGRESS; writability then `take_error()` tell the outcome), with
/// TCP_NODELAY.
pub fn connect_nonblocking(addr: SocketAddr) -> io::Result<TcpStream> {
    let domain = if addr.is_ipv4() { libc::AF_INET } else { libc::AF_INET6 };
    // SAFETY: no pointers; returns a new descriptor or -1.
    let raw = check(unsafe { libc::socket(domain, libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: `raw` was just returned by socket(2) and belongs to nothing else.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let rc = match addr {
        SocketAddr::V4(a) => {
            let sa = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr { s_addr: u32::from_ne_bytes(a.ip().octets()) },
                sin_zero: [0; 8],
            };
            let len = std::mem::size_of_val(&sa) as libc::socklen_t;
            // SAFETY: `sa` is a sockaddr_in of `len` bytes, only read by the call; `fd` is open.
            unsafe { libc::connect(fd.as_raw_fd(), (&sa as *const libc::sockaddr_in).cast(), len) }
        }
        SocketAddr::V6(a) => {
            let sa = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr { s6_addr: a.ip().octets() },
                sin6_scope_id: a.scope_id(),
            };
            let len = std::mem::size_of_val(&sa) as libc::socklen_t;
            // SAFETY: `sa` is a sockaddr_in6 of `len` bytes, only read by the call; `fd` is open.
            unsafe { libc::connect(fd.as_raw_fd(), (&sa as *const libc::sockaddr_in6).cast(), len) }
        }
    };
    if let Err(e) = check(rc) {
        if e.raw_os_error() != Some(libc::EINPROGRESS) {
            return Err(e);
        }
    }
    let stream = TcpStream::from(fd);
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// An epoll instance.
pub struct Epoll {
    fd: OwnedFd,
}

/// The buffer epoll_wait fills.
pub struct Events {
    buf: Vec<libc::epoll_event>,
}

impl Events {
    /// Room for `capacity` events per wait.
    pub fn with_capacity(capacity: usize) -> Self {
        Self { buf: vec![libc::epoll_event { events: 0, u64: 0 }; capacity.max(1)] }
    }

    /// The `i`th event of the last wait: (token, readiness flags).
    pub fn get(&self, i: usize) -> (u64, u32) {
        let e = self.buf[i]; // a copy: the struct is packed on x86_64
        (e.u64, e.events)
    }
}

impl Epoll {
    /// A new epoll instance (close-on-exec).
    pub fn new() -> io::Result<Self> {
        // SAFETY: no pointers; returns a new descriptor or -1.
        let raw = check(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
        // SAFETY: `raw` was just returned by epoll_create1(2) and belongs to nothing else.
        Ok(Self { fd: unsafe { OwnedFd::from_raw_fd(raw) } })
    }

    /// Watches `fd` for `interest` (EPOLLIN | ...), reported with `token`.
    /// A descriptor leaves the set by itself when it is closed.
    pub fn add(&self, fd: BorrowedFd<'_>, interest: u32, token: u64) -> io::Result<()> {
        let mut ev = libc::epoll_event { events: interest, u64: token };
        // SAFETY: both descriptors are open (borrowed); `ev` is a valid epoll_event, only read.
        check(unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), libc::EPOLL_CTL_ADD, fd.as_raw_fd(), &mut ev) })?;
        Ok(())
    }

    /// Stops watching `fd`.
    pub fn delete(&self, fd: BorrowedFd<'_>) -> io::Result<()> {
        let mut ev = libc::epoll_event { events: 0, u64: 0 }; // ignored, but non-null before Linux 2.6.9
        // SAFETY: both descriptors are open (borrowed); `ev` is a valid epoll_event.
        check(unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), libc::EPOLL_CTL_DEL, fd.as_raw_fd(), &mut ev) })?;
        Ok(())
    }

    /// Blocks until something is ready (or `timeout_ms`, -1 = forever);
    /// returns how many events `events` now holds (0 on a signal).
    pub fn wait(&self, events: &mut Events, timeout_ms: i32) -> io::Result<usize> {
        let max = events.buf.len().min(i32::MAX as usize) as libc::c_int;
        // SAFETY: `events.buf` has room for `max` epoll_event values; the kernel writes at most that many.
        match check(unsafe { libc::epoll_wait(self.fd.as_raw_fd(), events.buf.as_mut_ptr(), max, timeout_ms) }) {
            Ok(n) => Ok(n as usize),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(0),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;

    #[test]
    fn clocks_move_forward() {
        let (t0, c0) = (monotonic_ms(), cpu_time_us());
        let mut x = 0u64;
        for i in 0..2_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        assert!(x != 1);
        assert!(monotonic_ms() > t0);
        assert!(cpu_time_us() >= c0);
    }

    #[test]
    fn open_files_limit_is_positive() {
        assert!(raise_open_files_limit().unwrap() > 0);
    }

    /// A non-blocking connect to a local listener, seen through epoll.
    #[test]
    fn nonblocking_connect_and_epoll() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let stream = connect_nonblocking(listener.local_addr().unwrap()).unwrap();
        assert!(stream.nodelay().unwrap());
        let epoll = Epoll::new().unwrap();
        use std::os::fd::AsFd;
        epoll.add(stream.as_fd(), EPOLLIN | EPOLLOUT | EPOLLET, 42).unwrap();
        let mut events = Events::with_capacity(8);
        assert_eq!(epoll.wait(&mut events, 5_000).unwrap(), 1);
        let (token, flags) = events.get(0);
        assert_eq!(token, 42);
        assert!(flags & EPOLLOUT != 0);
        assert!(stream.take_error().unwrap().is_none());
        let (mut peer, _) = listener.accept().unwrap();
        peer.write_all(b"hi").unwrap();
        assert_eq!(epoll.wait(&mut events, 5_000).unwrap(), 1);
        assert!(events.get(0).1 & EPOLLIN != 0);
        let mut buf = [0u8; 8];
        assert_eq!((&stream).read(&mut buf).unwrap(), 2);
        assert_eq!((&stream).read(&mut buf).unwrap_err().kind(), io::ErrorKind::WouldBlock);
        epoll.delete(stream.as_fd()).unwrap();
    }

    #[test]
    fn refused_connect_is_reported() {
        let addr = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap(); // closed again at once
        match connect_nonblocking(addr) {
            Err(e) => assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused),
            Ok(stream) => {
                let epoll = Epoll::new().unwrap();
                use std::os::fd::AsFd;
                epoll.add(stream.as_fd(), EPOLLOUT | EPOLLET, 1).unwrap();
                let mut events = Events::with_capacity(1);
                epoll.wait(&mut events, 5_000).unwrap();
                assert_eq!(stream.take_error().unwrap().map(|e| e.kind()), Some(io::ErrorKind::ConnectionRefused));
            }
        }
    }
}
