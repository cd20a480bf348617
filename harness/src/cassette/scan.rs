//! The secret scanner over fixtures: credential-shaped strings and long high-entropy values in
//! auth-like fields, reported with file and line.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use regex::Regex;

use super::redact::REDACTED;

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The file.
    pub path: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// What matched.
    pub rule: &'static str,
    /// The match with its middle masked, so the report does not leak it again.
    pub excerpt: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}: {} ({})",
            self.path.display(),
            self.line,
            self.rule,
            self.excerpt
        )
    }
}

struct Rule {
    name: &'static str,
    re: Regex,
    entropy: bool,
}

fn rules() -> &'static [Rule] {
    static RULES: OnceLock<Vec<Rule>> = OnceLock::new();
    RULES.get_or_init(|| {
        let r = |name, pattern: &str, entropy| Rule { name, re: Regex::new(pattern).expect("valid pattern"), entropy };
        vec![
            r("anthropic key", r"sk-ant-[A-Za-z0-9_-]{20,}", false),
            r("openai-style key", r"\bsk-(?:proj-|or-v1-|svcacct-)?[A-Za-z0-9_-]{20,}", false),
            r("google api key", r"AIza[0-9A-Za-z_-]{35}", false),
            r("bearer token", r"(?i)bearer\s+[A-Za-z0-9._~+/=-]{20,}", false),
            r(
                "credential in an auth-like field",
                r#"(?i)"(?:authorization|x-api-key|api-key|x-goog-api-key|api_key|apikey|access_token|secret|password)"\s*:\s*"([^"]{16,})""#,
                true,
            ),
            r("key in a query string", r"[?&](?:key|api_key|access_token)=([A-Za-z0-9._-]{16,})", true),
        ]
    })
}

/// Shannon entropy in bits per character.
fn entropy(s: &str) -> f64 {
    let mut counts = [0usize; 256];
    for b in s.bytes() {
        counts[b as usize] += 1;
    }
    let n = s.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum()
}

fn mask(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= 10 {
        return "*".repeat(chars.len());
    }
    format!(
        "{}…{}",
        chars[..6].iter().collect::<String>(),
        chars[chars.len() - 2..].iter().collect::<String>()
    )
}

/// Findings in one text.
pub fn scan_text(path: &Path, text: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        // One finding per span: `sk-ant-…` also matches the generic `sk-…` rule.
        let mut spans: Vec<(usize, usize)> = Vec::new();
        for rule in rules() {
            for caps in rule.re.captures_iter(line) {
                let Some(m) = caps.get(0) else { continue };
                let whole = m.as_str();
                let value = caps.get(1).map_or(whole, |m| m.as_str());
                if value.contains(REDACTED) || (rule.entropy && entropy(value) < 3.5) {
                    continue;
                }
                if spans.iter().any(|&(s, e)| m.start() < e && s < m.end()) {
                    continue;
                }
                spans.push((m.start(), m.end()));
                out.push(Finding {
                    path: path.to_owned(),
                    line: n + 1,
                    rule: rule.name,
                    excerpt: mask(whole),
                });
            }
        }
    }
    out
}

/// Findings in every text file under `root`.
pub fn scan_dir(root: &Path) -> std::io::Result<Vec<Finding>> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&dir)?
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(text) = std::fs::read_to_string(&path) {
                out.extend(scan_text(&path, &text));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_each_credential_shape() {
        let planted = [
            r#"{"x": "sk-ant-api03-abcdefghijklmnopqrstuvwxyz012345"}"#,
            r#"{"x": "sk-proj-abcdefghijklmnopqrstuvwxyz012345"}"#,
            r#"{"x": "AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW"}"#,
            r#"{"authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0"}"#,
            r#"{"x-api-key": "Zq8vR2mK9pL4tW7nB3xC6yH1jD5fG0sA"}"#,
            r#"{"path": "/v1/models/m:generateContent?key=Zq8vR2mK9pL4tW7nB3xC"}"#,
        ];
        for text in planted {
            assert_eq!(scan_text(Path::new("f.json"), text).len(), 1, "{text}");
        }
    }

    #[test]
    fn ignores_redactions_and_ordinary_text() {
        for text in [
            r#"{"authorization": "[REDACTED]"}"#,
            r#"{"x-api-key": "aaaaaaaaaaaaaaaaaaaaaaaa"}"#,
            r#"{"text": "the task-force said sk-ant is a prefix"}"#,
            r#"{"signature": "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds"}"#,
        ] {
            assert!(scan_text(Path::new("f"), text).is_empty(), "{text}");
        }
    }

    #[test]
    fn reports_the_line_and_masks_the_value() {
        let f = scan_text(
            Path::new("a/b.json"),
            "{\n\n \"k\": \"sk-ant-api03-abcdefghijklmnopqrstuvwxyz\"\n}",
        );
        assert_eq!(f[0].line, 3);
        assert!(!f[0].to_string().contains("abcdefghijklmnop"), "{}", f[0]);
    }
}
