//! Integration tests: the `ctxpack` binary run against fixture trees, its output read back by an
//! independent XML parser (roxmltree) and compared with the bytes on disk.

mod budget;
mod budget_property;
mod cache;
mod diff;
mod handoff;
mod house;
mod lang;
mod mcp;
mod pack;
mod plan;
mod secrets;
mod stats;
mod support;
