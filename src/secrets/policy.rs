//! The one place the secrets mode (`--secrets`) is decided: what happens to a path, a file's
//! text, a message, and whether findings leave a file out or fail the pack.

use super::{Finding, Located, Mode, Redacted, ScanSummary, Scanner, SecretsFound};

/// A name shown to people whatever `--secrets` says: a plan's references and its name, the
/// symbol table's paths. These names come from text a model or a tool wrote, not from the files
/// a user chose to pack unscanned, and a token used as a name must not leak through them.
pub fn redact_name(name: &str) -> String {
    Scanner::get().redact_message(name)
}

/// What a pack does with the secrets it finds, applied.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Policy {
    mode: Mode,
}

impl Policy {
    pub fn new(mode: Mode) -> Policy {
        Policy { mode }
    }

    pub fn mode(self) -> Mode {
        self.mode
    }

    /// Whether anything is scanned at all (`--secrets off` scans nothing).
    pub fn scans(self) -> bool {
        self.mode != Mode::Off
    }

    /// Whether the first secret ends the pack without a document (`--secrets fail`).
    pub fn fails(self) -> bool {
        self.mode == Mode::Fail
    }

    /// The components of a path with a token used as a name redacted, and what was found (on
    /// line 0); `None` when there is nothing to change or scanning is off.
    pub fn redact_path(self, components: &[String]) -> Option<(Vec<String>, Vec<Finding>)> {
        if !self.scans() {
            return None;
        }
        Scanner::get().redact_path(components)
    }

    /// A file's text (at `path`, relative, `/`-separated) with its secrets replaced, unless
    /// scanning is off.
    pub fn redact_text<'a>(self, path: &str, text: &'a str) -> Redacted<'a> {
        if !self.scans() {
            return Redacted {
                text: std::borrow::Cow::Borrowed(text),
                findings: Vec::new(),
            };
        }
        Scanner::get().redact(path, text)
    }

    /// A message for people (a warning naming paths) as it may be shown.
    pub fn shown(self, message: &str) -> String {
        if self.scans() {
            Scanner::get().redact_message(message)
        } else {
            message.to_string()
        }
    }

    /// Whether a file whose path or text gave `findings` is left out (`--secrets omit-file`).
    pub fn omits(self, findings: &[Finding]) -> bool {
        self.mode == Mode::OmitFile && findings.iter().any(Finding::is_secret)
    }

    /// Whether a document lists the secrets of files it leaves out (`--secrets omit-file`: they
    /// are why those files are missing), rather than only those in the files it holds.
    pub fn lists_secrets_left_out(self) -> bool {
        self.mode == Mode::OmitFile
    }

    /// Every finding with its path, in the order given and then line order.
    pub fn summarize<'a>(
        self,
        files: impl Iterator<Item = (String, &'a [Finding])>,
    ) -> ScanSummary {
        let mut scan = ScanSummary {
            mode: self.mode,
            ..ScanSummary::default()
        };
        for (path, findings) in files.filter(|(_, f)| !f.is_empty()) {
            let mut has_secret = false;
            for finding in findings {
                let located = Located {
                    path: path.clone(),
                    line: finding.line,
                    rule: finding.rule,
                };
                if finding.is_secret() {
                    has_secret = true;
                    scan.secrets.push(located);
                } else {
                    scan.examples.push(located);
                }
            }
            scan.files += usize::from(has_secret);
        }
        scan
    }

    /// With `--secrets fail`, the error that stops the pack when `scan` found any secret.
    pub fn verdict(self, scan: &ScanSummary) -> Result<(), SecretsFound> {
        if self.fails() && !scan.secrets.is_empty() {
            return Err(SecretsFound {
                secrets: scan.secrets.clone(),
            });
        }
        Ok(())
    }
}
