//! @tickcast/fanout: the napi-rs binding of `tickcast-fanout`.
//!
//! Thin by design: it checks lengths, picks the thread count and forwards.

use napi::Error;
use napi_derive::napi;

/// The frame's bytes (a Buffer or Uint8Array). Aliases because #[napi] reads
/// a literal `&T`/`&mut T` parameter as a class reference.
type Bytes<'a> = &'a [u8];
/// File descriptors (an Int32Array).
type Fds<'a> = &'a [i32];
/// Caller-owned Int32Array receiving one outcome per descriptor.
type Outcomes<'a> = &'a mut [i32];

/// The thread count used when `maxThreads` is not given: the CPUs this
/// process may use (cgroup quotas included), at most 4.
#[napi]
pub fn default_threads() -> u32 {
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    u32::try_from(cpus.min(4)).unwrap_or(1)
}

/// Writes `frame` to every socket in `fds` without blocking, over up to
/// `maxThreads` threads (fewer for few sockets: at least 256 per thread).
///
/// `out[i]` receives what happened on `fds[i]`: `n >= 0` bytes were written
/// (fewer than `frame.length` when the socket's send buffer was full: the
/// caller writes the rest), `n < 0` is `-errno` of a send that failed before
/// any byte (e.g. -9 EBADF, -32 EPIPE, -88 ENOTSOCK, -104 ECONNRESET).
/// Returns how many sockets took the whole frame.
///
/// The caller guarantees that nothing else writes to these sockets during the
/// call (true on Node's JS thread for sockets with nothing queued) and that
/// they stay open until it returns (it is synchronous).
#[napi(ts_args_type = "frame: Uint8Array, fds: Int32Array, out: Int32Array, maxThreads?: number")]
pub fn write_to_sockets(frame: Bytes<'_>, fds: Fds<'_>, out: Outcomes<'_>, max_threads: Option<u32>) -> napi::Result<u32> {
    if out.len() < fds.len() {
        return Err(Error::from_reason(format!(
            "out has {} slots for {} descriptors: pass an Int32Array at least as long as fds",
            out.len(),
            fds.len()
        )));
    }
    let threads = max_threads.unwrap_or_else(default_threads).max(1) as usize;
    tickcast_fanout::write_all(frame, fds, out, threads);
    let whole = i64::try_from(frame.len()).unwrap_or(i64::MAX);
    let full = out[..fds.len()].iter().filter(|&&o| i64::from(o) == whole).count();
    Ok(u32::try_from(full).unwrap_or(u32::MAX))
}
