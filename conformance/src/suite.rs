//! The suite: which providers, which checks, which mode; running them and collecting a report.

use std::path::PathBuf;
use std::time::Instant;

use concord_harness::Fixtures;
use futures_util::StreamExt;

use crate::checks::{Check, CHECKS};
use crate::cx::Cx;
use crate::outcome::{CheckResult, Outcome};
use crate::report::Report;
use crate::subject::{Mode, Subject};

/// The longest one check may run before it fails as hung.
const CHECK_DEADLINE: std::time::Duration = std::time::Duration::from_secs(60);

/// Which providers and checks to run. Empty lists select everything.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Provider names.
    pub providers: Vec<String>,
    /// Check id patterns with `*` wildcards (`TOOL-*`).
    pub checks: Vec<String>,
    /// Families (`SL`).
    pub families: Vec<String>,
    /// Tags: `live` (checks that can run against a live server), `mock` (checks that need the
    /// mock vendor: they observe the wire or inject faults).
    pub tags: Vec<String>,
}

fn glob(pattern: &str, id: &str) -> bool {
    globset::Glob::new(&pattern.to_ascii_uppercase())
        .map(|g| g.compile_matcher().is_match(id))
        .unwrap_or(false)
}

impl Selection {
    fn wants_provider(&self, name: &str) -> bool {
        self.providers.is_empty() || self.providers.iter().any(|p| p == name)
    }

    fn wants_check(&self, check: &Check) -> bool {
        let tagged = |tag: &str| match tag.to_ascii_lowercase().as_str() {
            "live" => check.is_live(),
            "mock" => !check.is_live(),
            _ => false,
        };
        (self.checks.is_empty() || self.checks.iter().any(|p| glob(p, check.id)))
            && (self.tags.is_empty() || self.tags.iter().any(|t| tagged(t)))
            && (self.families.is_empty()
                || self
                    .families
                    .iter()
                    .any(|f| f.eq_ignore_ascii_case(check.family)))
    }
}

/// A configured run.
pub struct Suite {
    subjects: Vec<Subject>,
    selection: Selection,
    mode: Mode,
    fixtures: Fixtures,
    client: reqwest::Client,
    parallel: usize,
    regressions_file: Option<PathBuf>,
    property_cases: Option<u32>,
    budget: Option<u64>,
}

impl Default for Suite {
    fn default() -> Self {
        Self::new()
    }
}

impl Suite {
    /// An empty suite in mock mode.
    pub fn new() -> Self {
        Self {
            subjects: Vec::new(),
            selection: Selection::default(),
            mode: Mode::Mock,
            fixtures: Fixtures::default(),
            client: reqwest::Client::new(),
            parallel: 4,
            regressions_file: None,
            property_cases: None,
            budget: None,
        }
    }

    /// Adds a provider under test.
    pub fn subject(mut self, subject: Subject) -> Self {
        self.subjects.push(subject);
        self
    }

    /// Adds several.
    pub fn subjects(mut self, subjects: impl IntoIterator<Item = Subject>) -> Self {
        self.subjects.extend(subjects);
        self
    }

    /// Restricts the run.
    pub fn select(mut self, selection: Selection) -> Self {
        self.selection = selection;
        self
    }

    /// Sets the mode.
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// Reads scenarios from elsewhere.
    pub fn fixtures(mut self, fixtures: Fixtures) -> Self {
        self.fixtures = fixtures;
        self
    }

    /// The HTTP client every call shares (needs a TLS backend for live runs).
    pub fn client(mut self, client: reqwest::Client) -> Self {
        self.client = client;
        self
    }

    /// How many checks run at once.
    pub fn parallel(mut self, n: usize) -> Self {
        self.parallel = n.max(1);
        self
    }

    /// Saves shrunk property-test failures (SL-003) to `path` and replays the saved ones first
    /// on later runs. Off by default, so a suite run from a dependency never writes into that
    /// dependency's source; a project that wants its found bugs replayed names a file it owns
    /// (this repository: `conformance/proptest-regressions/sl_003.txt`).
    pub fn regressions_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.regressions_file = Some(path.into());
        self
    }

    /// How many cases the property checks (SL-003) try; by default 24, or `PROPTEST_CASES`.
    pub fn property_cases(mut self, cases: u32) -> Self {
        self.property_cases = Some(cases.max(1));
        self
    }

    /// Caps a live run's spending: checks run in catalogue order while the tokens they are
    /// estimated to spend ([`Check::live_tokens`]) fit in `tokens`; the rest are skipped, saying
    /// so. No effect against mocks or in replay.
    pub fn budget(mut self, tokens: u64) -> Self {
        self.budget = Some(tokens);
        self
    }

    /// Whether this run's calls reach a live server (and spend tokens).
    fn spends(&self) -> bool {
        matches!(self.mode, Mode::Live | Mode::Record(_))
    }

    /// The tokens the planned checks that will run are estimated to spend (0 against mocks),
    /// and, under a budget, which plan entries it leaves out.
    pub fn estimate(&self) -> (u64, Vec<bool>) {
        let plan = self.plan();
        let mut spent = 0u64;
        let mut over = vec![false; plan.len()];
        if !self.spends() {
            return (0, over);
        }
        for (i, (check, subject)) in plan.iter().enumerate() {
            if self.gate(check, subject).is_some() {
                continue;
            }
            let cost = u64::from(check.live_tokens.unwrap_or(0));
            if self.budget.is_some_and(|b| spent + cost > b) {
                over[i] = true;
            } else {
                spent += cost;
            }
        }
        (spent, over)
    }

    /// The (check, subject) pairs this run will execute, in report order.
    pub fn plan(&self) -> Vec<(&'static Check, &Subject)> {
        CHECKS
            .iter()
            .filter(|c| self.selection.wants_check(c))
            .flat_map(|c| {
                self.subjects
                    .iter()
                    .filter(|s| self.selection.wants_provider(&s.name))
                    // A server's own checks are for a subject behind one; every other family
                    // runs on every subject, served or not.
                    .filter(move |s| c.family != "SRV" || s.served.is_some())
                    .map(move |s| (c, s))
            })
            .collect()
    }

    /// Runs everything selected.
    pub async fn run(&self) -> Report {
        self.run_with(|_| {}).await
    }

    /// Runs everything selected, calling `progress` as each result arrives.
    pub async fn run_with(&self, mut progress: impl FnMut(&CheckResult)) -> Report {
        let plan = self.plan();
        let (_, over) = self.estimate();
        let mut results: Vec<(usize, CheckResult)> = Vec::with_capacity(plan.len());
        let over = &over;
        let mut running = futures_util::stream::iter(plan.iter().enumerate().map(
            |(i, (check, subject))| async move {
                if over[i] {
                    let cost = check.live_tokens.unwrap_or(0);
                    let budget = self.budget.unwrap_or(0);
                    let skip = Outcome::Skip(format!(
                        "over the token budget ({budget}): this check spends about {cost}"
                    ));
                    let result = CheckResult {
                        check: check.id,
                        provider: subject.name.clone(),
                        outcome: skip,
                        duration: std::time::Duration::ZERO,
                    };
                    return (i, result);
                }
                (i, self.run_one(check, subject).await)
            },
        ))
        .buffer_unordered(self.parallel);
        while let Some((i, result)) = running.next().await {
            progress(&result);
            results.push((i, result));
        }
        results.sort_by_key(|(i, _)| *i);
        Report::new(results.into_iter().map(|(_, r)| r).collect())
    }

    /// Runs one check against one subject.
    pub async fn run_one(&self, check: &'static Check, subject: &Subject) -> CheckResult {
        let started = Instant::now();
        let outcome = match self.gate(check, subject) {
            Some(skip) => skip,
            None => {
                let mut cx = Cx::new(subject, &self.mode, &self.fixtures, &self.client, check.id);
                cx.regressions_file = self.regressions_file.clone();
                cx.property_cases = self.property_cases;
                // A panicking check is a failure of that check, not of the whole run.
                let run = std::panic::AssertUnwindSafe((check.runner(self.mode.is_mock()))(&cx));
                // A provider that hangs fails the check; it must not hang the suite.
                match tokio::time::timeout(
                    CHECK_DEADLINE,
                    futures_util::FutureExt::catch_unwind(run),
                )
                .await
                {
                    Err(_) => Outcome::Fail(format!(
                        "the check did not finish within {} s: the provider hangs",
                        CHECK_DEADLINE.as_secs()
                    )),
                    Ok(Ok(Ok(()))) => cx.finish().await.err().unwrap_or(Outcome::Pass),
                    Ok(Ok(Err(outcome))) => outcome,
                    Ok(Err(panic)) => Outcome::Fail(format!(
                        "the check panicked: {}",
                        panic
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                            .unwrap_or_default()
                    )),
                }
            }
        };
        CheckResult {
            check: check.id,
            provider: subject.name.clone(),
            outcome,
            duration: started.elapsed(),
        }
    }

    /// A skip decided before running: mode and keys.
    fn gate(&self, check: &Check, subject: &Subject) -> Option<Outcome> {
        if self.mode.is_mock() {
            return None;
        }
        if !check.is_live() {
            return Some(Outcome::Skip(
                "needs the mock vendor (observes the wire or injects faults)".into(),
            ));
        }
        let Some(live) = &subject.live else {
            return Some(Outcome::Skip(
                "no live endpoint configured for this provider".into(),
            ));
        };
        if matches!(self.mode, Mode::Live | Mode::Record(_)) {
            if let Err(missing) = live.connect(self.client.clone()) {
                return Some(Outcome::Skip(missing));
            }
            // A made-up model (or Azure deployment) would only fail at the vendor.
            if let Err(missing) = live.model() {
                return Some(Outcome::Skip(missing));
            }
        }
        None
    }
}
