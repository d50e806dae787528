//! `ctxpack mcp`: a Model Context Protocol server on stdio, so coding agents fetch
//! budget-fitted context themselves. Built on the official Rust SDK (`rmcp`); a layer on top of
//! the pipeline: each tool is a thin call into the library ([`tools`]), never into the command
//! line.
//!
//! The protocol loop runs on tokio; every tool call runs on tokio's blocking pool, so a slow pack
//! does not hold up the answer to a `tools/list` or to another call. Each root keeps one
//! [`Session`] (the cache between runs and the worker pool) for all its calls.

pub mod kept;
pub mod tools;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt};

use crate::cache::Cache;
use crate::pack::{PackError, Session};

/// A response larger than this many tokens is kept by the server and returned as a summary and
/// an id, unless `--max-response-tokens` says otherwise. Claude Code warns above 10,000 tokens of
/// tool output and cuts it at 25,000 by default.
pub const DEFAULT_MAX_RESPONSE_TOKENS: usize = 25_000;

/// What the server is started with.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The directories tools may read, canonical; the first is the default.
    pub roots: Vec<PathBuf>,
    /// The most tokens one response carries.
    pub max_response_tokens: usize,
    /// Where the cache between runs lives; `None`: no cache.
    pub cache_dir: Option<PathBuf>,
}

/// Why the server could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("could not start the server's runtime: {0}")]
    Runtime(#[source] std::io::Error),
    #[error("the MCP connection failed: {0}")]
    Connection(String),
}

/// One root the server may read, with the session its calls share (made on first use).
pub struct Root {
    pub path: PathBuf,
    /// Its directory name, by which a tool call may choose it.
    pub name: String,
    session: OnceLock<Result<Session, String>>,
    cache_dir: Option<PathBuf>,
}

impl Root {
    fn new(path: PathBuf, cache_dir: Option<PathBuf>) -> Root {
        let name = path
            .file_name()
            .map(crate::types::shown_name)
            .unwrap_or_else(|| "/".to_string());
        Root {
            path,
            name,
            session: OnceLock::new(),
            cache_dir,
        }
    }

    /// The session of this root's calls.
    pub fn session(&self) -> Result<&Session, String> {
        self.session
            .get_or_init(|| {
                let cache = match &self.cache_dir {
                    Some(dir) => Cache::open(dir, &self.path),
                    None => Cache::disabled(),
                };
                let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
                Session::new(threads, cache).map_err(|e: PackError| e.to_string())
            })
            .as_ref()
            .map_err(Clone::clone)
    }
}

/// What every call shares.
pub struct State {
    pub roots: Vec<Root>,
    pub max_response_tokens: usize,
    pub kept: Mutex<kept::Kept>,
}

impl State {
    pub fn new(settings: &Settings) -> State {
        State {
            roots: settings
                .roots
                .iter()
                .map(|r| Root::new(r.clone(), settings.cache_dir.clone()))
                .collect(),
            max_response_tokens: settings.max_response_tokens,
            kept: Mutex::new(kept::Kept::default()),
        }
    }
}

/// The MCP server: the protocol side of [`State`].
#[derive(Clone)]
pub struct Server {
    state: Arc<State>,
    tools: Arc<Vec<Tool>>,
}

impl Server {
    pub fn new(settings: &Settings) -> Server {
        Server {
            state: Arc::new(State::new(settings)),
            tools: Arc::new(tools::list()),
        }
    }
}

const INSTRUCTIONS: &str = "ctxpack packs this repository into token-budget-fitted context. \
Use `pack` with a `budget` (and a `focus`, a `plan` or a `diff` base) to get the files that matter \
for a task in one XML document with exact token counts; `stats` to see what a budget would hold; \
`refs` to check that a plan's files and symbols exist before acting on it; `outline` and `symbol` \
to look at files and definitions. A response over the server's limit is kept and returned as an \
id: page through it with `read_pack`.";

impl ServerHandler for Server {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(
                Implementation::new("ctxpack", env!("CARGO_PKG_VERSION")).with_title("ctxpack"),
            )
            .with_instructions(INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.tools.to_vec()))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.tools.iter().find(|t| t.name == name).cloned()
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let name = request.name.to_string();
        if !self.tools.iter().any(|t| t.name == name) {
            let known: Vec<&str> = self.tools.iter().map(|t| t.name.as_ref()).collect();
            return Err(ErrorData::invalid_params(
                format!("no tool {name:?}; the tools are {}", known.join(", ")),
                None,
            ));
        }
        let state = Arc::clone(&self.state);
        let arguments = request.arguments.unwrap_or_default();
        // Off the protocol loop: packing a large tree takes a while.
        let done = tokio::task::spawn_blocking(move || tools::call(&state, &name, arguments)).await;
        let result = done.unwrap_or_else(|error| {
            CallToolResult::error(vec![ContentBlock::text(format!(
                "ctxpack failed inside this call ({error}); please report it"
            ))])
        });
        Ok(result.into())
    }
}

/// Serves MCP on standard input and output until the client disconnects.
pub fn serve(settings: &Settings) -> Result<(), ServeError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .thread_name("ctxpack-mcp")
        .build()
        .map_err(ServeError::Runtime)?;
    let server = Server::new(settings);
    let state = Arc::clone(&server.state);
    let outcome = runtime.block_on(async move {
        let running = match server.serve(rmcp::transport::stdio()).await {
            Ok(running) => running,
            // A client that goes away before it says hello: nothing to serve, no failure.
            Err(rmcp::service::ServerInitializeError::ConnectionClosed(_)) => return Ok(()),
            Err(error) => return Err(ServeError::Connection(error.to_string())),
        };
        running
            .waiting()
            .await
            .map_err(|e| ServeError::Connection(e.to_string()))?;
        Ok(())
    });
    // A call still running when the client left is not waited for; what the caches learnt is
    // kept.
    runtime.shutdown_background();
    for root in &state.roots {
        if let Some(Ok(session)) = root.session.get() {
            let _ = session.cache().save();
        }
    }
    outcome
}
