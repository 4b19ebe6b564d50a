//! Numbers and times for people: `2,101,473 bytes (2.0 MiB)`, `1 December 2026, 08:33:42
//! UTC`. Machines get the exact values in `--json`; these are for reports and terminals.

/// A count with thousands separators: `2101473` → `2,101,473`.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// `1 event`, `4 events`, `1,024 items`.
pub fn plural(n: usize, noun: &str) -> String {
    match n {
        1 => format!("1 {noun}"),
        n => format!("{} {noun}s", count(n as u64)),
    }
}

/// A size in bytes with separators, and in binary units when that helps:
/// `2,101,473 bytes (2.0 MiB)`.
pub fn size(bytes: u64) -> String {
    let units = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let exact = if bytes == 1 { "1 byte".to_owned() } else { format!("{} bytes", count(bytes)) };
    if bytes < 1024 {
        return exact;
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < units.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{exact} ({value:.1} {})", units[unit])
}

/// A byte range `[start, end)` as people count it, both ends included:
/// `bytes 1,048,576 to 1,310,719: 262,144 bytes (256.0 KiB)`.
pub fn byte_range(start: u64, end: u64) -> String {
    let length = end.saturating_sub(start);
    format!("bytes {} to {}: {}", count(start), count(end.saturating_sub(1)), size(length))
}

/// An RFC 3339 time as `1 December 2026, 08:33:42 UTC` (converted to UTC); text that is
/// not such a time is returned as it is, so nothing recorded is ever hidden.
pub fn time(rfc3339: &str) -> String {
    match custos_manifest::time::parse_rfc3339(rfc3339) {
        Some(seconds) if seconds >= 0 => time_of_unix(seconds as u64),
        _ => rfc3339.to_owned(),
    }
}

/// Seconds since the Unix epoch as `1 December 2026, 08:33:42 UTC`.
pub fn time_of_unix(seconds: u64) -> String {
    custos_manifest::time::words_of_unix(seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_have_separators() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1000), "1,000");
        assert_eq!(count(2_101_473), "2,101,473");
        assert_eq!(count(u64::MAX), "18,446,744,073,709,551,615");
    }

    #[test]
    fn sizes_are_exact_first() {
        assert_eq!(size(1), "1 byte");
        assert_eq!(size(1023), "1,023 bytes");
        assert_eq!(size(2_101_473), "2,101,473 bytes (2.0 MiB)");
        assert_eq!(size(262_144), "262,144 bytes (256.0 KiB)");
        assert_eq!(
            byte_range(1_048_576, 1_310_720),
            "bytes 1,048,576 to 1,310,719: 262,144 bytes (256.0 KiB)"
        );
    }

    #[test]
    fn times_read_as_dates() {
        assert_eq!(time("2026-12-01T08:33:42+00:00"), "1 December 2026, 08:33:42 UTC");
        assert_eq!(time("2026-12-01T10:33:42+02:00"), "1 December 2026, 08:33:42 UTC");
        assert_eq!(time("1970-01-01T00:00:00Z"), "1 January 1970, 00:00:00 UTC");
        assert_eq!(time("yesterday"), "yesterday", "kept as recorded");
    }
}
