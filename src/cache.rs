//! A cache of per-file work between runs: token counts and parsed views, keyed by their text.
//!
//! Counting and parsing are the costly stages of a pack, and between two packs of the same
//! repository most files have not changed. Each result is stored under a hash of everything it
//! depends on: the text itself, and the encoding (counts) or the language and fidelity (views).
//! A changed file has a new key, so the cache never needs invalidating and can never show stale
//! text; the output is byte-for-byte the output without it.
//!
//! There is one store file per packed root, in the user's cache directory. It is read whole at
//! the start, written whole at the end (to a temporary file, then renamed, so concurrent runs
//! never see a partial store), and a checksum over it guards against damage: a store that fails
//! it is ignored. A store written by another ctxpack build is ignored too, since views depend on
//! the code that made them. It keeps what this run used, and of the rest only as much as this
//! run used again, so it stays about the size of one pack's views.

use std::collections::HashMap;
use std::fmt;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::lang::syntax::NoTree;
use crate::lang::{Fidelity, Language, View};
use crate::tokens::{Encoding, SplitCount};

/// What the start of a store says it is.
const MAGIC: &[u8; 8] = b"ctxpack\x01";
/// Bumped whenever the layout below changes.
const FORMAT: u32 = 1;
/// A store is never written larger than this (the entries of this run are kept whatever).
const KEEP_OLD_MAX: usize = 256 << 20;
/// Unused entries kept: up to this many bytes beyond twice what this run used.
const KEEP_OLD_SLACK: usize = 8 << 20;

type Key = [u8; 16];

/// A cached result.
#[derive(Clone, PartialEq, Eq)]
enum Value {
    Count(SplitCount),
    View(View),
}

/// Reuses token counts and views across runs. A disabled cache computes everything.
pub struct Cache {
    store: Option<PathBuf>,
    /// Identifies the build that wrote a store: only its own stores are read.
    build: [u8; 32],
    old: HashMap<Key, Value>,
    /// Every entry this run looked up or made, to be written back.
    used: Mutex<HashMap<Key, Value>>,
    hits: AtomicUsize,
    lookups: AtomicUsize,
    /// Why the store could not be read, for a warning.
    damaged: Option<String>,
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
            old: HashMap::new(),
            used: Mutex::new(HashMap::new()),
            hits: AtomicUsize::new(0),
            lookups: AtomicUsize::new(0),
            damaged: None,
        }
    }

    /// The default directory: `ctxpack` in the platform's user cache directory.
    pub fn default_dir() -> Option<PathBuf> {
        dirs::cache_dir().map(|d| d.join("ctxpack"))
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
        match std::fs::read(&store) {
            Ok(bytes) => match decode(&bytes, &cache.build) {
                Ok(old) => cache.old = old,
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

    /// `(hits, lookups)` so far.
    pub fn hits(&self) -> (usize, usize) {
        (
            self.hits.load(Ordering::Relaxed),
            self.lookups.load(Ordering::Relaxed),
        )
    }

    /// The token count of `text` in `encoding`, made by `count` unless cached.
    pub fn count(
        &self,
        encoding: Encoding,
        text: &str,
        count: impl FnOnce() -> SplitCount,
    ) -> SplitCount {
        let key = key(&[b"count", encoding.name().as_bytes()], text);
        match self.get(key, || Value::Count(count())) {
            Value::Count(split) => split,
            Value::View(_) => unreachable!("count keys hold counts"),
        }
    }

    /// The view of `text` (in `language`) at `fidelity`, made by `view` unless cached.
    pub fn view(
        &self,
        language: Language,
        fidelity: Fidelity,
        text: &str,
        view: impl FnOnce() -> View,
    ) -> View {
        let key = key(
            &[
                b"view",
                language.name().as_bytes(),
                fidelity.name().as_bytes(),
            ],
            text,
        );
        match self.get(key, || Value::View(view())) {
            Value::View(view) => view,
            Value::Count(_) => unreachable!("view keys hold views"),
        }
    }

    fn get(&self, key: Key, make: impl FnOnce() -> Value) -> Value {
        if self.store.is_none() {
            return make();
        }
        self.lookups.fetch_add(1, Ordering::Relaxed);
        if let Some(value) = self.used.lock().expect("cache lock").get(&key) {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return value.clone();
        }
        let value = match self.old.get(&key) {
            Some(value) => {
                self.hits.fetch_add(1, Ordering::Relaxed);
                value.clone()
            }
            None => make(),
        };
        self.used
            .lock()
            .expect("cache lock")
            .insert(key, value.clone());
        value
    }

    /// Writes the store back: what this run used, then other entries while the store stays
    /// small. Does nothing for a disabled cache, or when nothing was looked up.
    pub fn save(&self) -> io::Result<()> {
        let Some(store) = &self.store else {
            return Ok(());
        };
        let used = self.used.lock().expect("cache lock");
        if used.is_empty() {
            return Ok(());
        }
        let mut entries: Vec<(&Key, &Value)> = used.iter().collect();
        entries.sort_unstable_by_key(|(k, _)| **k);
        let mut body = Vec::new();
        for (key, value) in &entries {
            encode_entry(&mut body, key, value);
        }
        let keep = (2 * body.len() + KEEP_OLD_SLACK).min(KEEP_OLD_MAX);
        let mut others: Vec<(&Key, &Value)> = self
            .old
            .iter()
            .filter(|(k, _)| !used.contains_key(*k))
            .collect();
        others.sort_unstable_by_key(|(k, _)| **k);
        let mut count = entries.len();
        for (key, value) in others {
            let before = body.len();
            encode_entry(&mut body, key, value);
            if body.len() > keep {
                body.truncate(before);
                break;
            }
            count += 1;
        }

        let mut bytes = Vec::with_capacity(body.len() + 80);
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&FORMAT.to_le_bytes());
        bytes.extend_from_slice(&self.build);
        bytes.extend_from_slice(blake3::hash(&body).as_bytes());
        bytes.extend_from_slice(&(count as u64).to_le_bytes());
        bytes.extend_from_slice(&body);

        let dir = store.parent().expect("a store lies in a directory");
        create_private_dir(dir)?;
        // Created readable by the owner only: views may hold code the user keeps private.
        let mut temp = tempfile::Builder::new()
            .prefix(".store-")
            .tempfile_in(dir)?;
        temp.write_all(&bytes)?;
        temp.persist(store).map_err(|e| e.error)?;
        Ok(())
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

/// This build of ctxpack: its version and, when it can be read, the size and time of its
/// executable, so that a rebuilt binary whose views may differ does not read an older store.
fn build_id() -> [u8; 32] {
    let mut hasher = blake3::Hasher::new();
    hasher.update(env!("CARGO_PKG_VERSION").as_bytes());
    hasher.update(&FORMAT.to_le_bytes());
    if let Some(meta) = std::env::current_exe()
        .ok()
        .and_then(|exe| std::fs::metadata(exe).ok())
    {
        hasher.update(&meta.len().to_le_bytes());
        if let Some(since) = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        {
            hasher.update(&since.as_nanos().to_le_bytes());
        }
    }
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

fn put(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&(n as u64).to_le_bytes());
}

fn encode_entry(out: &mut Vec<u8>, key: &Key, value: &Value) {
    out.extend_from_slice(key);
    match value {
        Value::Count(split) => {
            out.push(TAG_COUNT);
            let (cuts, [head, middle, tail]) = split.parts();
            let (h, t) = cuts.map_or((u64::MAX as usize, 0), |c| c);
            for n in [h, t, head, middle, tail] {
                put(out, n);
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

/// Reads a store's entries, checking everything; nothing in it is trusted.
fn decode(bytes: &[u8], build: &[u8; 32]) -> Result<HashMap<Key, Value>, Unread> {
    let mut r = Reader { bytes, at: 0 };
    if r.take(MAGIC.len())? != MAGIC {
        return Err(Damaged("not a ctxpack cache"));
    }
    if r.u32()? != FORMAT || r.take(32)? != build {
        return Err(Stale);
    }
    let sum = r.take(32)?;
    let count = r.usize()?;
    if blake3::hash(&bytes[r.at..]).as_bytes() != sum {
        return Err(Damaged("checksum mismatch"));
    }
    let mut entries = HashMap::new();
    for _ in 0..count {
        let key: Key = r.take(16)?.try_into().expect("16 bytes");
        let value = match r.take(1)?[0] {
            TAG_COUNT => {
                let [h, t, head, middle, tail] =
                    [r.usize()?, r.usize()?, r.usize()?, r.usize()?, r.usize()?];
                let cuts = (h != u64::MAX as usize).then_some((h, t));
                Value::Count(SplitCount::from_parts(cuts, [head, middle, tail]))
            }
            TAG_VIEW => {
                let degraded = match r.take(1)?[0] {
                    0 => None,
                    1 => Some(NoTree::Unsupported),
                    2 => Some(NoTree::TimedOut),
                    3 => Some(NoTree::SyntaxErrors),
                    _ => return Err(Damaged("unknown fallback")),
                };
                let len = r.usize()?;
                let text = std::str::from_utf8(r.take(len)?)
                    .map_err(|_| Damaged("a view is not UTF-8"))?;
                Value::View(View {
                    text: text.to_string(),
                    degraded,
                })
            }
            _ => return Err(Damaged("unknown entry")),
        };
        entries.insert(key, value);
    }
    if r.at != bytes.len() {
        return Err(Damaged("trailing bytes"));
    }
    Ok(entries)
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

    fn usize(&mut self) -> Result<usize, Unread> {
        let n = u64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes"));
        usize::try_from(n).map_err(|_| Damaged("a number out of range"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::{Tiktoken, TokenCounter};

    fn counted(text: &str) -> SplitCount {
        SplitCount::new(&Tiktoken::new(Encoding::O200kBase), text)
    }

    #[test]
    fn a_saved_store_gives_back_what_was_put_in_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let root = tempfile::tempdir().unwrap();
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
        // Other encodings, fidelities and texts are other keys.
        let other = Tiktoken::new(Encoding::Cl100kBase);
        let cl = again.count(Encoding::Cl100kBase, text, || SplitCount::new(&other, text));
        assert_eq!(cl.total(), other.count(text));
        let outline = again.view(Language::Rust, Fidelity::Outline, text, || View {
            text: "fn main()\n".to_string(),
            degraded: None,
        });
        assert_eq!(outline.text, "fn main()\n");
        let changed = format!("{text}// changed\n");
        assert_eq!(
            again.count(Encoding::O200kBase, &changed, || counted(&changed)),
            counted(&changed)
        );
        assert_eq!(again.hits(), (2, 5));
    }

    #[test]
    fn a_damaged_store_is_ignored_with_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        let root = tempfile::tempdir().unwrap();
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
    fn a_store_from_another_build_is_silently_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let root = tempfile::tempdir().unwrap();
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
