//! Retry signals of contract A6: the delay a vendor asks for (headers, or Gemini's `RetryInfo`
//! in the body), `x-should-retry`, and the vendor's request id.

use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;

use crate::error::Error;

/// Adds what the headers say: retry delay (A6), `x-should-retry`, request id. A rate limit
/// with no other hint takes its delay from the `x-ratelimit-reset-*` headers.
pub fn with_headers(mut err: Error, headers: &HeaderMap) -> Error {
    if let Some(after) = retry_after(headers, SystemTime::now()) {
        err.retry_after = Some(after);
    } else if err.kind == crate::ErrorKind::RateLimited && err.retry_after.is_none() {
        err.retry_after = ratelimit_reset(headers);
    }
    if let Some(flag) = header(headers, "x-should-retry") {
        match flag.trim() {
            "true" => err.retryable = true,
            "false" => err.retryable = false,
            _ => {}
        }
    }
    if err.request_id.is_none() {
        err.request_id = ["x-request-id", "request-id", "x-goog-request-id"]
            .iter()
            .find_map(|n| header(headers, n))
            .map(str::to_owned);
    }
    err
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The longest retry delay concord reports. A vendor (or a proxy) asking for more — `1e20`
/// seconds has been seen from fuzzing, and `Duration::from_secs_f64` panics on it — gets this,
/// which every retry policy reads as "too long to wait".
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// `secs` as a delay: `None` unless finite and not negative, capped at [`MAX_RETRY_AFTER`].
fn delay_from_secs(secs: f64) -> Option<Duration> {
    if !(secs.is_finite() && secs >= 0.0) {
        return None;
    }
    Some(Duration::from_secs_f64(
        secs.min(MAX_RETRY_AFTER.as_secs_f64()),
    ))
}

/// The delay asked for by the headers of contract A6, in order of precision:
/// `retry-after-ms`, `x-ms-retry-after-ms`, then `retry-after` as seconds or an HTTP-date.
/// Absurd values are capped at [`MAX_RETRY_AFTER`]; unreadable ones are ignored.
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let millis = ["retry-after-ms", "x-ms-retry-after-ms"]
        .iter()
        .find_map(|n| header(headers, n)?.trim().parse::<f64>().ok())
        .and_then(|ms| delay_from_secs(ms / 1000.0));
    if millis.is_some() {
        return millis;
    }
    let value = header(headers, "retry-after")?.trim();
    if let Ok(secs) = value.parse::<f64>() {
        return delay_from_secs(secs);
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(now)
            .unwrap_or(Duration::ZERO)
            .min(MAX_RETRY_AFTER),
    )
}

/// When the exhausted limits reset, from `x-ratelimit-reset-requests` and
/// `x-ratelimit-reset-tokens` (OpenAI and Azure): the later of the two, as both must have
/// reset. Values are durations like `6m0s`, `1.5s`, `20ms`, or plain seconds.
pub fn ratelimit_reset(headers: &HeaderMap) -> Option<Duration> {
    ["x-ratelimit-reset-requests", "x-ratelimit-reset-tokens"]
        .iter()
        .filter_map(|n| parse_go_duration(header(headers, n)?))
        .max()
}

/// A duration as Go prints them (`1h2m3.5s`, `20ms`, `6m0s`), or a plain number of seconds;
/// capped like every delay.
fn parse_go_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<f64>() {
        return delay_from_secs(secs);
    }
    let mut total = 0.0;
    let mut rest = text;
    while !rest.is_empty() {
        let end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .filter(|&e| e > 0)?;
        let value: f64 = rest[..end].parse().ok()?;
        rest = &rest[end..];
        let (unit, scale) = [
            ("ms", 1e-3),
            ("us", 1e-6),
            ("µs", 1e-6),
            ("ns", 1e-9),
            ("h", 3600.0),
            ("m", 60.0),
            ("s", 1.0),
        ]
        .into_iter()
        .find(|(u, _)| rest.starts_with(u))?;
        total += value * scale;
        rest = &rest[unit.len()..];
    }
    delay_from_secs(total)
}

/// Parses a protobuf-JSON duration such as `"34.4s"` (Gemini `RetryInfo.retryDelay`), capped
/// at [`MAX_RETRY_AFTER`].
pub fn parse_proto_duration(text: &str) -> Option<Duration> {
    delay_from_secs(text.trim().strip_suffix('s')?.parse().ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use reqwest::header::{HeaderName, HeaderValue};

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(n, v)| {
                (
                    HeaderName::from_bytes(n.as_bytes()).unwrap(),
                    HeaderValue::from_str(v).unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn retry_after_reads_every_a6_header_form() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let date = httpdate::fmt_http_date(now + Duration::from_secs(42));
        type Case<'a> = (&'a [(&'a str, &'a str)], Option<Duration>);
        let cases: &[Case] = &[
            (
                &[("retry-after-ms", "1500")],
                Some(Duration::from_millis(1500)),
            ),
            (
                &[("x-ms-retry-after-ms", "250.5")],
                Some(Duration::from_micros(250_500)),
            ),
            (&[("retry-after", "20")], Some(Duration::from_secs(20))),
            (&[("retry-after", "0.5")], Some(Duration::from_millis(500))),
            (&[("retry-after", &date)], Some(Duration::from_secs(42))),
            (
                &[("retry-after", "Thu, 01 Jan 1970 00:00:00 GMT")],
                Some(Duration::ZERO),
            ),
            (
                &[("retry-after-ms", "900"), ("retry-after", "20")],
                Some(Duration::from_millis(900)),
            ),
            (&[("retry-after", "soon")], None),
            (&[("retry-after", "-3")], None),
            // Found by fuzzing: each of these used to panic inside `from_secs_f64`.
            (&[("retry-after", "1e20")], Some(MAX_RETRY_AFTER)),
            (&[("retry-after-ms", "1e300")], Some(MAX_RETRY_AFTER)),
            (&[("x-ms-retry-after-ms", "1e30")], Some(MAX_RETRY_AFTER)),
            (&[("retry-after", "inf")], None),
            (&[("retry-after", "NaN")], None),
            (
                &[("retry-after-ms", "-1"), ("retry-after", "3")],
                Some(Duration::from_secs(3)),
            ),
            (&[], None),
        ];
        for (pairs, want) in cases {
            assert_eq!(retry_after(&headers(pairs), now), *want, "{pairs:?}");
        }
    }

    #[test]
    fn ratelimit_resets_are_read_as_go_durations() {
        let h = headers(&[
            ("x-ratelimit-reset-requests", "1.5s"),
            ("x-ratelimit-reset-tokens", "6m0s"),
        ]);
        assert_eq!(ratelimit_reset(&h), Some(Duration::from_secs(360)));
        assert_eq!(
            ratelimit_reset(&headers(&[("x-ratelimit-reset-tokens", "20ms")])),
            Some(Duration::from_millis(20))
        );
        assert_eq!(
            ratelimit_reset(&headers(&[("x-ratelimit-reset-requests", "7")])),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            ratelimit_reset(&headers(&[("x-ratelimit-reset-requests", "1h2m3s")])),
            Some(Duration::from_secs(3723))
        );
        for bad in ["soon", "5x", "m", "1e400h", ""] {
            let got = ratelimit_reset(&headers(&[("x-ratelimit-reset-requests", bad)]));
            assert!(
                got.is_none() || got <= Some(MAX_RETRY_AFTER),
                "{bad}: {got:?}"
            );
        }
        // Only a rate limit with no other hint takes it.
        let e = with_headers(
            Error::new(ErrorKind::RateLimited, "p", "m"),
            &headers(&[("x-ratelimit-reset-requests", "2s"), ("retry-after", "9")]),
        );
        assert_eq!(e.retry_after, Some(Duration::from_secs(9)));
        let e = with_headers(
            Error::new(ErrorKind::ServerError, "p", "m"),
            &headers(&[("x-ratelimit-reset-requests", "2s")]),
        );
        assert_eq!(e.retry_after, None);
    }

    #[test]
    fn proto_durations_parse() {
        assert_eq!(
            parse_proto_duration("34.4s"),
            Some(Duration::from_millis(34_400))
        );
        assert_eq!(parse_proto_duration("2s"), Some(Duration::from_secs(2)));
        assert_eq!(parse_proto_duration("2"), None);
        assert_eq!(parse_proto_duration("-1s"), None);
        assert_eq!(parse_proto_duration("1e20s"), Some(MAX_RETRY_AFTER));
        assert_eq!(parse_proto_duration("infs"), None);
    }

    #[test]
    fn x_should_retry_overrides_and_request_ids_are_read() {
        let base = Error::new(ErrorKind::ServerError, "p", "m");
        let e = with_headers(
            base.clone(),
            &headers(&[("x-should-retry", "false"), ("x-request-id", "req_1")]),
        );
        assert!(!e.retryable);
        assert_eq!(e.request_id.as_deref(), Some("req_1"));
        let e = with_headers(
            Error::new(ErrorKind::InvalidRequest, "p", "m"),
            &headers(&[("x-should-retry", "true")]),
        );
        assert!(e.retryable);
    }
}
