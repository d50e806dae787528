//! A finished document: its parts in order, held in memory or (a plain pack's file elements)
//! spooled to a temporary file, and its exact token count.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::ops::Range;

/// A rendered document, ready to be written anywhere.
pub struct Document {
    /// The whole document's exact count, as its root line states.
    pub tokens: usize,
    /// The root line and everything before the first file element.
    head: Vec<u8>,
    body: Body,
    /// Everything after the last file element.
    foot: Vec<u8>,
}

/// The file elements, in document order.
enum Body {
    Held(Vec<Vec<u8>>),
    Spooled {
        reader: SpoolReader,
        ranges: Vec<Range<u64>>,
    },
}

impl Document {
    /// A document whose file elements are in memory.
    pub fn held(tokens: usize, head: Vec<u8>, elements: Vec<Vec<u8>>, foot: Vec<u8>) -> Document {
        Document {
            tokens,
            head,
            body: Body::Held(elements),
            foot,
        }
    }

    /// A document whose file elements are in `spool`, at `ranges`, in document order.
    pub fn spooled(
        tokens: usize,
        head: Vec<u8>,
        reader: SpoolReader,
        ranges: Vec<Range<u64>>,
        foot: Vec<u8>,
    ) -> Document {
        Document {
            tokens,
            head,
            body: Body::Spooled { reader, ranges },
            foot,
        }
    }

    /// Writes the whole document to `out`.
    pub fn write_to(&self, out: &mut dyn Write) -> io::Result<()> {
        out.write_all(&self.head)?;
        match &self.body {
            Body::Held(elements) => {
                for element in elements {
                    out.write_all(element)?;
                }
            }
            Body::Spooled { reader, ranges } => {
                let mut buffer = Vec::new();
                for range in ranges {
                    reader.copy_range(range.clone(), &mut buffer, out)?;
                }
            }
        }
        out.write_all(&self.foot)
    }

    /// The whole document's bytes.
    pub fn to_bytes(&self) -> io::Result<Vec<u8>> {
        let mut bytes = Vec::with_capacity(self.len() as usize);
        self.write_to(&mut bytes)?;
        Ok(bytes)
    }

    /// Its size in bytes.
    pub fn len(&self) -> u64 {
        let body: u64 = match &self.body {
            Body::Held(elements) => elements.iter().map(|e| e.len() as u64).sum(),
            Body::Spooled { ranges, .. } => ranges.iter().map(|r| r.end - r.start).sum(),
        };
        self.head.len() as u64 + body + self.foot.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spooled_document_reads_back_in_the_order_given() {
        let mut spool = Spool::with_memory_limit(8);
        let first = spool.append(b"<file>one</file>\n").unwrap();
        let second = spool.append(b"<file>two</file>\n").unwrap();
        let reader = spool.into_reader().unwrap();
        let head = b"<context>\n".to_vec();
        let foot = b"</context>\n".to_vec();
        let spooled = Document::spooled(7, head.clone(), reader, vec![second, first], foot.clone());
        let expected = "<context>\n<file>two</file>\n<file>one</file>\n</context>\n";
        assert_eq!(spooled.to_bytes().unwrap(), expected.as_bytes());
        assert_eq!(spooled.len(), expected.len() as u64);
        let held = Document::held(
            7,
            head,
            vec![
                b"<file>two</file>\n".to_vec(),
                b"<file>one</file>\n".to_vec(),
            ],
            foot,
        );
        assert_eq!(held.to_bytes().unwrap(), expected.as_bytes());
        assert_eq!(held.len(), expected.len() as u64);
    }

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
