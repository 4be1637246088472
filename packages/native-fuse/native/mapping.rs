//! The per-node mapping cache: the userspace twin of the kernel's iomap. The
//! TS side upserts, for a node, its size and ranges `file offset -> device
//! offset` (written), holes and unwritten ranges; reader threads plan READs
//! and pure overwrites from it. A node's in-flight native I/O is counted so
//! that an invalidation (or a change) waits for it before returning: after
//! `invalidate` returns, no native I/O uses the old mapping.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};

/// Upper bound on the segments one request may touch; past it the request
/// goes to JS (each segment is one system call).
pub const MAX_SEGMENTS: usize = 64;

/// Per-node flag: WRITEs that only overwrite written ranges may be served natively.
pub const NODE_FAST_WRITE: u32 = 1;
/// Per-node flag: native overwrites record their time for the filesystem
/// (`take_written`), which then owns mtime and ctime.
pub const NODE_RECORD_WRITES: u32 = 2;

/// What a cached range of a file is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Sparse: reads as zeros, a write needs allocation (goes to JS).
    Hole,
    /// Allocated but never written: reads as zeros, a write needs conversion.
    Unwritten,
    /// Data at this device offset.
    Written(u64),
}

#[derive(Clone, Copy, Debug)]
struct Extent {
    len: u64,
    kind: Kind,
}

impl Extent {
    /// The part of this extent starting `skip` bytes in, `len` bytes long.
    fn slice(self, skip: u64, len: u64) -> Extent {
        let kind = match self.kind {
            Kind::Written(d) => Kind::Written(d + skip),
            k => k,
        };
        Extent { len, kind }
    }
}

/// One piece of a planned I/O: zeros, or a device range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Segment {
    Zero(u64),
    Device { offset: u64, len: u64 },
}

struct NodeState {
    size: u64,
    flags: u32,
    extents: BTreeMap<u64, Extent>,
    inflight: u32,
    /// Changers waiting for `inflight` to drain: new native I/O is refused
    /// (forwarded to JS) meanwhile so that they cannot be starved.
    waiters: u32,
}

pub struct NodeMap {
    state: Mutex<NodeState>,
    /// With NODE_RECORD_WRITES: when native overwrites last changed the
    /// node's data (µs since the epoch, 0: none since JS last asked); the
    /// filesystem owes the file that mtime and ctime. Survives invalidation
    /// until taken. Atomic, so a native write records it without the lock.
    written_us: AtomicU64,
    idle: Condvar,
}

/// Holds one unit of in-flight I/O on a node; dropping it (also on unwind)
/// wakes waiting invalidations.
pub struct InFlight(Arc<NodeMap>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut st = lock(&self.0.state);
        st.inflight -= 1;
        if st.inflight == 0 {
            self.0.idle.notify_all();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave NodeState half-updated in a
    // way later readers misinterpret (every update is a single map operation),
    // so recover from poisoning instead of cascading panics.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Default)]
pub struct MapCache {
    nodes: RwLock<HashMap<u64, Arc<NodeMap>>>,
}

/// A planned READ: segments in file order, covering `len` bytes from the
/// requested offset (already cut at the node's size).
pub struct ReadPlan {
    pub segments: Vec<Segment>,
    pub len: u64,
    /// Held until the device I/O is done; dropping it lets invalidations proceed.
    pub _guard: InFlight,
}

/// A planned overwrite: device ranges in file order covering the whole write.
pub struct WritePlan {
    pub segments: Vec<Segment>,
    /// Held until the device I/O is done; dropping it lets invalidations proceed.
    pub _guard: InFlight,
    /// The node asked for its native writes to be recorded (NODE_RECORD_WRITES).
    record: bool,
}

impl WritePlan {
    /// Records that the write reached the device (before it is answered, so
    /// the GETATTR that follows the reply finds it).
    pub fn mark_written(&self) {
        if !self.record {
            return;
        }
        let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut t) };
        let us = (t.tv_sec.max(0) as u64) * 1_000_000 + (t.tv_nsec as u64) / 1000;
        self._guard.0.written_us.store(us.max(1), Ordering::Relaxed);
    }
}

fn aligned(v: u64, align: u64) -> bool {
    align == 0 || v % align == 0
}

impl MapCache {
    fn node(&self, nodeid: u64) -> Option<Arc<NodeMap>> {
        self.nodes.read().unwrap_or_else(|e| e.into_inner()).get(&nodeid).cloned()
    }

    /// Plans a READ of `len` bytes at `offset`, or None when any part of it is
    /// not cached (then JS serves it). With `align` > 0 (an O_DIRECT device),
    /// every device range must start aligned at an aligned buffer position.
    pub fn plan_read(&self, nodeid: u64, offset: u64, len: u64, align: u64) -> Option<ReadPlan> {
        let node = self.node(nodeid)?;
        let mut st = lock(&node.state);
        if st.waiters > 0 {
            return None;
        }
        let end = offset.saturating_add(len).min(st.size);
        let mut segments = Vec::new();
        let mut pos = offset;
        while pos < end {
            let (&start, &ext) = st.extents.range(..=pos).next_back()?;
            let ext_end = start + ext.len;
            if ext_end <= pos {
                return None;
            }
            let take = ext_end.min(end) - pos;
            let seg = match ext.kind {
                Kind::Written(d) => Segment::Device { offset: d + (pos - start), len: take },
                Kind::Hole | Kind::Unwritten => Segment::Zero(take),
            };
            push_merged(&mut segments, seg);
            if segments.len() > MAX_SEGMENTS {
                return None;
            }
            pos += take;
        }
        if align > 0 && !read_alignment_ok(&segments, align) {
            return None;
        }
        st.inflight += 1;
        drop(st);
        Some(ReadPlan { segments, len: end.saturating_sub(offset), _guard: InFlight(node) })
    }

    /// Plans an overwrite of `len` bytes at `offset`: only when the node allows
    /// fast writes, the range lies within its size, and all of it is written
    /// (mapped to the device). Anything else needs the filesystem (JS).
    pub fn plan_write(&self, nodeid: u64, offset: u64, len: u64, align: u64) -> Option<WritePlan> {
        let node = self.node(nodeid)?;
        let mut st = lock(&node.state);
        if st.waiters > 0 || st.flags & NODE_FAST_WRITE == 0 {
            return None;
        }
        let end = offset.checked_add(len)?;
        if end > st.size || len == 0 {
            return None;
        }
        let mut segments = Vec::new();
        let mut pos = offset;
        while pos < end {
            let (&start, &ext) = st.extents.range(..=pos).next_back()?;
            let ext_end = start + ext.len;
            if ext_end <= pos {
                return None;
            }
            let d = match ext.kind {
                Kind::Written(d) => d,
                _ => return None,
            };
            let take = ext_end.min(end) - pos;
            push_merged(&mut segments, Segment::Device { offset: d + (pos - start), len: take });
            if segments.len() > MAX_SEGMENTS {
                return None;
            }
            pos += take;
        }
        if align > 0 {
            for s in &segments {
                if let Segment::Device { offset, len } = *s {
                    if !aligned(offset, align) || !aligned(len, align) {
                        return None;
                    }
                }
            }
        }
        st.inflight += 1;
        let record = st.flags & NODE_RECORD_WRITES != 0;
        drop(st);
        Some(WritePlan { segments, _guard: InFlight(node), record })
    }

    /// Sets a node's size and flags and replaces the cached ranges under each
    /// new extent. Waits for the node's in-flight native I/O first, so no
    /// I/O planned from the old ranges is still running when it returns.
    pub fn upsert(&self, nodeid: u64, size: u64, flags: u32, extents: &[(u64, u64, Kind)]) {
        let node = {
            let mut nodes = self.nodes.write().unwrap_or_else(|e| e.into_inner());
            nodes
                .entry(nodeid)
                .or_insert_with(|| {
                    Arc::new(NodeMap {
                        state: Mutex::new(NodeState {
                            size: 0,
                            flags: 0,
                            extents: BTreeMap::new(),
                            inflight: 0,
                            waiters: 0,
                        }),
                        written_us: AtomicU64::new(0),
                        idle: Condvar::new(),
                    })
                })
                .clone()
        };
        let mut st = wait_idle(&node, lock(&node.state));
        st.size = size;
        st.flags = flags;
        for &(start, len, kind) in extents {
            if len == 0 {
                continue;
            }
            let end = start.saturating_add(len);
            punch(&mut st.extents, start, end);
            st.extents.insert(start, Extent { len: end - start, kind });
        }
    }

    /// Forgets a node's ranges overlapping `[start, start+len)`, or the whole
    /// node (ranges and size) when `len` is None, then waits for its in-flight
    /// native I/O. After it returns every READ/WRITE of the range goes to JS.
    pub fn invalidate(&self, nodeid: u64, range: Option<(u64, u64)>) {
        let node = match self.node(nodeid) {
            Some(n) => n,
            None => return,
        };
        let mut st = wait_idle(&node, lock(&node.state));
        match range {
            Some((start, len)) => punch(&mut st.extents, start, start.saturating_add(len)),
            None => {
                st.extents.clear();
                st.size = 0;
                st.flags = 0;
                if node.written_us.load(Ordering::Relaxed) != 0 {
                    // Kept (empty) until JS takes the time of its last overwrite.
                    return;
                }
                drop(st);
                let mut nodes = self.nodes.write().unwrap_or_else(|e| e.into_inner());
                // Remove only if nobody re-created it meanwhile.
                if nodes.get(&nodeid).map_or(false, |n| Arc::ptr_eq(n, &node)) {
                    nodes.remove(&nodeid);
                }
            }
        }
    }

    /// Returns and clears when native overwrites last changed the node's data
    /// (µs since the epoch; 0 when not since the last call).
    pub fn take_written(&self, nodeid: u64) -> u64 {
        let node = match self.node(nodeid) {
            Some(n) => n,
            None => return 0,
        };
        let us = node.written_us.swap(0, Ordering::Relaxed);
        if us != 0 {
            // A node invalidate(None) kept only for this stamp goes now (unless
            // it was published again meanwhile).
            let mut nodes = self.nodes.write().unwrap_or_else(|e| e.into_inner());
            let withdrawn = {
                let st = lock(&node.state);
                st.flags == 0 && st.extents.is_empty() && st.inflight == 0
            };
            if withdrawn
                && node.written_us.load(Ordering::Relaxed) == 0
                && nodes.get(&nodeid).map_or(false, |n| Arc::ptr_eq(n, &node))
            {
                nodes.remove(&nodeid);
            }
        }
        us
    }


    /// Drops every node (device change): waits for all in-flight I/O.
    pub fn clear(&self) {
        let all: Vec<Arc<NodeMap>> = {
            let mut nodes = self.nodes.write().unwrap_or_else(|e| e.into_inner());
            nodes.drain().map(|(_, n)| n).collect()
        };
        for node in all {
            let mut st = wait_idle(&node, lock(&node.state));
            st.extents.clear();
            st.size = 0;
            st.flags = 0;
        }
    }

    /// (nodes, ranges) currently cached, for statistics.
    pub fn counts(&self) -> (u64, u64) {
        let nodes = self.nodes.read().unwrap_or_else(|e| e.into_inner());
        let ranges = nodes.values().map(|n| lock(&n.state).extents.len() as u64).sum();
        (nodes.len() as u64, ranges)
    }

    /// The cached ranges of a node as (start, len, kind), for tests and debugging.
    pub fn dump(&self, nodeid: u64) -> Option<(u64, u32, Vec<(u64, u64, Kind)>)> {
        let node = self.node(nodeid)?;
        let st = lock(&node.state);
        Some((st.size, st.flags, st.extents.iter().map(|(&s, e)| (s, e.len, e.kind)).collect()))
    }
}

fn wait_idle<'a>(
    node: &'a NodeMap,
    mut st: std::sync::MutexGuard<'a, NodeState>,
) -> std::sync::MutexGuard<'a, NodeState> {
    st.waiters += 1;
    while st.inflight > 0 {
        st = node.idle.wait(st).unwrap_or_else(|e| e.into_inner());
    }
    st.waiters -= 1;
    st
}

fn push_merged(segments: &mut Vec<Segment>, seg: Segment) {
    match (segments.last_mut(), seg) {
        (Some(Segment::Zero(a)), Segment::Zero(b)) => *a += b,
        (
            Some(Segment::Device { offset: o1, len: l1 }),
            Segment::Device { offset: o2, len: l2 },
        ) if *o1 + *l1 == o2 => *l1 += l2,
        _ => segments.push(seg),
    }
}

/// O_DIRECT reads need aligned device offsets, lengths and buffer positions;
/// only the last device segment may have an unaligned length (it is read
/// rounded up into the buffer's slack).
fn read_alignment_ok(segments: &[Segment], align: u64) -> bool {
    let mut pos = 0u64;
    let last = segments.len().saturating_sub(1);
    for (i, s) in segments.iter().enumerate() {
        match *s {
            Segment::Zero(len) => pos += len,
            Segment::Device { offset, len } => {
                if !aligned(pos, align) || !aligned(offset, align) {
                    return false;
                }
                if i != last && !aligned(len, align) {
                    return false;
                }
                pos += len;
            }
        }
    }
    true
}

/// Removes `[start, end)` from the map, trimming or splitting extents that
/// straddle its edges.
fn punch(map: &mut BTreeMap<u64, Extent>, start: u64, end: u64) {
    if start >= end {
        return;
    }
    let mut hit: Vec<u64> = Vec::new();
    if let Some((&k, e)) = map.range(..start).next_back() {
        if k + e.len > start {
            hit.push(k);
        }
    }
    hit.extend(map.range(start..end).map(|(&k, _)| k));
    for k in hit {
        let e = match map.remove(&k) {
            Some(e) => e,
            None => continue,
        };
        let e_end = k + e.len;
        if k < start {
            map.insert(k, e.slice(0, start - k));
        }
        if e_end > end {
            map.insert(end, e.slice(end - k, e_end - end));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn punch_splits_and_plans() {
        let c = MapCache::default();
        c.upsert(5, 100, NODE_FAST_WRITE, &[(0, 100, Kind::Written(1000))]);
        c.upsert(5, 100, NODE_FAST_WRITE, &[(10, 10, Kind::Unwritten)]);
        let p = c.plan_read(5, 0, 50, 0).unwrap();
        assert_eq!(
            p.segments,
            vec![
                Segment::Device { offset: 1000, len: 10 },
                Segment::Zero(10),
                Segment::Device { offset: 1020, len: 30 }
            ]
        );
        drop(p);
        assert!(c.plan_write(5, 5, 10, 0).is_none());
        assert!(c.plan_write(5, 20, 80, 0).is_some());
        assert!(c.plan_write(5, 20, 81, 0).is_none());
        c.invalidate(5, Some((40, 10)));
        assert!(c.plan_read(5, 30, 20, 0).is_none());
        assert_eq!(c.plan_read(5, 90, 50, 0).unwrap().len, 10);
        c.invalidate(5, None);
        assert!(c.plan_read(5, 0, 1, 0).is_none());
    }
}
