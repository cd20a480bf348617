//! Sending: one POST with the call's client, bodies read with a size cap, and the errors of
//! failing to get an answer (timeouts, transport), with URLs' query strings removed.

use std::time::Duration;

use crate::error::{Error, ErrorKind, Result};

/// The largest body read into memory (a non-streamed answer or an error body).
pub const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// Reads a whole body with the [`MAX_BODY_BYTES`] cap (over it: `malformed_response`) and the
/// call's timeout (`timeout`); a broken connection is `transport`.
pub async fn read_body(
    provider: &str,
    mut response: reqwest::Response,
    limit: Option<Duration>,
) -> Result<Vec<u8>> {
    let read = async {
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| transport_error(provider, &e))?
        {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(Error::malformed(
                    provider,
                    format!("response body is over {MAX_BODY_BYTES} bytes"),
                ));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    };
    match limit {
        Some(limit) => tokio::time::timeout(limit, read)
            .await
            .map_err(|_| timeout_error(provider, limit))?,
        None => read.await,
    }
}

/// The `timeout` error of a call that got no answer within `limit`.
pub fn timeout_error(provider: &str, limit: Duration) -> Error {
    Error::new(
        ErrorKind::Timeout,
        provider,
        format!("no answer within {} ms", limit.as_millis()),
    )
}

/// The error of a failed send or read: `timeout` when reqwest timed out, else `transport`; the
/// message carries the error's sources with every URL's query string removed.
pub fn transport_error(provider: &str, e: &reqwest::Error) -> Error {
    let kind = if e.is_timeout() {
        ErrorKind::Timeout
    } else {
        ErrorKind::Transport
    };
    Error::new(kind, provider, error_chain(e))
}

/// An error and its sources on one line, with any URL's query string removed (keys can hide there).
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    redact_url(&text)
}

/// Drops query strings from anything that looks like a URL.
pub fn redact_url(text: &str) -> String {
    match text.find('?') {
        Some(q) => {
            let end = text[q..].find([' ', ')']).map_or(text.len(), |e| q + e);
            format!("{}?[query redacted]{}", &text[..q], &text[end..])
        }
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_query_in_messages() {
        assert_eq!(
            redact_url("error sending request for url (http://h/x?key=SECRET)"),
            "error sending request for url (http://h/x?[query redacted])"
        );
    }
}
