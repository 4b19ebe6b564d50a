//! The hash algorithms Custos computes, their names, and one running state per algorithm.

use std::fmt;
use std::str::FromStr;

use md5::Md5;
use sha1::Sha1;
use sha2::digest::Digest as _;
use sha2::{Sha256, Sha512};

use crate::Error;

/// A digest algorithm. The order of the variants is the order results are printed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// MD5 (RFC 1321). Broken for collisions: kept for legacy courts, never alone.
    Md5,
    /// SHA-1 (FIPS 180-4). Broken for collisions: kept for legacy courts, never alone.
    Sha1,
    /// SHA-256 (FIPS 180-4).
    Sha256,
    /// SHA-512 (FIPS 180-4).
    Sha512,
    /// BLAKE3 with 256-bit output.
    Blake3,
}

impl Algorithm {
    /// Every supported algorithm, in display order.
    pub const ALL: [Algorithm; 5] =
        [Algorithm::Md5, Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512, Algorithm::Blake3];

    /// The lowercase name used on the command line and in JSON (`sha256`).
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Md5 => "md5",
            Algorithm::Sha1 => "sha1",
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
            Algorithm::Blake3 => "blake3",
        }
    }

    /// The tag of BSD-style checksum lines (`SHA256 (path) = hex`), as GNU coreutils and
    /// b3sum spell it.
    pub fn bsd_tag(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha1 => "SHA1",
            Algorithm::Sha256 => "SHA256",
            Algorithm::Sha512 => "SHA512",
            Algorithm::Blake3 => "BLAKE3",
        }
    }

    /// Parses a BSD tag (`SHA256`), case-sensitively as coreutils does.
    pub fn from_bsd_tag(tag: &str) -> Option<Algorithm> {
        Algorithm::ALL.into_iter().find(|a| a.bsd_tag() == tag)
    }

    /// Length of the digest in bytes.
    pub fn output_len(self) -> usize {
        match self {
            Algorithm::Md5 => 16,
            Algorithm::Sha1 => 20,
            Algorithm::Sha256 | Algorithm::Blake3 => 32,
            Algorithm::Sha512 => 64,
        }
    }

    /// A fresh running state for this algorithm.
    pub fn hasher(self) -> AlgorithmHasher {
        match self {
            Algorithm::Md5 => AlgorithmHasher::Md5(Md5::new()),
            Algorithm::Sha1 => AlgorithmHasher::Sha1(Sha1::new()),
            Algorithm::Sha256 => AlgorithmHasher::Sha256(Sha256::new()),
            Algorithm::Sha512 => AlgorithmHasher::Sha512(Sha512::new()),
            Algorithm::Blake3 => AlgorithmHasher::Blake3(Box::new(blake3::Hasher::new())),
        }
    }

    /// Hashes one buffer at once: the reference the streaming engine is tested against.
    pub fn digest(self, bytes: &[u8]) -> Digest {
        let mut hasher = self.hasher();
        hasher.update(bytes);
        hasher.finalize()
    }

    /// Parses a comma-separated list (`md5,sha256`), rejecting unknown names and duplicates.
    pub fn parse_list(list: &str) -> Result<Vec<Algorithm>, Error> {
        let mut algorithms = Vec::new();
        for name in list.split(',').map(str::trim) {
            let algorithm: Algorithm = name.parse()?;
            if algorithms.contains(&algorithm) {
                return Err(Error::DuplicateAlgorithm(algorithm.name()));
            }
            algorithms.push(algorithm);
        }
        algorithms.sort();
        Ok(algorithms)
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Algorithm {
    type Err = Error;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        let lower = name.to_ascii_lowercase();
        let canonical = match lower.as_str() {
            "sha-1" => "sha1",
            "sha-256" => "sha256",
            "sha-512" => "sha512",
            "b3" => "blake3",
            other => other,
        };
        Algorithm::ALL
            .into_iter()
            .find(|a| a.name() == canonical)
            .ok_or_else(|| Error::UnsupportedAlgorithm(name.to_owned()))
    }
}

/// The running state of one algorithm.
#[derive(Clone)]
#[allow(missing_docs)]
pub enum AlgorithmHasher {
    Md5(Md5),
    Sha1(Sha1),
    Sha256(Sha256),
    Sha512(Sha512),
    // Boxed: the BLAKE3 state (its chaining-value stack) is ~1.9 KiB.
    Blake3(Box<blake3::Hasher>),
}

impl fmt::Debug for AlgorithmHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AlgorithmHasher({})", self.algorithm())
    }
}

impl AlgorithmHasher {
    /// Which algorithm this state computes.
    pub fn algorithm(&self) -> Algorithm {
        match self {
            AlgorithmHasher::Md5(_) => Algorithm::Md5,
            AlgorithmHasher::Sha1(_) => Algorithm::Sha1,
            AlgorithmHasher::Sha256(_) => Algorithm::Sha256,
            AlgorithmHasher::Sha512(_) => Algorithm::Sha512,
            AlgorithmHasher::Blake3(_) => Algorithm::Blake3,
        }
    }

    /// Feeds the next bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            AlgorithmHasher::Md5(h) => h.update(bytes),
            AlgorithmHasher::Sha1(h) => h.update(bytes),
            AlgorithmHasher::Sha256(h) => h.update(bytes),
            AlgorithmHasher::Sha512(h) => h.update(bytes),
            AlgorithmHasher::Blake3(h) => {
                h.update(bytes);
            }
        }
    }

    /// Finishes and returns the digest, resetting nothing (the state is consumed).
    pub fn finalize(self) -> Digest {
        let bytes = match self {
            AlgorithmHasher::Md5(h) => h.finalize().to_vec(),
            AlgorithmHasher::Sha1(h) => h.finalize().to_vec(),
            AlgorithmHasher::Sha256(h) => h.finalize().to_vec(),
            AlgorithmHasher::Sha512(h) => h.finalize().to_vec(),
            AlgorithmHasher::Blake3(h) => h.finalize().as_bytes().to_vec(),
        };
        Digest(bytes)
    }
}

/// A digest value.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Digest(pub Vec<u8>);

impl Digest {
    /// Lowercase hexadecimal, as every checksum tool prints it.
    pub fn to_hex(&self) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = String::with_capacity(self.0.len() * 2);
        for byte in &self.0 {
            out.push(HEX[usize::from(byte >> 4)] as char);
            out.push(HEX[usize::from(byte & 0xf)] as char);
        }
        out
    }

    /// Parses hexadecimal in either case; `None` for odd lengths or other characters.
    pub fn from_hex(hex: &str) -> Option<Digest> {
        if !hex.len().is_multiple_of(2) {
            return None;
        }
        let nibble = |c: u8| match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        };
        hex.as_bytes()
            .chunks_exact(2)
            .map(|pair| Some(nibble(pair[0])? << 4 | nibble(pair[1])?))
            .collect::<Option<Vec<u8>>>()
            .map(Digest)
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", self.to_hex())
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for algorithm in Algorithm::ALL {
            assert_eq!(algorithm.name().parse::<Algorithm>().ok(), Some(algorithm));
            assert_eq!(Algorithm::from_bsd_tag(algorithm.bsd_tag()), Some(algorithm));
            assert_eq!(algorithm.digest(b"").0.len(), algorithm.output_len());
        }
    }

    #[test]
    fn list_parsing_rejects_unknown_and_duplicates() {
        assert_eq!(Algorithm::parse_list("sha256,md5").ok(), Some(vec![Algorithm::Md5, Algorithm::Sha256]));
        assert!(
            matches!(Algorithm::parse_list("sha256,crc32"), Err(Error::UnsupportedAlgorithm(n)) if n == "crc32")
        );
        assert!(matches!(Algorithm::parse_list("md5,MD5"), Err(Error::DuplicateAlgorithm("md5"))));
        assert!(Algorithm::parse_list("").is_err());
    }

    #[test]
    fn hex_round_trip_and_rejects_garbage() {
        let d = Digest(vec![0x00, 0xab, 0xff]);
        assert_eq!(d.to_hex(), "00abff");
        assert_eq!(Digest::from_hex("00ABff"), Some(d));
        assert_eq!(Digest::from_hex("abc"), None);
        assert_eq!(Digest::from_hex("zz"), None);
    }
}
