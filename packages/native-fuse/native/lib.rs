//! native-fuse: the kernel FUSE protocol on /dev/fuse for Node, without
//! libfuse. This file is the JS-facing surface (registered through
//! `napi_register_module_v1`); every function here is reached through
//! `js::entry`, which turns errors and panics into thrown JS errors with a
//! `code`. The typed front is src/native.ts.

mod abi;
mod inline;
mod js;
mod mapping;
mod mount;
mod napi;
mod session;
mod sys;

use js::{Args, Env, JsError, JsResult, Tsfn};
use mapping::Kind;
use napi::{napi_callback_info, napi_env, napi_value};
use session::Session;
use std::os::raw::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

/// Tag checked on every handle so a foreign External is refused, not misread.
const HANDLE_MAGIC: u64 = 0x6e61_7469_7665_6675;

struct Handle {
    magic: u64,
    session: Arc<Session>,
}

unsafe extern "C" fn finalize_handle(_env: napi_env, data: *mut c_void, _hint: *mut c_void) {
    if !data.is_null() {
        let _ = catch_unwind(AssertUnwindSafe(|| drop(Box::from_raw(data as *mut Handle))));
    }
}

fn new_handle(env: Env, session: Arc<Session>) -> JsResult<napi_value> {
    let raw = Box::into_raw(Box::new(Handle { magic: HANDLE_MAGIC, session })) as *mut c_void;
    let mut v = std::ptr::null_mut();
    let status = unsafe {
        napi::napi_create_external(env.0, raw, Some(finalize_handle), std::ptr::null_mut(), &mut v)
    };
    if status != napi::NAPI_OK {
        unsafe { finalize_handle(env.0, raw, std::ptr::null_mut()) };
        return Err(JsError::napi(status, "napi_create_external"));
    }
    Ok(v)
}

fn session_of(args: &Args, i: usize) -> JsResult<Arc<Session>> {
    let p = args.external(i)? as *const Handle;
    // OK to read: every External this module hands out points at a Handle,
    // and the magic check refuses anything else that reaches here.
    let h = unsafe { &*p };
    if h.magic != HANDLE_MAGIC {
        return Err(JsError::arg(format!("argument {i} is not a native-fuse session")));
    }
    Ok(h.session.clone())
}

/// mountKernel(target, source, fstype, readOnly, options, flags?) -> handle;
/// `flags` bits: 1 allow set-id (no MS_NOSUID), 2 allow devices (no
/// MS_NODEV), 4 MS_NOEXEC.
fn mount_kernel(a: &Args) -> JsResult<napi_value> {
    let flags = if a.is_nullish(5)? { 0 } else { a.u64(5)? };
    if flags > 7 {
        return Err(JsError::arg("mount flags must be a combination of 1, 2 and 4"));
    }
    let fd = mount::mount_kernel(
        &a.string(0)?,
        &a.string(1)?,
        &a.string(2)?,
        a.bool(3)?,
        &a.string(4)?,
        flags as u32,
    )?;
    new_handle(a.env, Session::new(fd))
}

/// mountFusermount(target, options) -> handle
fn mount_fusermount(a: &Args) -> JsResult<napi_value> {
    let fd = mount::mount_fusermount(&a.string(0)?, &a.string(1)?)?;
    new_handle(a.env, Session::new(fd))
}

/// start(handle, threads, maxWrite, onEvent(kind, a, b), inline, spinMicros, transientWrites)
fn start(a: &Args) -> JsResult<napi_value> {
    let s = session_of(a, 0)?;
    let threads = a.u64(1)?;
    if !(1..=64).contains(&threads) {
        return Err(JsError::arg("threads must be between 1 and 64"));
    }
    let max_write = a.u64(2)?;
    if !(4096..=(16 << 20)).contains(&max_write) {
        return Err(JsError::arg("maxWrite must be between 4 KiB and 16 MiB"));
    }
    let func = a.function(3)?;
    let inline = !a.is_nullish(4)? && a.bool(4)?;
    let spin_us = if a.is_nullish(5)? { 0 } else { a.u64(5)? };
    if spin_us > 1000 {
        return Err(JsError::arg("spinMicros must be between 0 and 1000"));
    }
    let transient_writes = inline && !a.is_nullish(6)? && a.bool(6)?;
    s.start(a.env, func, threads as usize, max_write as usize, inline, spin_us * 1000, transient_writes)?;
    a.env.undefined()
}

/// reply(handle, channel, unique, errno, data?) -> 0 | errno
fn reply(a: &Args) -> JsResult<napi_value> {
    let s = session_of(a, 0)?;
    let channel = a.u64(1)? as u32;
    let unique = a.u64(2)?;
    let errno = a.u64(3)?;
    if errno > 4095 {
        return Err(JsError::arg("errno must be between 0 and 4095"));
    }
    let mut parts: Vec<&[u8]> = Vec::new();
    if !a.is_nullish(4)? {
        if a.is_array(4)? {
            for v in a.array(4)? {
                parts.push(
                    js::bytes_of(a.env, v).ok_or_else(|| JsError::arg("reply pieces must be Uint8Arrays"))?,
                );
            }
        } else {
            parts.push(a.bytes(4)?);
        }
    }
    if errno != 0 && !parts.is_empty() {
        return Err(JsError::arg("an error reply carries no data"));
    }
    let e = s.reply(channel, unique, errno as i32, &parts);
    a.env.int(e as i64)
}

/// notifyInvalInode(handle, id, nodeid, offset, length) -> queued
fn notify_inval_inode(a: &Args) -> JsResult<napi_value> {
    let s = session_of(a, 0)?;
    let msg = abi::notify_inval_inode(a.u64(2)?, a.i64(3)?, a.i64(4)?);
    a.env.boolean(s.notify(a.f64(1)?, msg))
}

/// notifyInvalEntry(handle, id, parent, name, flags) -> queued
fn notify_inval_entry(a: &Args) -> JsResult<napi_value> {
    let s = session_of(a, 0)?;
    let name = a.bytes(3)?;
    check_name(name)?;
    let msg = abi::notify_inval_entry(a.u64(2)?, name, a.u64(4)? as u32);
    a.env.boolean(s.notify(a.f64(1)?, msg))
}

/// notifyDelete(handle, id, parent, child, name) -> queued
fn notify_delete(a: &Args) -> JsResult<napi_value> {
    let s = session_of(a, 0)?;
    let name = a.bytes(4)?;
    check_name(name)?;
    let msg = abi::notify_delete(a.u64(2)?, a.u64(3)?, name);
    a.env.boolean(s.notify(a.f64(1)?, msg))
}

fn check_name(name: &[u8]) -> JsResult<()> {
    // The kernel refuses names longer than FUSE_NAME_MAX (1024) or with NULs.
    if name.is_empty() || name.len() > 1024 || name.contains(&0) {
        return Err(JsError::arg("name must be 1..1024 bytes without NUL"));
    }
    Ok(())
}

/// setDevice(handle, fd, align): fd < 0 clears the device.
fn set_device(a: &Args) -> JsResult<napi_value> {
    let s = session_of(a, 0)?;
    let fd = a.i64(1)?;
    if fd < 0 {
        s.set_device(None);
        return a.env.undefined();
    }
    let owned = session::dup_fd(fd as i32)?;
    let align = if session::is_direct(&owned) {
        let want = a.u64(2)?;
        if want == 0 {
            4096
        } else if want.is_power_of_two() && want <= 1 << 20 {
            want
        } else {
            return Err(JsError::arg("align must be a power of two up to 1 MiB"));
        }
    } else {
        0
    };
    s.set_device(Some((owned, align)));
    a.env.undefined()
}

/// mapUpsert(handle, nodeid, size, flags, extents: Float64Array of
/// [fileOffset, length, kind (0 hole, 1 unwritten, 2 written), deviceOffset]*)
fn map_upsert(a: &Args) -> JsResult<napi_value> {
    let s = session_of(a, 0)?;
    let nodeid = a.u64(1)?;
    let size = a.u64(2)?;
    let flags = a.u64(3)? as u32;
    let raw = a.bytes(4)?;
    if raw.len() % 32 != 0 {
        return Err(JsError::arg("extents must hold 4 numbers per range"));
    }
    let num = |i: usize| -> JsResult<u64> {
        let mut b = [0u8; 8];
        b.copy_from_slice(&raw[i * 8..i * 8 + 8]);
        let v = f64::from_le_bytes(b);
        if !(0.0..=9_007_199_254_740_991.0).contains(&v) || v.fract() != 0.0 {
            return Err(JsError::arg("extent fields must be non-negative safe integers"));
        }
        Ok(v as u64)
    };
    let mut extents = Vec::with_capacity(raw.len() / 32);
    for r in 0..raw.len() / 32 {
        let (start, len, kind, dev) = (num(r * 4)?, num(r * 4 + 1)?, num(r * 4 + 2)?, num(r * 4 + 3)?);
        if start.checked_add(len).is_none() || dev.checked_add(len).is_none() {
            return Err(JsError::arg("extent overflows"));
        }
        let kind = match kind {
            0 => Kind::Hole,
            1 => Kind::Unwritten,
            2 => Kind::Written(dev),
            _ => return Err(JsError::arg("extent kind must be 0, 1 or 2")),
        };
        extents.push((start, len, kind));
    }
    s.maps.upsert(nodeid, size, flags, &extents);
    a.env.undefined()
}

/// mapInvalidate(handle, nodeid, offset, length): length < 0 forgets the node.
fn map_invalidate(a: &Args) -> JsResult<napi_value> {
    let s = session_of(a, 0)?;
    let nodeid = a.u64(1)?;
    let len = a.i64(3)?;
    let range = if len < 0 { None } else { Some((a.u64(2)?, len as u64)) };
    s.maps.invalidate(nodeid, range);
    a.env.undefined()
}

/// mapTakeWritten(handle, nodeid) -> µs since the epoch of the node's last
/// native overwrite since the previous call, or 0.
fn map_take_written(a: &Args) -> JsResult<napi_value> {
    let s = session_of(a, 0)?;
    a.env.number(s.maps.take_written(a.u64(1)?) as f64)
}

/// setCapabilityAbsent(handle, nodeid, absent): whether GETXATTR of
/// security.capability on the node is answered ENODATA natively.
fn set_capability_absent(a: &Args) -> JsResult<napi_value> {
    let s = session_of(a, 0)?;
    let nodeid = a.u64(1)?;
    let mut set = s.no_caps.write().unwrap_or_else(|e| e.into_inner());
    if a.bool(2)? {
        set.insert(nodeid);
    } else {
        set.remove(&nodeid);
    }
    a.env.undefined()
}

/// mapDump(handle, nodeid) -> undefined | { size, flags, extents: number[] }
fn map_dump(a: &Args) -> JsResult<napi_value> {
    let s = session_of(a, 0)?;
    let env = a.env;
    let (size, flags, extents) = match s.maps.dump(a.u64(1)?) {
        Some(d) => d,
        None => return env.undefined(),
    };
    let o = env.object()?;
    env.set(o, "size", env.number(size as f64)?)?;
    env.set(o, "flags", env.number(flags as f64)?)?;
    let mut flat = Vec::with_capacity(extents.len() * 32);
    for (start, len, kind) in extents {
        let (k, d) = match kind {
            Kind::Hole => (0u64, 0u64),
            Kind::Unwritten => (1, 0),
            Kind::Written(d) => (2, d),
        };
        for v in [start, len, k, d] {
            flat.extend_from_slice(&(v as f64).to_le_bytes());
        }
    }
    env.set(o, "extents", unsafe { js::buffer_from_vec(env, flat)? })?;
    Ok(o)
}

/// stats(handle) -> counters
fn stats(a: &Args) -> JsResult<napi_value> {
    use std::sync::atomic::Ordering::Relaxed;
    let s = session_of(a, 0)?;
    let env = a.env;
    let o = env.object()?;
    let st = &s.stats;
    let (nodes, ranges) = s.maps.counts();
    let fields: [(&str, u64); 15] = [
        ("fastReads", st.fast_reads.load(Relaxed)),
        ("fastReadBytes", st.fast_read_bytes.load(Relaxed)),
        ("fastWrites", st.fast_writes.load(Relaxed)),
        ("fastWriteBytes", st.fast_write_bytes.load(Relaxed)),
        ("forwarded", st.forwarded.load(Relaxed)),
        ("replies", st.replies.load(Relaxed)),
        ("replyErrors", st.reply_errors.load(Relaxed)),
        ("malformed", st.malformed.load(Relaxed)),
        ("fastFallbacks", st.fast_fallbacks.load(Relaxed)),
        ("notifications", st.notifications.load(Relaxed)),
        ("notifyErrors", st.notify_errors.load(Relaxed)),
        ("jsNanos", st.js_nanos.load(Relaxed)),
        ("xattrAnswers", st.xattr_answers.load(Relaxed)),
        ("mappedNodes", nodes),
        ("mappedRanges", ranges),
    ];
    for (k, v) in fields {
        env.set(o, k, env.number(v as f64)?)?;
    }
    env.set(o, "device", env.boolean(s.has_device())?)?;
    Ok(o)
}

/// state(handle) -> { started, running, ended }
fn state(a: &Args) -> JsResult<napi_value> {
    let s = session_of(a, 0)?;
    let (started, running, ended) = s.state();
    let o = a.env.object()?;
    a.env.set(o, "started", a.env.boolean(started)?)?;
    a.env.set(o, "running", a.env.boolean(running)?)?;
    a.env.set(o, "ended", a.env.boolean(ended)?)?;
    Ok(o)
}

/// setRef(handle, keepAlive)
fn set_ref(a: &Args) -> JsResult<napi_value> {
    let s = session_of(a, 0)?;
    s.set_ref(a.env, a.bool(1)?);
    a.env.undefined()
}

/// close(handle) -> closed (false while readers still run)
fn close(a: &Args) -> JsResult<napi_value> {
    let s = session_of(a, 0)?;
    a.env.boolean(s.close())
}

struct UnmountResult(i32, String);

unsafe extern "C" fn call_js_unmount(env: napi_env, func: napi_value, _ctx: *mut c_void, data: *mut c_void) {
    if data.is_null() {
        return;
    }
    let r = Box::from_raw(data as *mut UnmountResult);
    if env.is_null() || func.is_null() {
        return;
    }
    let _ = catch_unwind(AssertUnwindSafe(|| -> JsResult<()> {
        let env = Env(env);
        let args = [env.int(r.0 as i64)?, env.string(&r.1)?];
        js::call_function(env, func, &args);
        Ok(())
    }));
}

/// unmount(target, lazy, useFusermount, done(errno, message)): runs on a
/// helper thread, because unmounting may wait for the server (writeback).
fn unmount(a: &Args) -> JsResult<napi_value> {
    let target = a.string(0)?;
    let lazy = a.bool(1)?;
    let use_fusermount = a.bool(2)?;
    let cb = a.function(3)?;
    let tsfn = Tsfn::new(a.env, cb, "native-fuse unmount", call_js_unmount)?;
    let spawned = std::thread::Builder::new().name("fuse-unmount".into()).spawn(move || {
        let r = catch_unwind(AssertUnwindSafe(|| mount::unmount(&target, lazy, use_fusermount)));
        let res = match r {
            Ok(Ok(())) => UnmountResult(0, String::new()),
            Ok(Err((e, m))) => UnmountResult(e, m),
            Err(p) => UnmountResult(libc::EIO, js::panic_message(&*p)),
        };
        let raw = Box::into_raw(Box::new(res)) as *mut c_void;
        if !tsfn.call(raw) {
            drop(unsafe { Box::from_raw(raw as *mut UnmountResult) });
        }
        tsfn.release();
    });
    if let Err(e) = spawned {
        tsfn.release();
        return Err(JsError::os(e.raw_os_error().unwrap_or(libc::EAGAIN), "spawn unmount thread"));
    }
    a.env.undefined()
}

/// flock(fd, exclusive, nonblock): an advisory whole-file lock.
fn flock(a: &Args) -> JsResult<napi_value> {
    sys::flock(fd_arg(a, 0)?, a.bool(1)?, a.bool(2)?)?;
    a.env.undefined()
}

/// funlock(fd)
fn funlock(a: &Args) -> JsResult<napi_value> {
    sys::funlock(fd_arg(a, 0)?)?;
    a.env.undefined()
}

fn fd_arg(a: &Args, i: usize) -> JsResult<i32> {
    let fd = a.i64(i)?;
    if !(0..=i32::MAX as i64).contains(&fd) {
        return Err(JsError::arg(format!("argument {i} must be a file descriptor")));
    }
    Ok(fd as i32)
}

/// setNoNewPrivs()
fn set_no_new_privs(a: &Args) -> JsResult<napi_value> {
    sys::set_no_new_privs()?;
    a.env.undefined()
}

/// getNoNewPrivs() -> boolean
fn get_no_new_privs(a: &Args) -> JsResult<napi_value> {
    a.env.boolean(sys::get_no_new_privs()?)
}

/// dropCapabilities(all) -> bounding-set entries that could not be dropped
/// (all = false: only the ambient and bounding sets)
fn drop_capabilities(a: &Args) -> JsResult<napi_value> {
    let kept = sys::drop_capabilities(a.bool(0)?)?;
    a.env.int(kept as i64)
}

/// capabilities() -> { effective, permitted } as hex strings (64-bit masks)
fn capabilities(a: &Args) -> JsResult<napi_value> {
    let (eff, perm) = sys::capabilities()?;
    let o = a.env.object()?;
    a.env.set(o, "effective", a.env.string(&format!("{eff:x}"))?)?;
    a.env.set(o, "permitted", a.env.string(&format!("{perm:x}"))?)?;
    Ok(o)
}

macro_rules! exports {
    ($($js:literal => $imp:ident),* $(,)?) => {
        mod trampolines {
            use crate::napi::{napi_callback_info, napi_env, napi_value};
            $(
                pub unsafe extern "C" fn $imp(env: napi_env, info: napi_callback_info) -> napi_value {
                    crate::js::entry(env, info, super::$imp)
                }
            )*
        }
        type Trampoline = unsafe extern "C" fn(napi_env, napi_callback_info) -> napi_value;
        const EXPORTS: &[(&str, Trampoline)] = &[$(($js, trampolines::$imp)),*];
    };
}

exports! {
    "mountKernel" => mount_kernel,
    "mountFusermount" => mount_fusermount,
    "start" => start,
    "reply" => reply,
    "notifyInvalInode" => notify_inval_inode,
    "notifyInvalEntry" => notify_inval_entry,
    "notifyDelete" => notify_delete,
    "setDevice" => set_device,
    "mapUpsert" => map_upsert,
    "mapInvalidate" => map_invalidate,
    "mapDump" => map_dump,
    "mapTakeWritten" => map_take_written,
    "setCapabilityAbsent" => set_capability_absent,
    "stats" => stats,
    "state" => state,
    "setRef" => set_ref,
    "close" => close,
    "unmount" => unmount,
    "flock" => flock,
    "funlock" => funlock,
    "setNoNewPrivs" => set_no_new_privs,
    "getNoNewPrivs" => get_no_new_privs,
    "dropCapabilities" => drop_capabilities,
    "capabilities" => capabilities,
}

/// The module entry point Node looks up when loading the addon.
#[no_mangle]
pub unsafe extern "C" fn napi_register_module_v1(env: napi_env, exports: napi_value) -> napi_value {
    let env = Env(env);
    let done = catch_unwind(AssertUnwindSafe(|| -> JsResult<()> {
        for (name, f) in EXPORTS {
            let v = env.function(name, *f)?;
            env.set(exports, name, v)?;
        }
        Ok(())
    }));
    match done {
        Ok(Ok(())) => {}
        Ok(Err(e)) => env.throw(&e),
        Err(p) => env.throw(&JsError {
            code: "ERR_FUSE_PANIC".into(),
            message: js::panic_message(&*p),
            errno: None,
        }),
    }
    exports
}
