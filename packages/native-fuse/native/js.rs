//! Small safe layer over the raw Node-API declarations: reading arguments,
//! building values, throwing errors with a `code`, and the one wrapper every
//! JS entry point goes through so that a Rust panic never unwinds into Node.

use crate::napi::*;
use std::any::Any;
use std::ffi::CString;
use std::os::raw::{c_char, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

/// A failure reported to JS as a thrown `Error` with `code` (and `errno` for
/// system calls).
#[derive(Debug)]
pub struct JsError {
    pub code: String,
    pub message: String,
    pub errno: Option<i32>,
}

pub type JsResult<T> = Result<T, JsError>;

impl JsError {
    /// An invalid argument from the TS front (a programming error there).
    pub fn arg(message: impl Into<String>) -> Self {
        JsError { code: "ERR_FUSE_ARGUMENT".into(), message: message.into(), errno: None }
    }
    /// A call that does not fit the session's state (e.g. `start` twice).
    pub fn state(message: impl Into<String>) -> Self {
        JsError { code: "ERR_FUSE_STATE".into(), message: message.into(), errno: None }
    }
    /// A failed system call: `code` is the errno name, as Node does.
    pub fn os(errno: i32, what: &str) -> Self {
        JsError {
            code: errno_name(errno).into(),
            message: format!("{what}: {} ({})", strerror(errno), errno_name(errno)),
            errno: Some(errno),
        }
    }
    /// A Node-API call failed (should not happen with valid arguments).
    pub fn napi(status: napi_status, what: &str) -> Self {
        JsError {
            code: "ERR_FUSE_NAPI".into(),
            message: format!("Node-API call {what} failed with status {status}"),
            errno: None,
        }
    }
}

/// The calling thread's errno after a failed libc call.
pub fn last_errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO)
}

/// `strerror` text without Rust's " (os error N)" suffix.
pub fn strerror(errno: i32) -> String {
    let s = std::io::Error::from_raw_os_error(errno).to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// The symbolic name of the errno values a mount, a device or a reply can fail with.
pub fn errno_name(errno: i32) -> &'static str {
    match errno {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::ESRCH => "ESRCH",
        libc::EINTR => "EINTR",
        libc::EIO => "EIO",
        libc::ENXIO => "ENXIO",
        libc::E2BIG => "E2BIG",
        libc::EBADF => "EBADF",
        libc::ECHILD => "ECHILD",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::ENOTBLK => "ENOTBLK",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::ENODEV => "ENODEV",
        libc::ENOTDIR => "ENOTDIR",
        libc::EISDIR => "EISDIR",
        libc::EINVAL => "EINVAL",
        libc::ENFILE => "ENFILE",
        libc::EMFILE => "EMFILE",
        libc::ENOSPC => "ENOSPC",
        libc::EROFS => "EROFS",
        libc::EPIPE => "EPIPE",
        libc::ENAMETOOLONG => "ENAMETOOLONG",
        libc::ENOSYS => "ENOSYS",
        libc::ELOOP => "ELOOP",
        libc::EPROTO => "EPROTO",
        libc::EOVERFLOW => "EOVERFLOW",
        libc::ECONNABORTED => "ECONNABORTED",
        libc::ENOTCONN => "ENOTCONN",
        libc::ETIMEDOUT => "ETIMEDOUT",
        _ => "EUNKNOWN",
    }
}

/// The message of a caught panic payload.
pub fn panic_message(p: &(dyn Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

/// A borrowed `napi_env` for the duration of one call from JS.
#[derive(Clone, Copy)]
pub struct Env(pub napi_env);

impl Env {
    fn check(self, status: napi_status, what: &str) -> JsResult<()> {
        if status == NAPI_OK {
            Ok(())
        } else {
            Err(JsError::napi(status, what))
        }
    }

    pub fn undefined(self) -> JsResult<napi_value> {
        let mut v = ptr::null_mut();
        self.check(unsafe { napi_get_undefined(self.0, &mut v) }, "napi_get_undefined")?;
        Ok(v)
    }

    pub fn boolean(self, b: bool) -> JsResult<napi_value> {
        let mut v = ptr::null_mut();
        self.check(unsafe { napi_get_boolean(self.0, b, &mut v) }, "napi_get_boolean")?;
        Ok(v)
    }

    pub fn number(self, n: f64) -> JsResult<napi_value> {
        let mut v = ptr::null_mut();
        self.check(unsafe { napi_create_double(self.0, n, &mut v) }, "napi_create_double")?;
        Ok(v)
    }

    pub fn int(self, n: i64) -> JsResult<napi_value> {
        let mut v = ptr::null_mut();
        self.check(unsafe { napi_create_int64(self.0, n, &mut v) }, "napi_create_int64")?;
        Ok(v)
    }

    pub fn string(self, s: &str) -> JsResult<napi_value> {
        let mut v = ptr::null_mut();
        let status =
            unsafe { napi_create_string_utf8(self.0, s.as_ptr() as *const c_char, s.len(), &mut v) };
        self.check(status, "napi_create_string_utf8")?;
        Ok(v)
    }

    pub fn object(self) -> JsResult<napi_value> {
        let mut v = ptr::null_mut();
        self.check(unsafe { napi_create_object(self.0, &mut v) }, "napi_create_object")?;
        Ok(v)
    }

    pub fn set(self, obj: napi_value, name: &str, value: napi_value) -> JsResult<()> {
        let key = CString::new(name).map_err(|_| JsError::arg("property name with NUL"))?;
        let status = unsafe { napi_set_named_property(self.0, obj, key.as_ptr(), value) };
        self.check(status, "napi_set_named_property")
    }

    pub fn function(
        self,
        name: &str,
        cb: unsafe extern "C" fn(napi_env, napi_callback_info) -> napi_value,
    ) -> JsResult<napi_value> {
        let mut v = ptr::null_mut();
        let status = unsafe {
            napi_create_function(
                self.0,
                name.as_ptr() as *const c_char,
                name.len(),
                Some(cb),
                ptr::null_mut(),
                &mut v,
            )
        };
        self.check(status, "napi_create_function")?;
        Ok(v)
    }

    pub fn type_of(self, v: napi_value) -> JsResult<i32> {
        let mut t = 0;
        self.check(unsafe { napi_typeof(self.0, v, &mut t) }, "napi_typeof")?;
        Ok(t)
    }

    /// Throws `err` as a JS `Error` with `code` (and `errno` when known).
    pub fn throw(self, err: &JsError) {
        unsafe {
            let mut pending = false;
            napi_is_exception_pending(self.0, &mut pending);
            if pending {
                return;
            }
            let (code, msg) = match (self.string(&err.code), self.string(&err.message)) {
                (Ok(c), Ok(m)) => (c, m),
                _ => return,
            };
            let mut e = ptr::null_mut();
            if napi_create_error(self.0, code, msg, &mut e) != NAPI_OK {
                return;
            }
            if let Some(errno) = err.errno {
                if let Ok(n) = self.int(errno as i64) {
                    let _ = self.set(e, "errno", n);
                }
            }
            napi_throw(self.0, e);
        }
    }
}

/// The arguments of one call from JS, with typed getters that fail with
/// `ERR_FUSE_ARGUMENT` naming the position.
pub struct Args {
    pub env: Env,
    argv: [napi_value; 8],
    argc: usize,
}

impl Args {
    unsafe fn new(env: napi_env, info: napi_callback_info) -> JsResult<Args> {
        let mut argv = [ptr::null_mut(); 8];
        let mut argc = argv.len();
        let status = napi_get_cb_info(
            env,
            info,
            &mut argc,
            argv.as_mut_ptr(),
            ptr::null_mut(),
            ptr::null_mut(),
        );
        if status != NAPI_OK {
            return Err(JsError::napi(status, "napi_get_cb_info"));
        }
        Ok(Args { env: Env(env), argv, argc: argc.min(8) })
    }

    /// The raw value at `i` (`undefined` when missing).
    pub fn value(&self, i: usize) -> JsResult<napi_value> {
        if i < self.argc {
            Ok(self.argv[i])
        } else {
            self.env.undefined()
        }
    }

    pub fn is_nullish(&self, i: usize) -> JsResult<bool> {
        let t = self.env.type_of(self.value(i)?)?;
        Ok(t == NAPI_UNDEFINED || t == NAPI_NULL)
    }

    pub fn f64(&self, i: usize) -> JsResult<f64> {
        let mut out = 0.0;
        let status = unsafe { napi_get_value_double(self.env.0, self.value(i)?, &mut out) };
        if status != NAPI_OK || !out.is_finite() {
            return Err(JsError::arg(format!("argument {i} must be a finite number")));
        }
        Ok(out)
    }

    /// A non-negative integer no larger than 2^53 (node ids, offsets, uniques).
    pub fn u64(&self, i: usize) -> JsResult<u64> {
        let v = self.f64(i)?;
        if v < 0.0 || v.fract() != 0.0 || v > 9_007_199_254_740_991.0 {
            return Err(JsError::arg(format!("argument {i} must be a non-negative safe integer")));
        }
        Ok(v as u64)
    }

    pub fn i64(&self, i: usize) -> JsResult<i64> {
        let v = self.f64(i)?;
        if v.fract() != 0.0 || v.abs() > 9_007_199_254_740_991.0 {
            return Err(JsError::arg(format!("argument {i} must be a safe integer")));
        }
        Ok(v as i64)
    }

    pub fn bool(&self, i: usize) -> JsResult<bool> {
        let mut out = false;
        let status = unsafe { napi_get_value_bool(self.env.0, self.value(i)?, &mut out) };
        if status != NAPI_OK {
            return Err(JsError::arg(format!("argument {i} must be a boolean")));
        }
        Ok(out)
    }

    pub fn string(&self, i: usize) -> JsResult<String> {
        let v = self.value(i)?;
        let mut len = 0usize;
        let status =
            unsafe { napi_get_value_string_utf8(self.env.0, v, ptr::null_mut(), 0, &mut len) };
        if status != NAPI_OK {
            return Err(JsError::arg(format!("argument {i} must be a string")));
        }
        let mut buf = vec![0u8; len + 1];
        let status = unsafe {
            napi_get_value_string_utf8(
                self.env.0,
                v,
                buf.as_mut_ptr() as *mut c_char,
                buf.len(),
                &mut len,
            )
        };
        if status != NAPI_OK {
            return Err(JsError::arg(format!("argument {i} must be a string")));
        }
        buf.truncate(len);
        String::from_utf8(buf).map_err(|_| JsError::arg(format!("argument {i} is not UTF-8")))
    }

    /// The bytes of a Buffer / typed array argument. The slice is valid for
    /// the duration of this call only (JS cannot run while native code does).
    pub fn bytes(&self, i: usize) -> JsResult<&[u8]> {
        bytes_of(self.env, self.value(i)?)
            .ok_or_else(|| JsError::arg(format!("argument {i} must be a Uint8Array")))
    }

    pub fn function(&self, i: usize) -> JsResult<napi_value> {
        let v = self.value(i)?;
        if self.env.type_of(v)? != NAPI_FUNCTION {
            return Err(JsError::arg(format!("argument {i} must be a function")));
        }
        Ok(v)
    }

    /// The pointer stored in an External argument.
    pub fn external(&self, i: usize) -> JsResult<*mut c_void> {
        let v = self.value(i)?;
        if self.env.type_of(v)? != NAPI_EXTERNAL {
            return Err(JsError::arg(format!("argument {i} must be a session handle")));
        }
        let mut p = ptr::null_mut();
        let status = unsafe { napi_get_value_external(self.env.0, v, &mut p) };
        if status != NAPI_OK || p.is_null() {
            return Err(JsError::arg(format!("argument {i} must be a session handle")));
        }
        Ok(p)
    }

    /// The elements of an array argument.
    pub fn array(&self, i: usize) -> JsResult<Vec<napi_value>> {
        let v = self.value(i)?;
        let mut is = false;
        unsafe { napi_is_array(self.env.0, v, &mut is) };
        if !is {
            return Err(JsError::arg(format!("argument {i} must be an array")));
        }
        let mut len = 0u32;
        unsafe { napi_get_array_length(self.env.0, v, &mut len) };
        let mut out = Vec::with_capacity(len as usize);
        for k in 0..len {
            let mut e = ptr::null_mut();
            let status = unsafe { napi_get_element(self.env.0, v, k, &mut e) };
            if status != NAPI_OK {
                return Err(JsError::napi(status, "napi_get_element"));
            }
            out.push(e);
        }
        Ok(out)
    }

    pub fn is_array(&self, i: usize) -> JsResult<bool> {
        let mut is = false;
        unsafe { napi_is_array(self.env.0, self.value(i)?, &mut is) };
        Ok(is)
    }
}

/// The bytes of any ArrayBufferView (`Buffer`, `Uint8Array`, `Float64Array`,
/// ...): `napi_get_buffer_info` accepts every view in Node >= 20.
pub fn bytes_of<'a>(env: Env, v: napi_value) -> Option<&'a [u8]> {
    let mut data = ptr::null_mut();
    let mut len = 0usize;
    let status = unsafe { napi_get_buffer_info(env.0, v, &mut data, &mut len) };
    if status != NAPI_OK {
        return None;
    }
    if len == 0 {
        return Some(&[]);
    }
    // OK to build the slice: Node guarantees `data` points at `len` live
    // bytes for as long as the value is reachable, i.e. this whole call.
    Some(unsafe { std::slice::from_raw_parts(data as *const u8, len) })
}

/// Runs one JS entry point: decodes the arguments, runs `f`, and converts an
/// error or a panic into a thrown JS error, so nothing unwinds into Node.
pub unsafe fn entry(
    env: napi_env,
    info: napi_callback_info,
    f: fn(&Args) -> JsResult<napi_value>,
) -> napi_value {
    let result = catch_unwind(AssertUnwindSafe(|| {
        let args = Args::new(env, info)?;
        f(&args)
    }));
    match result {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => {
            Env(env).throw(&e);
            ptr::null_mut()
        }
        Err(p) => {
            let e = JsError {
                code: "ERR_FUSE_PANIC".into(),
                message: format!("native-fuse panicked: {}", panic_message(&*p)),
                errno: None,
            };
            Env(env).throw(&e);
            ptr::null_mut()
        }
    }
}

/// A thread-safe function handle: a plain pointer that Node-API allows any
/// thread to use until the last release.
#[derive(Clone, Copy)]
pub struct Tsfn(pub napi_threadsafe_function);

// OK to share: Node-API documents napi_call_threadsafe_function and
// napi_release_threadsafe_function as callable from any thread.
unsafe impl Send for Tsfn {}
unsafe impl Sync for Tsfn {}

impl Tsfn {
    /// Creates a thread-safe function over `func` with an unbounded queue and
    /// one owning thread reference.
    pub fn new(
        env: Env,
        func: napi_value,
        name: &str,
        call_js: unsafe extern "C" fn(napi_env, napi_value, *mut c_void, *mut c_void),
    ) -> JsResult<Tsfn> {
        let resource_name = env.string(name)?;
        let mut t = ptr::null_mut();
        let status = unsafe {
            napi_create_threadsafe_function(
                env.0,
                func,
                ptr::null_mut(),
                resource_name,
                0,
                1,
                ptr::null_mut(),
                None,
                ptr::null_mut(),
                Some(call_js),
                &mut t,
            )
        };
        if status != NAPI_OK {
            return Err(JsError::napi(status, "napi_create_threadsafe_function"));
        }
        Ok(Tsfn(t))
    }

    /// Queues `data` (a leaked Box the call_js callback takes back). False
    /// when Node is shutting the function down; the caller then frees `data`.
    pub fn call(self, data: *mut c_void) -> bool {
        unsafe { napi_call_threadsafe_function(self.0, data, NAPI_TSFN_NONBLOCKING) == NAPI_OK }
    }

    /// Drops the owning thread reference; Node finalizes once the queue drains.
    pub fn release(self) {
        unsafe {
            napi_release_threadsafe_function(self.0, NAPI_TSFN_RELEASE);
        }
    }

    /// Whether a pending call keeps the event loop alive (JS thread only).
    pub fn set_ref(self, env: Env, keep_alive: bool) {
        unsafe {
            if keep_alive {
                napi_ref_threadsafe_function(env.0, self.0);
            } else {
                napi_unref_threadsafe_function(env.0, self.0);
            }
        }
    }
}

/// Calls a JS function with `args` and `undefined` as `this`. A throw stays
/// pending and Node reports it as an uncaught exception once we return.
pub unsafe fn call_function(env: Env, func: napi_value, args: &[napi_value]) {
    let recv = match env.undefined() {
        Ok(v) => v,
        Err(_) => return,
    };
    let mut result = ptr::null_mut();
    napi_call_function(env.0, recv, func, args.len(), args.as_ptr(), &mut result);
}

/// A JS Buffer with `data`: copied when small, otherwise handed over without
/// copying (falling back to a copy where external buffers are not allowed).
pub unsafe fn buffer_from_vec(env: Env, data: Vec<u8>) -> JsResult<napi_value> {
    // Small requests (all metadata) are cheaper to copy than to hand over:
    // an external buffer costs a backing-store object and a finalizer.
    if data.len() <= 16 * 1024 {
        let mut v = ptr::null_mut();
        let mut out = ptr::null_mut();
        let status =
            napi_create_buffer_copy(env.0, data.len(), data.as_ptr() as *const c_void, &mut out, &mut v);
        if status != NAPI_OK {
            return Err(JsError::napi(status, "napi_create_buffer_copy"));
        }
        return Ok(v);
    }
    let boxed = data.into_boxed_slice();
    let len = boxed.len();
    let raw = Box::into_raw(boxed) as *mut u8;
    let mut v = ptr::null_mut();
    let status = napi_create_external_buffer(
        env.0,
        len,
        raw as *mut c_void,
        Some(free_boxed_bytes),
        len as *mut c_void,
        &mut v,
    );
    if status == NAPI_OK {
        return Ok(v);
    }
    // Not owned by JS: copy, then free our allocation.
    let mut out = ptr::null_mut();
    let status = napi_create_buffer_copy(env.0, len, raw as *const c_void, &mut out, &mut v);
    free_boxed_bytes(env.0, raw as *mut c_void, len as *mut c_void);
    if status != NAPI_OK {
        return Err(JsError::napi(status, "napi_create_buffer_copy"));
    }
    Ok(v)
}

unsafe extern "C" fn free_boxed_bytes(_env: napi_env, data: *mut c_void, hint: *mut c_void) {
    let len = hint as usize;
    drop(Box::from_raw(ptr::slice_from_raw_parts_mut(data as *mut u8, len)));
}
