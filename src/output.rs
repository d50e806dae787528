//! Where a document goes: stdout, or a file replaced atomically.

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

/// The destination of the finished document.
pub enum Sink {
    Stdout(BufWriter<io::Stdout>),
    /// A device or a FIFO (`-o /dev/null`, `-o >(…)`), written in place: renaming a file over
    /// it would replace the device.
    Special(BufWriter<std::fs::File>),
    /// A temporary file beside the target, renamed over it on `finish`.
    File {
        temp: BufWriter<NamedTempFile>,
        target: PathBuf,
    },
}

impl Sink {
    pub fn open(output: Option<&Path>) -> io::Result<Sink> {
        match output {
            None => Ok(Sink::Stdout(BufWriter::with_capacity(
                1 << 16,
                io::stdout(),
            ))),
            Some(target) if is_special(target) => Ok(Sink::Special(BufWriter::with_capacity(
                1 << 16,
                std::fs::OpenOptions::new().write(true).open(target)?,
            ))),
            Some(target) => {
                let dir = target.parent().unwrap_or(Path::new("."));
                let mut builder = tempfile::Builder::new();
                builder.prefix(".ctxpack-").suffix(".tmp");
                // A temporary file is private (0600) by default; the document is an ordinary
                // file, so create it the way any program would, subject to the umask.
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt;
                    builder.permissions(std::fs::Permissions::from_mode(0o666));
                }
                let temp = builder.tempfile_in(dir)?;
                Ok(Sink::File {
                    temp: BufWriter::with_capacity(1 << 16, temp),
                    target: target.to_path_buf(),
                })
            }
        }
    }

    pub fn writer(&mut self) -> &mut dyn Write {
        match self {
            Sink::Stdout(w) => w,
            Sink::Special(w) => w,
            Sink::File { temp, .. } => temp,
        }
    }

    /// Flushes, and for a file, syncs it and renames it over the target.
    pub fn finish(self) -> io::Result<()> {
        match self {
            Sink::Stdout(mut w) => w.flush(),
            Sink::Special(mut w) => w.flush(),
            Sink::File { temp, target } => {
                let temp = temp.into_inner().map_err(|e| e.into_error())?;
                temp.as_file().sync_all()?;
                temp.persist(&target).map_err(|e| e.error)?;
                Ok(())
            }
        }
    }
}

/// Whether `path` exists and is neither a regular file nor a directory: a device, a FIFO or a
/// socket, which is written to, never replaced.
pub fn is_special(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir())
}
