//! The report of a run: the terminal matrix, failures, and `report.json`, `junit.xml`,
//! `report.md`.

use std::collections::BTreeSet;
use std::path::Path;

use crate::checks::{by_id, CHECKS};
use crate::outcome::{CheckResult, Outcome};

/// Every result of a run, in catalogue order.
#[derive(Debug, Clone)]
pub struct Report {
    /// The results.
    pub results: Vec<CheckResult>,
}

impl Report {
    pub(crate) fn new(results: Vec<CheckResult>) -> Self {
        Self { results }
    }

    /// Provider names in first-seen order.
    pub fn providers(&self) -> Vec<String> {
        let mut seen = Vec::new();
        for r in &self.results {
            if !seen.contains(&r.provider) {
                seen.push(r.provider.clone());
            }
        }
        seen
    }

    fn checks(&self) -> Vec<&'static str> {
        let ran: BTreeSet<&str> = self.results.iter().map(|r| r.check).collect();
        CHECKS
            .iter()
            .map(|c| c.id)
            .filter(|id| ran.contains(id))
            .collect()
    }

    /// The result for one cell.
    pub fn get(&self, check: &str, provider: &str) -> Option<&CheckResult> {
        self.results
            .iter()
            .find(|r| r.check == check && r.provider == provider)
    }

    /// The failed results.
    pub fn failures(&self) -> Vec<&CheckResult> {
        self.results
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Fail(_)))
            .collect()
    }

    /// `(pass, fail, skip)` counts.
    pub fn counts(&self) -> (usize, usize, usize) {
        let count = |f: fn(&Outcome) -> bool| self.results.iter().filter(|r| f(&r.outcome)).count();
        (
            count(|o| *o == Outcome::Pass),
            count(|o| matches!(o, Outcome::Fail(_))),
            count(|o| matches!(o, Outcome::Skip(_))),
        )
    }

    /// Whether nothing failed.
    pub fn passed(&self) -> bool {
        self.failures().is_empty()
    }

    /// Panics with every failure's message (for use inside a `#[test]`).
    pub fn assert_passed(&self) {
        if !self.passed() {
            panic!("conformance failures:\n{}", self.failures_text());
        }
    }

    /// The checks × providers matrix for a terminal.
    pub fn matrix(&self) -> String {
        let providers = self.providers();
        let width = providers.iter().map(|p| p.len().max(4)).collect::<Vec<_>>();
        let mut out = format!("{:<10}", "check");
        for (p, w) in providers.iter().zip(&width) {
            out.push_str(&format!("  {p:<w$}"));
        }
        out.push('\n');
        for check in self.checks() {
            out.push_str(&format!("{check:<10}"));
            for (p, w) in providers.iter().zip(&width) {
                let label = self.get(check, p).map_or("-", |r| r.outcome.label());
                out.push_str(&format!("  {label:<w$}"));
            }
            out.push('\n');
        }
        let (pass, fail, skip) = self.counts();
        out.push_str(&format!("\n{pass} passed, {fail} failed, {skip} skipped\n"));
        out
    }

    /// Every failure with its message, and every skip reason.
    pub fn failures_text(&self) -> String {
        let mut out = String::new();
        for r in &self.results {
            match &r.outcome {
                Outcome::Fail(m) => {
                    out.push_str(&format!("FAIL {} [{}]: {m}\n", r.check, r.provider))
                }
                Outcome::Skip(m) => {
                    out.push_str(&format!("skip {} [{}]: {m}\n", r.check, r.provider))
                }
                Outcome::Pass => {}
            }
        }
        out
    }

    /// `report.json`.
    pub fn to_json(&self) -> String {
        let (pass, fail, skip) = self.counts();
        serde_json::to_string_pretty(&serde_json::json!({
            "summary": {"passed": pass, "failed": fail, "skipped": skip},
            "results": self.results,
        }))
        .expect("serialisable")
    }

    /// `junit.xml`: one suite per provider, one case per check.
    pub fn to_junit(&self) -> String {
        use quick_junit::{NonSuccessKind, Report as Junit, TestCase, TestCaseStatus, TestSuite};
        let mut junit = Junit::new("concord-conformance");
        for provider in self.providers() {
            let mut suite = TestSuite::new(format!("conformance::{provider}"));
            for r in self.results.iter().filter(|r| r.provider == provider) {
                let status = match &r.outcome {
                    Outcome::Pass => TestCaseStatus::success(),
                    Outcome::Fail(m) => {
                        let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                        s.set_message(m.clone());
                        s
                    }
                    Outcome::Skip(m) => {
                        let mut s = TestCaseStatus::skipped();
                        s.set_message(m.clone());
                        s
                    }
                };
                let mut case =
                    TestCase::new(format!("conformance::{provider}::{}", r.check), status);
                case.set_classname(format!("conformance::{provider}"));
                case.set_time(r.duration);
                suite.add_test_case(case);
            }
            junit.add_test_suite(suite);
        }
        junit.to_string().expect("junit serialises")
    }

    /// `report.md` (and `docs/conformance.md`): deterministic, no timings.
    pub fn to_markdown(&self, title: &str, preamble: &str) -> String {
        let providers = self.providers();
        let mut out = format!("# {title}\n\n{preamble}\n\n| check | what it verifies |");
        for p in &providers {
            out.push_str(&format!(" {p} |"));
        }
        out.push_str("\n|---|---|");
        out.push_str(&"---|".repeat(providers.len()));
        out.push('\n');
        for check in self.checks() {
            let title = by_id(check).map_or("", |c| c.title);
            out.push_str(&format!("| {check} | {} |", title.replace('|', "\\|")));
            for p in &providers {
                let cell = match self.get(check, p).map(|r| &r.outcome) {
                    Some(Outcome::Pass) => "pass".to_owned(),
                    Some(Outcome::Fail(_)) => "**FAIL**".to_owned(),
                    Some(Outcome::Skip(why)) => format!("skip: {why}"),
                    None => "-".to_owned(),
                };
                out.push_str(&format!(" {cell} |"));
            }
            out.push('\n');
        }
        let (pass, fail, skip) = self.counts();
        out.push_str(&format!(
            "\n{pass} passed, {fail} failed, {skip} skipped.\n"
        ));
        let failures: Vec<_> = self.failures();
        if !failures.is_empty() {
            out.push_str("\n## Failures\n\n");
            for r in failures {
                if let Outcome::Fail(m) = &r.outcome {
                    out.push_str(&format!(
                        "- **{}** [{}]: {}\n",
                        r.check,
                        r.provider,
                        m.replace('\n', " ")
                    ));
                }
            }
        }
        out
    }

    /// Writes `report.json`, `junit.xml` and `report.md` into `dir`.
    pub fn write_dir(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join("report.json"), self.to_json() + "\n")?;
        std::fs::write(dir.join("junit.xml"), self.to_junit())?;
        std::fs::write(
            dir.join("report.md"),
            self.to_markdown(
                "Conformance report",
                "Produced by `cargo xtask conformance`.",
            ),
        )
    }
}

/// `docs/conformance.md`: the catalogue with the mock-mode results of the reference providers,
/// then the live checks with their costs, and how to select.
pub fn conformance_doc(report: &Report, served: &Report) -> String {
    let preamble = "Every check of the catalogue with its result for every shipped provider and API \
against the harness's mock vendors. Checks observe both what the caller got back and what reached the wire. \
Reproduce with `cargo xtask conformance --mock-providers`; select with `--provider`, `--check 'TOOL-*'`, `--family SL`, `--tag live`.";
    let mut out = format!(
        "<!-- Generated by `cargo xtask conformance --write-docs` from a mock-mode run. Do not edit by hand. -->\n{}",
        report.to_markdown("Conformance", preamble)
    );
    let served_preamble = "The same suite with every provider behind `concord serve`, called through each of its doors \
(`provider@serve-openai`: concord's OpenAI-compatible client to `/v1/chat/completions`; `provider@serve-anthropic`: its \
Anthropic client to `/v1/messages`), the server in-process with an embedded database, the vendor a mock as above: what the \
caller gets is what came through the door, what the vendor got is what the server sent. A door's format carries what it can \
(docs/server.md): through the OpenAI door no cache writes in usage and no error flag on a tool result, through the \
Anthropic door no reasoning token count and no schema name; the checks expect exactly that. SRV checks are the server's own \
and run only here; REG-002 (discovery from files) and ERR-011 (a raw request without a key, which SRV-006 sends to the door) do not apply to a served subject. Reproduce with \
`cargo xtask conformance --through-server all`.";
    out.push('\n');
    out.push_str(&served.to_markdown("# Through `concord serve`", served_preamble));
    out.push_str(LIVE_INTRO);
    out.push_str("\n| check | tokens per run (about) |\n|---|---|\n");
    let mut total = 0;
    for c in crate::checks::CHECKS {
        if let Some(tokens) = c.live_tokens {
            total += tokens;
            out.push_str(&format!("| {} | {tokens} |\n", c.id));
        }
    }
    out.push_str(&format!(
        "\nAll of them, once per provider: about {total} tokens.\n{SELECTING}"
    ));
    out
}

const LIVE_INTRO: &str = "
## Live runs

`cargo xtask conformance --live` runs the checks whose verdict a caller can reach on its own
(tag `live`) against real servers, with live-safe prompts: text, stream, stream ≡ generate
(same finish, text, usage rules), a system prompt obeyed, a forced tool call whose arguments fit
its schema, a tool without arguments, parallel calls, a tool result round trip, `tool_choice:
none`, JSON output that validates against its schema, reasoning, usage rules, a made-up key →
`authentication`, no key at all → `authentication` (not a 400 or a 500), an unknown model → `not_found`, a prompt over the context window →
`context_length_exceeded`, no secret in any output. The checks that observe the wire or inject
faults (tag `mock`) need the mock vendor. A vendor whose key (or model, for Azure deployments)
is not in the environment is skipped, naming the variable to set. `--budget TOKENS` caps a run by
the estimates below; checks past it are skipped, saying so. A server that accepts a made-up key
or answers for a model it cannot have makes ERR-008 or ERR-009 a skip that says so: it checks no
keys, or ignores the model name.

Any server that claims OpenAI compatibility (vLLM, llama.cpp, LM Studio, a gateway) is tested
with `cargo xtask conformance --live --provider openai-compatible --base-url
http://HOST:PORT/v1`, and `--api responses` for its Responses API. The key comes from
`OPENAI_COMPATIBLE_API_KEY` (a placeholder when unset); the model from `--model`, else
`CONCORD_LIVE_OPENAI_COMPATIBLE_MODEL`, else the first the server lists at `/models`. CI runs
exactly this against `concord mock` started as an ordinary HTTP server (`cargo xtask
live-mock-check`); `concord mock` answers each request the way the vendor would (its `auto`
scenario, see `concord mock --help`).
";

const SELECTING: &str = "
## Selecting

| what | `cargo xtask conformance` | `cargo test` / nextest (`conformance/tests/conformance/main.rs`) |
|---|---|---|
| a provider | `--provider anthropic` | `cargo nextest run -E 'test(/mock::anthropic::/)'` |
| an API | `--provider openai --api responses` | `test(/::openai_responses::/)` |
| a family | `--family TOOL` | `test(/::tool_/)` |
| a check | `--check TOOL-004`, `--check 'ERR-*'` | `test(/::tool_004$/)` |
| live checks | `--tag live` (against mocks), `--live` (against vendors) | `test(/^live::/)` with `CONCORD_LIVE=1` |
| mock-only checks | `--tag mock` | `test(/^mock::/)` |
| one vendor live | `--live --provider gemini` | `CONCORD_LIVE=1 cargo nextest run -E 'test(/live::gemini::/)'` |

Live tests under `cargo test` run only with `CONCORD_LIVE=1`, so a developer's keys in the
environment never make a test run spend money; without it, or without the vendor's key, each
passes after printing why it skipped.
";
