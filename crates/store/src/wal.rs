//! On-disk format: an append-only log in numbered segments plus an atomic snapshot.
//!
//! Every record is framed as `len: u32 LE | crc32(payload): u32 LE | payload`. A payload
//! is `op: u8 | rv: u64 | resource | namespace | name | uid | labels | fields | json`,
//! strings and byte strings being `u32 LE length | bytes`, maps `u32 LE count | pairs`.
//!
//! Files in the data directory:
//! * `wal-<seq>.log` — log segments, replayed in `seq` order;
//! * `snapshot.bin` — `MAGIC`, a header frame (rv, object count), one PUT frame per
//!   object, an end frame. Written to `snapshot.bin.tmp`, fsynced, then renamed, so it is
//!   always complete; segments older than the one started with it are then deleted.
//!
//! Recovery replays records with rv above the snapshot's; a torn or corrupt record ends
//! the log there: the segment is truncated to its last good record and later segments are
//! set aside, each with a warning in the [`RecoveryReport`].

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;

use bytes::Bytes;

use crate::object::intern;
use crate::state::Change;
use crate::{ObjectKey, RecoveryReport, Rv, StoreError, StoreState, StoredObject};

pub(crate) const OP_PUT: u8 = 1;
pub(crate) const OP_DELETE: u8 = 2;
const OP_SNAP_HEADER: u8 = 3;
const OP_SNAP_END: u8 = 4;

const FRAME_HEADER: usize = 8;
/// Larger lengths can only come from a corrupt header.
const MAX_RECORD: usize = 1 << 30;

const SNAPSHOT: &str = "snapshot.bin";
const SNAPSHOT_TMP: &str = "snapshot.bin.tmp";
const MAGIC: &[u8; 8] = b"KMSNAP01";

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    // Lengths above u32::MAX cannot be stored; objects never come close (etcd caps at 1.5 MiB).
    out.extend_from_slice(&u32::try_from(b.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(b);
}

fn put_count(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes());
}

/// Appends one framed record to `out`.
pub(crate) fn encode_record(out: &mut Vec<u8>, op: u8, resource: &str, o: &StoredObject) {
    let mut p = Vec::with_capacity(o.json.len() + 128);
    p.push(op);
    p.extend_from_slice(&o.rv.to_le_bytes());
    put_bytes(&mut p, resource.as_bytes());
    put_bytes(&mut p, o.key.namespace.as_bytes());
    put_bytes(&mut p, o.key.name.as_bytes());
    put_bytes(&mut p, o.uid.as_bytes());
    put_count(&mut p, o.labels.len());
    for (k, v) in &o.labels {
        put_bytes(&mut p, k.as_bytes());
        put_bytes(&mut p, v.as_bytes());
    }
    put_count(&mut p, o.fields.len());
    for (k, v) in &o.fields {
        put_bytes(&mut p, k.as_bytes());
        put_bytes(&mut p, v.as_bytes());
    }
    put_bytes(&mut p, &o.json);
    frame(out, &p);
}

fn frame(out: &mut Vec<u8>, payload: &[u8]) {
    put_count(out, payload.len());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
}

/// One decoded log record.
#[derive(Debug)]
pub(crate) struct Record {
    pub op: u8,
    pub resource: String,
    pub object: Arc<StoredObject>,
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.buf.len())
            .ok_or_else(|| format!("payload ends early at {} (+{n})", self.pos))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64, String> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
    fn bytes(&mut self) -> Result<&'a [u8], String> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    fn string(&mut self) -> Result<String, String> {
        let b = self.bytes()?;
        String::from_utf8(b.to_vec()).map_err(|_| "string is not UTF-8".to_owned())
    }
    fn done(&self) -> Result<(), String> {
        if self.pos == self.buf.len() {
            Ok(())
        } else {
            Err(format!(
                "{} unexpected trailing payload bytes",
                self.buf.len() - self.pos
            ))
        }
    }
}

/// Decodes a PUT or DELETE payload.
pub(crate) fn decode_record(payload: &[u8]) -> Result<Record, String> {
    let mut r = Reader {
        buf: payload,
        pos: 0,
    };
    let op = r.u8()?;
    if op != OP_PUT && op != OP_DELETE {
        return Err(format!("unknown record type {op}"));
    }
    let rv = r.u64()?;
    let resource = r.string()?;
    let namespace = r.string()?;
    let name = r.string()?;
    let uid = r.string()?;
    let mut labels = std::collections::BTreeMap::new();
    for _ in 0..r.u32()? {
        let k = r.string()?;
        labels.insert(k, r.string()?);
    }
    let nfields = r.u32()?;
    let mut fields = Vec::new();
    for _ in 0..nfields {
        let k = intern(&r.string()?).map_err(|e| e.to_string())?;
        fields.push((k, r.string()?));
    }
    let json = Bytes::copy_from_slice(r.bytes()?);
    r.done()?;
    if resource.is_empty() || name.is_empty() {
        return Err("record without resource or name".to_owned());
    }
    Ok(Record {
        op,
        resource,
        object: Arc::new(StoredObject {
            rv,
            key: ObjectKey { namespace, name },
            json,
            labels,
            fields,
            uid,
        }),
    })
}

/// The payload of the frame at `off`: Ok(None) at a clean end, Err(reason) if the frame
/// is torn or fails its checksum.
pub(crate) fn next_frame(buf: &[u8], off: usize) -> Result<Option<(&[u8], usize)>, String> {
    let rest = buf.len().saturating_sub(off);
    if rest == 0 {
        return Ok(None);
    }
    if rest < FRAME_HEADER {
        return Err(format!(
            "truncated record header ({rest} of {FRAME_HEADER} bytes)"
        ));
    }
    let h = &buf[off..off + FRAME_HEADER];
    let len = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize;
    let crc = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
    if len > MAX_RECORD {
        return Err(format!("implausible record length {len}"));
    }
    if rest - FRAME_HEADER < len {
        return Err(format!(
            "truncated record (length {len}, only {} bytes present)",
            rest - FRAME_HEADER
        ));
    }
    let payload = &buf[off + FRAME_HEADER..off + FRAME_HEADER + len];
    if crc32fast::hash(payload) != crc {
        return Err(format!("checksum mismatch in record of length {len}"));
    }
    Ok(Some((payload, off + FRAME_HEADER + len)))
}

fn segment_name(seq: u64) -> String {
    format!("wal-{seq:020}.log")
}

fn parse_segment_name(name: &str) -> Option<u64> {
    name.strip_prefix("wal-")?
        .strip_suffix(".log")?
        .parse()
        .ok()
}

/// Segments in the directory, oldest first.
fn segments(dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if let Some(seq) = entry.file_name().to_str().and_then(parse_segment_name) {
            out.push((seq, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

fn corrupt_snapshot(path: &Path, what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("snapshot {}: {what}", path.display()))
}

fn snapshot_u64s(payload: &[u8], want_op: u8) -> Result<(u64, u64), String> {
    let mut r = Reader {
        buf: payload,
        pos: 0,
    };
    let op = r.u8()?;
    if op != want_op {
        return Err(format!("expected record type {want_op}, found {op}"));
    }
    let a = r.u64()?;
    let b = r.u64()?;
    r.done()?;
    Ok((a, b))
}

/// Loads a snapshot into `state`; returns its rv. A snapshot is renamed into place only
/// when complete, so any defect here is real corruption and fails the open.
fn load_snapshot(path: &Path, state: &mut StoreState) -> Result<Rv, StoreError> {
    let data = fs::read(path)?;
    load_snapshot_bytes(&data, path, state)
}

/// [`load_snapshot`] on the file's bytes; `path` only names it in errors.
fn load_snapshot_bytes(data: &[u8], path: &Path, state: &mut StoreState) -> Result<Rv, StoreError> {
    if data.len() < MAGIC.len() || &data[..MAGIC.len()] != MAGIC {
        return Err(corrupt_snapshot(path, "bad magic"));
    }
    let mut off = MAGIC.len();
    let frame_at = |off: &mut usize| -> Result<&[u8], StoreError> {
        match next_frame(data, *off) {
            Ok(Some((p, next))) => {
                *off = next;
                Ok(p)
            }
            Ok(None) => Err(corrupt_snapshot(path, format!("ends early at byte {off}"))),
            Err(e) => Err(corrupt_snapshot(path, format!("{e} at byte {off}"))),
        }
    };
    let (rv, count) = snapshot_u64s(frame_at(&mut off)?, OP_SNAP_HEADER)
        .map_err(|e| corrupt_snapshot(path, e))?;
    for i in 0..count {
        let rec = decode_record(frame_at(&mut off)?)
            .map_err(|e| corrupt_snapshot(path, format!("object {i}: {e}")))?;
        if rec.op != OP_PUT || rec.object.rv > rv {
            return Err(corrupt_snapshot(
                path,
                format!("object {i} is not a valid entry"),
            ));
        }
        state.load_object(&rec.resource, rec.object);
    }
    let (end_count, _) =
        snapshot_u64s(frame_at(&mut off)?, OP_SNAP_END).map_err(|e| corrupt_snapshot(path, e))?;
    if end_count != count || off != data.len() {
        return Err(corrupt_snapshot(path, "trailer does not match contents"));
    }
    state.set_snapshot_rv(rv);
    Ok(rv)
}

/// Writes a complete snapshot atomically, then deletes segments before `keep_from`.
fn write_snapshot(
    dir: &Path,
    rv: Rv,
    objects: &[(String, Vec<Arc<StoredObject>>)],
    keep_from: u64,
) -> io::Result<()> {
    let tmp = dir.join(SNAPSHOT_TMP);
    let file = File::create(&tmp)?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    w.write_all(MAGIC)?;
    let count: usize = objects.iter().map(|(_, v)| v.len()).sum();
    let mut buf = Vec::new();
    let mut hdr = vec![OP_SNAP_HEADER];
    hdr.extend_from_slice(&rv.to_le_bytes());
    hdr.extend_from_slice(&(count as u64).to_le_bytes());
    frame(&mut buf, &hdr);
    w.write_all(&buf)?;
    for (resource, objs) in objects {
        for o in objs {
            buf.clear();
            encode_record(&mut buf, OP_PUT, resource, o);
            w.write_all(&buf)?;
        }
    }
    let mut end = vec![OP_SNAP_END];
    end.extend_from_slice(&(count as u64).to_le_bytes());
    end.extend_from_slice(&0u64.to_le_bytes());
    buf.clear();
    frame(&mut buf, &end);
    w.write_all(&buf)?;
    let file = w.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    drop(file);
    fs::rename(&tmp, dir.join(SNAPSHOT))?;
    sync_dir(dir)?;
    for (seq, path) in segments(dir)? {
        if seq < keep_from {
            fs::remove_file(path)?;
        }
    }
    sync_dir(dir)
}

/// The append side of the log, owned by the store's log thread.
pub(crate) struct LogWriter {
    dir: PathBuf,
    seq: u64,
    file: File,
    /// Bytes of the current segment known durable: where a failed append
    /// is rolled back to.
    len: u64,
    since_snapshot: usize,
    snapshot_every: usize,
    job: Option<JoinHandle<io::Result<()>>>,
}

fn create_segment(dir: &Path, seq: u64) -> io::Result<File> {
    let f = OpenOptions::new()
        .create_new(true)
        .append(true)
        .open(dir.join(segment_name(seq)))?;
    // The new file's directory entry must be durable before records in it are acked.
    sync_dir(dir)?;
    Ok(f)
}

impl LogWriter {
    /// Appends and fsyncs one batch of framed records.
    pub fn append(&mut self, buf: &[u8], records: usize) -> io::Result<()> {
        self.file.write_all(buf)?;
        self.file.sync_data()?;
        self.len += buf.len() as u64;
        self.since_snapshot += records;
        Ok(())
    }

    /// After a failed [`Self::append`] (disk full, file size limit, I/O
    /// error): cuts the segment back to its last durable record and syncs
    /// that, so the log again ends on a whole record and later appends
    /// follow it. An error here leaves the segment's end unknown.
    pub fn roll_back(&mut self) -> io::Result<()> {
        self.file.set_len(self.len)?;
        self.file.sync_all()
    }

    /// True when enough records have accumulated and no snapshot is being written.
    pub fn wants_snapshot(&mut self) -> bool {
        if self.snapshot_every == 0 || self.since_snapshot < self.snapshot_every {
            return false;
        }
        match &self.job {
            Some(j) if !j.is_finished() => false,
            _ => {
                self.reap();
                true
            }
        }
    }

    fn reap(&mut self) {
        if let Some(job) = self.job.take() {
            match job.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "writing a store snapshot failed; the log is kept")
                }
                Err(_) => tracing::error!("the store snapshot thread panicked; the log is kept"),
            }
        }
    }

    /// Starts a new segment and writes a snapshot of `objects` (the state at `rv`, which
    /// covers every record written so far) in the background.
    pub fn start_snapshot(&mut self, rv: Rv, objects: Vec<(String, Vec<Arc<StoredObject>>)>) {
        let next = self.seq + 1;
        let file = match create_segment(&self.dir, next) {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(error = %e, "cannot start a new log segment; snapshot skipped");
                return;
            }
        };
        self.file = file;
        self.seq = next;
        self.len = 0;
        self.since_snapshot = 0;
        let dir = self.dir.clone();
        let spawned = std::thread::Builder::new()
            .name("store-snapshot".into())
            .spawn(move || write_snapshot(&dir, rv, &objects, next));
        match spawned {
            Ok(j) => self.job = Some(j),
            Err(e) => tracing::warn!(error = %e, "cannot start the snapshot thread"),
        }
    }

    /// Waits for a running snapshot.
    pub fn finish(&mut self) {
        self.reap();
    }
}

/// State rebuilt from the directory, with the writer positioned on a fresh segment.
pub(crate) struct Recovered {
    pub state: StoreState,
    pub report: RecoveryReport,
    pub log: LogWriter,
}

pub(crate) fn recover(
    dir: &Path,
    history_capacity: usize,
    channel_capacity: usize,
    snapshot_every: usize,
) -> Result<Recovered, StoreError> {
    fs::create_dir_all(dir)?;
    let mut warnings = Vec::new();
    let tmp = dir.join(SNAPSHOT_TMP);
    if tmp.exists() {
        fs::remove_file(&tmp)?;
        warnings.push(format!(
            "removed {}: an incomplete snapshot from an interrupted run",
            tmp.display()
        ));
    }
    let mut state = StoreState::new(history_capacity, channel_capacity);
    let snap = dir.join(SNAPSHOT);
    let floor = if snap.exists() {
        load_snapshot(&snap, &mut state)?
    } else {
        0
    };

    let segs = segments(dir)?;
    let mut records = 0usize;
    let mut broken = false;
    for (_, path) in &segs {
        if broken {
            let aside = path.with_extension("log.discarded");
            let len = fs::metadata(path).map(|m| m.len()).unwrap_or(0);
            fs::rename(path, &aside)?;
            warnings.push(format!(
                "{}: follows a corrupt segment; {len} bytes not replayed, moved to {}",
                path.display(),
                aside.display()
            ));
            continue;
        }
        let data = fs::read(path)?;
        let (off, failure) =
            replay_segment(&data, &mut state, floor, path, &mut warnings, &mut records);
        if let Some(reason) = failure {
            let dropped = data.len() - off;
            let f = OpenOptions::new().write(true).open(path)?;
            f.set_len(off as u64)?;
            f.sync_all()?;
            warnings.push(format!(
                "{}: {reason} at byte offset {off}; dropped {dropped} bytes, log truncated to the last good record",
                path.display()
            ));
            broken = true;
        }
    }
    if broken {
        sync_dir(dir)?;
    }
    let seq = segs.last().map_or(1, |(s, _)| s + 1);
    let file = create_segment(dir, seq)?;
    for w in &warnings {
        tracing::warn!(dir = %dir.display(), "store recovery: {w}");
    }
    let report = RecoveryReport {
        warnings,
        objects: state.object_count(),
        last_rv: state.current_rv(),
    };
    Ok(Recovered {
        state,
        report,
        log: LogWriter {
            dir: dir.to_owned(),
            seq,
            file,
            len: 0,
            since_snapshot: records,
            snapshot_every,
            job: None,
        },
    })
}

/// Replays one segment's records; returns the offset after the last good record and,
/// if the segment ends in a torn or corrupt record, why.
fn replay_segment(
    data: &[u8],
    state: &mut StoreState,
    floor: Rv,
    path: &Path,
    warnings: &mut Vec<String>,
    records: &mut usize,
) -> (usize, Option<String>) {
    let mut off = 0;
    loop {
        let (payload, next) = match next_frame(data, off) {
            Ok(Some(f)) => f,
            Ok(None) => return (off, None),
            Err(reason) => return (off, Some(reason)),
        };
        let rec = match decode_record(payload) {
            Ok(r) => r,
            Err(reason) => return (off, Some(format!("undecodable record ({reason})"))),
        };
        *records += 1;
        off = next;
        replay(state, rec, floor, path, warnings);
    }
}

/// What [`recover`] rebuilds from a data directory, computed from the files' contents
/// (`snapshot.bin`, then the `wal-<seq>.log` segments oldest first) without touching
/// disk: the pure core of recovery, for fuzzing arbitrary bytes as a data directory.
pub fn recover_from_bytes(
    snapshot: Option<&[u8]>,
    segments: &[&[u8]],
    history_capacity: usize,
) -> Result<RecoveryReport, StoreError> {
    let mut state = StoreState::new(history_capacity, 1);
    let floor = match snapshot {
        Some(data) => load_snapshot_bytes(data, Path::new(SNAPSHOT), &mut state)?,
        None => 0,
    };
    let mut warnings = Vec::new();
    let mut records = 0;
    for (i, data) in segments.iter().enumerate() {
        let path = PathBuf::from(segment_name(i as u64 + 1));
        let (off, failure) =
            replay_segment(data, &mut state, floor, &path, &mut warnings, &mut records);
        if let Some(reason) = failure {
            warnings.push(format!("{}: {reason} at byte offset {off}", path.display()));
            break;
        }
    }
    Ok(RecoveryReport {
        warnings,
        objects: state.object_count(),
        last_rv: state.current_rv(),
    })
}

fn replay(state: &mut StoreState, rec: Record, floor: Rv, path: &Path, warnings: &mut Vec<String>) {
    let rv = rec.object.rv;
    if rv <= state.current_rv() {
        // Records covered by the snapshot are expected after a crash between writing
        // the snapshot and deleting old segments; anything else is out of order.
        if rv > floor {
            warnings.push(format!(
                "{}: skipped out-of-order record at resourceVersion {rv}",
                path.display()
            ));
        }
        return;
    }
    let change = if rec.op == OP_DELETE {
        Change::Delete(rec.object)
    } else {
        Change::Put(rec.object)
    };
    if let Err(e) = state.apply(&rec.resource, change) {
        warnings.push(format!("{}: skipped record: {e}", path.display()));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;
    use crate::build_object;
    use serde_json::json;

    fn sample(rv: Rv) -> StoredObject {
        build_object(
            rv,
            ObjectKey::new("ns", "a"),
            json!({"metadata": {"uid": "u", "labels": {"k": "v"}}}),
            vec![("spec.nodeName", "n1".into())],
        )
        .unwrap()
    }

    #[test]
    fn record_roundtrip() {
        let o = sample(7);
        let mut buf = Vec::new();
        encode_record(&mut buf, OP_DELETE, "pods", &o);
        let (payload, next) = next_frame(&buf, 0).unwrap().unwrap();
        assert_eq!(next, buf.len());
        let r = decode_record(payload).unwrap();
        assert_eq!((r.op, r.resource.as_str()), (OP_DELETE, "pods"));
        assert_eq!(*r.object, o);
        assert_eq!(next_frame(&buf, next).unwrap(), None);
    }

    #[test]
    fn detects_torn_and_flipped_frames() {
        let mut buf = Vec::new();
        encode_record(&mut buf, OP_PUT, "pods", &sample(2));
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (buf[..5].to_vec(), "truncated record header"),
            (buf[..buf.len() - 1].to_vec(), "truncated record"),
            (
                {
                    let mut b = buf.clone();
                    let last = b.len() - 3;
                    b[last] ^= 0x40;
                    b
                },
                "checksum mismatch",
            ),
            (
                {
                    let mut b = buf.clone();
                    b[3] = 0xff;
                    b
                },
                "implausible record length",
            ),
        ];
        for (data, want) in cases {
            let err = next_frame(&data, 0).unwrap_err();
            assert!(err.starts_with(want), "{err} vs {want}");
        }
        // A zero-filled tail passes the CRC (crc32 of nothing is 0) but cannot decode.
        let zeros = [0u8; 16];
        let (p, _) = next_frame(&zeros, 0).unwrap().unwrap();
        assert!(decode_record(p).is_err());
    }

    #[test]
    fn segment_names() {
        assert_eq!(parse_segment_name(&segment_name(42)), Some(42));
        assert_eq!(parse_segment_name("wal-x.log"), None);
        assert_eq!(parse_segment_name("snapshot.bin"), None);
    }

    #[test]
    fn snapshot_roundtrip() {
        let dir = tempfile::tempdir().unwrap();
        let objs = vec![("pods".to_owned(), vec![Arc::new(sample(3))])];
        fs::write(dir.path().join(segment_name(1)), b"old").unwrap();
        write_snapshot(dir.path(), 5, &objs, 2).unwrap();
        assert!(!dir.path().join(segment_name(1)).exists());
        let mut st = StoreState::new(10, 4);
        assert_eq!(
            load_snapshot(&dir.path().join(SNAPSHOT), &mut st).unwrap(),
            5
        );
        assert_eq!(st.current_rv(), 5);
        assert_eq!(st.get("pods", &ObjectKey::new("ns", "a")).unwrap().rv, 3);

        // Any damage to a snapshot is an error, not a silent partial load.
        let path = dir.path().join(SNAPSHOT);
        let mut data = fs::read(&path).unwrap();
        let n = data.len();
        data[n - 10] ^= 1;
        fs::write(&path, &data).unwrap();
        let err = load_snapshot(&path, &mut StoreState::new(10, 4)).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt(_)), "{err}");
    }

    #[test]
    fn recover_from_bytes_matches_files() {
        let objs = vec![("pods".to_owned(), vec![Arc::new(sample(3))])];
        let dir = tempfile::tempdir().unwrap();
        write_snapshot(dir.path(), 5, &objs, 1).unwrap();
        let snap = fs::read(dir.path().join(SNAPSHOT)).unwrap();
        let mut seg = Vec::new();
        encode_record(&mut seg, OP_DELETE, "pods", &sample(6));
        seg.extend_from_slice(b"torn");
        let report = recover_from_bytes(Some(&snap), &[&seg, b"never read"], 10).unwrap();
        assert_eq!((report.objects, report.last_rv), (0, 6));
        assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
        assert!(report.warnings[0].contains("truncated record header"));
        // Arbitrary bytes are an error or warnings, never a panic.
        assert!(recover_from_bytes(Some(b"junk"), &[], 10).is_err());
        let report = recover_from_bytes(None, &[b"\x00\x00\x00\x00"], 10).unwrap();
        assert_eq!(report.warnings.len(), 1);
    }

    #[test]
    fn a_failed_append_is_rolled_back_to_the_last_record() {
        let dir = tempfile::tempdir().unwrap();
        let mut rec = recover(dir.path(), 10, 4, 0).unwrap();
        let mut a = Vec::new();
        encode_record(&mut a, OP_PUT, "pods", &sample(2));
        rec.log.append(&a, 1).unwrap();
        // A write cut short (disk full, file size limit): half a record lands.
        let mut b = Vec::new();
        encode_record(&mut b, OP_PUT, "pods", &sample(3));
        rec.log.file.write_all(&b[..b.len() / 2]).unwrap();
        rec.log.roll_back().unwrap();
        // The next append follows the last whole record.
        let mut c = Vec::new();
        encode_record(&mut c, OP_PUT, "pods", &sample(4));
        rec.log.append(&c, 1).unwrap();
        drop(rec);
        let again = recover(dir.path(), 10, 4, 0).unwrap();
        assert!(
            again.report.warnings.is_empty(),
            "{:?}",
            again.report.warnings
        );
        assert_eq!(again.report.last_rv, 4);
        assert_eq!(
            again
                .state
                .get("pods", &ObjectKey::new("ns", "a"))
                .unwrap()
                .rv,
            4
        );
    }
}
