//! What the in-process pack benches share: a pack's settings from command-line flags, a pack as
//! the command runs it, and medians.

use std::path::Path;

use clap::Parser;

use ctxpack::cli::{Cli, Command};
use ctxpack::config::PackConfig;

/// The settings of `ctxpack pack CORPUS -q -o OUT EXTRA...`.
pub fn pack_config<S: AsRef<std::ffi::OsStr>>(
    corpus: &Path,
    out: &Path,
    extra: &[S],
) -> PackConfig {
    let mut args: Vec<std::ffi::OsString> = vec![
        "ctxpack".into(),
        "pack".into(),
        corpus.into(),
        "-q".into(),
        "-o".into(),
        out.into(),
    ];
    args.extend(extra.iter().map(|a| a.as_ref().to_os_string()));
    let cli = Cli::parse_from(args);
    let Command::Pack(args) = cli.command else {
        unreachable!("the arguments above name the pack command")
    };
    PackConfig::from_args(args, &mut std::io::empty()).expect("config")
}

/// Packs as `ctxpack pack` does: opens the cache, packs, writes the document where `config`
/// says (stdout is thrown away), and saves the cache.
pub fn pack(config: &PackConfig) {
    let (cache, _) = config.open_cache();
    let session =
        ctxpack::pack::Session::new(config.request.source.threads, cache).expect("session");
    let packed =
        ctxpack::pack::pack(&config.request, &session, &ctxpack::types::Silent).expect("pack");
    let mut sink = ctxpack::output::Sink::open(config.output.as_deref()).expect("output");
    packed
        .document
        .expect("a document")
        .write_to(sink.writer())
        .expect("write");
    sink.finish().expect("write");
    session.cache().save().expect("save the cache");
}

pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(|a, b| a.total_cmp(b));
    sorted[sorted.len() / 2]
}
