//! The few parts of the kernel FUSE ABI (include/uapi/linux/fuse.h, protocol
//! 7.45) the native side reads or writes itself: headers, READ/WRITE
//! arguments for the fast path, notifications, and the device ioctl. Every
//! other structure is decoded and encoded in TypeScript (src/protocol.ts).

/// `struct fuse_in_header`: len u32, opcode u32, unique u64, nodeid u64,
/// uid u32, gid u32, pid u32, total_extlen u16, padding u16 (READ/WRITE
/// never carry extensions, so the native side ignores total_extlen).
pub const IN_HEADER_SIZE: usize = 40;
/// `struct fuse_out_header`: len u32, error i32, unique u64.
pub const OUT_HEADER_SIZE: usize = 16;

/// `struct fuse_read_in` / `struct fuse_write_in` (both 40 bytes since 7.9).
pub const READ_IN_SIZE: usize = 40;
pub const WRITE_IN_SIZE: usize = 40;
/// fuse_getxattr_in: size, padding.
pub const GETXATTR_IN_SIZE: usize = 8;
/// `struct fuse_write_out`: size u32, padding u32.
pub const WRITE_OUT_SIZE: usize = 8;

pub const FUSE_FORGET: u32 = 2;
pub const FUSE_READ: u32 = 15;
pub const FUSE_WRITE: u32 = 16;
pub const FUSE_GETXATTR: u32 = 22;
pub const FUSE_INTERRUPT: u32 = 36;
pub const FUSE_NOTIFY_REPLY: u32 = 41;
pub const FUSE_BATCH_FORGET: u32 = 42;

/// `fuse_write_in.write_flags`: the server must clear suid/sgid
/// (FUSE_HANDLE_KILLPRIV_V2), which only the filesystem code can do.
pub const FUSE_WRITE_KILL_SUIDGID: u32 = 1 << 2;

/// `enum fuse_notify_code` values sent in `fuse_out_header.error` with unique 0.
pub const FUSE_NOTIFY_INVAL_INODE: i32 = 2;
pub const FUSE_NOTIFY_INVAL_ENTRY: i32 = 3;
pub const FUSE_NOTIFY_DELETE: i32 = 6;

/// `FUSE_DEV_IOC_CLONE = _IOR(229, 0, uint32_t)`: binds a new /dev/fuse file
/// to an existing connection so each reader has its own request queue.
pub const FUSE_DEV_IOC_CLONE: libc::c_ulong = 0x8004_e500;

/// Opcodes the kernel sends without expecting a reply.
pub fn no_reply(opcode: u32) -> bool {
    matches!(opcode, FUSE_FORGET | FUSE_BATCH_FORGET | FUSE_INTERRUPT | FUSE_NOTIFY_REPLY)
}

pub fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

pub fn u64_at(b: &[u8], off: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[off..off + 8]);
    u64::from_le_bytes(a)
}

/// The fields of `fuse_in_header` the native side uses.
#[derive(Clone, Copy, Debug)]
pub struct InHeader {
    pub len: u32,
    pub opcode: u32,
    pub unique: u64,
    pub nodeid: u64,
}

impl InHeader {
    /// Reads the header; the caller has checked `b.len() >= IN_HEADER_SIZE`.
    pub fn parse(b: &[u8]) -> InHeader {
        InHeader {
            len: u32_at(b, 0),
            opcode: u32_at(b, 4),
            unique: u64_at(b, 8),
            nodeid: u64_at(b, 16),
        }
    }
}

/// Encodes `fuse_out_header` for a reply of `payload_len` bytes.
pub fn out_header(unique: u64, error: i32, payload_len: usize) -> [u8; OUT_HEADER_SIZE] {
    let mut h = [0u8; OUT_HEADER_SIZE];
    h[0..4].copy_from_slice(&((OUT_HEADER_SIZE + payload_len) as u32).to_le_bytes());
    h[4..8].copy_from_slice(&error.to_le_bytes());
    h[8..16].copy_from_slice(&unique.to_le_bytes());
    h
}

/// `struct fuse_notify_inval_inode_out`: ino u64, off i64, len i64.
pub fn notify_inval_inode(ino: u64, off: i64, len: i64) -> Vec<u8> {
    let mut v = Vec::with_capacity(OUT_HEADER_SIZE + 24);
    v.extend_from_slice(&out_header(0, FUSE_NOTIFY_INVAL_INODE, 24));
    v.extend_from_slice(&ino.to_le_bytes());
    v.extend_from_slice(&off.to_le_bytes());
    v.extend_from_slice(&len.to_le_bytes());
    v
}

/// `struct fuse_notify_inval_entry_out` (parent u64, namelen u32, flags u32)
/// followed by the name and its NUL, which the kernel requires.
pub fn notify_inval_entry(parent: u64, name: &[u8], flags: u32) -> Vec<u8> {
    let payload = 16 + name.len() + 1;
    let mut v = Vec::with_capacity(OUT_HEADER_SIZE + payload);
    v.extend_from_slice(&out_header(0, FUSE_NOTIFY_INVAL_ENTRY, payload));
    v.extend_from_slice(&parent.to_le_bytes());
    v.extend_from_slice(&(name.len() as u32).to_le_bytes());
    v.extend_from_slice(&flags.to_le_bytes());
    v.extend_from_slice(name);
    v.push(0);
    v
}

/// `struct fuse_notify_delete_out` (parent u64, child u64, namelen u32,
/// padding u32) followed by the name and its NUL.
pub fn notify_delete(parent: u64, child: u64, name: &[u8]) -> Vec<u8> {
    let payload = 24 + name.len() + 1;
    let mut v = Vec::with_capacity(OUT_HEADER_SIZE + payload);
    v.extend_from_slice(&out_header(0, FUSE_NOTIFY_DELETE, payload));
    v.extend_from_slice(&parent.to_le_bytes());
    v.extend_from_slice(&child.to_le_bytes());
    v.extend_from_slice(&(name.len() as u32).to_le_bytes());
    v.extend_from_slice(&0u32.to_le_bytes());
    v.extend_from_slice(name);
    v.push(0);
    v
}
