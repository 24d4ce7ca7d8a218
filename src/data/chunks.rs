//! Reading a Parquet file's pages within their column chunks. The parquet
//! crate (60.1) reads each page header through a reader that runs to the end
//! of the file, and its Thrift reader trusts what the header claims: a
//! mutated header that claims a map of 237 million doubles is "skipped" one
//! `read` call per double past the end of the file (334 s, found by
//! libFuzzer, kept in `fuzz/regressions/parquet_data/`), and a list of
//! booleans is skipped without consuming a byte (6 bytes claim 2^31 of
//! them). [`BoundedFile`] is the `ChunkReader` every nsfsim Parquet reader
//! hands the crate: before the crate reads a page header, the header is
//! walked here (the compact protocol as the crate reads it, each element at
//! least its encoded size) and refused as soon as it claims more than its
//! column chunk has left; the crate then gets a reader that ends at the
//! chunk and fails there. Reading the file, nothing is buffered beyond an
//! 8 KB reader per page; `columns::RowGroups` hands it one row group's
//! bytes at a time instead, read and hashed once ([`BoundedFile::span`]).
//! The footer is walked the same way before the crate parses it
//! ([`check_footer`]).

use std::fs::File;
use std::io::{BufReader, Read};
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use parquet::errors::{ParquetError, Result as ParquetResult};
use parquet::file::metadata::ParquetMetaData;
use parquet::file::reader::{ChunkReader, Length};

/// One column chunk's byte range and name (for messages).
#[derive(Debug)]
struct Chunk {
    start: u64,
    end: u64,
    row_group: usize,
    label: String,
}

/// The column chunks of a file (from its footer, checked by
/// `artifact::check_chunk_ranges`), shared by the readers of its row groups.
#[derive(Debug, Clone)]
pub struct Chunks {
    chunks: Arc<[Chunk]>,
    /// Indices of `chunks` by start, when no two chunks overlap (every file
    /// nsfsim writes): `at` is then a binary search, not a scan of every
    /// chunk of the file for every page (309 × 29 chunks at the case scale).
    disjoint: Option<Arc<[usize]>>,
    file_len: u64,
}

impl Chunks {
    /// The chunks `meta` describes in a file of `file_len` bytes.
    pub fn of(meta: &ParquetMetaData, file_len: u64) -> Chunks {
        let mut chunks = Vec::new();
        for (g, rg) in meta.row_groups().iter().enumerate() {
            for c in rg.columns() {
                let start = c.dictionary_page_offset().unwrap_or(c.data_page_offset());
                let start = u64::try_from(start).unwrap_or(file_len).min(file_len);
                let len = u64::try_from(c.compressed_size()).unwrap_or(0);
                chunks.push(Chunk {
                    start,
                    end: start.saturating_add(len).min(file_len),
                    row_group: g,
                    label: format!("row group {g}, column `{}`", c.column_path().string()),
                });
            }
        }
        Chunks::from_list(chunks, file_len)
    }

    /// The file's length in bytes.
    pub fn file_len(&self) -> u64 {
        self.file_len
    }

    /// Each of the `groups` row groups' bytes, `(row group, start, end)`:
    /// from its first chunk's start to its last one's end (`start == end`
    /// for a row group without chunks), in file order.
    pub fn row_group_spans(&self, groups: usize) -> Vec<(usize, u64, u64)> {
        let mut spans: Vec<(usize, u64, u64)> = (0..groups).map(|g| (g, u64::MAX, 0)).collect();
        for c in self.chunks.iter() {
            let span = &mut spans[c.row_group];
            (span.1, span.2) = (span.1.min(c.start), span.2.max(c.end));
        }
        for span in &mut spans {
            span.1 = span.1.min(span.2);
        }
        spans.sort_by_key(|&(_, start, end)| (start, end));
        spans
    }

    /// `chunks` of a file of `file_len` bytes, indexed by start when
    /// disjoint.
    fn from_list(chunks: Vec<Chunk>, file_len: u64) -> Chunks {
        let mut order: Vec<usize> = (0..chunks.len()).collect();
        order.sort_by_key(|&k| (chunks[k].start, chunks[k].end));
        let disjoint = order
            .windows(2)
            .all(|w| chunks[w[0]].end <= chunks[w[1]].start)
            .then(|| order.into());
        Chunks {
            chunks: chunks.into(),
            disjoint,
            file_len,
        }
    }

    /// The end and name of the chunk holding byte `at` (the narrowest, if
    /// a malformed footer makes chunks overlap); the file's end outside
    /// every chunk.
    fn at(&self, at: u64) -> (u64, &str) {
        if let Some(order) = &self.disjoint {
            let k = order.partition_point(|&k| self.chunks[k].start <= at);
            return match k.checked_sub(1).map(|k| &self.chunks[order[k]]) {
                Some(c) if at < c.end => (c.end, c.label.as_str()),
                _ => (self.file_len, "outside every column chunk"),
            };
        }
        self.scan(at)
    }

    /// [`Chunks::at`] by a scan of every chunk.
    fn scan(&self, at: u64) -> (u64, &str) {
        self.chunks
            .iter()
            .filter(|c| c.start <= at && at < c.end)
            .min_by_key(|c| c.end)
            .map(|c| (c.end, c.label.as_str()))
            .unwrap_or((self.file_len, "outside every column chunk"))
    }
}

/// A Parquet file whose page reads stay inside their column chunk (see the
/// module documentation): the file itself, read by position (no handle is
/// cloned or moved per page), or one span of it already in memory (a row
/// group's bytes, read and hashed once: `columns::RowGroups`).
pub struct BoundedFile {
    source: Source,
    chunks: Chunks,
}

enum Source {
    File(Arc<File>),
    /// Bytes `start..start + bytes.len()` of the file.
    Span {
        bytes: bytes::Bytes,
        start: u64,
    },
}

impl BoundedFile {
    /// Wraps an open file with the chunks of its footer.
    pub fn new(file: File, chunks: Chunks) -> BoundedFile {
        BoundedFile {
            source: Source::File(Arc::new(file)),
            chunks,
        }
    }

    /// Bytes `start..start + bytes.len()` of a file with these chunks; a
    /// read outside them fails.
    pub fn span(bytes: bytes::Bytes, start: u64, chunks: Chunks) -> BoundedFile {
        BoundedFile {
            source: Source::Span { bytes, start },
            chunks,
        }
    }

    /// Its chunks (for another handle on the same file).
    pub fn chunks(&self) -> &Chunks {
        &self.chunks
    }

    /// A reader of bytes `start..end` of the file.
    fn range(&self, start: u64, end: u64) -> ParquetResult<Inner> {
        match &self.source {
            Source::File(file) => Ok(Inner::File(BufReader::new(At {
                file: file.clone(),
                at: start,
                end,
            }))),
            Source::Span { .. } => Ok(Inner::Span(std::io::Cursor::new(self.slice(start, end)?))),
        }
    }

    /// Bytes `start..end` of a span.
    fn slice(&self, start: u64, end: u64) -> ParquetResult<bytes::Bytes> {
        let Source::Span { bytes, start: s0 } = &self.source else {
            unreachable!("slice is only asked of a span")
        };
        let inside = start >= *s0 && end >= start && end - s0 <= bytes.len() as u64;
        if !inside {
            return Err(ParquetError::General(format!(
                "bytes {start}..{end} lie outside the row group read ({s0}..{})",
                s0 + bytes.len() as u64
            )));
        }
        Ok(bytes.slice((start - s0) as usize..(end - s0) as usize))
    }
}

/// Bytes `at..end` of a file, read by position.
struct At {
    file: Arc<File>,
    at: u64,
    end: u64,
}

impl Read for At {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.end.saturating_sub(self.at) as usize);
        let n = self.file.read_at(&mut buf[..n], self.at)?;
        self.at += n as u64;
        Ok(n)
    }
}

enum Inner {
    File(BufReader<At>),
    Span(std::io::Cursor<bytes::Bytes>),
}

impl Read for Inner {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Inner::File(r) => r.read(buf),
            Inner::Span(r) => r.read(buf),
        }
    }
}

impl Length for BoundedFile {
    fn len(&self) -> u64 {
        self.chunks.file_len
    }
}

impl ChunkReader for BoundedFile {
    type T = ChunkRead;

    /// The crate asks for a reader at a page header: the header is checked
    /// first, then read by the crate from a reader that ends with the chunk.
    fn get_read(&self, start: u64) -> ParquetResult<ChunkRead> {
        let (end, label) = self.chunks.at(start);
        let left = end.saturating_sub(start);
        let mut walk = Walk {
            r: self.range(start, end)?,
            left,
            region: "column chunk",
            page_size: None,
        };
        walk.page_header().map_err(|why| {
            ParquetError::General(format!(
                "{label}: the page header at byte {start} {why} (its column chunk has {left} bytes left)"
            ))
        })?;
        Ok(ChunkRead(self.range(start, end)?))
    }

    fn get_bytes(&self, start: u64, length: usize) -> ParquetResult<bytes::Bytes> {
        let (end, label) = self.chunks.at(start);
        if start.saturating_add(length as u64) > end {
            return Err(ParquetError::General(format!(
                "{label}: {length} bytes at byte {start} run past the end of its column chunk (byte {end})"
            )));
        }
        match &self.source {
            Source::File(file) => {
                let mut buf = vec![0u8; length];
                file.read_exact_at(&mut buf, start).map_err(|e| {
                    ParquetError::General(format!("{label}: {length} bytes at byte {start}: {e}"))
                })?;
                Ok(buf.into())
            }
            Source::Span { .. } => self.slice(start, start + length as u64),
        }
    }
}

/// Walks a Parquet file's footer (its Thrift `FileMetaData`, `len` bytes
/// from the file's end) before the parquet crate parses it: the crate
/// trusts what a field it does not know claims, and skips a list of
/// booleans without consuming a byte, so an unknown field of 6 bytes
/// claiming 2^31-1 booleans costs it 13-18 s, and nested ones multiply
/// that. The walk is generic (every compact-protocol value says its own
/// size) and refuses a collection claiming more elements than the bytes
/// left (at least one each), a binary longer than them, nesting deeper
/// than 64 levels, an unknown type, and any collection of booleans (no
/// `FileMetaData` field is one, and the crate's skip would part from this
/// walk there). A file without a Parquet tail is left to the crate.
pub fn check_footer(file: &File, len: u64) -> std::result::Result<(), String> {
    match footer_bytes(file, len)? {
        Some(footer) => walk_footer(&footer),
        None => Ok(()),
    }
}

/// The generic walk of a footer's bytes (see [`check_footer`]).
pub(crate) fn walk_footer(footer: &[u8]) -> std::result::Result<(), String> {
    let mut walk = Walk {
        r: footer,
        left: footer.len() as u64,
        region: "footer",
        page_size: None,
    };
    walk.skip(STRUCT, MAX_DEPTH).map_err(|why| {
        format!(
            "its footer {why} ({} of its {} bytes are left)",
            walk.left,
            footer.len()
        )
    })
}

/// The footer's bytes, `None` when the file has no `PAR1` tail or its
/// footer length does not fit (the crate reports those).
pub(crate) fn footer_bytes(file: &File, len: u64) -> std::result::Result<Option<Vec<u8>>, String> {
    let read = |at: u64, n: usize| -> std::io::Result<Vec<u8>> {
        let mut buf = vec![0u8; n];
        file.read_exact_at(&mut buf, at)?;
        Ok(buf)
    };
    let cannot = |e: std::io::Error| format!("its footer cannot be read: {e}");
    if len < 12 {
        return Ok(None);
    }
    let tail = read(len - 8, 8).map_err(cannot)?;
    if &tail[4..] != b"PAR1" {
        return Ok(None);
    }
    let n = u64::from(u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]));
    if n + 12 > len {
        return Ok(None);
    }
    read(len - 8 - n, n as usize).map(Some).map_err(cannot)
}

/// A decoding error's message without the wrappers the arrow and parquet
/// crates put around it ("Parquet argument error: Parquet error: ").
pub fn decode_message(e: &arrow_schema::ArrowError) -> String {
    let text = match e {
        arrow_schema::ArrowError::ParquetError(m) => m.clone(),
        other => other.to_string(),
    };
    match text.strip_prefix("Parquet error: ") {
        Some(rest) => rest.to_string(),
        None => text,
    }
}

/// A reader of one column chunk's remaining bytes that fails, rather than
/// returning 0 bytes, when asked for more.
pub struct ChunkRead(Inner);

impl Read for ChunkRead {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.0.read(buf)?;
        if n == 0 && !buf.is_empty() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "read past the end of the column chunk",
            ));
        }
        Ok(n)
    }
}

/// How the parquet crate reads a field it knows in a page header: an
/// integer (varint) whatever type the field declares, a boolean from the
/// field's type, or a struct with known fields of its own. Other fields
/// are skipped (`skip_till_depth`). Mirrors 60.1's
/// `PageHeader::read_thrift_without_stats`.
#[derive(Clone, Copy)]
enum Known {
    Int,
    Bool,
    Struct(&'static [(i16, Known)]),
}

const DATA_PAGE: &[(i16, Known)] = &[
    (1, Known::Int),
    (2, Known::Int),
    (3, Known::Int),
    (4, Known::Int),
];
const INDEX_PAGE: &[(i16, Known)] = &[];
const DICTIONARY_PAGE: &[(i16, Known)] = &[(1, Known::Int), (2, Known::Int), (3, Known::Bool)];
const DATA_PAGE_V2: &[(i16, Known)] = &[
    (1, Known::Int),
    (2, Known::Int),
    (3, Known::Int),
    (4, Known::Int),
    (5, Known::Int),
    (6, Known::Int),
    (7, Known::Bool),
];
const PAGE_HEADER: &[(i16, Known)] = &[
    (1, Known::Int),
    (2, Known::Int),
    (3, Known::Int),
    (4, Known::Int),
    (5, Known::Struct(DATA_PAGE)),
    (6, Known::Struct(INDEX_PAGE)),
    (7, Known::Struct(DICTIONARY_PAGE)),
    (8, Known::Struct(DATA_PAGE_V2)),
];

/// Thrift compact types (the field type nibble).
const BOOL_TRUE: u8 = 1;
const BOOL_FALSE: u8 = 2;
const STRUCT: u8 = 12;

/// The crate's nesting limit for skipped fields.
const MAX_DEPTH: u8 = 64;

/// A walk over one page header's Thrift encoding, `left` bytes of its
/// chunk remaining. It consumes exactly the bytes the crate's reader
/// consumes, or refuses: a known field of another type than the crate
/// reads it as, a collection of booleans (which the crate skips without
/// consuming them, so its reading and this walk would part), and anything
/// that claims more bytes than are left.
struct Walk<R: Read> {
    r: R,
    left: u64,
    /// What is being walked, for messages ("column chunk", "footer").
    region: &'static str,
    /// The header's `compressed_page_size` (field 3), as the crate reads it.
    page_size: Option<i32>,
}

type Walked<T> = std::result::Result<T, String>;

impl<R: Read> Walk<R> {
    /// Checks a whole `PageHeader` and that its page fits in what is left.
    fn page_header(&mut self) -> Walked<()> {
        self.known_struct(PAGE_HEADER, MAX_DEPTH)?;
        match self.page_size {
            Some(n) if n < 0 || n as u64 > self.left => Err(format!("claims a page of {n} bytes")),
            _ => Ok(()),
        }
    }

    fn take(&mut self, n: u64, what: &str) -> Walked<()> {
        if n > self.left {
            return Err(format!("claims {what} of {n} bytes"));
        }
        let copied = std::io::copy(&mut (&mut self.r).take(n), &mut std::io::sink())
            .map_err(|e| format!("cannot be read: {e}"))?;
        if copied != n {
            return Err(format!(
                "ends before its {} does (file truncated?)",
                self.region
            ));
        }
        self.left -= n;
        Ok(())
    }

    fn byte(&mut self) -> Walked<u8> {
        if self.left == 0 {
            return Err(format!("runs past the end of its {}", self.region));
        }
        let mut b = [0u8];
        self.r
            .read_exact(&mut b)
            .map_err(|e| format!("cannot be read: {e}"))?;
        self.left -= 1;
        Ok(b[0])
    }

    /// A ULEB128 varint, as the crate decodes it (at most 10 bytes here).
    fn varint(&mut self) -> Walked<u64> {
        let mut v = 0u64;
        for shift in (0..70).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f).wrapping_shl(shift);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("holds a varint longer than 10 bytes".into())
    }

    /// A field header: `None` at the struct's end, else (type, id).
    fn field(&mut self, last: i16) -> Walked<Option<(u8, i16)>> {
        let b = self.byte()?;
        let ty = b & 0x0f;
        if ty == 0 {
            return Ok(None);
        }
        if ty > 13 {
            return Err(format!("holds a field of unknown type {ty}"));
        }
        let id = match b >> 4 {
            0 => {
                let z = self.varint()?;
                ((z >> 1) as i64 ^ -((z & 1) as i64)) as i16
            }
            delta => last
                .checked_add(i16::from(delta))
                .ok_or("has a field id past 32767")?,
        };
        Ok(Some((ty, id)))
    }

    /// A struct the crate reads field by field (`fields` known).
    fn known_struct(&mut self, fields: &[(i16, Known)], depth: u8) -> Walked<()> {
        let mut last = 0i16;
        while let Some((ty, id)) = self.field(last)? {
            let wrong = || {
                format!(
                    "has field {id} of type {ty}, which the parquet crate reads as another type"
                )
            };
            match fields.iter().find(|(f, _)| *f == id).map(|(_, k)| *k) {
                Some(Known::Int) if (4..=6).contains(&ty) => {
                    let z = self.varint()?;
                    if depth == MAX_DEPTH && id == 3 {
                        self.page_size = Some(((z >> 1) as i64 ^ -((z & 1) as i64)) as i32);
                    }
                }
                Some(Known::Bool) if ty == BOOL_TRUE || ty == BOOL_FALSE => {}
                Some(Known::Struct(inner)) if ty == STRUCT => {
                    self.known_struct(inner, depth.saturating_sub(1))?
                }
                Some(_) => return Err(wrong()),
                None => self.skip(ty, depth.saturating_sub(1))?,
            }
            last = id;
        }
        Ok(())
    }

    /// A value of compact type `ty` the crate skips.
    fn skip(&mut self, ty: u8, depth: u8) -> Walked<()> {
        if depth == 0 {
            return Err(format!("nests deeper than {MAX_DEPTH} levels"));
        }
        match ty {
            BOOL_TRUE | BOOL_FALSE => Ok(()),
            3 => self.take(1, "a byte"),
            4..=6 => self.varint().map(drop),
            7 => self.take(8, "a double"),
            8 => {
                let n = self.varint()?;
                self.take(n, "a binary field")
            }
            9 | 10 => self.list(depth),
            11 => self.map(depth),
            STRUCT => {
                while let Some((ty, _)) = self.field(0)? {
                    self.skip(ty, depth - 1)?;
                }
                Ok(())
            }
            13 => self.take(16, "a UUID"),
            _ => Err(format!("holds a value of unknown type {ty}")),
        }
    }

    fn list(&mut self, depth: u8) -> Walked<()> {
        let head = self.byte()?;
        if head == 0 {
            return Ok(()); // An empty list some writers encode as one 0 byte.
        }
        let ty = element_type(head & 0x0f)?;
        let n = match head >> 4 {
            15 => self.varint()?,
            n => u64::from(n),
        };
        self.elements(n, &[ty], depth)
    }

    fn map(&mut self, depth: u8) -> Walked<()> {
        let n = self.varint()?;
        if n == 0 {
            return Ok(());
        }
        let kv = self.byte()?;
        let types = [element_type(kv >> 4)?, element_type(kv & 0x0f)?];
        self.elements(n, &types, depth)
    }

    /// `n` collection entries, each one value of each of `types`.
    fn elements(&mut self, n: u64, types: &[u8], depth: u8) -> Walked<()> {
        if n > i32::MAX as u64 {
            return Err(format!("claims a collection of {n} elements"));
        }
        let least: u64 = types.iter().map(|&t| min_size(t)).sum();
        if n.saturating_mul(least) > self.left {
            return Err(format!(
                "claims a collection of {n} elements, at least {} bytes",
                n.saturating_mul(least)
            ));
        }
        if types.contains(&BOOL_TRUE) {
            return Err(format!(
                "holds a collection of {n} booleans, which the parquet crate skips without reading"
            ));
        }
        for _ in 0..n {
            for &t in types {
                self.skip(t, depth - 1)?;
            }
        }
        Ok(())
    }
}

/// A collection's element type as the crate reads it (1 and 2 are both
/// booleans).
fn element_type(t: u8) -> Walked<u8> {
    match t {
        BOOL_TRUE | BOOL_FALSE => Ok(BOOL_TRUE),
        3..=13 => Ok(t),
        _ => Err(format!("holds a collection of unknown element type {t}")),
    }
}

/// The fewest bytes one element of type `t` takes in a collection (the
/// compact protocol writes a boolean element as one byte).
fn min_size(t: u8) -> u64 {
    match t {
        7 => 8,
        13 => 16,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk(bytes: &[u8]) -> Walked<u64> {
        let mut w = Walk {
            r: bytes,
            left: bytes.len() as u64,
            region: "column chunk",
            page_size: None,
        };
        w.page_header()?;
        Ok(bytes.len() as u64 - w.left)
    }

    /// A data page header as the parquet crate writes it: type 0,
    /// uncompressed 100, compressed 60, a DataPageHeader (400 values,
    /// encodings 0, 3, 3), then the first byte of its page.
    const DATA_PAGE_HEADER: &[u8] = &[
        0x15, 0x00, 0x15, 0xc8, 0x01, 0x15, 0x78, 0x2c, 0x15, 0xa0, 0x06, 0x15, 0x00, 0x15, 0x06,
        0x15, 0x06, 0x00, 0x00, 0xab,
    ];

    fn chunks(ranges: &[(u64, u64)], file_len: u64) -> Chunks {
        let chunks: Vec<Chunk> = ranges
            .iter()
            .enumerate()
            .map(|(k, &(start, end))| Chunk {
                start,
                end,
                row_group: k,
                label: format!("chunk {k}"),
            })
            .collect();
        Chunks::from_list(chunks, file_len)
    }

    /// The binary search finds, at every byte, the chunk the scan finds
    /// (out of order, with gaps, empty chunks and the file's end); an
    /// overlapping layout is scanned.
    #[test]
    fn the_chunk_at_a_byte_is_the_one_a_scan_finds() {
        let c = chunks(
            &[(30, 50), (4, 10), (10, 10), (10, 25), (50, 51), (60, 60)],
            70,
        );
        assert!(c.disjoint.is_some());
        for at in 0..80 {
            assert_eq!(c.at(at), c.scan(at), "byte {at}");
        }
        assert_eq!(c.at(12), (25, "chunk 3"));
        assert_eq!(c.at(25), (70, "outside every column chunk"));
        let o = chunks(&[(4, 30), (10, 20)], 40);
        assert!(o.disjoint.is_none());
        assert_eq!(o.at(12), (20, "chunk 1"));
    }

    #[test]
    fn a_written_page_header_walks_to_its_end() {
        let mut page = DATA_PAGE_HEADER.to_vec();
        page.extend([0u8; 59]);
        assert_eq!(walk(&page), Ok(19));
        // The page's 60 bytes are not all in the chunk.
        let e = walk(DATA_PAGE_HEADER).unwrap_err();
        assert!(e.contains("claims a page of 60 bytes"), "{e}");
    }

    #[test]
    fn a_map_of_doubles_past_the_chunk_is_refused() {
        // Field 15, a map of 236,974,660 (double, bool) entries: the
        // libFuzzer input's header.
        let e = walk(&[0xfb, 0xc4, 0xe4, 0xff, 0x70, 0x72, 0x9c, 0xec]).unwrap_err();
        assert!(e.contains("236974660 elements"), "{e}");
    }

    #[test]
    fn a_list_of_booleans_is_refused_even_when_it_fits() {
        let e = walk(&[0xf9, 0x31, 1, 1, 1, 0x00]).unwrap_err();
        assert!(e.contains("3 booleans"), "{e}");
        let e = walk(&[0xf9, 0xf1, 0xff, 0xff, 0xff, 0xff, 0x07]).unwrap_err();
        assert!(e.contains("2147483647 elements"), "{e}");
    }

    #[test]
    fn a_binary_past_the_chunk_and_a_wrong_type_are_refused() {
        let e = walk(&[0xf8, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x00]).unwrap_err();
        assert!(e.contains("binary field of 4294967295 bytes"), "{e}");
        // Field 5 (DataPageHeader) declared as a binary.
        let e = walk(&[0x58, 0x01, 0x00, 0x00]).unwrap_err();
        assert!(e.contains("field 5 of type 8"), "{e}");
        assert!(walk(&[0x15]).unwrap_err().contains("past the end"));
    }

    #[test]
    fn unknown_fields_of_every_type_are_skipped_by_their_size() {
        // Field 9: a struct holding a double, a binary of 2, a list of 2
        // i32, a map of 1 (i32, struct{}), a UUID and a byte.
        let mut h = vec![0x9c, 0x17];
        h.extend([0u8; 8]);
        h.extend([0x18, 0x02, b'a', b'b']);
        h.extend([0x19, 0x25, 0x02, 0x04]);
        h.extend([0x1b, 0x01, 0x5c, 0x02, 0x00]);
        h.push(0x1d);
        h.extend([7u8; 16]);
        h.extend([0x13, 0xff, 0x00, 0x00]);
        let n = h.len() as u64;
        h.push(0xee);
        assert_eq!(walk(&h), Ok(n));
    }

    #[test]
    fn a_footer_field_claiming_more_than_the_footer_is_refused_quickly() {
        // FileMetaData { 1: i32 2, 100: list<bool> of 2^31-1 }.
        let big = [0xf1, 0xff, 0xff, 0xff, 0xff, 0x07];
        let mut f = vec![0x15, 0x04, 0x09, 0xc8, 0x01];
        f.extend(big);
        f.push(0x00);
        let t = std::time::Instant::now();
        let e = walk_footer(&f).unwrap_err();
        assert!(
            e.contains("its footer claims a collection of 2147483647 elements"),
            "{e}"
        );
        // Nested: a list of 3 lists, the second of 2^31-1 booleans.
        let mut f = vec![0x19, 0x39, 0x00];
        f.extend(big);
        f.extend([0x00, 0x00]);
        let e = walk_footer(&f).unwrap_err();
        assert!(e.contains("2147483647 elements"), "{e}");
        // A list of booleans that fits is refused too (the crate skips it
        // without reading, so it would read the following bytes as fields).
        let e = walk_footer(&[0x19, 0x31, 1, 1, 1, 0x00]).unwrap_err();
        assert!(e.contains("3 booleans"), "{e}");
        assert!(t.elapsed() < std::time::Duration::from_secs(1));
    }

    #[test]
    fn a_footer_binary_too_long_too_deep_or_of_unknown_type_is_refused() {
        let e = walk_footer(&[0x18, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x00]).unwrap_err();
        assert!(e.contains("binary field of 4294967295 bytes"), "{e}");
        // 70 nested structs (field 1 of each is the next).
        let mut f = vec![0x1c; 70];
        f.extend([0u8; 71]);
        let e = walk_footer(&f).unwrap_err();
        assert!(e.contains("deeper than 64"), "{e}");
        let e = walk_footer(&[0x1e, 0x00]).unwrap_err();
        assert!(e.contains("unknown type 14"), "{e}");
        let e = walk_footer(&[0x15]).unwrap_err();
        assert!(e.contains("past the end of its footer"), "{e}");
        // A valid struct of every other type is accepted.
        let mut f = vec![0x15, 0x04, 0x17];
        f.extend([0u8; 8]);
        f.extend([
            0x18, 0x02, b'a', b'b', 0x19, 0x25, 0x02, 0x04, 0x1b, 0x01, 0x5c, 0x02, 0x00,
        ]);
        f.extend([0x1c, 0x11, 0x00, 0x00]);
        assert_eq!(walk_footer(&f), Ok(()));
    }
}
