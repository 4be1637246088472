//! Small process-level system calls a FUSE server needs around its session
//! and that Node does not offer: advisory whole-file locks (flock(2)) on a
//! descriptor it owns, and the last steps of dropping privileges
//! (PR_SET_NO_NEW_PRIVS and clearing every capability set). Nothing here
//! knows about FUSE sessions or filesystems.

use crate::js::{last_errno, JsError, JsResult};

/// `flock(fd, LOCK_EX|LOCK_SH [|LOCK_NB])`, retried on EINTR. A lock already
/// held elsewhere fails with EWOULDBLOCK when `nonblock`.
pub fn flock(fd: i32, exclusive: bool, nonblock: bool) -> JsResult<()> {
    let mut op = if exclusive { libc::LOCK_EX } else { libc::LOCK_SH };
    if nonblock {
        op |= libc::LOCK_NB;
    }
    loop {
        if unsafe { libc::flock(fd, op) } == 0 {
            return Ok(());
        }
        let e = last_errno();
        if e != libc::EINTR {
            return Err(JsError::os(e, "flock"));
        }
    }
}

/// `flock(fd, LOCK_UN)`.
pub fn funlock(fd: i32) -> JsResult<()> {
    if unsafe { libc::flock(fd, libc::LOCK_UN) } != 0 {
        return Err(JsError::os(last_errno(), "flock(LOCK_UN)"));
    }
    Ok(())
}

/// prctl(PR_SET_NO_NEW_PRIVS, 1): execve can no longer grant privileges
/// (setuid bits, file capabilities). Irreversible. Applies to the calling
/// thread and every thread and child it creates afterwards.
pub fn set_no_new_privs() -> JsResult<()> {
    let rc = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1 as libc::c_ulong, 0 as libc::c_ulong, 0 as libc::c_ulong, 0 as libc::c_ulong) };
    if rc != 0 {
        return Err(JsError::os(last_errno(), "prctl(PR_SET_NO_NEW_PRIVS)"));
    }
    Ok(())
}

/// prctl(PR_GET_NO_NEW_PRIVS).
pub fn get_no_new_privs() -> JsResult<bool> {
    let rc = unsafe { libc::prctl(libc::PR_GET_NO_NEW_PRIVS, 0 as libc::c_ulong, 0 as libc::c_ulong, 0 as libc::c_ulong, 0 as libc::c_ulong) };
    if rc < 0 {
        return Err(JsError::os(last_errno(), "prctl(PR_GET_NO_NEW_PRIVS)"));
    }
    Ok(rc == 1)
}

/// `struct __user_cap_header_struct` (linux/capability.h).
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

/// `struct __user_cap_data_struct`; version 3 takes two of them (64 bits).
#[repr(C)]
#[derive(Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// `_LINUX_CAPABILITY_VERSION_3`.
const CAP_V3: u32 = 0x2008_0522;
const PR_CAP_AMBIENT: libc::c_int = 47;
const PR_CAP_AMBIENT_CLEAR_ALL: libc::c_ulong = 4;
const PR_CAPBSET_DROP: libc::c_int = 24;

/// Highest capability number this kernel knows (/proc/sys/kernel/cap_last_cap),
/// or 63 when it cannot be read (dropping unknown numbers fails with EINVAL,
/// which is ignored).
fn cap_last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .filter(|&n| n < 64)
        .unwrap_or(63)
}

/// Empties the calling thread's ambient and bounding sets (the bounding set
/// only while CAP_SETPCAP is held, so before giving up the uid). With
/// `all`, the effective, permitted and inheritable sets are then zeroed
/// with capset(2) too. Returns how many bounding-set entries could not be
/// dropped (0 when privileged).
pub fn drop_capabilities(all: bool) -> JsResult<u32> {
    unsafe {
        // Ambient capabilities exist since 4.3; EINVAL on older kernels is harmless.
        libc::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0 as libc::c_ulong, 0 as libc::c_ulong, 0 as libc::c_ulong);
    }
    let mut kept = 0;
    for cap in 0..=cap_last_cap() {
        let rc = unsafe { libc::prctl(PR_CAPBSET_DROP, cap as libc::c_ulong, 0 as libc::c_ulong, 0 as libc::c_ulong, 0 as libc::c_ulong) };
        if rc != 0 && last_errno() != libc::EINVAL {
            kept += 1;
        }
    }
    if !all {
        return Ok(kept);
    }
    let mut header = CapHeader { version: CAP_V3, pid: 0 };
    let data = [CapData { effective: 0, permitted: 0, inheritable: 0 }; 2];
    let rc = unsafe { libc::syscall(libc::SYS_capset, &mut header as *mut CapHeader, data.as_ptr()) };
    if rc != 0 {
        return Err(JsError::os(last_errno(), "capset"));
    }
    Ok(kept)
}

/// The calling thread's effective and permitted capability sets as 64-bit
/// masks (hi, lo words), from capget(2).
pub fn capabilities() -> JsResult<(u64, u64)> {
    let mut header = CapHeader { version: CAP_V3, pid: 0 };
    let mut data = [CapData { effective: 0, permitted: 0, inheritable: 0 }; 2];
    let rc = unsafe { libc::syscall(libc::SYS_capget, &mut header as *mut CapHeader, data.as_mut_ptr()) };
    if rc != 0 {
        return Err(JsError::os(last_errno(), "capget"));
    }
    let eff = (data[1].effective as u64) << 32 | data[0].effective as u64;
    let perm = (data[1].permitted as u64) << 32 | data[0].permitted as u64;
    Ok((eff, perm))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::io::AsRawFd;

    #[test]
    fn flock_excludes_a_second_open_file_description() {
        let path = std::env::temp_dir().join(format!("nf-flock-{}", std::process::id()));
        let a = std::fs::File::create(&path).unwrap();
        let b = std::fs::File::open(&path).unwrap();
        flock(a.as_raw_fd(), true, true).unwrap();
        let err = flock(b.as_raw_fd(), true, true).unwrap_err();
        assert_eq!(err.errno, Some(libc::EWOULDBLOCK));
        funlock(a.as_raw_fd()).unwrap();
        flock(b.as_raw_fd(), true, true).unwrap();
        drop((a, b));
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn flock_reports_a_bad_descriptor() {
        assert_eq!(flock(-1, true, true).unwrap_err().errno, Some(libc::EBADF));
    }

    #[test]
    fn capget_reads_the_current_sets() {
        // Only checks that the call works; the sets depend on who runs the tests.
        capabilities().unwrap();
        get_no_new_privs().unwrap();
    }
}
