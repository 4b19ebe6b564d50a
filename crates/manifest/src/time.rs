//! Timestamps as RFC 3339 text with an explicit UTC offset (`2026-11-29T14:05:00+00:00`).
//!
//! Custos records times in UTC, written with the `+00:00` offset so that every reader sees
//! the offset, as the formats require; conversion to local time is for display only.
//! [`parse_rfc3339`] is the one parser of times read back (events, manifests, policies,
//! `--at`): it works on bytes, so hostile text (multi-byte characters, truncation) is
//! refused, never a panic.

use std::time::{SystemTime, UNIX_EPOCH};

/// The current time as RFC 3339 with a `+00:00` offset, to the second.
pub fn now_rfc3339() -> String {
    let seconds = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    rfc3339_from_unix(seconds)
}

/// Formats seconds since the Unix epoch (UTC).
pub fn rfc3339_from_unix(seconds: u64) -> String {
    let days = (seconds / 86_400) as i64;
    let in_day = seconds % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}+00:00",
        in_day / 3600,
        in_day / 60 % 60,
        in_day % 60
    )
}

/// Parses `YYYY-MM-DDTHH:MM:SS` followed by `Z` or `±HH:MM` (fractions of a second are not
/// used by Custos and are rejected). Returns seconds since 1970-01-01T00:00:00Z, or `None`
/// for anything else, including days a month does not have (`2026-02-30`).
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = bytes.get(range)?;
        part.iter().try_fold(0i64, |n, &b| b.is_ascii_digit().then(|| n * 10 + i64::from(b - b'0')))
    };
    let separators = [(4, b'-'), (7, b'-'), (13, b':'), (16, b':')];
    if bytes.len() < 20 || separators.iter().any(|&(i, b)| bytes[i] != b) || !matches!(bytes[10], b'T' | b't')
    {
        return None;
    }
    let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let (hour, minute, second) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let offset = match &bytes[19..] {
        b"Z" | b"z" => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let (hours, minutes) = (digits(20..22)?, digits(23..25)?);
            if hours > 23 || minutes > 59 {
                return None;
            }
            let sign = if *sign == b'-' { -1 } else { 1 };
            sign * (hours * 3600 + minutes * 60)
        }
        _ => return None,
    };
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let month_index = if month > 2 { month - 3 } else { month + 9 };
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Seconds since the Unix epoch as people read a date and time: `1 December 2026, 08:33:42
/// UTC`. The one place dates are written in words, for text, reports and policy findings.
pub fn words_of_unix(seconds: u64) -> String {
    let text = rfc3339_from_unix(seconds);
    // `YYYY-MM-DDTHH:MM:SS+00:00`: the fields are at fixed places.
    let field = |range: std::ops::Range<usize>| text.get(range).unwrap_or_default();
    let month = field(5..7).parse::<usize>().ok().and_then(|m| MONTHS.get(m.wrapping_sub(1)));
    let day = field(8..10).trim_start_matches('0');
    match month {
        Some(month) => format!("{day} {month} {}, {} UTC", field(0..4), field(11..19)),
        None => text,
    }
}

/// The date alone of [`words_of_unix`]: `1 December 2026`.
pub fn date_in_words(seconds: u64) -> String {
    let text = words_of_unix(seconds);
    text.split(',').next().unwrap_or(&text).to_owned()
}

#[cfg(test)]
mod tests {
    use super::{parse_rfc3339, rfc3339_from_unix};

    #[test]
    fn parses_known_instants_and_offsets() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("2000-02-29T00:00:00+00:00"), Some(951_782_400));
        assert_eq!(parse_rfc3339("2026-11-30T00:53:20+00:00"), Some(1_796_000_000));
        assert_eq!(parse_rfc3339("2026-11-30T02:53:20+02:00"), Some(1_796_000_000));
        assert_eq!(parse_rfc3339("2026-11-29T19:53:20-05:00"), Some(1_796_000_000));
        for bad in [
            "",
            "2026-11-30",
            "2026-13-01T00:00:00Z",
            "2026-02-30T00:00:00Z",
            "2025-02-29T00:00:00Z",
            "2026-11-30T00:00:00",
            "2026-11-30T00:00:00.5Z",
            "2026-11-30T00:00:00+0000",
            "2026-11-30T00:00:00+24:00",
            // Multi-byte characters where digits or separators belong: refused, no panic.
            "2026-11-30T00:00:0é+00:00",
            "2026-11-30T00:00:00+0é:00",
            "2026-11-30T00:00:00é",
            "2026-11-30T00:00:00+00:0é",
            "２０２６-11-30T00:00:00Z",
            "+026-11-30T00:00:00Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn round_trips_what_custos_writes() {
        for seconds in [0, 951_782_400, 1_796_000_000, 4_102_444_799] {
            assert_eq!(parse_rfc3339(&rfc3339_from_unix(seconds)), Some(seconds as i64));
        }
    }

    #[test]
    fn known_instants() {
        assert_eq!(rfc3339_from_unix(0), "1970-01-01T00:00:00+00:00");
        assert_eq!(rfc3339_from_unix(951_782_400), "2000-02-29T00:00:00+00:00");
        assert_eq!(rfc3339_from_unix(1_796_000_000), "2026-11-30T00:53:20+00:00");
        assert_eq!(rfc3339_from_unix(4_102_444_799), "2099-12-31T23:59:59+00:00");
    }
}
