//! A cache of per-file work between runs: token counts, parsed views, secret findings and the
//! terms ranking reads, keyed by their text.
//!
//! Counting and parsing are the costly stages of a pack, and between two packs of the same
//! repository most files have not changed. Each result is stored under a hash of everything it
//! depends on: the text itself, and the encoding (counts) or the language and fidelity (views).
//! A changed file has a new key, so the cache never needs invalidating and can never show stale
//! text; the output is byte-for-byte the output without it.
//!
//! There is one store file per packed root, in the user's cache directory. It is read whole at
//! the start and, when the run made something new, written whole at the end (to a temporary file,
//! then renamed, so concurrent runs never see a partial store; the last to finish wins). A
//! checksum over it guards against damage, and every field is checked as it is read: a store that
//! fails is ignored. A store written by another ctxpack build is ignored too, since views depend
//! on the code that made them. The store is trusted like the binary itself: whoever can write it
//! could put any text in a view.
//!
//! Each entry carries the number of the last write that kept it. A write keeps what this run
//! used or made, then older entries, most recently kept first, up to `STORE_MAX` (128 MiB). Stores
//! of roots not used for `STALE_DAYS` (30) days are deleted.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use crate::lang::syntax::NoTree;
use crate::lang::{Language, View};
use crate::rank::Terms;
use crate::secrets::{self, Finding};
use crate::tokens::{Encoding, SplitCount};
use crate::types::Fidelity;

/// What the start of a store says it is.
const MAGIC: &[u8; 8] = b"ctxpack\x01";
/// Bumped whenever the layout below changes.
const FORMAT: u32 = 3;
/// Older entries are kept while the store stays under this size (this run's entries always are).
const STORE_MAX: usize = 128 << 20;
/// A store larger than this is not read (it was not written by ctxpack).
const READ_MAX: u64 = 1 << 30;
/// Stores of other roots untouched this long are deleted when a store is written.
const STALE_DAYS: u64 = 30;
/// Where the checksum lies: after the magic, the format and the build.
const SUM_AT: usize = 8 + 4 + 32;
/// How temporary stores are named (tempfile adds six random characters).
const TEMP_PREFIX: &str = ".store-";

type Key = [u8; 16];

/// A cached result.
#[derive(Clone, PartialEq, Eq)]
enum Value {
    Count([usize; 3]),
    View(View),
    /// A secrets scan's findings: rule id, secret (or example), line, byte range.
    Scan(Vec<(String, bool, usize, usize, usize)>),
    Terms(Terms),
}

/// Reuses token counts and views across runs. A disabled cache computes everything.
pub struct Cache {
    store: Option<PathBuf>,
    /// Identifies the build that wrote a store: only its own stores are read.
    build: [u8; 32],
    /// The store as read: its entries' values are decoded when they are looked up, so a run
    /// pays only for what it uses (a full pack does not decode the terms a budgeted pack keeps).
    body: Vec<u8>,
    /// The store's entries: the number of the last write that kept each, and where its value
    /// lies in `body`.
    old: HashMap<Key, (u64, std::ops::Range<usize>)>,
    /// The number of the store's last write.
    writes: u64,
    /// Old entries this run used.
    reused: Mutex<HashSet<Key>>,
    /// Entries this run made.
    made: Mutex<HashMap<Key, Value>>,
    /// Lookups so far, and those answered (from the store or from what this run made): for a
    /// caller that packs many times with one cache, the difference across one pack.
    asked: AtomicUsize,
    answered: AtomicUsize,
    /// Why the store could not be read, for a note.
    damaged: Option<String>,
    /// Older entries are kept while the store stays under this size.
    limit: usize,
}

impl fmt::Debug for Cache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cache")
            .field("store", &self.store)
            .field("entries", &self.old.len())
            .finish()
    }
}

impl Default for Cache {
    fn default() -> Cache {
        Cache::disabled()
    }
}

impl Cache {
    /// A cache that keeps nothing.
    pub fn disabled() -> Cache {
        Cache {
            store: None,
            build: [0; 32],
            body: Vec::new(),
            old: HashMap::new(),
            writes: 0,
            reused: Mutex::new(HashSet::new()),
            made: Mutex::new(HashMap::new()),
            asked: AtomicUsize::new(0),
            answered: AtomicUsize::new(0),
            damaged: None,
            limit: STORE_MAX,
        }
    }

    /// The default directory: `ctxpack` in the platform's user cache directory.
    pub fn default_dir() -> Option<PathBuf> {
        dirs::cache_dir().map(|d| d.join("ctxpack"))
    }

    /// The directory unless a flag names one: `CTXPACK_CACHE_DIR` (an empty value, as CI
    /// templates leave unset variables, means unset; a relative one is relative to `cwd`), else
    /// [`Cache::default_dir`].
    pub fn configured_dir(cwd: &Path) -> Option<PathBuf> {
        std::env::var_os("CTXPACK_CACHE_DIR")
            .filter(|v| !v.is_empty())
            .map(|dir| cwd.join(dir))
            .or_else(Cache::default_dir)
    }

    /// Opens the store for `root` in `dir`. A missing store is an empty cache; an unreadable or
    /// damaged one is too, and [`Cache::warning`] says why.
    pub fn open(dir: &Path, root: &Path) -> Cache {
        let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
        let name = blake3::hash(root.as_os_str().as_encoded_bytes()).to_hex();
        let store = dir.join(format!("{}.store", &name[..32]));
        let mut cache = Cache {
            store: Some(store.clone()),
            build: build_id(),
            ..Cache::disabled()
        };
        let read = std::fs::metadata(&store).and_then(|meta| {
            if meta.len() > READ_MAX {
                Err(io::Error::other("larger than any store ctxpack writes"))
            } else {
                std::fs::read(&store)
            }
        });
        match read {
            Ok(bytes) => match decode(&bytes, &cache.build) {
                Ok((writes, old)) => {
                    (cache.writes, cache.old) = (writes, old);
                    cache.body = bytes;
                }
                Err(Stale) => {}
                Err(Damaged(why)) => {
                    cache.damaged = Some(format!("ignored {} ({why})", store.display()))
                }
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => cache.damaged = Some(format!("could not read {}: {e}", store.display())),
        }
        cache
    }

    /// Why the store could not be used, if it could not.
    pub fn warning(&self) -> Option<&str> {
        self.damaged.as_deref()
    }

    /// `(reused, needed)`: how many distinct counts and views this run took from the store, and
    /// how many it needed in all.
    pub fn hits(&self) -> (usize, usize) {
        let reused = self.reused.lock().expect("cache lock").len();
        (reused, reused + self.made.lock().expect("cache lock").len())
    }

    /// The token count of `text` in `encoding`, made by `count` unless cached.
    pub fn count(
        &self,
        encoding: Encoding,
        text: &str,
        count: impl FnOnce() -> SplitCount,
    ) -> SplitCount {
        if self.store.is_none() {
            return count();
        }
        let key = key(&[b"count", encoding.name().as_bytes()], text);
        if let Some(Value::Count(parts)) = self.lookup(&key) {
            // A token covers at least one byte: more tokens than bytes is a forged entry. The
            // cuts are found again in the text itself, never taken from the store.
            let sum = parts.iter().try_fold(0usize, |sum, n| sum.checked_add(*n));
            if sum.is_some_and(|sum| sum <= text.len()) {
                return SplitCount::from_parts(text, parts);
            }
        }
        let split = count();
        self.insert(key, Value::Count(split.parts()));
        split
    }

    /// The token count of `text` in `encoding` as one piece (not split: a file's element with
    /// its wrapper, a document's tree), made by `count` unless cached.
    pub fn total(&self, encoding: Encoding, text: &str, count: impl FnOnce() -> usize) -> usize {
        if self.store.is_none() {
            return count();
        }
        let key = key(&[b"total", encoding.name().as_bytes()], text);
        if let Some(Value::Count([total, 0, 0])) = self.lookup(&key) {
            // A token covers at least one byte.
            if total <= text.len() {
                return total;
            }
        }
        let total = count();
        self.insert(key, Value::Count([total, 0, 0]));
        total
    }

    /// The secret findings of `text`, scanned under `scope` ([`secrets::scope_of`]), made by
    /// `scan` unless cached. What a cached finding names is checked against the text when it is
    /// applied ([`secrets::apply`]).
    pub fn findings(
        &self,
        scope: &str,
        text: &str,
        scan: impl FnOnce() -> Vec<Finding>,
    ) -> Vec<Finding> {
        if self.store.is_none() {
            return scan();
        }
        let key = key(&[b"scan", scope.as_bytes()], text);
        if let Some(Value::Scan(kept)) = self.lookup(&key) {
            let findings: Option<Vec<Finding>> = kept
                .iter()
                .map(|(rule, secret, line, start, end)| {
                    Some(Finding {
                        rule: secrets::rule_named(rule)?,
                        line: *line,
                        kind: if *secret {
                            secrets::Kind::Secret
                        } else {
                            secrets::Kind::Example
                        },
                        range: *start..*end,
                    })
                })
                .collect();
            if let Some(findings) = findings {
                return findings;
            }
        }
        let findings = scan();
        let kept = findings
            .iter()
            .map(|f| {
                (
                    f.rule.to_string(),
                    f.is_secret(),
                    f.line,
                    f.range.start,
                    f.range.end,
                )
            })
            .collect();
        self.insert(key, Value::Scan(kept));
        findings
    }

    /// The ranking terms of `text`, made by `terms` unless cached.
    pub fn terms(&self, text: &str, terms: impl FnOnce() -> Terms) -> Terms {
        if self.store.is_none() {
            return terms();
        }
        let key = key(&[b"terms"], text);
        if let Some(Value::Terms(kept)) = self.lookup(&key) {
            return kept;
        }
        let made = terms();
        self.insert(key, Value::Terms(made.clone()));
        made
    }

    /// The view of `text` (in `language`) at `fidelity`, made by `view` unless cached.
    pub fn view(
        &self,
        language: Language,
        fidelity: Fidelity,
        text: &str,
        view: impl FnOnce() -> View,
    ) -> View {
        if self.store.is_none() {
            return view();
        }
        let key = key(
            &[
                b"view",
                language.name().as_bytes(),
                fidelity.name().as_bytes(),
            ],
            text,
        );
        if let Some(Value::View(view)) = self.lookup(&key) {
            return view;
        }
        let view = view();
        self.insert(key, Value::View(view.clone()));
        view
    }

    /// `(answered, asked)`: lookups so far, and how many the cache answered (each time, not
    /// distinct). The difference across one pack says what that pack reused, also when the
    /// cache lives across many packs.
    pub fn lookups(&self) -> (usize, usize) {
        (
            self.answered.load(Ordering::Relaxed),
            self.asked.load(Ordering::Relaxed),
        )
    }

    fn lookup(&self, key: &Key) -> Option<Value> {
        self.store.as_ref()?;
        self.asked.fetch_add(1, Ordering::Relaxed);
        let value = self.find(key);
        if value.is_some() {
            self.answered.fetch_add(1, Ordering::Relaxed);
        }
        value
    }

    fn find(&self, key: &Key) -> Option<Value> {
        if let Some(value) = self.made.lock().expect("cache lock").get(key) {
            return Some(value.clone());
        }
        let (_, range) = self.old.get(key)?;
        // Checked as it is decoded: an entry that does not read is a miss.
        let value = decode_value(&mut Reader {
            bytes: &self.body[..range.end],
            at: range.start,
        })
        .ok()?;
        self.reused.lock().expect("cache lock").insert(*key);
        Some(value)
    }

    fn insert(&self, key: Key, value: Value) {
        if self.store.is_some() {
            // Replaces an old entry that was of no use (of the wrong kind).
            self.reused.lock().expect("cache lock").remove(&key);
            self.made.lock().expect("cache lock").insert(key, value);
        }
    }

    /// Writes the store back when this run made something new: what it used or made, then older
    /// entries, most recently kept first, while the store stays under `STORE_MAX`. A run that
    /// made nothing only marks the store as used. Also deletes stale stores of other roots, and
    /// temporary files that interrupted runs left.
    pub fn save(&self) -> io::Result<()> {
        let Some(store) = &self.store else {
            return Ok(());
        };
        let made = self.made.lock().expect("cache lock");
        if made.is_empty() {
            if !self.reused.lock().expect("cache lock").is_empty() {
                // Best effort: the time only keeps the sweep of other runs away from it.
                let _ = std::fs::File::options()
                    .write(true)
                    .open(store)
                    .and_then(|f| f.set_modified(SystemTime::now()));
            }
            return Ok(());
        }
        let reused = self.reused.lock().expect("cache lock");
        let writes = self.writes.saturating_add(1);
        // What this run made is encoded; what it kept of the old store is copied as it was.
        let old_value = |k: &Key| Stored::Old(&self.body[self.old[k].1.clone()]);
        let mut current: Vec<(&Key, Stored<'_>)> =
            made.iter().map(|(k, v)| (k, Stored::Made(v))).collect();
        current.extend(reused.iter().map(|k| (k, old_value(k))));
        current.sort_unstable_by_key(|(k, _)| **k);
        let mut older: Vec<(&Key, u64)> = self
            .old
            .iter()
            .filter(|(k, _)| !reused.contains(*k) && !made.contains_key(*k))
            .map(|(k, (stamp, _))| (k, *stamp))
            .collect();
        older.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        // Entries are encoded one at a time, so the store is never held twice in memory.
        let mut size = 16;
        let mut kept = Vec::with_capacity(current.len() + older.len());
        for (key, value) in current {
            size += value.entry_len();
            kept.push((key, writes, value));
        }
        if size as u64 > READ_MAX {
            return Ok(()); // so large a store would not be read back
        }
        for (key, stamp) in older {
            let value = old_value(key);
            if size + value.entry_len() > self.limit {
                break;
            }
            size += value.entry_len();
            kept.push((key, stamp, value));
        }

        let dir = store.parent().expect("a store lies in a directory");
        let context = |what: &str, e: io::Error| {
            io::Error::new(e.kind(), format!("{what} {}: {e}", dir.display()))
        };
        create_private_dir(dir).map_err(|e| context("cannot create", e))?;
        sweep(dir, store);
        // Created readable by the owner only: views may hold code the user keeps private.
        let temp = tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .tempfile_in(dir)
            .map_err(|e| context("cannot write in", e))?;
        let written = (|| -> io::Result<()> {
            let mut file = io::BufWriter::new(temp.as_file());
            // The checksum is written last, over what follows it.
            file.write_all(MAGIC)?;
            file.write_all(&FORMAT.to_le_bytes())?;
            file.write_all(&self.build)?;
            file.write_all(&[0; 32])?;
            let mut hasher = blake3::Hasher::new();
            let mut entry = Vec::new();
            entry.extend_from_slice(&writes.to_le_bytes());
            entry.extend_from_slice(&(kept.len() as u64).to_le_bytes());
            hasher.update(&entry);
            file.write_all(&entry)?;
            entry.clear();
            for (key, stamp, value) in kept {
                match value {
                    Stored::Made(value) => encode_entry(&mut entry, key, stamp, value),
                    Stored::Old(bytes) => {
                        entry.extend_from_slice(key);
                        entry.extend_from_slice(&stamp.to_le_bytes());
                        entry.extend_from_slice(bytes);
                    }
                }
                hasher.update(&entry);
                file.write_all(&entry)?;
                entry.clear();
            }
            let mut file = file.into_inner().map_err(|e| e.into_error())?;
            use std::io::{Seek, SeekFrom};
            file.seek(SeekFrom::Start(SUM_AT as u64))?;
            file.write_all(hasher.finalize().as_bytes())?;
            file.sync_data()
        })();
        written.map_err(|e| context("cannot write in", e))?;
        temp.persist(store)
            .map_err(|e| context("cannot write in", e.error))?;
        Ok(())
    }
}

/// A value to write: made by this run, or an old entry's bytes as the store had them.
enum Stored<'a> {
    Made(&'a Value),
    Old(&'a [u8]),
}

impl Stored<'_> {
    fn entry_len(&self) -> usize {
        match self {
            Stored::Made(value) => entry_len(value),
            Stored::Old(bytes) => 16 + 8 + bytes.len(),
        }
    }
}

/// The bytes [`encode_entry`] writes for `value`.
fn entry_len(value: &Value) -> usize {
    16 + 8
        + 1
        + match value {
            Value::Count(_) => 3 * 8,
            Value::View(view) => 1 + 8 + view.text.len(),
            Value::Scan(found) => {
                8 + found
                    .iter()
                    .map(|f| 8 + f.0.len() + 1 + 3 * 8)
                    .sum::<usize>()
            }
            Value::Terms(terms) => {
                let names = |list: &[String]| 8 + list.iter().map(|n| 8 + n.len()).sum::<usize>();
                let counted = |list: &[(String, u32)]| {
                    8 + list.iter().map(|(n, _)| 8 + n.len() + 4).sum::<usize>()
                };
                names(&terms.definitions)
                    + counted(&terms.references)
                    + counted(&terms.sub_words)
                    + 4
            }
        }
}

/// The names ctxpack gives the files of its cache directory.
enum StoreName {
    /// 32 hex digits and `.store`.
    Store,
    /// [`TEMP_PREFIX`] and tempfile's six random characters.
    Temporary,
}

fn name_kind(name: &str) -> Option<StoreName> {
    let hex = |s: &str| s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if name.strip_suffix(".store").is_some_and(hex) {
        return Some(StoreName::Store);
    }
    let random = |s: &str| s.len() == 6 && s.bytes().all(|b| b.is_ascii_alphanumeric());
    name.strip_prefix(TEMP_PREFIX)
        .is_some_and(random)
        .then_some(StoreName::Temporary)
}

/// Whether a file of this name is (or is becoming) a cache store. The walk never lists such
/// files, wherever the cache directory is: a store changes on every run.
pub fn is_store_name(name: &str) -> bool {
    name_kind(name).is_some()
}

/// Deletes stores in `dir` (other than `keep`) untouched for [`STALE_DAYS`] days, and temporary
/// files older than an hour. Best effort: what cannot be deleted stays.
fn sweep(dir: &Path, keep: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let now = SystemTime::now();
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        // Only names ctxpack gives: a directory named by the user may hold other files.
        let (store_name, temp_name) = match name_kind(&name) {
            Some(StoreName::Store) => (true, false),
            Some(StoreName::Temporary) => (false, true),
            None => (false, false),
        };
        let limit = if temp_name {
            Duration::from_secs(3600)
        } else if store_name && path != keep {
            Duration::from_secs(STALE_DAYS * 86_400)
        } else {
            continue;
        };
        let age = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| now.duration_since(t).ok());
        if age.is_some_and(|age| age > limit) {
            let _ = std::fs::remove_file(&path);
        }
    }
}

/// The key of a result made from `text` with `parts` (what else it depends on).
fn key(parts: &[&[u8]], text: &str) -> Key {
    let mut hasher = blake3::Hasher::new();
    for part in parts {
        hasher.update(&(part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    hasher.update(text.as_bytes());
    let mut key = [0; 16];
    key.copy_from_slice(&hasher.finalize().as_bytes()[..16]);
    key
}

/// This build of ctxpack: its version and a fingerprint of the sources it was built from (see
/// src/build.rs), so that a CI job that builds the same sources afresh still reads its store.
fn build_id() -> [u8; 32] {
    let mut hasher = blake3::Hasher::new();
    hasher.update(env!("CARGO_PKG_VERSION").as_bytes());
    hasher.update(env!("CTXPACK_SOURCE_FINGERPRINT").as_bytes());
    hasher.update(&FORMAT.to_le_bytes());
    *hasher.finalize().as_bytes()
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)
}

const TAG_COUNT: u8 = 0;
const TAG_VIEW: u8 = 1;
const TAG_SCAN: u8 = 2;
const TAG_TERMS: u8 = 3;

fn put_str(out: &mut Vec<u8>, text: &str) {
    put(out, text.len());
    out.extend_from_slice(text.as_bytes());
}

fn put_counted(out: &mut Vec<u8>, list: &[(String, u32)]) {
    put(out, list.len());
    for (name, count) in list {
        put_str(out, name);
        out.extend_from_slice(&count.to_le_bytes());
    }
}

fn put(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&(n as u64).to_le_bytes());
}

fn encode_entry(out: &mut Vec<u8>, key: &Key, kept: u64, value: &Value) {
    out.extend_from_slice(key);
    out.extend_from_slice(&kept.to_le_bytes());
    match value {
        Value::Count(parts) => {
            out.push(TAG_COUNT);
            for n in parts {
                put(out, *n);
            }
        }
        Value::View(view) => {
            out.push(TAG_VIEW);
            out.push(match view.degraded {
                None => 0,
                Some(NoTree::Unsupported) => 1,
                Some(NoTree::TimedOut) => 2,
                Some(NoTree::SyntaxErrors) => 3,
            });
            put(out, view.text.len());
            out.extend_from_slice(view.text.as_bytes());
        }
        Value::Scan(found) => {
            out.push(TAG_SCAN);
            put(out, found.len());
            for (rule, secret, line, start, end) in found {
                put_str(out, rule);
                out.push(u8::from(*secret));
                put(out, *line);
                put(out, *start);
                put(out, *end);
            }
        }
        Value::Terms(terms) => {
            out.push(TAG_TERMS);
            put(out, terms.definitions.len());
            for name in &terms.definitions {
                put_str(out, name);
            }
            put_counted(out, &terms.references);
            put_counted(out, &terms.sub_words);
            out.extend_from_slice(&terms.length.to_le_bytes());
        }
    }
}

/// Why a store is not read.
enum Unread {
    /// Written by another build or format: silently replaced.
    Stale,
    /// Not a store, truncated, or failing its checksum.
    Damaged(&'static str),
}
use Unread::{Damaged, Stale};

/// Reads a store: the number of its last write and its entries, each with where its value lies
/// (decoded when looked up). The checksum covers every byte, and each entry's layout is checked
/// as it is skipped.
type Entries = HashMap<Key, (u64, std::ops::Range<usize>)>;
fn decode(bytes: &[u8], build: &[u8; 32]) -> Result<(u64, Entries), Unread> {
    let mut r = Reader { bytes, at: 0 };
    if r.take(MAGIC.len())? != MAGIC {
        return Err(Damaged("not a ctxpack cache"));
    }
    if r.u32()? != FORMAT || r.take(32)? != build {
        return Err(Stale);
    }
    let sum = r.take(32)?;
    let body = &bytes[r.at..];
    if blake3::hash(body).as_bytes() != sum {
        return Err(Damaged("checksum mismatch"));
    }
    let writes = r.u64()?;
    let count = r.usize()?;
    let mut entries = HashMap::with_capacity(count.min(1 << 20));
    for _ in 0..count {
        let key: Key = r.take(16)?.try_into().expect("16 bytes");
        let kept = r.u64()?;
        let start = r.at;
        skip_value(&mut r)?;
        entries.insert(key, (kept, start..r.at));
    }
    if r.at != bytes.len() {
        return Err(Damaged("trailing bytes"));
    }
    Ok((writes, entries))
}

/// Moves past one value, checking its layout but making nothing.
fn skip_value(r: &mut Reader<'_>) -> Result<(), Unread> {
    let skip_str = |r: &mut Reader<'_>| -> Result<(), Unread> {
        let len = r.usize()?;
        r.take(len).map(|_| ())
    };
    match r.take(1)?[0] {
        TAG_COUNT => {
            r.take(3 * 8)?;
        }
        TAG_VIEW => {
            r.take(1)?;
            skip_str(r)?;
        }
        TAG_SCAN => {
            for _ in 0..r.usize()? {
                skip_str(r)?;
                r.take(1 + 3 * 8)?;
            }
        }
        TAG_TERMS => {
            for _ in 0..r.usize()? {
                skip_str(r)?;
            }
            for _ in 0..2 {
                for _ in 0..r.usize()? {
                    skip_str(r)?;
                    r.take(4)?;
                }
            }
            r.take(4)?;
        }
        _ => return Err(Damaged("unknown entry")),
    }
    Ok(())
}

/// Decodes the value at the reader, every field checked.
fn decode_value(r: &mut Reader<'_>) -> Result<Value, Unread> {
    Ok(match r.take(1)?[0] {
        TAG_COUNT => Value::Count([r.usize()?, r.usize()?, r.usize()?]),
        TAG_VIEW => {
            let degraded = match r.take(1)?[0] {
                0 => None,
                1 => Some(NoTree::Unsupported),
                2 => Some(NoTree::TimedOut),
                3 => Some(NoTree::SyntaxErrors),
                _ => return Err(Damaged("unknown fallback")),
            };
            let len = r.usize()?;
            let text =
                std::str::from_utf8(r.take(len)?).map_err(|_| Damaged("a view is not UTF-8"))?;
            Value::View(View {
                text: text.to_string(),
                degraded,
            })
        }
        TAG_SCAN => {
            let count = r.usize()?;
            let mut found = Vec::with_capacity(count.min(1 << 16));
            for _ in 0..count {
                let rule = r.string()?;
                let secret = match r.take(1)?[0] {
                    0 => false,
                    1 => true,
                    _ => return Err(Damaged("unknown finding kind")),
                };
                found.push((rule, secret, r.usize()?, r.usize()?, r.usize()?));
            }
            Value::Scan(found)
        }
        TAG_TERMS => {
            let count = r.usize()?;
            let mut definitions = Vec::with_capacity(count.min(1 << 16));
            for _ in 0..count {
                definitions.push(r.string()?);
            }
            let references = r.counted()?;
            let sub_words = r.counted()?;
            Value::Terms(Terms {
                definitions,
                references,
                sub_words,
                length: r.u32()?,
            })
        }
        _ => return Err(Damaged("unknown entry")),
    })
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Unread> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len())
            .ok_or(Damaged("truncated"))?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn u32(&mut self) -> Result<u32, Unread> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }

    fn u64(&mut self) -> Result<u64, Unread> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }

    fn usize(&mut self) -> Result<usize, Unread> {
        usize::try_from(self.u64()?).map_err(|_| Damaged("a number out of range"))
    }

    fn string(&mut self) -> Result<String, Unread> {
        let len = self.usize()?;
        std::str::from_utf8(self.take(len)?)
            .map(str::to_string)
            .map_err(|_| Damaged("a name is not UTF-8"))
    }

    fn counted(&mut self) -> Result<Vec<(String, u32)>, Unread> {
        let count = self.usize()?;
        let mut list = Vec::with_capacity(count.min(1 << 16));
        for _ in 0..count {
            list.push((self.string()?, self.u32()?));
        }
        Ok(list)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::{Tiktoken, TokenCounter};

    fn counted(text: &str) -> SplitCount {
        SplitCount::new(&Tiktoken::new(Encoding::O200kBase), text)
    }

    fn dirs() -> (tempfile::TempDir, tempfile::TempDir) {
        (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap())
    }

    #[test]
    fn a_saved_store_gives_back_what_was_put_in_and_nothing_else() {
        let (dir, root) = dirs();
        let text = "fn main() {\n    println!(\"hi\");\n}\n";
        let view = View {
            text: "fn main() { /* … 1 line */ }\n".to_string(),
            degraded: Some(NoTree::SyntaxErrors),
        };
        let cache = Cache::open(dir.path(), root.path());
        assert_eq!(
            cache.count(Encoding::O200kBase, text, || counted(text)),
            counted(text)
        );
        let made = cache.view(Language::Rust, Fidelity::Compressed, text, || view.clone());
        assert_eq!(made, view);
        assert_eq!(cache.hits(), (0, 2));
        cache.save().unwrap();

        let again = Cache::open(dir.path(), root.path());
        assert!(again.warning().is_none());
        let never = || -> SplitCount { panic!("a cached count is not recounted") };
        assert_eq!(again.count(Encoding::O200kBase, text, never), counted(text));
        let cached = again.view(Language::Rust, Fidelity::Compressed, text, || {
            panic!("a cached view is not remade")
        });
        assert_eq!(cached, view);
        // Other encodings, languages, fidelities and texts are other keys.
        let other = Tiktoken::new(Encoding::Cl100kBase);
        let cl = again.count(Encoding::Cl100kBase, text, || SplitCount::new(&other, text));
        assert_eq!(cl.total(), other.count(text));
        let outline = View {
            text: "fn main()\n".to_string(),
            degraded: None,
        };
        let made = again.view(Language::Rust, Fidelity::Outline, text, || outline.clone());
        assert_eq!(made, outline);
        let c = again.view(Language::C, Fidelity::Compressed, text, || outline.clone());
        assert_eq!(c, outline, "a C view of the same text is another entry");
        let changed = format!("{text}// changed\n");
        assert_eq!(
            again.count(Encoding::O200kBase, &changed, || counted(&changed)),
            counted(&changed)
        );
        assert_eq!(again.hits(), (2, 6));
    }

    #[test]
    fn a_run_that_made_nothing_new_only_marks_the_store_as_used() {
        let (dir, root) = dirs();
        let text = "a = 1\n";
        let cache = Cache::open(dir.path(), root.path());
        cache.count(Encoding::O200kBase, text, || counted(text));
        cache.save().unwrap();
        let store = cache.store.clone().unwrap();
        let bytes = std::fs::read(&store).unwrap();
        let long_ago = SystemTime::now() - Duration::from_secs(40 * 86_400);
        std::fs::File::options()
            .write(true)
            .open(&store)
            .unwrap()
            .set_modified(long_ago)
            .unwrap();
        let again = Cache::open(dir.path(), root.path());
        again.count(Encoding::O200kBase, text, || panic!("cached"));
        again.save().unwrap();
        assert_eq!(std::fs::read(&store).unwrap(), bytes, "not rewritten");
        let touched = std::fs::metadata(&store).unwrap().modified().unwrap();
        assert!(
            touched > long_ago + Duration::from_secs(86_400),
            "marked as used"
        );
    }

    #[test]
    fn the_sweep_deletes_only_old_stores_and_temporary_files_ctxpack_named() {
        let (dir, root) = dirs();
        let long_ago = SystemTime::now() - Duration::from_secs(40 * 86_400);
        let names = [
            "0123456789abcdef0123456789abcdef.store",
            ".store-a1B2c3",
            "notes.store",
            "keep-me.txt",
            ".store-notours.txt",
        ];
        for name in names {
            let path = dir.path().join(name);
            std::fs::write(&path, "x").unwrap();
            std::fs::File::options()
                .write(true)
                .open(&path)
                .unwrap()
                .set_modified(long_ago)
                .unwrap();
        }
        let cache = Cache::open(dir.path(), root.path());
        cache.count(Encoding::O200kBase, "b = 2\n", || counted("b = 2\n"));
        cache.save().unwrap();
        let left: Vec<bool> = names.iter().map(|n| dir.path().join(n).exists()).collect();
        assert_eq!(left, [false, false, true, true, true]);
        assert!(cache.store.as_ref().unwrap().exists());
    }

    #[test]
    fn older_entries_give_way_to_newer_ones_when_the_store_is_full() {
        let (dir, root) = dirs();
        let view = |n: usize, limit: usize| {
            let mut run = Cache::open(dir.path(), root.path());
            run.limit = limit;
            run.view(
                Language::Text,
                Fidelity::Compressed,
                &format!("{n}\n"),
                || View {
                    text: "v".repeat(1000),
                    degraded: None,
                },
            );
            run.save().unwrap();
        };
        // Three runs, each making one view, the last with room for one older entry only.
        view(0, STORE_MAX);
        view(1, STORE_MAX);
        view(2, 2_200);
        let last = Cache::open(dir.path(), root.path());
        let mut kept: Vec<u64> = last.old.values().map(|(k, _)| *k).collect();
        kept.sort();
        assert_eq!(kept, [2, 3], "the entry kept longest ago went");
        let key_of = |n: usize| key(&[b"view", b"text", b"compressed"], &format!("{n}\n"));
        assert!(!last.old.contains_key(&key_of(0)));
        assert!(last.old.contains_key(&key_of(1)) && last.old.contains_key(&key_of(2)));
    }

    #[test]
    fn a_damaged_store_is_ignored_with_a_warning() {
        let (dir, root) = dirs();
        let text = "x = 1\n".repeat(50);
        let cache = Cache::open(dir.path(), root.path());
        cache.count(Encoding::O200kBase, &text, || counted(&text));
        cache.save().unwrap();
        let store = cache.store.clone().unwrap();
        let mut bytes = std::fs::read(&store).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&store, &bytes).unwrap();

        let again = Cache::open(dir.path(), root.path());
        assert!(again.warning().unwrap().contains("checksum"));
        let mut made = false;
        again.count(Encoding::O200kBase, &text, || {
            made = true;
            counted(&text)
        });
        assert!(made, "nothing is read from a damaged store");

        // Cut short: damaged too, never a panic.
        std::fs::write(&store, &bytes[..bytes.len() / 2]).unwrap();
        assert!(Cache::open(dir.path(), root.path()).warning().is_some());
    }

    #[test]
    fn a_store_with_a_valid_checksum_but_wrong_kinds_or_counts_cannot_crash_a_pack() {
        let (dir, root) = dirs();
        let text = "line one\nline two\nline three\n";
        let cache = Cache::open(dir.path(), root.path());
        // A view stored under a count's key, and counts that fit no text.
        let count_key = key(&[b"count", Encoding::O200kBase.name().as_bytes()], text);
        let view = View {
            text: "forged".to_string(),
            degraded: None,
        };
        cache.insert(count_key, Value::View(view));
        let view_key = key(&[b"view", b"rust", b"outline"], text);
        cache.insert(view_key, Value::Count([usize::MAX / 4, 7, 9]));
        cache.save().unwrap();

        let again = Cache::open(dir.path(), root.path());
        assert!(again.warning().is_none());
        let split = again.count(Encoding::O200kBase, text, || counted(text));
        assert_eq!(split, counted(text), "a wrong kind is a miss");
        let outline = again.view(Language::Rust, Fidelity::Outline, text, || View {
            text: String::new(),
            degraded: None,
        });
        assert!(outline.text.is_empty());
        // Wrong numbers give a wrong count, but the text is cut only where it may be.
        let wrong = SplitCount::from_parts(text, [1, 2, 3]);
        let counter = Tiktoken::new(Encoding::O200kBase);
        wrong.wrapped(&counter, "<a>", text, "</a>");

        // Counts that could not be (more tokens than bytes, or overflowing) are a miss.
        let (dir, root) = dirs();
        let forged = Cache::open(dir.path(), root.path());
        forged.insert(count_key, Value::Count([usize::MAX, 1, 0]));
        forged.save().unwrap();
        let again = Cache::open(dir.path(), root.path());
        assert_eq!(
            again.count(Encoding::O200kBase, text, || counted(text)),
            counted(text)
        );
        assert_eq!(again.hits(), (0, 1));
    }

    #[test]
    fn a_store_from_another_build_is_silently_replaced() {
        let (dir, root) = dirs();
        let text = "y = 2\n";
        let mut cache = Cache::open(dir.path(), root.path());
        cache.build = [7; 32];
        cache.count(Encoding::O200kBase, text, || counted(text));
        cache.save().unwrap();
        let again = Cache::open(dir.path(), root.path());
        assert!(again.warning().is_none());
        assert!(again.old.is_empty());
    }
}
