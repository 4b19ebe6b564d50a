//! The byte layout of EWF-E01 (EnCase 6) shared by the reader and the writer: file header,
//! section descriptors, the volume/data body, tables, error2, hash and digest, the Adler-32
//! they all carry, and segment file naming (`docs/formats/e01.md`).

use std::path::{Path, PathBuf};

/// The signature every EWF-E01 segment file starts with.
pub(crate) const EVF_SIGNATURE: [u8; 8] = *b"EVF\x09\x0d\x0a\xff\x00";
/// EWF2 (Ex01) segment files: recognised only to be refused by name.
pub(crate) const EVF2_SIGNATURE: [u8; 8] = *b"EVF2\x0d\x0a\x81\x00";
/// Logical evidence files (L01): recognised only to be refused by name.
pub(crate) const LVF_SIGNATURE: [u8; 8] = *b"LVF\x09\x0d\x0a\xff\x00";
/// File header: signature, 0x01, segment number (u16), 0x0000.
pub(crate) const FILE_HEADER_SIZE: usize = 13;
/// Section descriptor: type (16), next (8), size (8), padding (40), Adler-32 (4).
pub(crate) const DESCRIPTOR_SIZE: usize = 76;
/// The volume (and data) section body.
pub(crate) const VOLUME_SIZE: usize = 1052;
/// Table header: entry count, padding, base offset, padding, Adler-32.
pub(crate) const TABLE_HEADER_SIZE: usize = 24;
/// Error2 header: entry count, 512 unknown bytes, Adler-32.
pub(crate) const ERROR2_HEADER_SIZE: usize = 520;
/// Hash section body: MD5, 16 unknown bytes, Adler-32.
pub(crate) const HASH_SIZE: usize = 36;
/// Digest section body: MD5, SHA-1, 40 bytes padding, Adler-32.
pub(crate) const DIGEST_SIZE: usize = 80;
/// Sectors per chunk: 64, the value every EWF reader accepts (EnCase before 5 knows no other).
pub(crate) const SECTORS_PER_CHUNK: u32 = 64;
/// The table entry bit that marks a compressed chunk.
pub(crate) const COMPRESSED_BIT: u32 = 0x8000_0000;
/// Chunks per table: EnCase before 6 reads at most 16 375 entries, so tables stay within it.
pub(crate) const MAX_TABLE_ENTRIES: usize = 16_375;

/// Adler-32 (RFC 1950), the checksum of every EWF structure, stored little-endian.
pub(crate) fn adler32(data: &[u8]) -> u32 {
    // The largest n with 255·n·(n+1)/2 + (n+1)·(65521−1) < 2^32: sums cannot overflow
    // within a block, so the modulo runs once per block instead of once per byte.
    const NMAX: usize = 5552;
    const MOD: u32 = 65_521;
    let (mut a, mut b) = (1u32, 0u32);
    for block in data.chunks(NMAX) {
        for &byte in block {
            a += u32::from(byte);
            b += a;
        }
        a %= MOD;
        b %= MOD;
    }
    (b << 16) | a
}

pub(crate) fn le_u32(buf: &[u8], at: usize) -> u32 {
    let mut bytes = [0u8; 4];
    if let Some(src) = buf.get(at..at + 4) {
        bytes.copy_from_slice(src);
    }
    u32::from_le_bytes(bytes)
}

pub(crate) fn le_u64(buf: &[u8], at: usize) -> u64 {
    let mut bytes = [0u8; 8];
    if let Some(src) = buf.get(at..at + 8) {
        bytes.copy_from_slice(src);
    }
    u64::from_le_bytes(bytes)
}

/// `data` followed by its Adler-32, little-endian.
pub(crate) fn with_adler(mut data: Vec<u8>) -> Vec<u8> {
    let sum = adler32(&data);
    data.extend_from_slice(&sum.to_le_bytes());
    data
}

/// `true` when the last 4 bytes of `data` are the Adler-32 of the bytes before them.
pub(crate) fn adler_ok(data: &[u8]) -> bool {
    data.len() >= 4 && adler32(&data[..data.len() - 4]) == le_u32(data, data.len() - 4)
}

/// The 13-byte file header of segment `number`.
pub(crate) fn file_header(number: u16) -> [u8; FILE_HEADER_SIZE] {
    let mut header = [0u8; FILE_HEADER_SIZE];
    header[..8].copy_from_slice(&EVF_SIGNATURE);
    header[8] = 1;
    header[9..11].copy_from_slice(&number.to_le_bytes());
    header
}

/// A section descriptor as read from a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Descriptor {
    /// The type string (`header2`, `volume`, `sectors`, …).
    pub kind: String,
    /// Offset of the next descriptor in the same file; its own offset for `next`/`done`.
    pub next: u64,
    /// Bytes of the section, descriptor included (0 for `next`/`done`, as EnCase writes).
    pub size: u64,
}

/// Encodes a section descriptor.
pub(crate) fn descriptor(kind: &str, next: u64, size: u64) -> [u8; DESCRIPTOR_SIZE] {
    let mut d = [0u8; DESCRIPTOR_SIZE];
    let name = kind.as_bytes();
    d[..name.len().min(16)].copy_from_slice(&name[..name.len().min(16)]);
    d[16..24].copy_from_slice(&next.to_le_bytes());
    d[24..32].copy_from_slice(&size.to_le_bytes());
    let sum = adler32(&d[..72]);
    d[72..76].copy_from_slice(&sum.to_le_bytes());
    d
}

/// Decodes a section descriptor; `None` when its Adler-32 does not match.
pub(crate) fn parse_descriptor(d: &[u8; DESCRIPTOR_SIZE]) -> Option<Descriptor> {
    if adler32(&d[..72]) != le_u32(d, 72) {
        return None;
    }
    let end = d[..16].iter().position(|&b| b == 0).unwrap_or(16);
    Some(Descriptor {
        kind: String::from_utf8_lossy(&d[..end]).into_owned(),
        next: le_u64(d, 16),
        size: le_u64(d, 24),
    })
}

/// The media geometry and settings of the volume section (and of its copies, the data
/// sections).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Volume {
    pub media_type: u8,
    pub chunk_count: u32,
    pub sectors_per_chunk: u32,
    pub bytes_per_sector: u32,
    pub sector_count: u64,
    pub media_flags: u8,
    pub compression_level: u8,
    pub error_granularity: u32,
    pub guid: [u8; 16],
}

impl Volume {
    /// The 1052-byte body, checksum included.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut v = vec![0u8; VOLUME_SIZE - 4];
        v[0] = self.media_type;
        v[4..8].copy_from_slice(&self.chunk_count.to_le_bytes());
        v[8..12].copy_from_slice(&self.sectors_per_chunk.to_le_bytes());
        v[12..16].copy_from_slice(&self.bytes_per_sector.to_le_bytes());
        v[16..24].copy_from_slice(&self.sector_count.to_le_bytes());
        v[36] = self.media_flags;
        v[52] = self.compression_level;
        v[56..60].copy_from_slice(&self.error_granularity.to_le_bytes());
        v[64..80].copy_from_slice(&self.guid);
        with_adler(v)
    }

    /// Decodes a body of [`VOLUME_SIZE`] bytes; `None` when its Adler-32 does not match.
    pub(crate) fn decode(v: &[u8]) -> Option<Volume> {
        if v.len() < VOLUME_SIZE || !adler_ok(&v[..VOLUME_SIZE]) {
            return None;
        }
        let mut guid = [0u8; 16];
        guid.copy_from_slice(&v[64..80]);
        Some(Volume {
            media_type: v[0],
            chunk_count: le_u32(v, 4),
            sectors_per_chunk: le_u32(v, 8),
            bytes_per_sector: le_u32(v, 12),
            sector_count: le_u64(v, 16),
            media_flags: v[36],
            compression_level: v[52],
            error_granularity: le_u32(v, 56),
            guid,
        })
    }
}

/// A table (or table2) body: header, entries, footer.
pub(crate) fn table(base: u64, entries: &[u32]) -> Vec<u8> {
    let mut header = vec![0u8; TABLE_HEADER_SIZE - 4];
    header[..4].copy_from_slice(&(entries.len() as u32).to_le_bytes());
    header[8..16].copy_from_slice(&base.to_le_bytes());
    let mut body = with_adler(header);
    let raw: Vec<u8> = entries.iter().flat_map(|e| e.to_le_bytes()).collect();
    body.extend_from_slice(&with_adler(raw));
    body
}

/// An error2 body listing `(first sector, sector count)` ranges.
pub(crate) fn error2(ranges: &[(u32, u32)]) -> Vec<u8> {
    let mut header = vec![0u8; ERROR2_HEADER_SIZE - 4];
    header[..4].copy_from_slice(&(ranges.len() as u32).to_le_bytes());
    let mut body = with_adler(header);
    let raw: Vec<u8> =
        ranges.iter().flat_map(|(s, n)| s.to_le_bytes().into_iter().chain(n.to_le_bytes())).collect();
    body.extend_from_slice(&with_adler(raw));
    body
}

/// A hash section body (MD5).
pub(crate) fn hash(md5: &[u8; 16]) -> Vec<u8> {
    let mut body = vec![0u8; HASH_SIZE - 4];
    body[..16].copy_from_slice(md5);
    with_adler(body)
}

/// A digest section body (MD5 and SHA-1).
pub(crate) fn digest(md5: &[u8; 16], sha1: &[u8; 20]) -> Vec<u8> {
    let mut body = vec![0u8; DIGEST_SIZE - 4];
    body[..16].copy_from_slice(md5);
    body[16..36].copy_from_slice(sha1);
    with_adler(body)
}

/// The extension of segment `number` (1-based): `E01`…`E99`, then `EAA`…`EZZ`, `FAA`…
/// up to `ZZZ`, as EnCase and libewf name them. `lower` gives `e01`… for sets named so.
pub(crate) fn segment_extension(number: u32, lower: bool) -> Option<String> {
    let ext = match number {
        0 => return None,
        1..=99 => format!("E{number:02}"),
        _ => {
            let index = number - 100;
            let first = u8::try_from(index / (26 * 26)).ok().filter(|f| *f < 22)?;
            let second = ((index / 26) % 26) as u8;
            let third = (index % 26) as u8;
            String::from_utf8(vec![b'E' + first, b'A' + second, b'A' + third]).ok()?
        }
    };
    Some(if lower { ext.to_ascii_lowercase() } else { ext })
}

/// The largest segment number that has an extension (`.ZZZ`).
pub(crate) const MAX_SEGMENTS: u32 = 99 + 22 * 26 * 26;

/// The path of segment `number` of the set whose first segment is `base.E01`.
pub(crate) fn segment_path(base: &Path, number: u32, lower: bool) -> Option<PathBuf> {
    let ext = segment_extension(number, lower)?;
    let mut name = base.as_os_str().to_owned();
    name.push(".");
    name.push(ext);
    Some(PathBuf::from(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adler32_known_answers() {
        assert_eq!(adler32(b""), 1);
        assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
        // Long enough to cross several modulo blocks.
        let long = vec![0xffu8; 100_000];
        let mut a: u64 = 1;
        let mut b: u64 = 0;
        for &x in &long {
            a = (a + u64::from(x)) % 65_521;
            b = (b + a) % 65_521;
        }
        assert_eq!(adler32(&long), ((b << 16) | a) as u32);
    }

    #[test]
    fn segment_extensions_follow_encase() {
        let ext = |n| segment_extension(n, false).unwrap_or_default();
        assert_eq!(ext(1), "E01");
        assert_eq!(ext(99), "E99");
        assert_eq!(ext(100), "EAA");
        assert_eq!(ext(101), "EAB");
        assert_eq!(ext(125), "EAZ");
        assert_eq!(ext(126), "EBA");
        assert_eq!(ext(775), "EZZ");
        assert_eq!(ext(776), "FAA");
        assert_eq!(ext(MAX_SEGMENTS), "ZZZ");
        assert_eq!(segment_extension(MAX_SEGMENTS + 1, false), None);
        assert_eq!(segment_extension(0, false), None);
        assert_eq!(segment_extension(2, true).as_deref(), Some("e02"));
    }

    #[test]
    fn descriptor_round_trip_and_tamper() {
        let d = descriptor("sectors", 1234, 5678);
        assert_eq!(parse_descriptor(&d), Some(Descriptor { kind: "sectors".into(), next: 1234, size: 5678 }));
        let mut bad = d;
        bad[20] ^= 1;
        assert_eq!(parse_descriptor(&bad), None);
    }
}
