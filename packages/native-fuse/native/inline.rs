//! Inline dispatch: the JS thread reads /dev/fuse itself. The session's
//! descriptor is made non-blocking and polled by libuv on the JS event loop;
//! each wake-up drains the queued requests, serves malformed ones and the
//! fast path natively, and calls JS directly for the rest, inside one
//! callback scope (so promise jobs run once per batch). This saves the
//! reader-thread hop (a context switch and a thread-safe-function queue per
//! request), which dominates latency-bound metadata traffic. READ/WRITE that
//! the mapping cache covers are handed to fast-path worker threads, so the
//! JS thread never waits on the device (with zero workers it does the I/O
//! itself). Notification results, log lines, requests a worker gives back
//! and the end travel through the session's thread-safe function, so the
//! end is still the last event.

use crate::abi::{u32_at, FUSE_WRITE};
use crate::js::{self, last_errno, Env, JsError, JsResult, Tsfn};
use crate::napi::*;
use crate::session::{bump, now_ns, triage, AlignedBuf, FastBuffers, Session, Sink, Triage};
use std::alloc::{self, Layout};
use std::os::raw::c_void;
use std::os::unix::io::RawFd;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;

/// Requests handled per batch (one callback scope).
const BATCH: usize = 256;
/// Longest time one wake-up keeps the JS thread serving (batches and spins)
/// before the rest of the event loop gets its turn.
const MAX_DRAIN_NS: u64 = 2_000_000;

/// WRITE requests from this size up go to JS through the scratch buffer
/// (when the server asked for transient writes): a fresh copy of each 1 MiB
/// request cost an allocation whose pages the kernel had to zero and fault
/// in, a fifth of the server's time in a buffered sequential write.
const TRANSIENT_MIN: usize = 64 * 1024;

/// napi_typedarray_type's napi_uint8_array.
const NAPI_UINT8_ARRAY: i32 = 1;

struct Inline {
    env: napi_env,
    func: napi_ref,
    resource: napi_ref,
    actx: napi_async_context,
    handle: *mut c_void,
    layout: Layout,
    sess: Arc<Session>,
    fd: RawFd,
    buf: AlignedBuf,
    fast: FastBuffers,
    events: Tsfn,
    finished: bool,
    /// How long to poll for the next request before sleeping (0: never).
    spin_ns: u64,
    /// With `transient_writes`: a JS ArrayBuffer that large WRITE requests
    /// are copied into and handed to JS as a view (see TRANSIENT_MIN);
    /// null otherwise.
    scratch: napi_ref,
    /// Fast-path requests for the workers (dropped at the end).
    work: Option<mpsc::Sender<Vec<u8>>>,
    workers: Vec<JoinHandle<()>>,
}

/// A fast-path worker: device I/O and the reply for READ/WRITE requests the
/// JS thread found mapped, so the JS thread never waits on the device.
fn worker_main(sess: Arc<Session>, rx: Arc<Mutex<mpsc::Receiver<Vec<u8>>>>, fd: RawFd, events: Tsfn, bufsize: usize) {
    let mut fast = FastBuffers::new(bufsize);
    loop {
        let req = match rx.lock().unwrap_or_else(|e| e.into_inner()).recv() {
            Ok(r) => r,
            Err(_) => return,
        };
        let outcome = catch_unwind(AssertUnwindSafe(|| triage(&sess, fd, &req, events, Some(&mut fast))));
        match outcome {
            Ok(Triage::Forward) | Ok(Triage::Offload) => {
                sess.count_forwarded();
                events.post(crate::session::Event::Request { channel: 0, data: req });
            }
            Ok(Triage::Done) => {}
            Err(p) => {
                events.post(crate::session::Event::Log(format!(
                    "fast-path worker panicked: {}",
                    js::panic_message(&*p)
                )));
                crate::session::write_reply(fd, crate::abi::u64_at(&req, 8), -libc::EIO, &[]);
            }
        }
    }
}

/// Starts polling the session's own descriptor (channel 0) on the JS loop,
/// with `workers` fast-path threads. Returns the libuv handle (for ref/unref).
pub fn start(
    sess: &Arc<Session>,
    env: Env,
    func: napi_value,
    events: Tsfn,
    fd: RawFd,
    bufsize: usize,
    workers: usize,
    spin_ns: u64,
    transient_writes: bool,
) -> JsResult<usize> {
    unsafe {
        let fl = libc::fcntl(fd, libc::F_GETFL);
        if fl < 0 || libc::fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK) < 0 {
            return Err(JsError::os(last_errno(), "fcntl O_NONBLOCK on /dev/fuse"));
        }
        let mut uv_loop = ptr::null_mut();
        let st = napi_get_uv_event_loop(env.0, &mut uv_loop);
        if st != NAPI_OK || uv_loop.is_null() {
            return Err(JsError::napi(st, "napi_get_uv_event_loop"));
        }
        let layout = Layout::from_size_align(uv_handle_size(UV_POLL).max(64), 16)
            .map_err(|_| JsError::state("uv_poll_t layout"))?;
        let handle = alloc::alloc_zeroed(layout) as *mut c_void;
        if handle.is_null() {
            alloc::handle_alloc_error(layout);
        }
        let rc = uv_poll_init(uv_loop, handle, fd);
        if rc != 0 {
            alloc::dealloc(handle as *mut u8, layout);
            return Err(JsError::os(-rc, "uv_poll_init on /dev/fuse"));
        }
        let mut func_ref = ptr::null_mut();
        let mut resource_ref = ptr::null_mut();
        let mut actx = ptr::null_mut();
        let resource = env.object()?;
        let name = env.string("native-fuse request")?;
        napi_create_reference(env.0, func, 1, &mut func_ref);
        napi_create_reference(env.0, resource, 1, &mut resource_ref);
        napi_async_init(env.0, resource, name, &mut actx);
        let mut scratch = ptr::null_mut();
        if transient_writes {
            let mut data = ptr::null_mut();
            let mut ab = ptr::null_mut();
            let st = napi_create_arraybuffer(env.0, bufsize, &mut data, &mut ab);
            if st != NAPI_OK {
                return Err(JsError::napi(st, "napi_create_arraybuffer"));
            }
            napi_create_reference(env.0, ab, 1, &mut scratch);
        }
        let (tx, rx) = mpsc::channel::<Vec<u8>>();
        let rx = Arc::new(Mutex::new(rx));
        let mut handles = Vec::new();
        for i in 0..workers {
            let (s2, rx2) = (sess.clone(), rx.clone());
            match std::thread::Builder::new()
                .name(format!("fuse-fast-{i}"))
                .spawn(move || worker_main(s2, rx2, fd, events, bufsize))
            {
                Ok(h) => handles.push(h),
                Err(_) => break,
            }
        }
        let inline = Box::new(Inline {
            env: env.0,
            func: func_ref,
            resource: resource_ref,
            actx,
            handle,
            layout,
            sess: sess.clone(),
            fd,
            buf: AlignedBuf::new(bufsize),
            fast: FastBuffers::new(bufsize),
            events,
            finished: false,
            spin_ns,
            scratch,
            work: if handles.is_empty() { None } else { Some(tx) },
            workers: handles,
        });
        // uv_handle_t begins with `void *data`, ours to use.
        *(handle as *mut *mut c_void) = Box::into_raw(inline) as *mut c_void;
        let rc = uv_poll_start(handle, UV_READABLE, Some(on_readable));
        if rc != 0 {
            uv_close(handle, Some(on_closed));
            return Err(JsError::os(-rc, "uv_poll_start on /dev/fuse"));
        }
        Ok(handle as usize)
    }
}

unsafe extern "C" fn on_readable(handle: *mut c_void, status: i32, _events: i32) {
    let inline = *(handle as *mut *mut Inline);
    if inline.is_null() {
        return;
    }
    let inline = &mut *inline;
    let outcome = catch_unwind(AssertUnwindSafe(|| inline.drain(status)));
    if let Err(p) = outcome {
        let msg = format!("inline dispatch panicked: {}", js::panic_message(&*p));
        inline.events.post(crate::session::Event::Log(msg.clone()));
        inline.finish(Some((libc::EIO, msg)));
    }
}

unsafe extern "C" fn on_closed(handle: *mut c_void) {
    let raw = *(handle as *mut *mut Inline);
    if raw.is_null() {
        return;
    }
    let inline = Box::from_raw(raw);
    napi_delete_reference(inline.env, inline.func);
    napi_delete_reference(inline.env, inline.resource);
    if !inline.scratch.is_null() {
        napi_delete_reference(inline.env, inline.scratch);
    }
    napi_async_destroy(inline.env, inline.actx);
    let layout = inline.layout;
    drop(inline);
    alloc::dealloc(handle as *mut u8, layout);
}

impl Inline {
    unsafe fn drain(&mut self, status: i32) {
        if self.finished {
            return;
        }
        if status < 0 {
            // libuv reports POLLERR as UV_EBADF; /dev/fuse polls POLLERR once
            // the connection is gone, which a read then confirms with ENODEV.
            let cap = self.buf.as_slice().len();
            let n = libc::read(self.fd, self.buf.as_mut_slice().as_mut_ptr() as *mut c_void, cap);
            if n < 0 && last_errno() == libc::ENODEV {
                self.finish(None);
                return;
            }
            let msg = format!("polling /dev/fuse failed: {}", js::strerror(-status));
            self.events.post(crate::session::Event::Log(msg.clone()));
            self.finish(Some((-status, msg)));
            return;
        }
        let started = now_ns();
        loop {
            let busy = self.batch();
            if self.finished || !busy {
                break;
            }
            // The batch ran dry with the queue empty. Rather than sleep in epoll
            // (whose wake-up costs a cross-CPU interrupt on small VMs, tens of
            // microseconds), watch the descriptor for a short while: a client in a
            // loop of requests sends its next one within that time. Bounded, so the
            // rest of the event loop (timers, events from other threads) still runs.
            if self.spin_ns == 0 || now_ns() - started > MAX_DRAIN_NS || !self.spin() {
                break;
            }
        }
    }

    /// Waits up to `spin_ns` for the descriptor to become readable, polling
    /// without sleeping. True when it did.
    unsafe fn spin(&self) -> bool {
        let until = now_ns() + self.spin_ns;
        let mut p = libc::pollfd { fd: self.fd, events: libc::POLLIN, revents: 0 };
        loop {
            p.revents = 0;
            if libc::poll(&mut p, 1, 0) != 0 {
                return true;
            }
            if now_ns() > until {
                return false;
            }
            std::hint::spin_loop();
        }
    }

    /// Serves up to BATCH queued requests inside one callback scope (so promise
    /// jobs run once per batch). True when at least one request was served.
    unsafe fn batch(&mut self) -> bool {
        let mut served = false;
        let env = Env(self.env);
        let mut hscope = ptr::null_mut();
        napi_open_handle_scope(self.env, &mut hscope);
        let mut func = ptr::null_mut();
        let mut resource = ptr::null_mut();
        napi_get_reference_value(self.env, self.func, &mut func);
        napi_get_reference_value(self.env, self.resource, &mut resource);
        let mut cscope = ptr::null_mut();
        napi_open_callback_scope(self.env, resource, self.actx, &mut cscope);
        for _ in 0..BATCH {
            let cap = self.buf.as_slice().len();
            let n = libc::read(self.fd, self.buf.as_mut_slice().as_mut_ptr() as *mut c_void, cap);
            if n < 0 {
                match last_errno() {
                    libc::EAGAIN => break,
                    libc::EINTR | libc::ENOENT => continue,
                    libc::ENODEV => {
                        self.finish(None);
                        break;
                    }
                    e => {
                        let msg = format!("read /dev/fuse (inline): {}", js::strerror(e));
                        self.events.post(crate::session::Event::Log(msg.clone()));
                        self.finish(Some((e, msg)));
                        break;
                    }
                }
            }
            if n == 0 {
                self.finish(None);
                break;
            }
            served = true;
            let req = &self.buf.as_slice()[..n as usize];
            // With workers, device I/O never runs here: mapped READ/WRITE are offloaded.
            let fast = if self.work.is_some() { None } else { Some(&mut self.fast) };
            match triage(&self.sess, self.fd, req, self.events, fast) {
                Triage::Done => {}
                Triage::Offload => {
                    if let Some(tx) = &self.work {
                        let _ = tx.send(req.to_vec());
                    }
                }
                Triage::Forward => {
                    self.sess.count_forwarded();
                    let t = now_ns();
                    let _ = self.call_js(env, func, req);
                    bump(&self.sess.stats.js_nanos, now_ns() - t);
                }
            }
        }
        napi_close_callback_scope(self.env, cscope);
        napi_close_handle_scope(self.env, hscope);
        served
    }

    /// A large WRITE copied into the scratch ArrayBuffer, as a Uint8Array
    /// over its first req.len() bytes — valid until the next request, which
    /// is what transient writes promise the handlers need. Null (copy as
    /// usual) for anything else, or when JS has detached the buffer.
    unsafe fn scratch_view(&self, req: &[u8]) -> napi_value {
        if self.scratch.is_null() || req.len() < TRANSIENT_MIN || u32_at(req, 4) != FUSE_WRITE {
            return ptr::null_mut();
        }
        let mut ab = ptr::null_mut();
        let mut data: *mut c_void = ptr::null_mut();
        let mut len = 0usize;
        if napi_get_reference_value(self.env, self.scratch, &mut ab) != NAPI_OK
            || ab.is_null()
            || napi_get_arraybuffer_info(self.env, ab, &mut data, &mut len) != NAPI_OK
            || data.is_null()
            || len < req.len()
        {
            return ptr::null_mut();
        }
        ptr::copy_nonoverlapping(req.as_ptr(), data as *mut u8, req.len());
        let mut view = ptr::null_mut();
        if napi_create_typedarray(self.env, NAPI_UINT8_ARRAY, req.len(), ab, 0, &mut view) != NAPI_OK {
            return ptr::null_mut();
        }
        view
    }

    unsafe fn call_js(&self, env: Env, func: napi_value, req: &[u8]) -> JsResult<()> {
        let mut scope = ptr::null_mut();
        napi_open_handle_scope(self.env, &mut scope);
        let mut buffer = self.scratch_view(req);
        if buffer.is_null() {
            let mut out = ptr::null_mut();
            napi_create_buffer_copy(self.env, req.len(), req.as_ptr() as *const c_void, &mut out, &mut buffer);
        }
        let args = [env.int(0)?, env.int(0)?, buffer];
        let recv = env.undefined()?;
        let mut result = ptr::null_mut();
        let st = napi_call_function(self.env, recv, func, args.len(), args.as_ptr(), &mut result);
        if st == NAPI_PENDING_EXCEPTION {
            // Report it like any uncaught exception, and go on serving.
            let mut e = ptr::null_mut();
            napi_get_and_clear_last_exception(self.env, &mut e);
            napi_fatal_exception(self.env, e);
        }
        napi_close_handle_scope(self.env, scope);
        Ok(())
    }

    /// Stops polling and ends the session (the end event goes through the
    /// thread-safe function, after any notification results).
    unsafe fn finish(&mut self, err: Option<(i32, String)>) {
        if self.finished {
            return;
        }
        self.finished = true;
        uv_poll_stop(self.handle);
        // Workers drain what they have (replies to a dead connection fail
        // quietly) and stop, so nothing they forward follows the end event.
        drop(self.work.take());
        for h in self.workers.drain(..) {
            let _ = h.join();
        }
        self.sess.clear_inline();
        self.sess.reader_exit(err);
        uv_close(self.handle, Some(on_closed));
    }
}
