//! The `pack` command: walk → load → tokens → render, streamed in path order with exact counts.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Condvar, Mutex};

use anyhow::Context;

use crate::config::PackConfig;
use crate::lang::{self, Fidelity};
use crate::load::{self, LineEnds, Loaded};
use crate::output::{Sink, Spool};
use crate::render::report::{self, PackReport};
use crate::render::xml;
use crate::render::{FileElement, Summary, TreeItem};
use crate::tokens::{SplitCount, Tiktoken, TokenCounter};
use crate::walk::{self, Entry, OmitReason, Status, WalkOptions};

/// How many files may be read and counted ahead of the one being written, per thread. It bounds
/// memory: at most this many rendered files wait for their turn.
const READ_AHEAD_PER_THREAD: usize = 32;

/// The result of reading, counting and rendering one file.
enum Processed {
    File {
        bytes: Vec<u8>,
        tokens: usize,
        document_tokens: usize,
    },
    Omitted(OmitReason, Option<String>),
}

/// Runs a pack and writes the document. Progress, warnings and the summary go to `err`.
pub fn run(config: &PackConfig, err: &mut dyn Write) -> anyhow::Result<()> {
    for note in &config.notes {
        if !config.quiet {
            writeln!(err, "ctxpack: note: {note}")?;
        }
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(config.threads)
        .thread_name(|i| format!("ctxpack-{i}"))
        .build()
        .context("could not start worker threads")?;

    let walk_options = WalkOptions {
        threads: config.threads,
        ..config.walk.clone()
    };
    let walked = walk::walk(&config.inputs, &walk_options)?;
    for warning in &walked.warnings {
        writeln!(err, "ctxpack: warning: {warning}")?;
    }
    let mut entries = walked.entries;

    let counter = Tiktoken::new(config.encoding);
    let to_load: Vec<usize> = (0..entries.len())
        .filter(|&i| matches!(entries[i].status, Status::Load))
        .collect();

    let progress = report::progress(to_load.len(), config.quiet);
    let mut spool = Spool::new();
    let mut body_tokens = 0usize;
    let mut sizes: Vec<(usize, usize)> = Vec::new();
    let mut outcomes: Vec<(usize, Processed)> = Vec::with_capacity(to_load.len());
    {
        let entries_ref = &entries;
        let counter_ref = &counter;
        let to_load_ref = &to_load;
        let max_size = config.max_file_size;
        let mut consume = |position: usize, processed: Processed| -> io::Result<()> {
            progress.inc(1);
            let index = to_load_ref[position];
            match processed {
                Processed::File {
                    bytes,
                    tokens,
                    document_tokens,
                } => {
                    spool.append(&bytes)?;
                    body_tokens += document_tokens;
                    sizes.push((index, tokens));
                }
                omitted => outcomes.push((index, omitted)),
            }
            Ok(())
        };
        map_in_order(
            &pool,
            &to_load,
            |&i| process(&entries_ref[i], max_size, counter_ref),
            &mut consume,
        )
        .context("could not buffer the document")?;
    }
    progress.finish_and_clear();

    for (index, processed) in outcomes {
        if let Processed::Omitted(reason, detail) = processed {
            let entry = &mut entries[index];
            if reason == OmitReason::Unreadable {
                let detail = detail.as_deref().unwrap_or("unknown error");
                writeln!(
                    err,
                    "ctxpack: warning: skipped {}: {detail}",
                    entry.rel.display()
                )?;
            }
            entry.status = Status::Omitted(reason, detail);
        }
    }

    let summary = summarize(config, &entries, &sizes);
    let tree: Vec<TreeItem<'_>> = entries
        .iter()
        .map(|e| TreeItem {
            components: e.rel.components(),
            omitted: omit_reason(e),
        })
        .collect();
    let header = xml::header_body(&summary, &tree);
    let omitted_paths: Vec<(String, OmitReason)> = entries
        .iter()
        .filter_map(|e| omit_reason(e).map(|r| (e.rel.display(), r)))
        .collect();
    let omitted_refs: Vec<(&str, OmitReason)> = omitted_paths
        .iter()
        .map(|(p, r)| (p.as_str(), *r))
        .collect();
    let footer = xml::footer(&omitted_refs);

    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    let rest = counter.count(&text(&header)) + body_tokens + counter.count(&text(&footer));
    let version = env!("CARGO_PKG_VERSION");
    let total = xml::document_tokens(&counter, version, config.encoding.name(), rest);
    let root_line = xml::root_line(version, config.encoding.name(), total);

    let mut sink = Sink::open(config.output.as_deref())
        .with_context(|| output_context(config, "could not create"))?;
    let out = sink.writer();
    out.write_all(root_line.as_bytes())?;
    out.write_all(&header)?;
    spool.copy_to(out)?;
    out.write_all(&footer)?;
    sink.finish()
        .with_context(|| output_context(config, "could not write"))?;

    if !config.quiet {
        let mut top: Vec<(String, usize)> = sizes
            .iter()
            .map(|&(i, tokens)| (entries[i].rel.display(), tokens))
            .collect();
        top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        top.truncate(5);
        let report = PackReport {
            files: sizes.len(),
            document_tokens: total,
            encoding: config.encoding.name(),
            destination: config
                .output
                .as_ref()
                .and_then(|p| p.file_name())
                .map(|n| n.to_string_lossy().into_owned()),
            top_files: top,
            omitted: summary.omitted.clone(),
        };
        report::print_summary(err, &report)?;
    }
    Ok(())
}

fn output_context(config: &PackConfig, verb: &str) -> String {
    match &config.output {
        Some(path) => format!("{verb} {}", path.display()),
        None => format!("{verb} standard output"),
    }
}

fn omit_reason(entry: &Entry) -> Option<OmitReason> {
    match entry.status {
        Status::Load => None,
        Status::Omitted(reason, _) => Some(reason),
    }
}

fn summarize(config: &PackConfig, entries: &[Entry], sizes: &[(usize, usize)]) -> Summary {
    let mut omitted: BTreeMap<OmitReason, usize> = BTreeMap::new();
    for reason in entries.iter().filter_map(omit_reason) {
        *omitted.entry(reason).or_default() += 1;
    }
    Summary {
        root_name: config.root_name.clone(),
        encoding: config.encoding.name(),
        files_full: sizes.len(),
        file_tokens: sizes.iter().map(|&(_, t)| t).sum(),
        omitted: omitted.into_iter().collect(),
    }
}

fn process(entry: &Entry, max_size: u64, counter: &dyn TokenCounter) -> Processed {
    let file = match load::load(&entry.abs, max_size) {
        Loaded::Text(file) => file,
        Loaded::Omitted(reason, detail) => return Processed::Omitted(reason, detail),
    };
    let split = SplitCount::new(counter, &file.text);
    let tokens = split.total();
    let path = entry.rel.display();
    let language = lang::detect(&entry.abs, &file.text);
    let element = FileElement {
        path: &path,
        lang: language.name(),
        fidelity: Fidelity::Full,
        tokens: split,
        text: &file.text,
        bom_stripped: file.bom_stripped,
        lossy: file.lossy,
        sanitized: file.sanitized,
        eol: (file.line_ends != LineEnds::Lf).then(|| file.line_ends.name()),
    };
    let rendered = xml::render_file(&element, counter);
    Processed::File {
        bytes: rendered.bytes,
        tokens,
        document_tokens: rendered.document_tokens,
    }
}

/// Applies `work` to every item on the pool's threads and hands the results to `consume` in item
/// order, on the calling thread, as soon as each is next in line. Workers stay at most a bounded
/// window ahead of `consume`, so memory does not grow with the number of items.
fn map_in_order<T: Sync, R: Send>(
    pool: &rayon::ThreadPool,
    items: &[T],
    work: impl Fn(&T) -> R + Sync,
    consume: &mut dyn FnMut(usize, R) -> io::Result<()>,
) -> io::Result<()> {
    let window = pool.current_num_threads() * READ_AHEAD_PER_THREAD;
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    // How many results `consume` has taken: workers wait while they are a window ahead of it.
    let consumed = Mutex::new(0usize);
    let advanced = Condvar::new();
    let (sender, receiver) = mpsc::channel::<(usize, R)>();
    let mut result = Ok(());

    // `in_place_scope` runs this closure on the calling thread, so consuming never occupies a
    // worker, and a pool of one thread still makes progress.
    pool.in_place_scope(|scope| {
        for _ in 0..pool.current_num_threads() {
            let sender = sender.clone();
            let (next, stop, consumed, advanced, work) =
                (&next, &stop, &consumed, &advanced, &work);
            scope.spawn(move |_| loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= items.len() {
                    break;
                }
                {
                    let mut done = consumed.lock().unwrap_or_else(|p| p.into_inner());
                    while index >= *done + window && !stop.load(Ordering::Relaxed) {
                        done = advanced.wait(done).unwrap_or_else(|p| p.into_inner());
                    }
                }
                if stop.load(Ordering::Relaxed)
                    || sender.send((index, work(&items[index]))).is_err()
                {
                    break;
                }
            });
        }
        drop(sender);

        let mut waiting: BTreeMap<usize, R> = BTreeMap::new();
        let mut wanted = 0usize;
        for (index, value) in receiver.iter() {
            waiting.insert(index, value);
            while let Some(value) = waiting.remove(&wanted) {
                if let Err(error) = consume(wanted, value) {
                    result = Err(error);
                    stop.store(true, Ordering::Relaxed);
                    advanced.notify_all();
                    return;
                }
                wanted += 1;
            }
            *consumed.lock().unwrap_or_else(|p| p.into_inner()) = wanted;
            advanced.notify_all();
        }
    });
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_arrive_in_item_order_for_any_thread_count() {
        let items: Vec<u64> = (0..2000).collect();
        for threads in [1, 2, 3, 8] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let mut seen = Vec::new();
            map_in_order(
                &pool,
                &items,
                |&x| {
                    // Uneven work, so that results finish out of order.
                    let spin = (x * 7919) % 5000;
                    std::hint::black_box((0..spin).fold(x, |a, b| a.wrapping_mul(31) ^ b));
                    x * 2
                },
                &mut |i, v| {
                    assert_eq!(v, items[i] * 2);
                    seen.push(i);
                    Ok(())
                },
            )
            .unwrap();
            assert_eq!(seen, (0..items.len()).collect::<Vec<_>>());
        }
    }

    #[test]
    fn a_consumer_error_stops_the_workers() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let items: Vec<u32> = (0..10_000).collect();
        let calls = AtomicUsize::new(0);
        let result = map_in_order(
            &pool,
            &items,
            |&x| {
                calls.fetch_add(1, Ordering::Relaxed);
                x
            },
            &mut |i, _| {
                if i == 10 {
                    Err(io::Error::other("stop"))
                } else {
                    Ok(())
                }
            },
        );
        assert!(result.is_err());
        assert!(calls.load(Ordering::Relaxed) < items.len());
    }
}
