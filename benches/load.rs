//! Reading a file into a buffer with read(2) against memory-mapping it, for large files.
//!
//! `cargo bench --bench load`. For files of 1, 8 and 64 MiB of code-like text (in the page
//! cache, as files being packed usually are) it times, alternating, round after round:
//!
//! - read: `read(2)` into a buffer sized from `fstat`, UTF-8 validation, a pass over the bytes
//!   (counting lines);
//! - mmap: `memmap2::Mmap`, the same validation and pass over the mapped bytes;
//! - load: `ctxpack::load::load`, what the packer runs (read, UTF-8, XML sanitizing, line ends).
//!
//! It prints the median time and throughput of each. memmap2 is a dev-dependency for this bench
//! only: the packer reads, because a mapped file that shrinks while it is read kills the process
//! with SIGBUS.

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;
use std::time::Instant;

use ctxpack::load::{load, Loaded};

const ROUNDS: usize = 15;
const SIZES_MIB: [usize; 3] = [1, 8, 64];

fn main() {
    let dir = tempfile::tempdir().expect("temporary directory");
    println!(
        "{:>6}  {:>22}  {:>22}  {:>22}",
        "size", "read (median)", "mmap (median)", "load::load (median)"
    );
    for mib in SIZES_MIB {
        let path = dir.path().join(format!("{mib}mib.rs"));
        write_text(&path, mib << 20);
        let expected = by_read(&path);
        assert_eq!(by_mmap(&path), expected);

        let (mut read, mut mmap, mut packer) = (Vec::new(), Vec::new(), Vec::new());
        for round in 0..=ROUNDS {
            let t = time(|| by_read(&path));
            let m = time(|| by_mmap(&path));
            let l = time(|| by_load(&path));
            // Round 0 warms the page cache and the allocator.
            if round > 0 {
                read.push(t);
                mmap.push(m);
                packer.push(l);
            }
        }
        let show = |secs: &mut Vec<f64>| {
            let median = median(secs);
            format!(
                "{:>8.2} ms {:>7.0} MB/s",
                median * 1e3,
                (mib << 20) as f64 / 1e6 / median
            )
        };
        println!(
            "{:>3} MiB  {}  {}  {}",
            mib,
            show(&mut read),
            show(&mut mmap),
            show(&mut packer)
        );
    }
}

fn time(f: impl FnOnce() -> usize) -> f64 {
    let start = Instant::now();
    std::hint::black_box(f());
    start.elapsed().as_secs_f64()
}

fn by_read(path: &Path) -> usize {
    let mut file = File::open(path).expect("open");
    let len = file.metadata().expect("fstat").len();
    let mut bytes = Vec::with_capacity(len as usize + 1);
    (&mut file)
        .take(len + 1)
        .read_to_end(&mut bytes)
        .expect("read");
    lines(std::str::from_utf8(&bytes).expect("UTF-8"))
}

fn by_mmap(path: &Path) -> usize {
    let file = File::open(path).expect("open");
    // SAFETY: the file is private to this benchmark and nothing changes it while it is mapped.
    let map = unsafe { memmap2::Mmap::map(&file) }.expect("mmap");
    lines(std::str::from_utf8(&map).expect("UTF-8"))
}

fn by_load(path: &Path) -> usize {
    match load(path, 1 << 40) {
        Loaded::Text(file) => lines(&file.text),
        Loaded::Omitted(reason, _) => panic!("{} omitted: {reason}", path.display()),
    }
}

fn lines(text: &str) -> usize {
    memchr::memchr_iter(b'\n', text.as_bytes()).count()
}

/// Writes `size` bytes of Rust-like text.
fn write_text(path: &Path, size: usize) {
    let line = "    let request_buffer = parse_token(&stream, offset + 42)?; // keep the order\n";
    let mut text = String::with_capacity(size + line.len());
    let mut i = 0usize;
    while text.len() < size {
        if i.is_multiple_of(12) {
            text.push_str(&format!(
                "pub fn handler_{i}(input: &str) -> Result<usize, Error> {{\n"
            ));
        }
        text.push_str(line);
        i += 1;
    }
    text.truncate(size);
    File::create(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .expect("write the benchmark file");
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}
