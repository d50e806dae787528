//! `ctxpack.toml`: the models, which phase runs on which, the task rules and the packs' defaults.
//! One file, read by one parser (the `toml` crate, whose errors name the line).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::{self, Deserializer};
use serde::Deserialize;
use toml::Spanned;

use crate::tokens::Encoding;

/// The file's name at the repository root.
pub const FILE_NAME: &str = "ctxpack.toml";

/// A model call that takes longer than this is ended, unless the model's `timeout` says
/// otherwise.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// Why the configuration cannot be used: always something to fix in the file (or its absence).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}", missing_message(.path))]
    Missing { path: PathBuf },
    #[error("could not read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
}

fn missing_message(path: &Path) -> String {
    format!(
        "no {} at {}: the phases need to know which model CLI to run. Run `ctxpack init` to \
         write one with the model CLIs found on PATH, or write it yourself, for example:\n\n{}",
        FILE_NAME,
        path.display(),
        EXAMPLE
    )
}

/// The model CLIs `ctxpack init` knows how to set up, in the order it prefers them for
/// planning: (program, model name, the table's lines).
const KNOWN_CLIS: &[(&str, &str, &str)] = &[
    (
        "claude",
        "claude",
        r#"# Claude Code: the prompt on stdin; executes by editing the files itself in the task's
# worktree, plans and reviews without permission to edit. Its tokenizer is not o200k_base:
# margin keeps prompts that much under the window.
command = ["claude", "-p", "--permission-mode", "acceptEdits"]
readonly_command = ["claude", "-p"]
window = "200k"
reserve = "16k"
margin = "15%"
edits = "agent""#,
    ),
    (
        "gemini",
        "gemini",
        r#"# Gemini CLI: reads stdin as input; --yolo lets it edit files without asking, so only
# execute gets it. Its tokenizer is not o200k_base: margin keeps prompts under the window.
command = ["gemini", "--yolo", "-p", "Do what the input above asks."]
readonly_command = ["gemini", "-p", "Do what the input above asks."]
window = "1m"
reserve = "32k"
margin = "15%"
edits = "agent""#,
    ),
    (
        "codex",
        "codex",
        r#"# Codex CLI: `-` reads the prompt from stdin; --full-auto edits files in a sandbox,
# a read-only sandbox for plan and review.
command = ["codex", "exec", "--full-auto", "-"]
readonly_command = ["codex", "exec", "--sandbox", "read-only", "-"]
window = "200k"
reserve = "16k"
edits = "agent""#,
    ),
    (
        "llm",
        "llm",
        r#"# Simon Willison's llm: text only, so ctxpack applies the diffs it answers with.
command = ["llm", "-m", "gpt-4o-mini"]
window = "128k"
reserve = "16k"
edits = "diff""#,
    ),
    (
        "ollama",
        "ollama",
        r#"# A local model (`ollama serve` must run): text only, diffs applied by ctxpack. Its
# tokenizer is not o200k_base: margin keeps prompts under the window.
command = ["ollama", "run", "qwen2.5-coder"]
window = "32k"
reserve = "4k"
margin = "15%"
edits = "diff""#,
    ),
];

/// A commented `ctxpack.toml` with a model table for each CLI `is_on_path` finds (the others
/// commented out), and phases that use them: a model from another family reviews, where there
/// is one.
pub fn starter(is_on_path: &dyn Fn(&str) -> bool) -> String {
    let found: Vec<&str> = KNOWN_CLIS
        .iter()
        .filter(|(program, _, _)| is_on_path(program))
        .map(|(_, name, _)| *name)
        .collect();
    let mut text = String::from(
        "# ctxpack.toml: the models the plan, execute and review phases run on.\n\
         # `ctxpack task new TITLE --spec SPEC.md`, then `ctxpack run ID`. See docs/handoff.md.\n\
         #\n\
         # A model is a command: the prompt goes to its standard input, its answer comes from its\n\
         # standard output. window: its context window in tokens; reserve: room kept for its\n\
         # answer (default 0); prompts fill at most window - reserve, counted exactly in\n\
         # `encoding` (default o200k_base), less `margin` (default 0%) for a model whose own\n\
         # tokenizer counts differently. edits: \"agent\" if the CLI edits files itself (it runs\n\
         # in the task's worktree), \"diff\" (the default) if it only prints text (ctxpack\n\
         # applies the unified diffs it answers with, all or nothing). readonly_command: how to\n\
         # run it for plan and review, which must not edit (default: command); a phase that\n\
         # only reads fails if files changed. Optional: timeout (\"30m\"), retries, fallback\n\
         # (another model, used when this one fails).\n\
         #\n\
         # Prices change often and are yours to set: USD per million tokens, for the cost ledger\n\
         # (`ctxpack cost`). Left at 0, calls are counted but cost nothing.\n",
    );
    if found.is_empty() {
        text.push_str(
            "#\n# No model CLI was found on PATH (claude, gemini, codex, llm, ollama): uncomment one\n\
             # below, or add your own.\n",
        );
    }
    for (program, name, table) in KNOWN_CLIS {
        let on = found.contains(name);
        text.push('\n');
        let block = format!("[models.{name}]\n{table}\nprice_in = 0.0\nprice_out = 0.0\n");
        for line in block.lines() {
            if on || line.starts_with('#') {
                text.push_str(line);
            } else {
                text.push_str("# ");
                text.push_str(line);
            }
            text.push('\n');
        }
        if !on {
            text.push_str(&format!("# ({program} was not found on PATH)\n"));
        }
    }
    let first = found.first().copied();
    // Review by another family where there is one: cross-model review catches what the same
    // model repeats.
    let reviewer = found.get(1).copied().or(first);
    text.push_str("\n[phases]\n");
    for (phase, model) in [("plan", first), ("execute", first), ("review", reviewer)] {
        match model {
            Some(model) => text.push_str(&format!("{phase} = \"{model}\"\n")),
            None => text.push_str(&format!("# {phase} = \"MODEL\"\n")),
        }
    }
    text.push_str(
        "\n[task]\n\
         # Refuse to execute a plan that names files or symbols that do not exist.\n\
         strict = false\n\
         # The most a task may cost, in USD: a call that could pass it is refused.\n\
         # max_cost = 5.0\n\
         \n[pack]\n\
         # Globs (gitignore syntax) every phase's pack leaves out or lets in, beyond .gitignore.\n\
         exclude = []\n\
         include = []\n\
         hidden = false\n",
    );
    text
}

/// The shortest useful configuration, shown when there is none.
pub const EXAMPLE: &str = r#"[models.claude]
command = ["claude", "-p", "--permission-mode", "acceptEdits"]
readonly_command = ["claude", "-p"]
window = "200k"
reserve = "16k"
edits = "agent"

[phases]
plan = "claude"
execute = "claude"
review = "claude""#;

/// How a model CLI changes files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Edits {
    /// The CLI edits files itself, in its working directory (the task's worktree).
    Agent,
    /// The CLI prints unified diffs; ctxpack applies them, all or nothing.
    Diff,
}

impl Edits {
    pub fn name(self) -> &'static str {
        match self {
            Edits::Agent => "agent",
            Edits::Diff => "diff",
        }
    }
}

/// One model CLI.
#[derive(Debug, Clone)]
pub struct Model {
    pub name: String,
    /// The program and its arguments; the prompt goes to its standard input.
    pub command: Vec<String>,
    /// Its context window, in tokens.
    pub window: usize,
    /// Tokens left for its answer: prompts fill at most `window - reserve`.
    pub reserve: usize,
    /// The encoding its prompts are counted in.
    pub encoding: Encoding,
    /// USD per million input and output tokens.
    pub price_in: f64,
    pub price_out: f64,
    pub timeout: Duration,
    pub edits: Edits,
    /// The model used when this one fails (after its retries).
    pub fallback: Option<String>,
    pub retries: u32,
    /// How to run it for the phases that only read (plan, review); `None`: `command`.
    pub readonly_command: Option<Vec<String>>,
    /// The share of `window - reserve` left unused, for a model whose own tokenizer counts more
    /// tokens than `encoding` does (0 to 0.5).
    pub margin: f64,
}

impl Model {
    /// The tokens a prompt may take: `window - reserve`, less the margin.
    pub fn prompt_limit(&self) -> usize {
        let room = self.window - self.reserve;
        room - (room as f64 * self.margin).ceil() as usize
    }

    /// The command `phase` runs: plan and review use `readonly_command` where there is one.
    pub fn command_for(&self, phase: Phase) -> &[String] {
        match (phase, &self.readonly_command) {
            (Phase::Plan | Phase::Review, Some(command)) => command,
            _ => &self.command,
        }
    }

    /// The cost of a call, in USD.
    pub fn cost(&self, input: usize, output: usize) -> f64 {
        (input as f64 * self.price_in + output as f64 * self.price_out) / 1e6
    }
}

/// The three phases of a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    Plan,
    Execute,
    Review,
}

impl Phase {
    pub const ALL: [Phase; 3] = [Phase::Plan, Phase::Execute, Phase::Review];

    pub fn name(self) -> &'static str {
        match self {
            Phase::Plan => "plan",
            Phase::Execute => "execute",
            Phase::Review => "review",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What every phase's pack leaves out or lets in, on top of the ignore files.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackDefaults {
    #[serde(default)]
    pub include: Vec<String>,
    #[serde(default)]
    pub exclude: Vec<String>,
    #[serde(default)]
    pub hidden: bool,
}

/// The whole configuration, checked.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where it was read from.
    pub path: PathBuf,
    pub models: BTreeMap<String, Model>,
    /// The model each phase runs on.
    pub phases: BTreeMap<Phase, String>,
    /// `execute` refuses to start while the plan names files that do not exist.
    pub strict: bool,
    /// The most a task may cost, in USD: a call that could pass it is refused.
    pub max_cost: Option<f64>,
    pub pack: PackDefaults,
}

impl Config {
    /// Reads the configuration at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Err(ConfigError::Missing {
                    path: path.to_path_buf(),
                })
            }
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        Config::parse(&text, path)
    }

    /// Parses `text`, read from `path` (for messages).
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        let raw: RawConfig = toml::from_str(text).map_err(|e| invalid(one_line(&e)))?;
        let at = |span: std::ops::Range<usize>| line_of(text, span.start);
        let mut models = BTreeMap::new();
        for (name, model) in raw.models {
            let line = at(model.span());
            let model = model.into_inner();
            if model.command.is_empty() || model.command[0].trim().is_empty() {
                return Err(invalid(format!(
                    "line {line}: [models.{name}] command is empty: give the program and its \
                     arguments, as in command = [\"claude\", \"-p\"]"
                )));
            }
            if model
                .readonly_command
                .as_ref()
                .is_some_and(|c| c.is_empty() || c[0].trim().is_empty())
            {
                return Err(invalid(format!(
                    "line {line}: [models.{name}] readonly_command is empty: give the program \
                     and its arguments, or leave it out to use command"
                )));
            }
            if model.reserve.0 >= model.window.0 {
                return Err(invalid(format!(
                    "line {line}: [models.{name}] reserve ({}) leaves nothing of window ({})",
                    model.reserve.0, model.window.0
                )));
            }
            for (price, field) in [(model.price_in, "price_in"), (model.price_out, "price_out")] {
                if !(price.is_finite() && price >= 0.0) {
                    return Err(invalid(format!(
                        "line {line}: [models.{name}] {field} must be a number of USD per \
                         million tokens, 0 or more"
                    )));
                }
            }
            models.insert(
                name.clone(),
                Model {
                    name,
                    command: model.command,
                    window: model.window.0,
                    reserve: model.reserve.0,
                    encoding: model.encoding.map_or(Encoding::O200kBase, |e| e.0),
                    price_in: model.price_in,
                    price_out: model.price_out,
                    timeout: model.timeout.map_or(DEFAULT_TIMEOUT, |t| t.0),
                    edits: model.edits.unwrap_or(Edits::Diff),
                    fallback: model.fallback.as_ref().map(|f| f.get_ref().clone()),
                    retries: model.retries,
                    readonly_command: model.readonly_command,
                    margin: model.margin.map_or(0.0, |m| m.0),
                },
            );
        }
        // Names that refer to models must name one.
        let unknown = |name: &Spanned<String>, what: &str| {
            invalid(format!(
                "line {}: {what} names the model {:?}, which no [models.{}] table defines \
                 (defined: {})",
                at(name.span()),
                name.get_ref(),
                name.get_ref(),
                if models.is_empty() {
                    "none".to_string()
                } else {
                    models.keys().cloned().collect::<Vec<_>>().join(", ")
                }
            ))
        };
        for (name, model) in &models {
            if let Some(fallback) = &model.fallback {
                if !models.contains_key(fallback) {
                    return Err(invalid(format!(
                        "[models.{name}] fallback names the model {fallback:?}, which no \
                         [models.{fallback}] table defines"
                    )));
                }
                if fallback == name {
                    return Err(invalid(format!(
                        "[models.{name}] fallback names the model itself"
                    )));
                }
            }
        }
        let mut phases = BTreeMap::new();
        let raw_phases = raw.phases.unwrap_or_default();
        for (phase, name) in [
            (Phase::Plan, &raw_phases.plan),
            (Phase::Execute, &raw_phases.execute),
            (Phase::Review, &raw_phases.review),
        ] {
            if let Some(name) = name {
                if !models.contains_key(name.get_ref()) {
                    return Err(unknown(name, &format!("[phases] {phase}")));
                }
                phases.insert(phase, name.get_ref().clone());
            }
        }
        let task = raw.task.unwrap_or_default();
        if let Some(max) = task.max_cost {
            if !(max.is_finite() && max > 0.0) {
                return Err(invalid(
                    "[task] max_cost must be a positive number of USD".to_string(),
                ));
            }
        }
        Ok(Config {
            path: path.to_path_buf(),
            models,
            phases,
            strict: task.strict,
            max_cost: task.max_cost,
            pack: raw.pack.unwrap_or_default(),
        })
    }

    /// The model `phase` runs on, or `chosen` (a `--model` for one run).
    pub fn model_for(&self, phase: Phase, chosen: Option<&str>) -> Result<&Model, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            path: self.path.clone(),
            message,
        };
        let name = match chosen {
            Some(name) => name,
            None => self.phases.get(&phase).ok_or_else(|| {
                invalid(format!(
                    "[phases] names no model for {phase}: add `{phase} = \"MODEL\"` to [phases], \
                     or pass --model"
                ))
            })?,
        };
        self.models.get(name).ok_or_else(|| {
            invalid(format!(
                "no [models.{name}] table defines the model {name:?} (defined: {})",
                self.models.keys().cloned().collect::<Vec<_>>().join(", ")
            ))
        })
    }

    /// The priciest configured model, for what the same calls would have cost on it.
    pub fn priciest(&self) -> Option<&Model> {
        self.models
            .values()
            .max_by(|a, b| (a.price_in + a.price_out).total_cmp(&(b.price_in + b.price_out)))
    }
}

/// A toml error on one line: its first line says where, the rest shows the text.
fn one_line(error: &toml::de::Error) -> String {
    let message = error.message();
    match error.span() {
        Some(_) => {
            let full = error.to_string();
            // "TOML parse error at line 4, column 10" is the first line.
            let place = full.lines().next().unwrap_or("").trim();
            let place = place.trim_start_matches("TOML parse error at ");
            format!("{place}: {message}")
        }
        None => message.to_string(),
    }
}

/// The 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    models: BTreeMap<String, Spanned<RawModel>>,
    phases: Option<RawPhases>,
    task: Option<RawTask>,
    pack: Option<PackDefaults>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModel {
    command: Vec<String>,
    window: Tokens,
    #[serde(default)]
    reserve: Tokens,
    encoding: Option<EncodingName>,
    #[serde(default)]
    price_in: f64,
    #[serde(default)]
    price_out: f64,
    timeout: Option<Timeout>,
    edits: Option<Edits>,
    fallback: Option<Spanned<String>>,
    #[serde(default)]
    retries: u32,
    readonly_command: Option<Vec<String>>,
    margin: Option<Margin>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawPhases {
    plan: Option<Spanned<String>>,
    execute: Option<Spanned<String>>,
    review: Option<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawTask {
    #[serde(default)]
    strict: bool,
    max_cost: Option<f64>,
}

/// A token count: `200k`, `1m`, `128000` or a number.
#[derive(Debug, Default)]
struct Tokens(usize);

impl<'de> Deserialize<'de> for Tokens {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Tokens, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(i64),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Number(n) if n > 0 => Ok(Tokens(n as usize)),
            Raw::Number(n) => Err(de::Error::custom(format!(
                "{n} is not a token count: use a positive number, or 200k, 1m"
            ))),
            Raw::Text(text) => crate::tokens::parse_budget(&text)
                .map(Tokens)
                .map_err(de::Error::custom),
        }
    }
}

/// A share of the window left unused: `"15%"`, or a fraction such as `0.15`; at most half.
struct Margin(f64);

impl<'de> Deserialize<'de> for Margin {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Margin, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(f64),
            Text(String),
        }
        let bad = |shown: &str| {
            de::Error::custom(format!(
                "{shown} is not a margin: use a percentage from 0% to 50%, as in \"15%\""
            ))
        };
        let fraction = match Raw::deserialize(deserializer)? {
            Raw::Number(n) => n,
            Raw::Text(text) => match text.trim().strip_suffix('%') {
                Some(percent) => percent.trim().parse::<f64>().map_err(|_| bad(&text))? / 100.0,
                None => return Err(bad(&text)),
            },
        };
        if !(0.0..=0.5).contains(&fraction) {
            return Err(bad(&format!("{}%", fraction * 100.0)));
        }
        Ok(Margin(fraction))
    }
}

/// A duration: `90s`, `20m`, `1h`.
struct Timeout(Duration);

impl<'de> Deserialize<'de> for Timeout {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Timeout, D::Error> {
        let text = String::deserialize(deserializer)?;
        let duration = humantime::parse_duration(&text).map_err(|e| {
            de::Error::custom(format!(
                "{text:?} is not a duration ({e}): use 90s, 20m, 1h"
            ))
        })?;
        if duration.is_zero() {
            return Err(de::Error::custom("a timeout of 0 would end every call"));
        }
        Ok(Timeout(duration))
    }
}

struct EncodingName(Encoding);

impl<'de> Deserialize<'de> for EncodingName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<EncodingName, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map(EncodingName).map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(text, Path::new("ctxpack.toml")).map_err(|e| e.to_string())
    }

    const GOOD: &str = r#"
[models.big]
command = ["claude", "-p"]
window = "200k"
reserve = "16k"
price_in = 15
price_out = 75
timeout = "20m"
edits = "agent"
fallback = "small"
retries = 2
readonly_command = ["claude", "-p", "--permission-mode", "plan"]
margin = "10%"

[models.small]
command = ["llm", "-m", "gpt-4o-mini"]
window = 128000
encoding = "o200k_base"

[phases]
plan = "big"
execute = "small"
review = "big"

[task]
strict = true
max_cost = 2.5

[pack]
exclude = ["vendor/**"]
"#;

    #[test]
    fn a_complete_configuration_reads_back() {
        let config = parse(GOOD).unwrap();
        let big = &config.models["big"];
        assert_eq!((big.window, big.reserve), (200_000, 16_000));
        assert_eq!(big.prompt_limit(), 165_600);
        assert_eq!(big.command_for(Phase::Execute), ["claude", "-p"]);
        assert_eq!(
            big.command_for(Phase::Review),
            ["claude", "-p", "--permission-mode", "plan"]
        );
        assert_eq!(big.timeout, Duration::from_secs(1200));
        assert_eq!(big.edits, Edits::Agent);
        assert_eq!(big.fallback.as_deref(), Some("small"));
        assert_eq!(big.retries, 2);
        assert!((big.cost(1_000_000, 100_000) - 22.5).abs() < 1e-9);
        let small = &config.models["small"];
        assert_eq!(
            (small.window, small.reserve, small.edits),
            (128_000, 0, Edits::Diff)
        );
        assert_eq!(small.prompt_limit(), 128_000);
        assert_eq!(small.command_for(Phase::Plan), ["llm", "-m", "gpt-4o-mini"]);
        assert_eq!(
            config.model_for(Phase::Execute, None).unwrap().name,
            "small"
        );
        assert_eq!(
            config.model_for(Phase::Execute, Some("big")).unwrap().name,
            "big"
        );
        assert!(config.strict);
        assert_eq!(config.max_cost, Some(2.5));
        assert_eq!(config.pack.exclude, ["vendor/**"]);
        assert_eq!(config.priciest().unwrap().name, "big");
    }

    #[test]
    fn bad_keys_and_values_are_reported_with_their_line() {
        for (text, wanted) in [
            (
                "[models.a]\ncommand = [\"x\"]\nwindow = \"lots\"\n",
                "line 3",
            ),
            (
                "[models.a]\ncommand = [\"x\"]\nwindow = 100\nwindo = 5\n",
                "line 4",
            ),
            (
                "[models.a]\ncommand = [\"x\"]\nwindow = 100\nedits = \"magic\"\n",
                "line 4",
            ),
            (
                "[models.a]\ncommand = [\"x\"]\nwindow = 100\ntimeout = \"soon\"\n",
                "line 4",
            ),
            (
                "[models.a]\ncommand = [\"x\"]\nwindow = 100\n[phases]\nplan = \"b\"\n",
                "line 5",
            ),
            ("[models.a]\ncommand = []\nwindow = 100\n", "line 1"),
            (
                "[models.a]\ncommand = [\"x\"]\nwindow = 100\nreserve = 100\n",
                "leaves nothing",
            ),
            ("[colours]\nred = 1\n", "line 1"),
            (
                "[models.a]\ncommand = [\"x\"]\nwindow = 100\nmargin = \"90%\"\n",
                "line 4",
            ),
        ] {
            let error = parse(text).expect_err(text);
            assert!(error.contains(wanted), "{text:?}: {error}");
            assert!(error.starts_with("ctxpack.toml: "), "{error}");
        }
        let error =
            parse("[models.a]\ncommand = [\"x\"]\nwindow = 100\nfallback = \"z\"\n").unwrap_err();
        assert!(error.contains("\"z\""), "{error}");
    }

    #[test]
    fn the_starter_file_parses_and_sets_up_the_clis_found() {
        let config = parse(&starter(&|p| p == "claude" || p == "llm")).unwrap();
        assert_eq!(config.models.keys().collect::<Vec<_>>(), ["claude", "llm"]);
        assert_eq!(config.phases[&Phase::Plan], "claude");
        assert_eq!(config.phases[&Phase::Review], "llm");
        assert_eq!(config.models["claude"].edits, Edits::Agent);
        assert_eq!(config.models["llm"].edits, Edits::Diff);
        // Nothing found: every table commented out, and still a valid file.
        let none = parse(&starter(&|_| false)).unwrap();
        assert!(none.models.is_empty() && none.phases.is_empty());
    }

    #[test]
    fn no_file_says_what_to_write() {
        let dir = tempfile::tempdir().unwrap();
        let error = Config::load(&dir.path().join(FILE_NAME))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("ctxpack init") && error.contains("[phases]"),
            "{error}"
        );
        // The example parses.
        assert!(parse(EXAMPLE).is_ok());
    }
}
