//! Tool-call id normalisation (contract B3): every id concord hands out or sends matches
//! `^[A-Za-z0-9_-]{1,40}$`, is unique within its response, and depends only on the response.

use std::collections::HashSet;

const MAX_LEN: usize = 40;

/// Whether `id` already has the normalised shape.
pub fn is_valid(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// `id` with illegal characters replaced by `_`, cut to `max` bytes.
fn sanitize(id: &str, max: usize) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(max)
        .collect()
}

/// FNV-1a, 64-bit. Hand-written because ids must be stable across versions and platforms, which
/// `std`'s hashers do not promise, and a hashing crate for eight lines is not worth the build.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The id to put on the wire for a history id: kept when valid, otherwise a deterministic
/// function of the original, so a tool call and its result still match after encoding.
pub fn wire_id(id: &str) -> String {
    if is_valid(id) {
        return id.to_owned();
    }
    let prefix = sanitize(id, 22);
    let prefix = if prefix.is_empty() { "call" } else { &prefix };
    format!("{prefix}_{:016x}", fnv1a(id.as_bytes()))
}

/// Hands out normalised ids for the tool calls of one response, in order.
#[derive(Debug, Default)]
pub struct IdNormalizer {
    seen: HashSet<String>,
    count: usize,
}

impl IdNormalizer {
    /// The normalised id for the next tool call, whose vendor id is `vendor` (if any).
    pub fn next(&mut self, vendor: Option<&str>) -> String {
        let position = self.count;
        self.count += 1;
        if let Some(v) = vendor.filter(|v| is_valid(v) && !self.seen.contains(*v)) {
            self.seen.insert(v.to_owned());
            return v.to_owned();
        }
        let base = vendor.map(|v| sanitize(v, 28)).unwrap_or_default();
        let base = if base.is_empty() {
            "call".to_owned()
        } else {
            base
        };
        let mut candidate = format!("{base}_{position}");
        let mut bump = 0usize;
        while self.seen.contains(&candidate) {
            bump += 1;
            candidate = format!("{base}_{position}_{bump}");
        }
        self.seen.insert(candidate.clone());
        candidate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_unique_ids_are_kept() {
        let mut n = IdNormalizer::default();
        assert_eq!(n.next(Some("call_abc")), "call_abc");
        assert_eq!(n.next(Some("toolu_01-X")), "toolu_01-X");
    }

    #[test]
    fn bad_ids_become_valid_unique_and_deterministic() {
        let inputs = [
            Some("call.1/x"),
            Some("call_0"),
            Some("call_0"),
            None,
            None,
            Some("a_very_long_identifier_that_goes_well_past_forty_characters"),
            Some("call_0_2"),
        ];
        let run = || {
            let mut n = IdNormalizer::default();
            inputs.iter().map(|v| n.next(*v)).collect::<Vec<_>>()
        };
        let ids = run();
        assert_eq!(ids, run(), "same input must give the same ids");
        let unique: HashSet<_> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len(), "ids must be unique: {ids:?}");
        assert!(ids.iter().all(|id| is_valid(id)), "{ids:?}");
        assert_eq!(ids[1], "call_0");
        assert_ne!(ids[2], "call_0");
    }

    #[test]
    fn wire_ids_are_valid_and_stable() {
        for id in ["call|1", "", "ü", &"x".repeat(80)] {
            let w = wire_id(id);
            assert!(is_valid(&w), "{id:?} -> {w:?}");
            assert_eq!(w, wire_id(id));
        }
        assert_ne!(wire_id("a.b"), wire_id("a/b"));
        assert_eq!(wire_id("ok_id"), "ok_id");
    }
}
