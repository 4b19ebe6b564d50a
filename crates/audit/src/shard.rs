//! Deterministic shards: `--shard I/N` gives each of N machines the same disjoint part of a
//! store on every run, whatever the order in which the store lists its packages.

use sha2::{Digest as _, Sha256};

/// One of `count` shards (`index` counts from 0), as `--shard I/N` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// Which shard, from 0.
    pub index: u64,
    /// How many shards.
    pub count: u64,
}

impl Shard {
    /// All packages in one shard.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// Reads `I/N` with `0 <= I < N`.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let (index, count) = text.split_once('/').ok_or("expected I/N, such as 0/4")?;
        let index: u64 = index.trim().parse().map_err(|_| format!("`{index}` is not a shard number"))?;
        let count: u64 = count.trim().parse().map_err(|_| format!("`{count}` is not a shard count"))?;
        if count == 0 || index >= count {
            return Err(format!("shard {index}/{count}: I must be at least 0 and less than N"));
        }
        Ok(Shard { index, count })
    }

    /// Whether the package at `key` (its path relative to the audit root, `/`-separated)
    /// belongs to this shard: the first 8 bytes of SHA-256 of the key, modulo N. The key is
    /// the same on every machine that mounts the store, and the hash spreads packages evenly
    /// however their names are numbered.
    pub fn holds(&self, key: &str) -> bool {
        if self.count == 1 {
            return true;
        }
        let digest = Sha256::digest(key.as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        u64::from_be_bytes(first) % self.count == self.index
    }

    /// A number in [0, 1) fixed for `key`: spreads full re-hashes over a rotation.
    pub fn fraction(key: &str) -> f64 {
        let digest = Sha256::digest(key.as_bytes());
        let mut tail = [0u8; 8];
        tail.copy_from_slice(&digest[24..]);
        (u64::from_be_bytes(tail) >> 11) as f64 / (1u64 << 53) as f64
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_package_is_in_exactly_one_shard() {
        let keys: Vec<String> = (0..1000).map(|i| format!("case-{i}/exhibit")).collect();
        let shards: Vec<Shard> = (0..7).map(|index| Shard { index, count: 7 }).collect();
        for key in &keys {
            assert_eq!(shards.iter().filter(|s| s.holds(key)).count(), 1, "{key}");
        }
        // Evenly enough: no shard holds less than half or more than twice its share.
        for shard in &shards {
            let held = keys.iter().filter(|k| shard.holds(k)).count();
            assert!((1000 / 14..=2000 / 7).contains(&held), "shard {shard} holds {held}");
        }
    }

    #[test]
    fn the_split_is_stable() {
        // Pinned (from `printf KEY | sha256sum`, first 16 hex digits, mod 4): a change here
        // moves packages between the machines of a running deployment.
        let of = |key: &str| (0..4).find(|&index| Shard { index, count: 4 }.holds(key));
        let found: Vec<Option<u64>> = ["a", "b", "c", "d", "e"].iter().map(|k| of(k)).collect();
        assert_eq!(found, [Some(2), Some(2), Some(2), Some(1), Some(2)]);
    }

    #[test]
    fn bad_shards_are_refused() {
        for bad in ["", "1", "4/4", "-1/3", "a/b", "0/0", "1/2/3"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Shard::parse("2/5"), Ok(Shard { index: 2, count: 5 }));
    }

    #[test]
    fn fractions_are_in_range_and_fixed() {
        // Pinned, computed apart from this code (Python: the last 8 bytes of
        // `hashlib.sha256(KEY).digest()`, big-endian, shifted right by 11, over 2^53): a change
        // here moves every package's full re-hash to another night of the rotation.
        const TWO_TO_53: f64 = 9_007_199_254_740_992.0;
        for (key, numerator) in
            [("x", 75_526_512_460_617u64), ("y", 5_461_248_856_697_110), ("case/1", 5_286_392_207_410_791)]
        {
            let f = Shard::fraction(key);
            assert!((0.0..1.0).contains(&f));
            // Exact: a 53-bit integer over a power of two is exact in an f64.
            assert_eq!(f, numerator as f64 / TWO_TO_53, "{key}");
        }
        assert_eq!(Shard::fraction("x"), 0.008385127310341578);
    }
}
