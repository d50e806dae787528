//! ctxpack packs a codebase into a token-budget-fitted context for large language models.
//!
//! The pipeline runs one way: walk → load → secrets → analyze (`lang`) → tokens → rank → fit →
//! render. [`pack::pack`] is the entry point every caller uses: a request in, a document and a
//! report out, nothing printed. `plan` steers a pack from a plan's references; `commands` is the
//! command line on top. `docs/architecture.md` says what each module owns.

pub mod cache;
pub mod cli;
pub mod commands;
pub mod config;
pub mod diff;
pub mod document;
pub mod file;
pub mod fit;
pub mod git;
pub mod handoff;
pub mod inspect;
pub mod lang;
pub mod load;
pub mod mcp;
pub mod output;
pub mod pack;
pub mod plain;
pub mod plan;
pub mod rank;
pub mod render;
pub mod secrets;
pub mod tokens;
pub mod types;
pub mod walk;

pub use commands::{run, Failure};
