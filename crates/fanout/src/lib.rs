//! Fan-out of one buffer to many sockets.
//!
//! The websocket API frames each broadcast once; what is left is writing the
//! same bytes to thousands of TCP sockets. On loopback and on a real NIC
//! alike, nearly all of that cost is the kernel's (`send` runs the TCP
//! transmit path, and on loopback the receiver's too), so it is split over a
//! few threads, each writing to its own contiguous share of the sockets.
//!
//! Each socket gets at most what the kernel takes without blocking
//! (`MSG_DONTWAIT`); the caller learns how many bytes went to each one and
//! hands the rest to its own buffered writer, so nothing is lost or
//! reordered. `MSG_NOSIGNAL`: a peer that went away is an `EPIPE` result for
//! its socket, never a process-wide `SIGPIPE`.
//!
//! The caller must guarantee that nothing else writes to these sockets during
//! the call and that every descriptor stays open until it returns (the Node
//! binding does: it runs on the JS thread, which owns the sockets' only other
//! writer, and the call is synchronous).

/// The fewest sockets a thread is given: below this a thread's start-up
/// (tens of µs) costs more than the writes it would take over.
pub const MIN_SOCKETS_PER_THREAD: usize = 256;

/// What happened on one socket, as [`write_all`] reports it in `out`:
/// `n >= 0` bytes were written (`n < buf.len()` means the socket's send
/// buffer was full: the rest is the caller's to write later), `n < 0` is
/// `-errno` of a failure before any byte was written (`-EBADF`,
/// `-ENOTSOCK`, `-EPIPE`, `-ECONNRESET`, ...).
pub type Outcome = i32;

/// Sends as much of `buf` as each socket accepts without blocking, retrying
/// on `EINTR` and partial sends until the socket would block. Returns the
/// bytes written, or `-errno` if the first send failed.
#[allow(unsafe_code)] // the libc send: see the SAFETY note
fn send_one(fd: i32, buf: &[u8]) -> Outcome {
    let mut done = 0usize;
    while done < buf.len() {
        let rest = &buf[done..];
        // SAFETY: `rest` is a live, initialised slice for the duration of the
        // call and the kernel reads at most `rest.len()` bytes from it; `fd`
        // is only read by the kernel (an invalid or closed descriptor gives
        // EBADF, not undefined behaviour). No memory is written.
        let n = unsafe {
            libc::send(fd, rest.as_ptr().cast(), rest.len(), libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL)
        };
        if n > 0 {
            done += n as usize;
            continue;
        }
        if n == 0 {
            break; // a stream socket sends 0 bytes only for an empty buffer
        }
        let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO);
        if errno == libc::EINTR {
            continue;
        }
        if done > 0 || errno == libc::EAGAIN || errno == libc::EWOULDBLOCK {
            break;
        }
        return -errno.max(1);
    }
    // A frame never reaches 2 GiB here; saturate rather than wrap if it did.
    i32::try_from(done).unwrap_or(i32::MAX)
}

/// How many threads [`write_all`] uses for `sockets` sockets when allowed up
/// to `max_threads` (at least 1).
pub fn threads_for(sockets: usize, max_threads: usize) -> usize {
    (sockets / MIN_SOCKETS_PER_THREAD).clamp(1, max_threads.max(1))
}

/// Writes `buf` to every socket in `fds` (see [`Outcome`] for `out[i]`).
/// `out` must be as long as `fds`. Uses up to `max_threads` threads (the
/// calling one included), fewer for few sockets ([`threads_for`]).
///
/// # Panics
/// Never: `out` shorter than `fds` is clipped to the shorter length (the
/// binding checks the lengths and reports a clear error first).
pub fn write_all(buf: &[u8], fds: &[i32], out: &mut [Outcome], max_threads: usize) {
    let n = fds.len().min(out.len());
    let (fds, out) = (&fds[..n], &mut out[..n]);
    let threads = threads_for(n, max_threads);
    if threads == 1 {
        for (fd, o) in fds.iter().zip(out.iter_mut()) {
            *o = send_one(*fd, buf);
        }
        return;
    }
    let chunk = n.div_ceil(threads);
    std::thread::scope(|s| {
        let mut parts = fds.chunks(chunk).zip(out.chunks_mut(chunk));
        // The calling thread takes the first share itself.
        let first = parts.next();
        for (f, o) in parts {
            s.spawn(move || {
                for (fd, slot) in f.iter().zip(o.iter_mut()) {
                    *slot = send_one(*fd, buf);
                }
            });
        }
        if let Some((f, o)) = first {
            for (fd, slot) in f.iter().zip(o.iter_mut()) {
                *slot = send_one(*fd, buf);
            }
        }
    });
}
