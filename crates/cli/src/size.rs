//! Sizes on the command line: `4096`, `64K`, `64M`, `1G`, `2T` (binary multiples; `KiB`,
//! `MB`-style suffixes accepted and read as binary too, as dd and hashdeep do).

/// Parses a size; the error says what is accepted.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let digits_end = trimmed.find(|c: char| !c.is_ascii_digit()).unwrap_or(trimmed.len());
    let (digits, suffix) = trimmed.split_at(digits_end);
    let shift = match suffix.to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        "T" | "TB" | "TIB" => 40,
        _ => return Err(format!("invalid size `{text}`: use a number with an optional K, M, G or T suffix")),
    };
    let value: u64 = digits
        .parse()
        .map_err(|_| format!("invalid size `{text}`: use a number with an optional K, M, G or T suffix"))?;
    let size = value.checked_mul(1u64 << shift).ok_or_else(|| format!("size `{text}` is too large"))?;
    if size == 0 {
        return Err("a size of zero is not allowed".into());
    }
    Ok(size)
}

/// Parses a size where `0` means "never" (`--checkpoint-every 0`).
pub fn parse_size_or_zero(text: &str) -> Result<u64, String> {
    if text.trim() == "0" {
        return Ok(0);
    }
    parse_size(text)
}

#[cfg(test)]
mod tests {
    use super::{parse_size, parse_size_or_zero};

    #[test]
    fn zero_only_where_it_means_never() {
        assert_eq!(parse_size_or_zero("0"), Ok(0));
        assert_eq!(parse_size_or_zero("256M"), Ok(256 << 20));
        assert!(parse_size("0").is_err());
    }

    #[test]
    fn accepts_plain_and_suffixed_sizes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64K"), Ok(64 << 10));
        assert_eq!(parse_size("64M"), Ok(64 << 20));
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("1g"), Ok(1 << 30));
        assert_eq!(parse_size("2T"), Ok(2 << 40));
    }

    #[test]
    fn rejects_nonsense() {
        for bad in ["", "M", "-1", "1.5M", "12Q", "0", "99999999999T"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }
}
