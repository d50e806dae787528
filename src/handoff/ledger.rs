//! The ledger: one JSON line per model call (`ledger.jsonl` in the task's directory), and the
//! cost roll-up by phase and model.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The ledger's file name in a task's directory.
pub const FILE_NAME: &str = "ledger.jsonl";

/// One model call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub task: String,
    pub phase: String,
    pub model: String,
    /// 1 for the first try; retries and fallbacks count on.
    pub attempt: u32,
    /// When the call started (RFC 3339, UTC).
    pub started: String,
    pub duration_ms: u64,
    /// ctxpack's exact count of the prompt, in the model's encoding.
    pub input_tokens: usize,
    /// The output, counted the same way.
    pub output_tokens: usize,
    /// From the prices in ctxpack.toml, in USD.
    pub cost_usd: f64,
    /// `ok`, or how it failed (`exit status 1`, `timed out`, `no output`, `interrupted`).
    pub status: String,
    /// A hash of the prompt (BLAKE3, hex): which saved prompt this call was sent.
    pub prompt_hash: String,
}

impl Entry {
    pub fn ok(&self) -> bool {
        self.status == "ok"
    }
}

/// Reads a ledger's lines; a line that is not an entry is skipped (a hand edit, a crash mid-line).
pub fn read(text: &str) -> Vec<Entry> {
    text.lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

/// Calls and totals for one (phase, model).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Totals {
    pub calls: usize,
    pub failed: usize,
    pub input_tokens: usize,
    pub output_tokens: usize,
    pub cost_usd: f64,
}

impl Totals {
    fn add(&mut self, entry: &Entry) {
        self.calls += 1;
        self.failed += usize::from(!entry.ok());
        self.input_tokens += entry.input_tokens;
        self.output_tokens += entry.output_tokens;
        self.cost_usd += entry.cost_usd;
    }
}

/// The roll-up of some entries: by (phase, model), and in all.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Rollup {
    pub by_phase_and_model: BTreeMap<String, BTreeMap<String, Totals>>,
    pub total: Totals,
}

pub fn rollup<'a>(entries: impl IntoIterator<Item = &'a Entry>) -> Rollup {
    let mut rollup = Rollup::default();
    for entry in entries {
        rollup
            .by_phase_and_model
            .entry(entry.phase.clone())
            .or_default()
            .entry(entry.model.clone())
            .or_default()
            .add(entry);
        rollup.total.add(entry);
    }
    rollup
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(phase: &str, model: &str, input: usize, cost: f64, status: &str) -> Entry {
        Entry {
            task: "t".into(),
            phase: phase.into(),
            model: model.into(),
            attempt: 1,
            started: "2026-01-01T00:00:00Z".into(),
            duration_ms: 10,
            input_tokens: input,
            output_tokens: 5,
            cost_usd: cost,
            status: status.into(),
            prompt_hash: "h".into(),
        }
    }

    #[test]
    fn the_rollup_sums_by_phase_and_model() {
        let entries = [
            entry("plan", "big", 1000, 0.5, "ok"),
            entry("execute", "small", 200, 0.01, "exit status 1"),
            entry("execute", "small", 300, 0.02, "ok"),
        ];
        let text: String = entries
            .iter()
            .map(|e| serde_json::to_string(e).unwrap() + "\n")
            .chain(["not json\n".to_string()])
            .collect();
        let read = read(&text);
        assert_eq!(read, entries);
        let rollup = rollup(&read);
        let small = &rollup.by_phase_and_model["execute"]["small"];
        assert_eq!((small.calls, small.failed, small.input_tokens), (2, 1, 500));
        assert_eq!(rollup.total.calls, 3);
        assert!((rollup.total.cost_usd - 0.53).abs() < 1e-9);
    }
}
