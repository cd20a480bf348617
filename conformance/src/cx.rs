//! What a check runs with: the subject, the vendor endpoint for the mode (mock, live, record,
//! replay), contexts with short test timeouts, and helpers to call and collect.

use std::sync::Mutex;
use std::time::Duration;

use concord::{Capabilities, Error, Parameters, Request, Response, RuntimeContext, StreamEvent};
use concord_harness::cassette::{Provenance, RecordConfig, RecordingProxy, ReplayServer};
use concord_harness::{Fixtures, MockConfig, MockVendor};
use futures_util::StreamExt;

use crate::outcome::{CheckResultOf, Outcome};
use crate::subject::{Mode, Subject};

/// The credential used against mocks; checks look for it where it must (not) appear.
pub const MOCK_KEY: &str = "sk-conformance-MOCKKEY-0123456789abcdef";

/// The bound on calls that should succeed: generous for a loaded 2-core CI machine. Fault
/// checks that wait on purpose (ERR-006) set their own, much shorter timeout.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// A vendor endpoint for one check.
pub enum Endpoint {
    /// A harness mock.
    Mock(MockVendor),
    /// A real vendor (possibly behind a recording proxy, or a replay server): the context that
    /// reaches it, model included.
    Remote(RuntimeContext),
}

pub struct Cx<'a> {
    pub subject: &'a Subject,
    mode: &'a Mode,
    pub fixtures: &'a Fixtures,
    client: &'a reqwest::Client,
    check: &'static str,
    recorders: Mutex<Vec<RecordingProxy>>,
    replays: Mutex<Vec<ReplayServer>>,
    /// Where shrunk property-test failures (SL-003) are saved and replayed from (`None`: off).
    pub regressions_file: Option<std::path::PathBuf>,
    /// Cases for SL-003 (`None`: its default).
    pub property_cases: Option<u32>,
}

impl<'a> Cx<'a> {
    pub fn new(
        subject: &'a Subject,
        mode: &'a Mode,
        fixtures: &'a Fixtures,
        client: &'a reqwest::Client,
        check: &'static str,
    ) -> Self {
        Self {
            subject,
            mode,
            fixtures,
            client,
            check,
            recorders: Mutex::new(Vec::new()),
            replays: Mutex::new(Vec::new()),
            regressions_file: None,
            property_cases: None,
        }
    }

    pub fn mode(&self) -> &Mode {
        self.mode
    }

    /// The HTTP client the run shares.
    pub fn client(&self) -> &reqwest::Client {
        self.client
    }

    pub fn caps(&self) -> Capabilities {
        self.subject.provider.capabilities()
    }

    pub fn protocol(&self) -> concord_harness::Protocol {
        self.subject.protocol
    }

    /// Skips unless the provider declares the capability.
    pub fn require(&self, has: bool, what: &str) -> CheckResultOf {
        if has {
            Ok(())
        } else {
            Err(Outcome::Skip(format!("no {what}")))
        }
    }

    /// Skips a check whose verdict needs each call's own upstream key, address or timeout on
    /// the wire: a gateway configured once uses its own.
    pub fn per_runtime(&self) -> CheckResultOf {
        match &self.subject.served {
            Some(s) if s.is_outside() => Err(Outcome::Skip(
                "a gateway configured once calls upstream with its own key, address and timeout, not each runtime's".into(),
            )),
            _ => Ok(()),
        }
    }

    /// Whether the subject is a gateway reached from outside, which may retry and recover
    /// upstream failures on its own before its caller sees them.
    pub fn outside_gateway(&self) -> bool {
        self.subject.served.as_ref().is_some_and(|s| s.is_outside())
    }

    /// Skips a check whose verdict needs every vendor failure to reach the caller unretried
    /// (the suite's own dispatcher or registry around the subject): a gateway may retry first.
    pub fn sees_vendor_failures(&self) -> CheckResultOf {
        if self.outside_gateway() {
            return Err(Outcome::Skip(
                "a gateway may retry and recover vendor failures before its caller sees them; the suite's dispatcher and registry around it cannot judge what it hid".into(),
            ));
        }
        Ok(())
    }

    /// A mock vendor of the subject's protocol serving `scenario`, checking auth the way the
    /// subject's vendor does.
    pub async fn mock(&self, scenario: &str) -> CheckResultOf<MockVendor> {
        self.mock_with(MockConfig::new(self.protocol()).scenario(scenario))
            .await
    }

    /// As [`Cx::mock`], taking `latency` before every answer.
    pub async fn mock_slow(
        &self,
        scenario: &str,
        latency: std::time::Duration,
    ) -> CheckResultOf<MockVendor> {
        self.mock_with(
            MockConfig::new(self.protocol())
                .scenario(scenario)
                .latency(latency),
        )
        .await
    }

    /// As [`Cx::mock`], accepting only `key`.
    async fn mock_keyed(&self, scenario: &str, key: &str) -> CheckResultOf<MockVendor> {
        self.mock_with(
            MockConfig::new(self.protocol())
                .scenario(scenario)
                .expect_key(key),
        )
        .await
    }

    async fn mock_with(&self, config: MockConfig) -> CheckResultOf<MockVendor> {
        let mut config = config.fixtures(self.fixtures.clone());
        if let Some(header) = &self.subject.mock.key_header {
            config = config.key_header(header.clone());
        }
        MockVendor::start_with(config)
            .await
            .map_err(|e| Outcome::Fail(format!("cannot start the mock vendor: {e}")))
    }

    /// The base URL the subject is configured with for `mock`.
    pub fn mock_base_url(&self, mock: &MockVendor) -> String {
        match &self.subject.mock.base_path {
            Some(path) => format!("{}{path}", mock.url()),
            None => mock.base_url(),
        }
    }

    fn cassette_path(&self) -> Option<std::path::PathBuf> {
        match self.mode {
            Mode::Record(dir) | Mode::Replay(dir) => Some(
                dir.join(&self.subject.name)
                    .join(format!("{}.json", self.check)),
            ),
            _ => None,
        }
    }

    /// The endpoint for live-capable checks: a mock serving `scenario`, or the real vendor.
    pub async fn endpoint(&self, scenario: &str) -> CheckResultOf<Endpoint> {
        self.endpoint_with(scenario, false).await
    }

    /// As [`Cx::endpoint`], with a mock that refuses every key but the check's, as a vendor does.
    pub async fn keyed_endpoint(&self, scenario: &str) -> CheckResultOf<Endpoint> {
        self.endpoint_with(scenario, true).await
    }

    async fn endpoint_with(&self, scenario: &str, keyed: bool) -> CheckResultOf<Endpoint> {
        let live = self.subject.live.as_ref();
        let model = || {
            live.and_then(|l| l.model().ok())
                .unwrap_or_else(|| self.subject.model.clone())
        };
        match self.mode {
            Mode::Mock if keyed => Ok(Endpoint::Mock(self.mock_keyed(scenario, MOCK_KEY).await?)),
            Mode::Mock => Ok(Endpoint::Mock(self.mock(scenario).await?)),
            Mode::Live | Mode::Record(_) => {
                let live =
                    live.ok_or_else(|| Outcome::Skip("no live endpoint configured".into()))?;
                let ctx = live
                    .connect(self.client.clone())
                    .map_err(Outcome::Skip)?
                    .model(model());
                if !matches!(self.mode, Mode::Record(_)) {
                    return Ok(Endpoint::Remote(ctx));
                }
                let base = ctx.base_url.clone().unwrap_or_default();
                // The proxy sees origin-relative paths; keep the base's own path (`/v1`) on our
                // side. It learns the credential from the auth headers it forwards, whatever
                // source issued it.
                let (origin, path) = split_origin(&base);
                let proxy = RecordingProxy::start(RecordConfig {
                    upstream: origin,
                    secrets: Vec::new(),
                    client: self.client.clone(),
                })
                .await
                .map_err(|e| Outcome::Fail(format!("cannot start the recording proxy: {e}")))?;
                let ctx = ctx.base_url(format!("{}{path}", proxy.url()));
                self.recorders.lock().expect("lock").push(proxy);
                Ok(Endpoint::Remote(ctx))
            }
            Mode::Replay(_) => {
                let path = self.cassette_path().expect("replay mode has a folder");
                if !path.is_file() {
                    return Err(Outcome::Skip(format!(
                        "no cassette at {} (record one with --record)",
                        path.display()
                    )));
                }
                let server = ReplayServer::start(&path, 0)
                    .await
                    .map_err(|e| Outcome::Fail(format!("cannot replay {}: {e}", path.display())))?;
                let base_url = server.base_url(self.protocol());
                self.replays.lock().expect("lock").push(server);
                Ok(Endpoint::Remote(
                    RuntimeContext::new()
                        .base_url(base_url)
                        .credential("replayed-key-000000")
                        .model(model()),
                ))
            }
        }
    }

    /// A complete context for `endpoint`.
    pub fn ctx_for(&self, endpoint: &Endpoint) -> RuntimeContext {
        match endpoint {
            Endpoint::Mock(m) => self.ctx(m),
            // The vendor's own context, with the check's client, timeout, settings and tenant.
            Endpoint::Remote(remote) => {
                let base = self.base_ctx();
                RuntimeContext {
                    client: base.client,
                    timeout: base.timeout,
                    settings: base.settings,
                    tenant: base.tenant,
                    ..remote.clone()
                }
            }
        }
    }

    fn base_ctx(&self) -> RuntimeContext {
        RuntimeContext::new()
            .client(self.client.clone())
            .timeout(CALL_TIMEOUT)
            // Anthropic requires max_tokens; a default in the context keeps requests minimal.
            .settings(Parameters {
                max_output_tokens: Some(256),
                ..Parameters::default()
            })
            .tenant(format!("conformance/{}", self.check))
    }

    /// A complete context for `mock`.
    pub fn ctx(&self, mock: &MockVendor) -> RuntimeContext {
        self.base_ctx()
            .model(self.subject.model.clone())
            .credential(MOCK_KEY)
            .base_url(self.mock_base_url(mock))
    }

    pub async fn generate(
        &self,
        request: &Request,
        ctx: &RuntimeContext,
    ) -> Result<Response, Error> {
        self.subject.provider.generate(request, ctx).await
    }

    /// Every event and the error that ended the stream, if any (including a failed start).
    pub async fn stream(
        &self,
        request: &Request,
        ctx: &RuntimeContext,
    ) -> (Vec<StreamEvent>, Option<Error>) {
        let mut stream = match self.subject.provider.stream(request, ctx).await {
            Ok(s) => s,
            Err(e) => return (Vec::new(), Some(e)),
        };
        let mut events = Vec::new();
        while let Some(item) = stream.next().await {
            match item {
                Ok(e) => events.push(e),
                Err(e) => return (events, Some(e)),
            }
        }
        (events, None)
    }

    /// The stream assembled, failing the check on a stream error.
    pub async fn stream_ok(
        &self,
        request: &Request,
        ctx: &RuntimeContext,
    ) -> CheckResultOf<(Vec<StreamEvent>, Response)> {
        let (events, err) = self.stream(request, ctx).await;
        if let Some(e) = err {
            crate::fail!("the stream failed: {e}");
        }
        let mut asm = concord::Assembler::default();
        for e in events.iter().cloned() {
            if let Err(e) = asm.push(&self.subject.name, e) {
                crate::fail!("the stream breaks the B4 shape: {e}; events: {events:?}");
            }
        }
        match asm.finish(&self.subject.name) {
            Ok(r) => Ok((events, r)),
            Err(e) => crate::fail!("the stream did not finish: {e}"),
        }
    }

    pub async fn generate_ok(
        &self,
        request: &Request,
        ctx: &RuntimeContext,
    ) -> CheckResultOf<Response> {
        self.generate(request, ctx)
            .await
            .map_err(|e| Outcome::Fail(format!("generate failed: {e}")))
    }

    /// The scenario's hand-written expected response.
    pub fn expected(&self, scenario: &str) -> CheckResultOf<Response> {
        let mut want = self.vendor_expected(scenario)?;
        // Behind a server, the usage is what its door's format carries, and the tool-call ids
        // the client sees first are the server's (normalised) ones.
        if let Some(door) = self.subject.door() {
            want.usage = door.carried(&want.usage);
            for call in &mut want.tool_calls {
                call.provider_id = Some(call.id.clone());
            }
        }
        Ok(want)
    }

    /// The scenario's expected response as the vendor's own client decodes it.
    pub fn vendor_expected(&self, scenario: &str) -> CheckResultOf<Response> {
        let sc = self
            .fixtures
            .scenario(self.protocol(), scenario)
            .map_err(|e| Outcome::Fail(e.to_string()))?;
        let expect = sc
            .file
            .expect
            .ok_or_else(|| Outcome::Fail(format!("scenario {scenario} has no expect block")))?;
        serde_json::from_value(expect)
            .map_err(|e| Outcome::Fail(format!("scenario {scenario}: bad expect block: {e}")))
    }

    /// Saves recorded cassettes (record mode).
    pub async fn finish(&self) -> CheckResultOf {
        let Some(path) = self
            .cassette_path()
            .filter(|_| matches!(self.mode, Mode::Record(_)))
        else {
            return Ok(());
        };
        let recorders = std::mem::take(&mut *self.recorders.lock().expect("lock"));
        let mut exchanges = Vec::new();
        for r in &recorders {
            exchanges.extend(r.exchanges());
        }
        if exchanges.is_empty() {
            return Ok(());
        }
        let model = self.subject.live.as_ref().and_then(|l| l.model().ok());
        let cassette = concord_harness::cassette::Cassette {
            version: concord_harness::cassette::VERSION,
            provenance: Provenance::Recorded {
                vendor: self.subject.name.clone(),
                model,
                date: concord_models::today(),
            },
            exchanges,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| Outcome::Fail(format!("cannot create {}: {e}", dir.display())))?;
        }
        cassette
            .save(&path)
            .map_err(|e| Outcome::Fail(e.to_string()))
    }
}

fn split_origin(base: &str) -> (String, String) {
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    match base[after_scheme..].find('/') {
        Some(i) => (
            base[..after_scheme + i].to_owned(),
            base[after_scheme + i..].trim_end_matches('/').to_owned(),
        ),
        None => (base.to_owned(), String::new()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn origins() {
        assert_eq!(
            super::split_origin("https://api.openai.com/v1/"),
            ("https://api.openai.com".into(), "/v1".into())
        );
        assert_eq!(
            super::split_origin("https://x.com"),
            ("https://x.com".into(), "".into())
        );
    }
}
