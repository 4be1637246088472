//! Getting a /dev/fuse connection onto a mountpoint and taking it off again:
//! mount(2)/umount2(2) when privileged, the setuid `fusermount3` helper
//! (fd passed back over a socketpair with SCM_RIGHTS) otherwise. Option
//! strings are composed by the TS side; this file only does the system calls.

use crate::js::{last_errno, JsError, JsResult};
use std::ffi::CString;
use std::io::Read;
use std::os::unix::io::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

fn cstr(s: &str, what: &str) -> JsResult<CString> {
    CString::new(s).map_err(|_| JsError::arg(format!("{what} contains a NUL byte")))
}

/// Opens /dev/fuse close-on-exec, so that processes we spawn never hold the
/// connection open (a killed server must abort its mount).
pub fn open_dev() -> JsResult<OwnedFd> {
    let path = b"/dev/fuse\0";
    let fd = unsafe {
        libc::open(path.as_ptr() as *const libc::c_char, libc::O_RDWR | libc::O_CLOEXEC)
    };
    if fd < 0 {
        return Err(JsError::os(last_errno(), "open /dev/fuse"));
    }
    // OK: `fd` was just returned by open and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Mounts a new FUSE connection with mount(2) (needs CAP_SYS_ADMIN). `options`
/// are the fuse/VFS options (fsname is the source, not an option here); the
/// connection options fd, rootmode, user_id and group_id are added here.
/// `extra`: 1 keeps set-id bits, 2 keeps device nodes, 4 forbids exec.
pub fn mount_kernel(
    target: &str,
    source: &str,
    fstype: &str,
    read_only: bool,
    options: &str,
    extra: u32,
) -> JsResult<OwnedFd> {
    let c_target = cstr(target, "mountpoint")?;
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::stat(c_target.as_ptr(), &mut st) } != 0 {
        return Err(JsError::os(last_errno(), &format!("mountpoint {target}")));
    }
    if st.st_mode & libc::S_IFMT != libc::S_IFDIR && st.st_mode & libc::S_IFMT != libc::S_IFREG {
        return Err(JsError::os(libc::ENOTDIR, &format!("mountpoint {target}")));
    }
    let dev = open_dev()?;
    let mut data = format!(
        "fd={},rootmode={:o},user_id={},group_id={}",
        dev.as_raw_fd(),
        st.st_mode & libc::S_IFMT,
        unsafe { libc::getuid() },
        unsafe { libc::getgid() }
    );
    if !options.is_empty() {
        data.push(',');
        data.push_str(options);
    }
    let c_source = cstr(source, "fsname")?;
    let c_type = cstr(fstype, "filesystem type")?;
    let c_data = cstr(&data, "mount options")?;
    // Set-id bits and device nodes are honoured only when asked for
    // (`extra` bits 1 and 2), as libfuse mounts; bit 4 adds MS_NOEXEC.
    let mut flags = 0;
    if extra & 1 == 0 {
        flags |= libc::MS_NOSUID;
    }
    if extra & 2 == 0 {
        flags |= libc::MS_NODEV;
    }
    if extra & 4 != 0 {
        flags |= libc::MS_NOEXEC;
    }
    if read_only {
        flags |= libc::MS_RDONLY;
    }
    let rc = unsafe {
        libc::mount(
            c_source.as_ptr(),
            c_target.as_ptr(),
            c_type.as_ptr(),
            flags,
            c_data.as_ptr() as *const libc::c_void,
        )
    };
    if rc != 0 {
        return Err(JsError::os(last_errno(), &format!("mount {fstype} on {target}")));
    }
    Ok(dev)
}

/// Mounts through `fusermount3 -o OPTIONS -- TARGET`, which opens /dev/fuse,
/// mounts, and sends the fd back on the socket named by `_FUSE_COMMFD`.
pub fn mount_fusermount(target: &str, options: &str) -> JsResult<OwnedFd> {
    let mut sv = [0 as RawFd; 2];
    let rc = unsafe {
        libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0, sv.as_mut_ptr())
    };
    if rc != 0 {
        return Err(JsError::os(last_errno(), "socketpair"));
    }
    // OK: both ends were just created and are owned here.
    let ours = unsafe { OwnedFd::from_raw_fd(sv[0]) };
    let theirs = unsafe { OwnedFd::from_raw_fd(sv[1]) };
    let child_fd = theirs.as_raw_fd();
    let mut cmd = Command::new("fusermount3");
    cmd.arg("-o").arg(options).arg("--").arg(target);
    cmd.env("_FUSE_COMMFD", child_fd.to_string());
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
    // The child's end must survive exec; only in the child, after fork.
    unsafe {
        cmd.pre_exec(move || {
            if libc::fcntl(child_fd, libc::F_SETFD, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().map_err(|e| {
        JsError::os(e.raw_os_error().unwrap_or(libc::ENOENT), "spawn fusermount3")
    })?;
    // Close our copy of the child's end: recvmsg then sees EOF if fusermount3
    // exits without sending, instead of blocking forever.
    drop(theirs);
    let received = recv_fd(ours.as_raw_fd());
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    let status = child.wait().map_err(|e| JsError::os(e.raw_os_error().unwrap_or(libc::EIO), "wait fusermount3"))?;
    match received {
        Some(fd) if status.success() => Ok(fd),
        Some(_) | None => {
            let msg = stderr.trim();
            let errno = if msg.contains("ermission denied") || msg.contains("not permitted") {
                libc::EPERM
            } else if msg.contains("No such file") {
                libc::ENOENT
            } else if msg.contains("busy") {
                libc::EBUSY
            } else {
                libc::EIO
            };
            let mut err = JsError::os(errno, &format!("fusermount3 mount on {target}"));
            if !msg.is_empty() {
                err.message = format!("{}: {msg}", err.message);
            }
            Err(err)
        }
    }
}

/// Receives one fd sent with SCM_RIGHTS, or None on EOF / no fd.
fn recv_fd(sock: RawFd) -> Option<OwnedFd> {
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec { iov_base: byte.as_mut_ptr() as *mut libc::c_void, iov_len: 1 };
    let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) } as usize;
    let mut control = vec![0u8; space];
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr() as *mut libc::c_void;
    msg.msg_controllen = space;
    loop {
        let n = unsafe { libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC) };
        if n < 0 && last_errno() == libc::EINTR {
            continue;
        }
        if n <= 0 {
            return None;
        }
        break;
    }
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        if cmsg.is_null()
            || (*cmsg).cmsg_level != libc::SOL_SOCKET
            || (*cmsg).cmsg_type != libc::SCM_RIGHTS
        {
            return None;
        }
        let fd = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg) as *const RawFd);
        if fd < 0 {
            return None;
        }
        Some(OwnedFd::from_raw_fd(fd))
    }
}

/// Unmounts `target`: umount2(2) (MNT_DETACH when `lazy`) or
/// `fusermount3 -u [-z]`. Blocking: called on a helper thread, never on the
/// JS thread (unmounting may wait for writeback the JS thread serves).
pub fn unmount(target: &str, lazy: bool, use_fusermount: bool) -> Result<(), (i32, String)> {
    if use_fusermount {
        let mut cmd = Command::new("fusermount3");
        cmd.arg("-u");
        if lazy {
            cmd.arg("-z");
        }
        cmd.arg("--").arg(target);
        let out = cmd
            .stdin(Stdio::null())
            .output()
            .map_err(|e| (e.raw_os_error().unwrap_or(libc::ENOENT), format!("spawn fusermount3: {e}")))?;
        if out.status.success() {
            return Ok(());
        }
        let msg = String::from_utf8_lossy(&out.stderr).trim().to_string();
        let errno = if msg.contains("not found") || msg.contains("not mounted") {
            libc::EINVAL
        } else if msg.contains("busy") {
            libc::EBUSY
        } else if msg.contains("ermission") {
            libc::EPERM
        } else {
            libc::EIO
        };
        return Err((errno, format!("fusermount3 -u {target}: {msg}")));
    }
    let c_target = CString::new(target).map_err(|_| (libc::EINVAL, "mountpoint contains NUL".to_string()))?;
    let flags = if lazy { libc::MNT_DETACH } else { 0 };
    if unsafe { libc::umount2(c_target.as_ptr(), flags) } != 0 {
        let e = last_errno();
        return Err((e, format!("umount2 {target}: {}", crate::js::strerror(e))));
    }
    Ok(())
}
