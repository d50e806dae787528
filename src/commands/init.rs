//! `ctxpack init`: a commented ctxpack.toml with the model CLIs found on PATH, and with `--skill`
//! a Claude Code skill. Nothing that exists is overwritten.

use std::path::{Path, PathBuf};

use super::Failure;
use crate::cli::InitArgs;
use crate::handoff::config::{starter, FILE_NAME};
use crate::handoff::runner::locate;

/// The skill `init --skill` writes: when and how an agent should call ctxpack.
pub const SKILL: &str = include_str!("skill.md");

/// Where the skill goes, under the repository's top.
pub const SKILL_PATH: &str = ".claude/skills/ctxpack/SKILL.md";

pub fn run(args: InitArgs) -> Result<(), Failure> {
    let cwd = std::env::current_dir().map_err(anyhow::Error::from)?;
    let top = top_of(&cwd);
    let config = top.join(FILE_NAME);
    if config.exists() {
        eprintln!(
            "ctxpack: {} exists; nothing was changed (edit it, or move it away to start afresh)",
            config.display()
        );
    } else {
        let text = starter(&|program| locate(program).is_ok());
        write_new(&config, &text)?;
        let found: Vec<&str> = ["claude", "gemini", "codex", "llm", "ollama"]
            .into_iter()
            .filter(|p| locate(p).is_ok())
            .collect();
        eprintln!(
            "ctxpack: wrote {}{}; set the prices, then: ctxpack task new TITLE --spec SPEC.md",
            config.display(),
            if found.is_empty() {
                " (no model CLI found on PATH: uncomment one)".to_string()
            } else {
                format!(" with {}", found.join(", "))
            }
        );
    }
    if args.skill {
        let skill = top.join(SKILL_PATH);
        if skill.exists() {
            eprintln!("ctxpack: {} exists; nothing was changed", skill.display());
        } else {
            write_new(&skill, SKILL)?;
            eprintln!("ctxpack: wrote {}", skill.display());
        }
    }
    Ok(())
}

/// The top of the repository's main checkout (also from inside a task's worktree, whose
/// files would otherwise be committed on the task's branch), or `dir` outside a repository.
fn top_of(dir: &Path) -> PathBuf {
    crate::handoff::main_top(dir).unwrap_or_else(|_| dir.to_path_buf())
}

/// Writes a file that must not exist yet (never replacing one made meanwhile).
fn write_new(path: &Path, text: &str) -> Result<(), Failure> {
    use std::io::Write;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(anyhow::Error::from)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| {
            anyhow::Error::new(e).context(format!("could not write {}", path.display()))
        })?;
    file.write_all(text.as_bytes())
        .map_err(anyhow::Error::from)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// The words of a shell command line: spaces split, double quotes group.
    fn words(line: &str) -> Vec<String> {
        let mut words = Vec::new();
        let mut word = String::new();
        let mut quoted = false;
        let mut started = false;
        for c in line.chars() {
            match c {
                '"' => {
                    quoted = !quoted;
                    started = true;
                }
                ' ' if !quoted => {
                    if started {
                        words.push(std::mem::take(&mut word));
                        started = false;
                    }
                }
                c => {
                    word.push(c);
                    started = true;
                }
            }
        }
        if started {
            words.push(word);
        }
        words
    }

    /// Every command the skill tells an agent to run is one this build accepts.
    #[test]
    fn the_skill_is_in_step_with_the_command_line() {
        let commands: Vec<&str> = SKILL
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with("ctxpack "))
            .collect();
        assert!(commands.len() >= 6, "{commands:?}");
        for line in commands {
            let line = line.split(" # ").next().unwrap_or(line).trim();
            let parsed = crate::cli::Cli::try_parse_from(words(line));
            assert!(parsed.is_ok(), "{line}: {}", parsed.err().unwrap());
        }
        for wanted in ["--budget", "refs", "--check", "--plan", "--diff"] {
            assert!(SKILL.contains(wanted), "the skill says nothing of {wanted}");
        }
    }
}
