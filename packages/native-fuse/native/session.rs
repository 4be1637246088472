//! One FUSE connection: its /dev/fuse descriptors (the mount's own plus one
//! clone per extra reader), the reader threads, the notification thread, the
//! mapping cache and device for the fast path, and the single thread-safe
//! function through which requests, notification results, log lines and the
//! end of the session reach JS (in that order: the end is always last).

use crate::abi::*;
use crate::js::{self, last_errno, Env, JsError, JsResult, Tsfn};
use crate::mapping::{MapCache, Segment};
use crate::mount::open_dev;
use crate::napi::{napi_env, napi_value};
use std::alloc::{self, Layout};
use std::os::raw::c_void;
use std::os::unix::io::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::collections::HashSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard, RwLock};
use std::thread::JoinHandle;

/// What reader and notification threads hand to the JS thread.
pub enum Event {
    /// A request for JS, with the channel (descriptor) it must be answered on.
    Request { channel: u32, data: Vec<u8> },
    /// The kernel's answer to a queued notification (0 or an errno).
    NotifyDone { id: f64, errno: i32 },
    /// A line for the session's logger (malformed requests, reader failures).
    Log(String),
    /// The connection is gone; always the last event of a session.
    End { errno: i32, message: String },
}

/// Per-session counters, readable from TS.
#[derive(Default)]
pub struct Stats {
    pub fast_reads: AtomicU64,
    pub fast_read_bytes: AtomicU64,
    pub fast_writes: AtomicU64,
    pub fast_write_bytes: AtomicU64,
    pub forwarded: AtomicU64,
    pub replies: AtomicU64,
    pub reply_errors: AtomicU64,
    pub malformed: AtomicU64,
    pub fast_fallbacks: AtomicU64,
    pub notifications: AtomicU64,
    pub notify_errors: AtomicU64,
    /// GETXATTR probes of `security.capability` answered natively.
    pub xattr_answers: AtomicU64,
    /// Nanoseconds the JS thread spent in calls serving forwarded requests
    /// (their synchronous part: decode, handler, encode, reply); inline
    /// dispatch only.
    pub js_nanos: AtomicU64,
}

/// CLOCK_MONOTONIC in nanoseconds.
pub fn now_ns() -> u64 {
    let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut t) };
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

pub fn bump(c: &AtomicU64, by: u64) {
    c.fetch_add(by, Ordering::Relaxed);
}

/// The block device (or image file) the fast path reads and writes.
pub struct Device {
    fd: OwnedFd,
    /// Required alignment of device offsets, lengths and buffers (O_DIRECT), or 0.
    pub align: u64,
}

struct Lifecycle {
    started: bool,
    live: usize,
    ended: bool,
    end: Option<(i32, String)>,
    tsfn: Option<Tsfn>,
}

struct NotifyJob {
    id: f64,
    msg: Vec<u8>,
}

pub struct Session {
    fds: RwLock<Vec<OwnedFd>>,
    pub stats: Stats,
    pub maps: MapCache,
    /// Nodes JS vouches have no `security.capability` attribute: the kernel's
    /// probe for it (before the first write to a file, and at chown) is
    /// answered ENODATA here without a trip into JS.
    pub no_caps: RwLock<HashSet<u64>>,
    device: RwLock<Option<Arc<Device>>>,
    life: Mutex<Lifecycle>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    notify_tx: Mutex<Option<mpsc::Sender<NotifyJob>>>,
    notify_thread: Mutex<Option<JoinHandle<()>>>,
    /// The libuv poll handle while the JS thread reads requests itself.
    inline_handle: Mutex<Option<usize>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section here is a few field updates; a panic inside one
    // (caught at the thread boundary) leaves consistent data, so poisoning is
    // not a reason to fail every later call.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A zeroed, page-aligned buffer (O_DIRECT needs aligned memory).
pub struct AlignedBuf {
    ptr: *mut u8,
    len: usize,
}

impl AlignedBuf {
    pub fn new(len: usize) -> AlignedBuf {
        let layout = Layout::from_size_align(len.max(4096), 4096).expect("buffer layout");
        // OK: layout has non-zero size; a null result is handled below.
        let ptr = unsafe { alloc::alloc_zeroed(layout) };
        if ptr.is_null() {
            alloc::handle_alloc_error(layout);
        }
        AlignedBuf { ptr, len: layout.size() }
    }
    pub fn as_slice(&self) -> &[u8] {
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        let layout = Layout::from_size_align(self.len, 4096).expect("buffer layout");
        unsafe { alloc::dealloc(self.ptr, layout) };
    }
}

/// Writes one reply (`fuse_out_header` + payload pieces) with a single
/// writev, as the kernel requires. Returns 0 or the errno.
pub fn write_reply(fd: RawFd, unique: u64, error: i32, parts: &[&[u8]]) -> i32 {
    let payload: usize = parts.iter().map(|p| p.len()).sum();
    let header = out_header(unique, error, payload);
    // The kernel accepts at most UIO_MAXIOV (1024) pieces in one writev.
    if parts.len() >= 1000 {
        let mut flat = Vec::with_capacity(payload);
        for p in parts {
            flat.extend_from_slice(p);
        }
        return write_reply(fd, unique, error, &[&flat]);
    }
    let mut iov = Vec::with_capacity(parts.len() + 1);
    iov.push(libc::iovec { iov_base: header.as_ptr() as *mut c_void, iov_len: header.len() });
    for p in parts {
        if !p.is_empty() {
            iov.push(libc::iovec { iov_base: p.as_ptr() as *mut c_void, iov_len: p.len() });
        }
    }
    loop {
        let n = unsafe { libc::writev(fd, iov.as_ptr(), iov.len() as libc::c_int) };
        if n >= 0 {
            return 0;
        }
        let e = last_errno();
        if e != libc::EINTR {
            return e;
        }
    }
}

impl Session {
    pub fn new(fd: OwnedFd) -> Arc<Session> {
        Arc::new(Session {
            fds: RwLock::new(vec![fd]),
            stats: Stats::default(),
            maps: MapCache::default(),
            no_caps: RwLock::new(HashSet::new()),
            device: RwLock::new(None),
            life: Mutex::new(Lifecycle {
                started: false,
                live: 0,
                ended: false,
                end: None,
                tsfn: None,
            }),
            threads: Mutex::new(Vec::new()),
            notify_tx: Mutex::new(None),
            notify_thread: Mutex::new(None),
            inline_handle: Mutex::new(None),
        })
    }

    fn post(tsfn: Tsfn, ev: Event) {
        let raw = Box::into_raw(Box::new(ev)) as *mut c_void;
        if !tsfn.call(raw) {
            // Node is tearing the function down: nobody will take the event.
            drop(unsafe { Box::from_raw(raw as *mut Event) });
        }
    }

    /// Starts `threads` readers (each on its own cloned descriptor, buffers
    /// sized for `max_write`) — or, with `inline`, polling of the session's
    /// descriptor on the JS thread (polling `spin_ns` for more before it
    /// sleeps) — and the notification thread; events go to `func`.
    pub fn start(
        self: &Arc<Self>,
        env: Env,
        func: napi_value,
        threads: usize,
        max_write: usize,
        inline: bool,
        spin_ns: u64,
        transient_writes: bool,
    ) -> JsResult<()> {
        let workers = threads;
        let threads = if inline { 1 } else { threads };
        let mut life = lock(&self.life);
        if life.started {
            return Err(JsError::state("session already started"));
        }
        let main_fd = {
            let mut fds = self.fds.write().unwrap_or_else(|e| e.into_inner());
            let main = match fds.first() {
                Some(f) => f.as_raw_fd(),
                None => return Err(JsError::state("session is closed")),
            };
            while fds.len() < threads {
                let clone = open_dev()?;
                let mut arg = main as u32;
                let rc = unsafe {
                    libc::ioctl(clone.as_raw_fd(), FUSE_DEV_IOC_CLONE, &mut arg as *mut u32)
                };
                if rc != 0 {
                    return Err(JsError::os(last_errno(), "ioctl FUSE_DEV_IOC_CLONE"));
                }
                fds.push(clone);
            }
            main
        };
        let tsfn = Tsfn::new(env, func, "native-fuse session", call_js)?;
        // The kernel rejects reads into buffers smaller than
        // max(FUSE_MIN_READ_BUFFER, in_header + write_in + max_write).
        let bufsize = (max_write + 4096).max(8192 + 4096);

        let (tx, rx) = mpsc::channel::<NotifyJob>();
        let me = self.clone();
        let notify = std::thread::Builder::new()
            .name("fuse-notify".into())
            .spawn(move || notify_main(me, rx, main_fd, tsfn))
            .map_err(|e| {
                tsfn.release();
                JsError::os(e.raw_os_error().unwrap_or(libc::EAGAIN), "spawn notify thread")
            })?;
        *lock(&self.notify_tx) = Some(tx);
        *lock(&self.notify_thread) = Some(notify);

        let channel_fds: Vec<RawFd> = self
            .fds
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .take(threads)
            .map(|f| f.as_raw_fd())
            .collect();
        life.started = true;
        life.tsfn = Some(tsfn);
        if inline {
            life.live = 1;
            match crate::inline::start(self, env, func, tsfn, main_fd, bufsize, workers, spin_ns, transient_writes) {
                Ok(h) => {
                    *lock(&self.inline_handle) = Some(h);
                    return Ok(());
                }
                Err(e) => {
                    life.live = 0;
                    life.started = false;
                    life.tsfn = None;
                    drop(life);
                    drop(lock(&self.notify_tx).take());
                    if let Some(h) = lock(&self.notify_thread).take() {
                        let _ = h.join();
                    }
                    tsfn.release();
                    return Err(e);
                }
            }
        }
        let mut handles = lock(&self.threads);
        for (channel, fd) in channel_fds.into_iter().enumerate() {
            let me = self.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("fuse-reader-{channel}"))
                .spawn(move || reader_main(me, channel as u32, fd, tsfn, bufsize));
            match spawned {
                Ok(h) => {
                    life.live += 1;
                    handles.push(h);
                }
                Err(e) => {
                    Self::post(tsfn, Event::Log(format!("could not start reader {channel}: {e}")));
                    break;
                }
            }
        }
        if life.live == 0 {
            // Nothing will ever end the session: stop the notifier, let go of JS.
            drop(lock(&self.notify_tx).take());
            drop(life);
            drop(handles);
            if let Some(h) = lock(&self.notify_thread).take() {
                let _ = h.join();
            }
            let mut life = lock(&self.life);
            life.started = false;
            if let Some(t) = life.tsfn.take() {
                t.release();
            }
            return Err(JsError::os(libc::EAGAIN, "spawn reader threads"));
        }
        Ok(())
    }

    pub fn count_forwarded(&self) {
        bump(&self.stats.forwarded, 1);
    }

    /// The inline poll handle is closing: ref/unref no longer apply to it.
    pub fn clear_inline(&self) {
        *lock(&self.inline_handle) = None;
    }

    /// Called by each reader as it exits; the last one ends the session.
    pub fn reader_exit(&self, err: Option<(i32, String)>) {
        let last = {
            let mut life = lock(&self.life);
            life.live -= 1;
            if let Some(e) = err {
                if life.end.is_none() {
                    life.end = Some(e);
                }
            }
            life.live == 0
        };
        if !last {
            return;
        }
        // Drain and stop the notifier first so its results precede the end.
        drop(lock(&self.notify_tx).take());
        let notifier = lock(&self.notify_thread).take();
        if let Some(h) = notifier {
            let _ = h.join();
        }
        let mut life = lock(&self.life);
        life.ended = true;
        let (errno, message) = life.end.clone().unwrap_or((0, "connection closed".to_string()));
        if let Some(t) = life.tsfn.take() {
            Self::post(t, Event::End { errno, message });
            t.release();
        }
    }

    /// Writes a reply from JS on `channel`. Returns 0 or the errno of the
    /// write: ENOENT when the kernel no longer waits for that request
    /// (interrupted, aborted), ENODEV when the connection is gone.
    pub fn reply(&self, channel: u32, unique: u64, errno: i32, parts: &[&[u8]]) -> i32 {
        let fds = self.fds.read().unwrap_or_else(|e| e.into_inner());
        let fd = match fds.get(channel as usize) {
            Some(f) => f.as_raw_fd(),
            None => return libc::ENODEV,
        };
        let e = write_reply(fd, unique, -errno, parts);
        if e == 0 {
            bump(&self.stats.replies, 1);
        } else {
            bump(&self.stats.reply_errors, 1);
        }
        e
    }

    /// Queues a notification for the notification thread (never written from
    /// the JS thread: INVAL_ENTRY takes the directory lock, which a request
    /// JS has not answered yet may hold). Returns false once the session ended.
    pub fn notify(&self, id: f64, msg: Vec<u8>) -> bool {
        match lock(&self.notify_tx).as_ref() {
            Some(tx) => tx.send(NotifyJob { id, msg }).is_ok(),
            None => false,
        }
    }

    /// Sets (or with None clears) the fast path's device. Cached mappings
    /// refer to the old device, so they are dropped first (waiting for I/O).
    pub fn set_device(&self, dev: Option<(OwnedFd, u64)>) {
        self.maps.clear();
        let new = dev.map(|(fd, align)| Arc::new(Device { fd, align }));
        *self.device.write().unwrap_or_else(|e| e.into_inner()) = new;
    }

    fn device(&self) -> Option<Arc<Device>> {
        self.device.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn has_device(&self) -> bool {
        self.device().is_some()
    }

    /// (started, running, ended)
    pub fn state(&self) -> (bool, bool, bool) {
        let life = lock(&self.life);
        (life.started, life.live > 0, life.ended)
    }

    pub fn set_ref(&self, env: Env, keep_alive: bool) {
        let life = lock(&self.life);
        if let Some(t) = life.tsfn {
            t.set_ref(env, keep_alive);
        }
        if let Some(h) = *lock(&self.inline_handle) {
            // OK: the handle stays valid until clear_inline, called before uv_close.
            unsafe {
                if keep_alive {
                    crate::napi::uv_ref(h as *mut c_void);
                } else {
                    crate::napi::uv_unref(h as *mut c_void);
                }
            }
        }
    }

    /// Joins the threads and closes the descriptors. Refused (false) while
    /// readers run: they are blocked in read(2) on these descriptors, and
    /// only an unmount or abort of the connection ends that.
    pub fn close(&self) -> bool {
        {
            let life = lock(&self.life);
            if life.live > 0 {
                return false;
            }
        }
        let handles: Vec<JoinHandle<()>> = lock(&self.threads).drain(..).collect();
        for h in handles {
            let _ = h.join();
        }
        self.set_device(None);
        self.fds.write().unwrap_or_else(|e| e.into_inner()).clear();
        true
    }
}

/// Delivers one event to JS on the JS thread.
unsafe extern "C" fn call_js(env: napi_env, func: napi_value, _ctx: *mut c_void, data: *mut c_void) {
    if data.is_null() {
        return;
    }
    let ev = Box::from_raw(data as *mut Event);
    if env.is_null() || func.is_null() {
        return;
    }
    let _ = catch_unwind(AssertUnwindSafe(|| deliver(Env(env), func, *ev)));
}

fn deliver(env: Env, func: napi_value, ev: Event) -> JsResult<()> {
    let args = match ev {
        Event::Request { channel, data } => {
            [env.int(0)?, env.int(channel as i64)?, unsafe { js::buffer_from_vec(env, data)? }]
        }
        Event::NotifyDone { id, errno } => [env.int(1)?, env.number(id)?, env.int(errno as i64)?],
        Event::Log(line) => [env.int(2)?, env.int(0)?, env.string(&line)?],
        Event::End { errno, message } => [env.int(3)?, env.int(errno as i64)?, env.string(&message)?],
    };
    unsafe { js::call_function(env, func, &args) };
    Ok(())
}

fn notify_main(sess: Arc<Session>, rx: mpsc::Receiver<NotifyJob>, fd: RawFd, tsfn: Tsfn) {
    for job in rx.iter() {
        let errno = loop {
            let n = unsafe { libc::write(fd, job.msg.as_ptr() as *const c_void, job.msg.len()) };
            if n >= 0 {
                break 0;
            }
            let e = last_errno();
            if e != libc::EINTR {
                break e;
            }
        };
        bump(&sess.stats.notifications, 1);
        if errno != 0 {
            bump(&sess.stats.notify_errors, 1);
        }
        Session::post(tsfn, Event::NotifyDone { id: job.id, errno });
    }
}

/// Where a reader thread sends what it cannot handle itself: the session's
/// thread-safe function in production, a collector in the Rust tests.
pub trait Sink: Copy + Send + 'static {
    fn post(self, ev: Event);
}

impl Sink for Tsfn {
    fn post(self, ev: Event) {
        Session::post(self, ev);
    }
}

fn reader_main(sess: Arc<Session>, channel: u32, fd: RawFd, tsfn: Tsfn, bufsize: usize) {
    let outcome = catch_unwind(AssertUnwindSafe(|| reader_loop(&sess, channel, fd, tsfn, bufsize)));
    let err = match outcome {
        Ok(e) => e,
        Err(p) => {
            let msg = format!("reader {channel} panicked: {}", js::panic_message(&*p));
            tsfn.post(Event::Log(msg.clone()));
            Some((libc::EIO, msg))
        }
    };
    sess.reader_exit(err);
}

/// Reads requests until the connection goes away. Returns None for a normal
/// end (ENODEV: unmounted or aborted) or the errno and message of a failure.
fn reader_loop<S: Sink>(
    sess: &Session,
    channel: u32,
    fd: RawFd,
    sink: S,
    bufsize: usize,
) -> Option<(i32, String)> {
    let mut inbuf = AlignedBuf::new(bufsize);
    let mut fast = FastBuffers::new(bufsize);
    loop {
        let n = unsafe { libc::read(fd, inbuf.as_mut_slice().as_mut_ptr() as *mut c_void, bufsize) };
        if n < 0 {
            match last_errno() {
                // Interrupted, or the request was aborted before we got it.
                libc::EINTR | libc::EAGAIN | libc::ENOENT => continue,
                libc::ENODEV => return None,
                e => {
                    let msg = format!("read /dev/fuse (reader {channel}): {}", js::strerror(e));
                    sink.post(Event::Log(msg.clone()));
                    return Some((e, msg));
                }
            }
        }
        if n == 0 {
            return None;
        }
        let req = &inbuf.as_slice()[..n as usize];
        if let Triage::Forward = triage(sess, fd, req, sink, Some(&mut fast)) {
            bump(&sess.stats.forwarded, 1);
            sink.post(Event::Request { channel, data: req.to_vec() });
        }
    }
}

/// What became of a request after the native checks.
pub enum Triage {
    /// Answered (malformed: EIO; or served by the fast path) or dropped.
    Done,
    /// For JS.
    Forward,
    /// Servable by the fast path, but the caller must not block on device
    /// I/O (the JS thread in inline mode): hand it to a fast-path worker.
    Offload,
}

/// The native half of every request: header checks (a short request or a
/// length mismatch gets EIO and a log line, never a crash), then the fast
/// path for READ/WRITE. Everything else is for JS. With `fast` None the
/// fast path only checks the mapping cache and answers Offload.
/// A GETXATTR of `security.capability` on a node JS said has none.
fn capability_absent(sess: &Session, h: &InHeader, body: &[u8]) -> bool {
    const NAME: &[u8] = b"security.capability\0";
    // fuse_getxattr_in (size, padding), then the NUL-terminated name.
    body.len() == GETXATTR_IN_SIZE + NAME.len()
        && &body[GETXATTR_IN_SIZE..] == NAME
        && sess.no_caps.read().unwrap_or_else(|e| e.into_inner()).contains(&h.nodeid)
}

pub fn triage<S: Sink>(
    sess: &Session,
    fd: RawFd,
    req: &[u8],
    sink: S,
    fast: Option<&mut FastBuffers>,
) -> Triage {
    if req.len() < IN_HEADER_SIZE {
        bump(&sess.stats.malformed, 1);
        sink.post(Event::Log(format!("malformed request: only {} bytes", req.len())));
        if req.len() >= 16 {
            write_reply(fd, u64_at(req, 8), -libc::EIO, &[]);
        }
        return Triage::Done;
    }
    let h = InHeader::parse(req);
    if h.len as usize != req.len() {
        bump(&sess.stats.malformed, 1);
        sink.post(Event::Log(format!(
            "malformed request: header says {} bytes, read {} (opcode {}, unique {})",
            h.len,
            req.len(),
            h.opcode,
            h.unique
        )));
        if !no_reply(h.opcode) {
            write_reply(fd, h.unique, -libc::EIO, &[]);
        }
        return Triage::Done;
    }
    if h.opcode == FUSE_GETXATTR && capability_absent(sess, &h, &req[IN_HEADER_SIZE..]) {
        bump(&sess.stats.xattr_answers, 1);
        write_reply(fd, h.unique, -libc::ENODATA, &[]);
        return Triage::Done;
    }
    if h.opcode == FUSE_READ || h.opcode == FUSE_WRITE {
        if let Some(dev) = sess.device() {
            let body = &req[IN_HEADER_SIZE..];
            let served = match (fast, h.opcode) {
                (Some(f), FUSE_READ) => fast_read(sess, &dev, fd, &h, body, f),
                (Some(f), _) => fast_write(sess, &dev, fd, &h, body, f),
                (None, op) => {
                    if fast_covered(sess, &dev, &h, op, body) {
                        return Triage::Offload;
                    }
                    false
                }
            };
            if served {
                return Triage::Done;
            }
        }
    }
    Triage::Forward
}

/// Whether the fast path would serve this READ/WRITE now (the worker plans
/// again; if the mapping changed meanwhile it forwards to JS instead).
fn fast_covered(sess: &Session, dev: &Device, h: &InHeader, opcode: u32, body: &[u8]) -> bool {
    if body.len() < READ_IN_SIZE {
        return false;
    }
    let offset = u64_at(body, 8);
    let size = u32_at(body, 16) as u64;
    if opcode == FUSE_READ {
        sess.maps.plan_read(h.nodeid, offset, size, dev.align).is_some()
    } else {
        u32_at(body, 20) & FUSE_WRITE_KILL_SUIDGID == 0
            && body.len() == WRITE_IN_SIZE + size as usize
            && sess.maps.plan_write(h.nodeid, offset, size, dev.align).is_some()
    }
}

/// Per-reader buffers of the fast path, allocated on first use.
pub struct FastBuffers {
    out: Option<AlignedBuf>,
    scratch: Option<AlignedBuf>,
    cap: usize,
}

impl FastBuffers {
    pub fn new(cap: usize) -> FastBuffers {
        FastBuffers { out: None, scratch: None, cap }
    }
}

fn round_up(v: u64, align: u64) -> u64 {
    if align == 0 {
        v
    } else {
        (v + align - 1) / align * align
    }
}

/// Fills `buf` from the device at `off`; true once at least `min` bytes came.
fn pread_full(fd: RawFd, buf: &mut [u8], off: u64, min: usize) -> bool {
    let mut got = 0usize;
    while got < buf.len() {
        let n = unsafe {
            libc::pread64(
                fd,
                buf[got..].as_mut_ptr() as *mut c_void,
                buf.len() - got,
                (off + got as u64) as i64,
            )
        };
        if n < 0 {
            if last_errno() == libc::EINTR {
                continue;
            }
            return false;
        }
        if n == 0 {
            break;
        }
        got += n as usize;
    }
    got >= min
}

fn pwrite_full(fd: RawFd, buf: &[u8], off: u64) -> bool {
    let mut done = 0usize;
    while done < buf.len() {
        let n = unsafe {
            libc::pwrite64(
                fd,
                buf[done..].as_ptr() as *const c_void,
                buf.len() - done,
                (off + done as u64) as i64,
            )
        };
        if n < 0 {
            if last_errno() == libc::EINTR {
                continue;
            }
            return false;
        }
        if n == 0 {
            return false;
        }
        done += n as usize;
    }
    true
}

/// Serves a READ wholly inside cached mappings from the device; false when
/// JS must serve it (not cached, or a device error JS will report).
fn fast_read(
    sess: &Session,
    dev: &Device,
    fd: RawFd,
    h: &InHeader,
    body: &[u8],
    fast: &mut FastBuffers,
) -> bool {
    if body.len() < READ_IN_SIZE {
        return false;
    }
    let offset = u64_at(body, 8);
    let size = u32_at(body, 16) as u64;
    if size + dev.align > fast.cap as u64 {
        return false;
    }
    let plan = match sess.maps.plan_read(h.nodeid, offset, size, dev.align) {
        Some(p) => p,
        None => return false,
    };
    let cap = fast.cap;
    let data = fast.out.get_or_insert_with(|| AlignedBuf::new(cap)).as_mut_slice();
    let mut pos = 0usize;
    for seg in &plan.segments {
        match *seg {
            Segment::Zero(len) => {
                data[pos..pos + len as usize].fill(0);
                pos += len as usize;
            }
            Segment::Device { offset, len } => {
                let want = round_up(len, dev.align) as usize;
                if !pread_full(dev.fd.as_raw_fd(), &mut data[pos..pos + want], offset, len as usize)
                {
                    bump(&sess.stats.fast_fallbacks, 1);
                    return false;
                }
                pos += len as usize;
            }
        }
    }
    let total = plan.len as usize;
    drop(plan);
    // Counted before the reply: once the kernel has it, the caller may read the stats.
    bump(&sess.stats.fast_reads, 1);
    bump(&sess.stats.fast_read_bytes, total as u64);
    write_reply(fd, h.unique, 0, &[&data[..total]]);
    true
}

/// Serves a WRITE that only overwrites written, mapped ranges within the
/// node's known size; false when JS must serve it.
fn fast_write(
    sess: &Session,
    dev: &Device,
    fd: RawFd,
    h: &InHeader,
    body: &[u8],
    fast: &mut FastBuffers,
) -> bool {
    if body.len() < WRITE_IN_SIZE {
        return false;
    }
    let offset = u64_at(body, 8);
    let size = u32_at(body, 16) as usize;
    let write_flags = u32_at(body, 20);
    // Killing suid/sgid is a metadata change only the filesystem can make.
    if write_flags & FUSE_WRITE_KILL_SUIDGID != 0 || body.len() != WRITE_IN_SIZE + size {
        return false;
    }
    let plan = match sess.maps.plan_write(h.nodeid, offset, size as u64, dev.align) {
        Some(p) => p,
        None => return false,
    };
    let mut src = &body[WRITE_IN_SIZE..];
    if dev.align > 0 {
        // O_DIRECT needs an aligned source buffer; the payload sits at byte 80.
        let cap = fast.cap;
        let scratch = fast.scratch.get_or_insert_with(|| AlignedBuf::new(cap)).as_mut_slice();
        scratch[..size].copy_from_slice(src);
        src = &fast.scratch.as_ref().map(|b| b.as_slice()).unwrap_or(&[])[..size];
    }
    let mut pos = 0usize;
    for seg in &plan.segments {
        if let Segment::Device { offset, len } = *seg {
            let len = len as usize;
            if !pwrite_full(dev.fd.as_raw_fd(), &src[pos..pos + len], offset) {
                bump(&sess.stats.fast_fallbacks, 1);
                return false;
            }
            pos += len;
        }
    }
    plan.mark_written();
    drop(plan);
    let mut out = [0u8; WRITE_OUT_SIZE];
    out[0..4].copy_from_slice(&(size as u32).to_le_bytes());
    // Counted before the reply: once the kernel has it, the caller may read the stats.
    bump(&sess.stats.fast_writes, 1);
    bump(&sess.stats.fast_write_bytes, size as u64);
    write_reply(fd, h.unique, 0, &[&out]);
    true
}

/// Duplicates a JS-owned descriptor (close-on-exec) for the session to own.
pub fn dup_fd(fd: i32) -> JsResult<OwnedFd> {
    let d = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
    if d < 0 {
        return Err(JsError::os(last_errno(), "dup device descriptor"));
    }
    // OK: `d` is a fresh descriptor owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(d) })
}

/// Whether the descriptor was opened with O_DIRECT.
pub fn is_direct(fd: &OwnedFd) -> bool {
    let fl = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
    fl >= 0 && fl & libc::O_DIRECT != 0
}

#[cfg(test)]
mod tests {
    //! The reader loop against a SOCK_SEQPACKET socketpair standing in for
    //! /dev/fuse (it keeps message boundaries the same way): malformed
    //! requests, forwarding, and the fast path, without a kernel or Node.
    use super::*;
    use crate::mapping::{Kind, NODE_FAST_WRITE, NODE_RECORD_WRITES};
    use std::io::Write;
    use std::sync::mpsc::{channel, Sender};

    #[derive(Clone, Copy)]
    struct Collect(&'static Mutex<Sender<Event>>);
    impl Sink for Collect {
        fn post(self, ev: Event) {
            let _ = lock(self.0).send(ev);
        }
    }

    fn header(len: usize, opcode: u32, unique: u64, nodeid: u64) -> Vec<u8> {
        let mut h = vec![0u8; IN_HEADER_SIZE];
        h[0..4].copy_from_slice(&(len as u32).to_le_bytes());
        h[4..8].copy_from_slice(&opcode.to_le_bytes());
        h[8..16].copy_from_slice(&unique.to_le_bytes());
        h[16..24].copy_from_slice(&nodeid.to_le_bytes());
        h
    }

    fn rw_in(opcode: u32, unique: u64, nodeid: u64, offset: u64, size: u32, data: &[u8]) -> Vec<u8> {
        let mut v = header(IN_HEADER_SIZE + 40 + data.len(), opcode, unique, nodeid);
        let mut a = [0u8; 40];
        a[8..16].copy_from_slice(&offset.to_le_bytes());
        a[16..20].copy_from_slice(&size.to_le_bytes());
        v.extend_from_slice(&a);
        v.extend_from_slice(data);
        v
    }

    struct Rig {
        kernel: OwnedFd,
        sess: Arc<Session>,
        events: mpsc::Receiver<Event>,
        reader: Option<std::thread::JoinHandle<Option<(i32, String)>>>,
    }

    impl Rig {
        fn new(device: Option<&std::fs::File>) -> Rig {
            let mut sv = [0; 2];
            assert_eq!(unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_SEQPACKET, 0, sv.as_mut_ptr()) }, 0);
            let kernel = unsafe { OwnedFd::from_raw_fd(sv[0]) };
            let server = unsafe { OwnedFd::from_raw_fd(sv[1]) };
            let server_fd = server.as_raw_fd();
            let sess = Session::new(server);
            if let Some(f) = device {
                sess.set_device(Some((dup_fd(f.as_raw_fd()).unwrap(), 0)));
            }
            let (tx, rx) = channel();
            let sink = Collect(Box::leak(Box::new(Mutex::new(tx))));
            let s2 = sess.clone();
            let reader = std::thread::spawn(move || reader_loop(&s2, 0, server_fd, sink, 1 << 16));
            Rig { kernel, sess, events: rx, reader: Some(reader) }
        }
        fn send(&self, msg: &[u8]) {
            let n = unsafe { libc::write(self.kernel.as_raw_fd(), msg.as_ptr() as *const c_void, msg.len()) };
            assert_eq!(n as usize, msg.len());
        }
        fn reply(&self) -> Vec<u8> {
            let mut buf = vec![0u8; 1 << 17];
            let n = unsafe { libc::read(self.kernel.as_raw_fd(), buf.as_mut_ptr() as *mut c_void, buf.len()) };
            assert!(n >= OUT_HEADER_SIZE as isize);
            buf.truncate(n as usize);
            assert_eq!(u32_at(&buf, 0) as usize, buf.len());
            buf
        }
        fn event(&self) -> Event {
            self.events.recv_timeout(std::time::Duration::from_secs(5)).expect("an event")
        }
        /// Closes the "kernel" side: the reader sees EOF and ends normally.
        fn finish(mut self) -> Option<(i32, String)> {
            drop(std::mem::replace(&mut self.kernel, dup_fd(0).unwrap()));
            self.reader.take().unwrap().join().unwrap()
        }
    }

    fn error_of(reply: &[u8]) -> (i32, u64) {
        (i32::from_le_bytes([reply[4], reply[5], reply[6], reply[7]]), u64_at(reply, 8))
    }

    fn getxattr_in(unique: u64, nodeid: u64, name: &[u8]) -> Vec<u8> {
        let mut m = header(IN_HEADER_SIZE + GETXATTR_IN_SIZE + name.len() + 1, FUSE_GETXATTR, unique, nodeid);
        m.extend_from_slice(&[0u8; GETXATTR_IN_SIZE]);
        m.extend_from_slice(name);
        m.push(0);
        m
    }

    #[test]
    fn capability_probes_of_vouched_nodes_are_answered_natively() {
        let rig = Rig::new(None);
        rig.send(&getxattr_in(2, 7, b"security.capability"));
        assert!(matches!(rig.event(), Event::Request { .. }));
        rig.sess.no_caps.write().unwrap().insert(7);
        rig.send(&getxattr_in(4, 7, b"security.capability"));
        assert_eq!(error_of(&rig.reply()), (-libc::ENODATA, 4));
        // Other names, and other nodes, still go to JS.
        rig.send(&getxattr_in(6, 7, b"security.capabilityX"));
        assert!(matches!(rig.event(), Event::Request { .. }));
        rig.send(&getxattr_in(8, 7, b"user.x"));
        assert!(matches!(rig.event(), Event::Request { .. }));
        rig.send(&getxattr_in(10, 8, b"security.capability"));
        assert!(matches!(rig.event(), Event::Request { .. }));
        rig.sess.no_caps.write().unwrap().remove(&7);
        rig.send(&getxattr_in(12, 7, b"security.capability"));
        assert!(matches!(rig.event(), Event::Request { .. }));
        assert_eq!(rig.sess.stats.xattr_answers.load(Ordering::Relaxed), 1);
        assert!(rig.finish().is_none());
    }

    #[test]
    fn malformed_requests_get_eio_or_are_dropped_and_logged() {
        let rig = Rig::new(None);
        rig.send(&[1u8; 10]);
        assert!(matches!(rig.event(), Event::Log(l) if l.contains("only 10 bytes")));
        let mut short = vec![0u8; 20];
        short[8..16].copy_from_slice(&77u64.to_le_bytes());
        rig.send(&short);
        assert!(matches!(rig.event(), Event::Log(_)));
        assert_eq!(error_of(&rig.reply()), (-libc::EIO, 77));
        // Header says 100 bytes, 48 arrive.
        let mut lie = header(100, 1, 79, 1);
        lie.extend_from_slice(b"name\0\0\0\0");
        rig.send(&lie);
        assert!(matches!(rig.event(), Event::Log(l) if l.contains("header says 100")));
        assert_eq!(error_of(&rig.reply()), (-libc::EIO, 79));
        // Same for a FORGET: logged, never answered.
        let mut forget = header(100, FUSE_FORGET, 81, 1);
        forget.extend_from_slice(&[0u8; 8]);
        rig.send(&forget);
        assert!(matches!(rig.event(), Event::Log(_)));
        let mut ok = header(IN_HEADER_SIZE + 2, 1, 83, 1);
        ok.extend_from_slice(b"x\0");
        rig.send(&ok);
        match rig.event() {
            Event::Request { channel, data } => {
                assert_eq!(channel, 0);
                assert_eq!(data, ok);
            }
            _ => panic!("expected the LOOKUP forwarded"),
        }
        assert_eq!(rig.sess.stats.malformed.load(Ordering::Relaxed), 4);
        assert_eq!(rig.sess.stats.forwarded.load(Ordering::Relaxed), 1);
        assert!(rig.finish().is_none());
    }

    #[test]
    fn fast_path_reads_and_overwrites_mapped_ranges_and_forwards_the_rest() {
        let path = std::env::temp_dir().join(format!("nf-rs-{}", std::process::id()));
        let mut dev = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&path).unwrap();
        let content: Vec<u8> = (0..16384u32).map(|i| (i % 251) as u8).collect();
        dev.write_all(&content).unwrap();
        let rig = Rig::new(Some(&dev));
        // Node 5: 10000 bytes; [0,4096) at device 8192, [4096,8192) unwritten, [8192,12288) at device 0.
        rig.sess.maps.upsert(
            5,
            10000,
            NODE_FAST_WRITE | NODE_RECORD_WRITES,
            &[(0, 4096, Kind::Written(8192)), (4096, 4096, Kind::Unwritten), (8192, 4096, Kind::Written(0))],
        );
        rig.send(&rw_in(FUSE_READ, 10, 5, 4000, 8192, &[]));
        let r = rig.reply();
        assert_eq!(error_of(&r), (0, 10));
        let data = &r[OUT_HEADER_SIZE..];
        assert_eq!(data.len(), 6000); // cut at the size
        assert_eq!(&data[..96], &content[8192 + 4000..8192 + 4096]);
        assert!(data[96..96 + 4096].iter().all(|&b| b == 0));
        assert_eq!(&data[96 + 4096..], &content[..6000 - 96 - 4096]);
        // Past the size: an empty reply, still native.
        rig.send(&rw_in(FUSE_READ, 12, 5, 20000, 4096, &[]));
        assert_eq!(rig.reply().len(), OUT_HEADER_SIZE);
        // Overwrite of a written range: stamped for the filesystem's mtime.
        assert_eq!(rig.sess.maps.take_written(5), 0);
        let before = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_micros() as u64;
        rig.send(&rw_in(FUSE_WRITE, 14, 5, 8192 + 100, 3, b"XYZ"));
        let w = rig.reply();
        assert_eq!(error_of(&w), (0, 14));
        assert_eq!(u32_at(&w, OUT_HEADER_SIZE), 3);
        let mut check = [0u8; 3];
        assert!(pread_full(dev.as_raw_fd(), &mut check, 100, 3));
        assert_eq!(&check, b"XYZ");
        let stamp = rig.sess.maps.take_written(5);
        assert!(stamp >= before && stamp < before + 60_000_000, "{stamp} vs {before}");
        assert_eq!(rig.sess.maps.take_written(5), 0);
        // The stamp outlives a whole-node invalidation until it is taken.
        rig.send(&rw_in(FUSE_WRITE, 15, 5, 8192 + 100, 3, b"XYZ"));
        assert_eq!(error_of(&rig.reply()), (0, 15));
        rig.sess.maps.invalidate(5, None);
        assert_eq!(rig.sess.maps.counts().0, 1);
        assert_ne!(rig.sess.maps.take_written(5), 0);
        // Taken, the withdrawn node is gone.
        assert_eq!(rig.sess.maps.counts().0, 0);
        rig.sess.maps.upsert(
            5,
            10000,
            NODE_FAST_WRITE,
            &[(0, 4096, Kind::Written(8192)), (4096, 4096, Kind::Unwritten), (8192, 4096, Kind::Written(0))],
        );
        // Without NODE_RECORD_WRITES nothing is recorded (the kernel owns mtime).
        rig.send(&rw_in(FUSE_WRITE, 17, 5, 8192 + 100, 3, b"XYZ"));
        assert_eq!(error_of(&rig.reply()), (0, 17));
        assert_eq!(rig.sess.maps.take_written(5), 0);
        // Into the unwritten range, and past the size: forwarded to JS.
        rig.send(&rw_in(FUSE_WRITE, 16, 5, 5000, 3, b"abc"));
        assert!(matches!(rig.event(), Event::Request { .. }));
        rig.send(&rw_in(FUSE_WRITE, 18, 5, 9999, 3, b"abc"));
        assert!(matches!(rig.event(), Event::Request { .. }));
        // An unknown node, and a read after invalidation: forwarded.
        rig.send(&rw_in(FUSE_READ, 20, 6, 0, 4096, &[]));
        assert!(matches!(rig.event(), Event::Request { .. }));
        rig.sess.maps.invalidate(5, Some((0, 1)));
        rig.send(&rw_in(FUSE_READ, 22, 5, 0, 10, &[]));
        assert!(matches!(rig.event(), Event::Request { .. }));
        let st = &rig.sess.stats;
        assert_eq!(st.fast_reads.load(Ordering::Relaxed), 2);
        assert_eq!(st.fast_read_bytes.load(Ordering::Relaxed), 6000);
        assert_eq!(st.fast_writes.load(Ordering::Relaxed), 3);
        assert_eq!(st.forwarded.load(Ordering::Relaxed), 4);
        assert!(rig.finish().is_none());
        let _ = std::fs::remove_file(path);
    }
}
