//! Where the document goes: stdout or an atomically replaced file, and the spool that holds
//! rendered files (in memory while small, then in an unnamed temporary file) until then.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

/// Bodies up to this size stay in memory.
const SPOOL_MEMORY_LIMIT: usize = 8 << 20;

/// An append-only store for rendered `<file>` elements, which arrive in whatever order the workers
/// finish and are read back in path order once the header is known.
pub struct Spool {
    memory: Vec<u8>,
    memory_limit: usize,
    file: Option<BufWriter<File>>,
    len: u64,
}

impl Spool {
    pub fn new() -> Spool {
        Spool::with_memory_limit(SPOOL_MEMORY_LIMIT)
    }

    /// A spool that moves to a temporary file once it holds more than `memory_limit` bytes.
    pub fn with_memory_limit(memory_limit: usize) -> Spool {
        Spool {
            memory: Vec::new(),
            memory_limit,
            file: None,
            len: 0,
        }
    }

    /// Appends `bytes` and returns where they went.
    pub fn append(&mut self, bytes: &[u8]) -> io::Result<Range<u64>> {
        let start = self.len;
        self.len += bytes.len() as u64;
        if let Some(file) = &mut self.file {
            file.write_all(bytes)?;
        } else if self.memory.len() + bytes.len() <= self.memory_limit {
            self.memory.extend_from_slice(bytes);
        } else {
            let mut file = BufWriter::with_capacity(1 << 20, tempfile::tempfile()?);
            file.write_all(&self.memory)?;
            file.write_all(bytes)?;
            self.memory = Vec::new();
            self.file = Some(file);
        }
        Ok(start..self.len)
    }

    /// Ends appending; what was appended can then be read back by range.
    pub fn into_reader(self) -> io::Result<SpoolReader> {
        match self.file {
            None => Ok(SpoolReader::Memory(self.memory)),
            Some(file) => {
                let file = file.into_inner().map_err(|e| e.into_error())?;
                if file.metadata()?.len() != self.len {
                    return Err(io::Error::other(
                        "the temporary spool file does not hold what was written to it",
                    ));
                }
                // Read back with positioned reads rather than a memory map: mapped pages would
                // count towards the process's resident memory, which is what the spool avoids.
                Ok(SpoolReader::File(file))
            }
        }
    }
}

impl Default for Spool {
    fn default() -> Self {
        Spool::new()
    }
}

/// Read access to a finished [`Spool`].
pub enum SpoolReader {
    Memory(Vec<u8>),
    File(File),
}

impl SpoolReader {
    /// Copies the bytes at `range` into `out`; `buffer` is scratch space reused across calls.
    pub fn copy_range(
        &self,
        range: Range<u64>,
        buffer: &mut Vec<u8>,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        match self {
            SpoolReader::Memory(bytes) => {
                out.write_all(&bytes[range.start as usize..range.end as usize])
            }
            SpoolReader::File(file) => {
                buffer.resize((range.end - range.start) as usize, 0);
                read_exact_at(file, buffer, range.start)?;
                out.write_all(buffer)
            }
        }
    }
}

#[cfg(unix)]
fn read_exact_at(file: &File, buffer: &mut [u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buffer, offset)
}

#[cfg(not(unix))]
fn read_exact_at(file: &File, buffer: &mut [u8], offset: u64) -> io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = file;
    file.seek(SeekFrom::Start(offset))?;
    file.read_exact(buffer)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spooled_ranges_read_back_in_memory_and_after_spilling() {
        for limit in [usize::MAX, 10, 0] {
            let mut spool = Spool::with_memory_limit(limit);
            let parts: Vec<Vec<u8>> = (0..50u8).map(|i| vec![i; i as usize * 3]).collect();
            let ranges: Vec<Range<u64>> = parts.iter().map(|p| spool.append(p).unwrap()).collect();
            let reader = spool.into_reader().unwrap();
            assert_eq!(matches!(reader, SpoolReader::File(_)), limit != usize::MAX);
            let mut buffer = Vec::new();
            for (part, range) in parts.iter().zip(ranges).rev() {
                let mut out = Vec::new();
                reader.copy_range(range, &mut buffer, &mut out).unwrap();
                assert_eq!(out, *part);
            }
        }
    }
}
