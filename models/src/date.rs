//! Calendar dates in UTC, for deprecation dates and budget periods: Howard Hinnant's
//! days-from-civil and civil-from-days (a date crate for these few lines is not worth its build
//! time on two cores).

/// Today's date, `YYYY-MM-DD` (UTC).
pub fn today() -> String {
    date(now_ms().max(0) as u64 / 1000)
}

/// The UTC date `YYYY-MM-DD` of a Unix time.
pub fn date(unix_secs: u64) -> String {
    let (y, m, d) = ymd((unix_secs / 86_400) as i64);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Now, Unix milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The year, month (1–12) and day (1–31) `days` after 1970-01-01.
pub fn ymd(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// The days from 1970-01-01 to `y-m-d` (the inverse of [`ymd`]; `m` may run past 12 into the
/// next years, so the first of the next month is `days(y, m + 1, 1)`).
pub fn days(y: i64, m: i64, d: i64) -> i64 {
    let (y, m) = (y + (m - 1).div_euclid(12), (m - 1).rem_euclid(12) + 1);
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_count_from_the_epoch_and_back() {
        assert_eq!(ymd(0), (1970, 1, 1));
        assert_eq!(date(1_795_305_600), "2026-11-22");
        assert_eq!(date(951_782_400 + 86_399), "2000-02-29");
        assert_eq!(ymd(20_429), (2025, 12, 7));
        assert_eq!(ymd(11_016), (2000, 2, 29));
        for n in [-800_000, -1, 0, 59, 60, 11_016, 20_429, 20_453, 1_000_000] {
            let (y, m, d) = ymd(n);
            assert_eq!(days(y, m, d), n, "{y}-{m}-{d}");
        }
        // The month after December is January of the next year.
        assert_eq!(days(2026, 13, 1), days(2027, 1, 1));
    }
}
