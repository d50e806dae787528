//! `ctxpack mcp`: the MCP server on stdio. Standard output carries the protocol, so nothing
//! else is printed there; problems go to stderr.

use std::path::PathBuf;

use super::Failure;
use crate::cache::Cache;
use crate::cli::McpArgs;
use crate::mcp::{self, Settings};

pub fn run(args: McpArgs) -> Result<(), Failure> {
    let cwd = std::env::current_dir().map_err(anyhow::Error::from)?;
    let given = if args.roots.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.roots.clone()
    };
    let mut roots = Vec::new();
    for root in &given {
        let path = cwd.join(root);
        let canonical = std::fs::canonicalize(&path)
            .map_err(|e| Failure::Usage(format!("--root {}: {e}", root.display())))?;
        if !canonical.is_dir() {
            return Err(Failure::Usage(format!(
                "--root {}: not a directory",
                root.display()
            )));
        }
        if !roots.contains(&canonical) {
            roots.push(canonical);
        }
    }
    let cache_dir = match &args.cache_dir {
        _ if args.no_cache => None,
        Some(dir) => Some(cwd.join(dir)),
        None => Cache::configured_dir(&cwd),
    };
    let settings = Settings {
        roots,
        max_response_tokens: args.max_response_tokens,
        cache_dir,
    };
    mcp::serve(&settings).map_err(|e| Failure::Runtime(anyhow::Error::new(e)))
}
