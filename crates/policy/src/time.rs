//! Times in policies and `--at`, to seconds since the Unix epoch, for comparing validity
//! windows, gaps and deadlines. RFC 3339 as Custos writes it (one parser for the whole
//! toolkit, in `custos-manifest`, which reads event times first), and, for people writing
//! policies, a plain date `YYYY-MM-DD`, meaning the start of that day in UTC.

/// Parses RFC 3339 (`2026-01-01T00:00:00Z`, `…+02:00`) or a plain date (`2026-01-01`, the
/// start of that day, UTC). `None` for anything else.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    if bytes.len() == 10 && bytes[4] == b'-' && bytes[7] == b'-' {
        return custos_manifest::time::parse_rfc3339(&format!("{text}T00:00:00Z"));
    }
    custos_manifest::time::parse_rfc3339(text)
}

#[cfg(test)]
mod tests {
    use super::parse_rfc3339;

    #[test]
    fn plain_dates_are_the_start_of_the_day_in_utc() {
        // Pinned from `date -u -d 2026-01-01 +%s` (and Python's datetime for the others).
        assert_eq!(parse_rfc3339("2026-01-01"), Some(1_767_225_600));
        assert_eq!(parse_rfc3339("2026-01-01T00:00:00Z"), Some(1_767_225_600));
        assert_eq!(parse_rfc3339("2024-02-29"), Some(1_709_164_800));
        assert_eq!(parse_rfc3339("1970-01-02"), Some(86_400));
        assert_eq!(parse_rfc3339("1970-01-01"), Some(0));
        for bad in ["2026-13-01", "2026-02-30", "2026-1-01", "20260101", "2026-01-0é"] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }
}
