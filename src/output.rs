//! Where the document goes: stdout or an atomically replaced file, with a spool that keeps the
//! body in memory while it is small and spills it to an unnamed temporary file when it grows.

use std::fs::File;
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

/// Bodies up to this size stay in memory.
const SPOOL_MEMORY_LIMIT: usize = 8 << 20;

/// An append-only buffer for the document body, written before the header is known.
pub struct Spool {
    memory: Vec<u8>,
    file: Option<BufWriter<File>>,
    len: u64,
}

impl Spool {
    pub fn new() -> Spool {
        Spool {
            memory: Vec::new(),
            file: None,
            len: 0,
        }
    }

    pub fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.len += bytes.len() as u64;
        if let Some(file) = &mut self.file {
            return file.write_all(bytes);
        }
        if self.memory.len() + bytes.len() <= SPOOL_MEMORY_LIMIT {
            self.memory.extend_from_slice(bytes);
            return Ok(());
        }
        let mut file = BufWriter::with_capacity(1 << 20, tempfile::tempfile()?);
        file.write_all(&self.memory)?;
        file.write_all(bytes)?;
        self.memory = Vec::new();
        self.file = Some(file);
        Ok(())
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Copies everything appended so far into `out`.
    pub fn copy_to(self, out: &mut dyn Write) -> io::Result<()> {
        match self.file {
            None => out.write_all(&self.memory),
            Some(file) => {
                let mut file = file.into_inner().map_err(|e| e.into_error())?;
                file.seek(SeekFrom::Start(0))?;
                let copied = io::copy(&mut file, out)?;
                if copied != self.len {
                    return Err(io::Error::other(format!(
                        "the temporary spool file lost data ({copied} of {} bytes)",
                        self.len
                    )));
                }
                Ok(())
            }
        }
    }
}

impl Default for Spool {
    fn default() -> Self {
        Spool::new()
    }
}

/// The destination of the finished document.
pub enum Sink {
    Stdout(BufWriter<io::Stdout>),
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
            Sink::File { temp, .. } => temp,
        }
    }

    /// Flushes, and for a file, syncs it and renames it over the target.
    pub fn finish(self) -> io::Result<()> {
        match self {
            Sink::Stdout(mut w) => w.flush(),
            Sink::File { temp, target } => {
                let temp = temp.into_inner().map_err(|e| e.into_error())?;
                temp.as_file().sync_all()?;
                temp.persist(&target).map_err(|e| e.error)?;
                Ok(())
            }
        }
    }
}
