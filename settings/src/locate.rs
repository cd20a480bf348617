//! Where a key sits in the file, so a problem names `file:line`: figment keeps which file a value
//! came from but not where in it, so the file is parsed once more with `toml_edit`, which keeps
//! spans, and that parse is kept for every lookup.

use toml_edit::{ImDocument, TableLike};

/// The file's text, parsed with spans.
#[derive(Debug, Clone)]
pub(crate) struct Located {
    doc: ImDocument<String>,
}

impl Located {
    /// `None` when the text is not TOML (the loader reports that before it asks for lines).
    pub(crate) fn parse(text: &str) -> Option<Self> {
        ImDocument::parse(text.to_owned())
            .ok()
            .map(|doc| Self { doc })
    }

    /// The 1-based line of the deepest key of `path` found (a missing key's line is its
    /// section's).
    pub(crate) fn line_of(&self, path: &[&str]) -> Option<usize> {
        let mut table: &dyn TableLike = self.doc.as_table();
        let mut at = None;
        for seg in path {
            let Some((key, item)) = table.get_key_value(seg) else {
                break;
            };
            at = key.span().or_else(|| item.span()).or(at);
            match item.as_table_like() {
                Some(t) => table = t,
                None => break,
            }
        }
        at.map(|span| line_at(self.doc.raw(), span.start))
    }
}

/// The 1-based line of byte `offset`.
pub(crate) fn line_at(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_of_tables_and_inline_tables_have_their_lines() {
        let text = "[dispatcher]\nretries = 3\n\n[providers.azure]\ntype = \"azure\"\ncredential = { env = \"K\" }\n";
        let l = Located::parse(text).unwrap();
        assert_eq!(l.line_of(&["dispatcher", "retries"]), Some(2));
        assert_eq!(l.line_of(&["providers", "azure", "type"]), Some(5));
        assert_eq!(
            l.line_of(&["providers", "azure", "credential", "env"]),
            Some(6)
        );
        // A missing key points at its section.
        assert_eq!(l.line_of(&["providers", "azure", "model"]), Some(4));
    }
}
