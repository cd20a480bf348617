//! The check catalogue (its text here; `docs/conformance.md` is generated from it): one function per id, registered in [`CHECKS`]
//! in catalogue order.

mod cat;
mod ctr;
mod ctx;
mod dsp;
mod err;
mod features;
mod live;
mod reg;
mod sec;
mod sl;
mod srv;
mod tool;

use futures_util::future::BoxFuture;

use crate::cx::Cx;
use crate::outcome::CheckResultOf;

/// One check.
pub struct Check {
    /// Stable id (`CTR-001`).
    pub id: &'static str,
    /// Family (`CTR`).
    pub family: &'static str,
    /// What it verifies.
    pub title: &'static str,
    /// In live mode: about how many tokens one run spends at a vendor (input and output, for
    /// every call it makes). `None`: mock only — it observes the wire or injects faults.
    pub live_tokens: Option<u32>,
    pub(crate) run: RunFn,
    /// The caller-side version live mode runs (`None`: `run` serves both modes).
    pub(crate) live_run: Option<RunFn>,
}

pub(crate) type RunFn = for<'a> fn(&'a Cx<'a>) -> BoxFuture<'a, CheckResultOf>;

impl Check {
    /// Whether it can run against a live server (tag `live`); every check runs against mocks
    /// (tag `mock`).
    pub fn is_live(&self) -> bool {
        self.live_tokens.is_some()
    }

    /// What runs in a mode: the caller-side version against live servers, where there is one.
    pub(crate) fn runner(&self, mock: bool) -> RunFn {
        match (mock, self.live_run) {
            (false, Some(live)) => live,
            _ => self.run,
        }
    }
}

impl std::fmt::Debug for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id)
    }
}

/// One row per check: id, family, `[tokens]` for a check that runs live as it runs against
/// mocks, `[tokens live_fn]` for one with a caller-side live version, `[]` for mock only.
macro_rules! checks {
    (@tokens) => { None };
    (@tokens $t:literal) => { Some($t) };
    (@live) => { None };
    (@live $f:path) => { Some({ let f: RunFn = |cx| Box::pin($f(cx)); f }) };
    ($($id:literal $family:literal [$($tokens:literal $($live:path)?)?] $f:path : $title:literal;)*) => {
        /// Every check, in catalogue order.
        pub static CHECKS: &[Check] = &[$(Check {
            id: $id,
            family: $family,
            title: $title,
            live_tokens: checks!(@tokens $($tokens)?),
            run: |cx| Box::pin($f(cx)),
            live_run: checks!(@live $($($live)?)?),
        }),*];
    };
}

// Token figures: the prompt, tool schemas and answer of each call a live run makes, rounded up;
// the ERR checks that a server refuses cost nothing (vendors bill no rejected request).
checks! {
    "CTR-001" "CTR" [40] ctr::ctr_001: "generate: text, finish stop, id, model, usage with total = input + output";
    "CTR-002" "CTR" [40] ctr::ctr_002: "stream: start first, deltas, one finish last with usage, deltas concatenate to the text";
    "CTR-003" "CTR" [100 live::ctr_003] ctr::ctr_003: "stream ≡ generate for the same exchange (live: same finish, text, usage rules)";
    "CTR-004" "CTR" [50 live::ctr_004] ctr::ctr_004: "system prompt reaches the wire in the protocol's place (live: it is obeyed)";
    "CTR-005" "CTR" [] ctr::ctr_005: "parameters reach the wire under the protocol's names; unset ones are absent";
    "CTR-006" "CTR" [] ctr::ctr_006: "multi-turn history (alternating, and two user turns in a row) is encoded validly";
    "CTR-007" "CTR" [] ctr::ctr_007: "UTF-8 split across chunks and frames decodes exactly";
    "CTR-008" "CTR" [] ctr::ctr_008: "unknown fields and enum values are tolerated (finish `other`); CRLF framing and comment lines too";
    "TOOL-001" "TOOL" [300 live::tool_001] tool::tool_001: "one tool call, generate and stream (live: forced, arguments fit the schema)";
    "TOOL-002" "TOOL" [400 live::tool_002] tool::tool_002: "parallel tool calls assembled by index, order and arguments kept";
    "TOOL-003" "TOOL" [200 live::tool_003] tool::tool_003: "a tool call without arguments gives {}";
    "TOOL-004" "TOOL" [300 live::tool_004] tool::tool_004: "a tool call and its result in history are encoded the protocol's way (live: accepted and answered)";
    "TOOL-005" "TOOL" [250 live::tool_005] tool::tool_005: "tool_choice auto / none / required / named map to the protocol's form (live: none gives text)";
    "TOOL-006" "TOOL" [] tool::tool_006: "tool-call ids are normalised: valid, unique, deterministic, originals kept";
    "TOOL-007" "TOOL" [] tool::tool_007: "a tool result marked as an error is encoded as one";
    "TOOL-008" "TOOL" [] tool::tool_008: "arguments that are not JSON end in malformed_response";
    "RSN-001" "RSN" [1500 live::rsn_001] features::rsn_001: "reasoning arrives as reasoning, never in the text; reasoning tokens counted in output";
    "JSON-001" "JSON" [150 live::json_001] features::json_001: "a JSON-schema response format is encoded the protocol's way (live: the answer validates)";
    "MM-001" "MM" [] features::mm_001: "image input, base64 and URL, is encoded the protocol's way";
    "USE-001" "USE" [60 live::use_001] features::use_001: "usage rules (B2) for cached and reasoning tokens, generate and stream";
    "ERR-001" "ERR" [] err::err_001: "every vendor error maps to its kind, status, provider and retryable flag; no retry inside";
    "ERR-002" "ERR" [] err::err_002: "retry_after from each A6 signal; x-should-retry overrides";
    "ERR-003" "ERR" [] err::err_003: "an error mid-stream surfaces as an error item of the right kind";
    "ERR-004" "ERR" [] err::err_004: "a malformed frame gives malformed_response";
    "ERR-005" "ERR" [] err::err_005: "a stream cut without its terminal marker (mid-text, or after the finish reason) gives stream_interrupted";
    "ERR-006" "ERR" [] err::err_006: "a stalled upstream gives timeout within the configured bound";
    "ERR-007" "ERR" [0] err::err_007: "no error output contains the credential";
    "ERR-008" "ERR" [0] err::err_008: "a made-up key gives authentication, not retryable, from generate and stream";
    "ERR-009" "ERR" [0] err::err_009: "an unknown model gives not_found, not retryable";
    "ERR-010" "ERR" [0] err::err_010: "a prompt over the context window gives context_length_exceeded, not retryable";
    "ERR-011" "ERR" [0] err::err_011: "a request with no credential at all is refused as authentication in the protocol's error shape (not a 400 or a 500)";
    "SL-001" "SL" [0] sl::sl_001: "a call without its runtime context fails before anything is sent";
    "SL-002" "SL" [] sl::sl_002: "no retained state: A, B, A put A's, B's, A's values on the wire";
    "SL-003" "SL" [] sl::sl_003: "concurrent isolation (property test)";
    "SL-004" "SL" [] sl::sl_004: "the supplied HTTP client is reused";
    "SL-005" "SL" [] sl::sl_005: "dropping a stream closes the upstream connection";
    "DSP-001" "DSP" [] dsp::dsp_001: "dispatcher: a rate limit holds over a burst (one request of slack)";
    "DSP-002" "DSP" [] dsp::dsp_002: "dispatcher: a full queue refuses at once with rate_limited and a retry_after within 20% of the free slot";
    "DSP-003" "DSP" [] dsp::dsp_003: "dispatcher: 10× the rate: every call served or refused with retry_after, none hung or lost, the rate kept";
    "DSP-004" "DSP" [] dsp::dsp_004: "dispatcher: the vendor never sees more calls at once than the cap, streams included";
    "DSP-005" "DSP" [] dsp::dsp_005: "dispatcher: the breaker opens, fails fast, half-opens, closes on a good probe, reopens longer on a bad one";
    "DSP-006" "DSP" [] dsp::dsp_006: "dispatcher: retries wait the vendor's retry_after, never retry a non-retryable kind, stop over the cap";
    "DSP-007" "DSP" [] dsp::dsp_007: "dispatcher: fallback skips a failing target, and one whose breaker is open without sending";
    "DSP-008" "DSP" [] dsp::dsp_008: "dispatcher: a cut stream is resumed by prefill with no text twice, or ends with the error and a checkpoint of exactly what was delivered";
    "DSP-009" "DSP" [] dsp::dsp_009: "dispatcher: a dropped call frees its queue place and its concurrency permit";
    "REG-001" "REG" [] reg::reg_001: "registry: register, a duplicate and an invalid name refused, unregister, not_found after; events in order";
    "REG-002" "REG" [] reg::reg_002: "registry: discovery from a config file, the environment and a plugin; the file's credential reference reaches the wire";
    "REG-003" "REG" [] reg::reg_003: "registry: health follows a failing then recovering vendor (error, then ready; health_changed events in order)";
    "REG-004" "REG" [] reg::reg_004: "registry: graceful shutdown returns within its bound with a stream in flight, which ends cancelled, never hangs";
    "REG-005" "REG" [] reg::reg_005: "registry: unregistering a provider during a call does not break the call";
    "CTX-001" "CTX" [] ctx::ctx_001: "runtimes: many users configured differently, calling at once, each put their own model, temperature and key on the wire";
    "CTX-002" "CTX" [] ctx::ctx_002: "runtimes: a runtime idle past the TTL is evicted (controllable clock), a used one is not; idle events";
    "CTX-003" "CTX" [] ctx::ctx_003: "runtimes: the cap on users holds, with capacity events";
    "CTX-004" "CTX" [] ctx::ctx_004: "runtimes: a pinned session keeps its runtime after the user changes theirs";
    "CAT-001" "CAT" [] cat::cat_001: "models: each call's recorded cost is the hand-computed cost of the usage the vendor reported (plain, cached, reasoning, above the 200k tier)";
    "CAT-002" "CAT" [] cat::cat_002: "models: a call record keeps its prices: a price edit changes new calls only";
    "CAT-003" "CAT" [] cat::cat_003: "models: a deprecated model works and warns naming its replacement; an inactive one is refused with nothing sent";
    "CAT-004" "CAT" [] cat::cat_004: "models: a call that names no model gets the default one, on the wire and in its record";
    "CAT-005" "CAT" [] cat::cat_005: "models: a provider's parallelism and rate edited in the model database hold at the vendor within the documented delay";
    "CAT-006" "CAT" [] cat::cat_006: "models: a stream costs what the same exchange generated costs; a stream cut before its usage is recorded with no cost";
    "SRV-001" "SRV" [] srv::srv_001: "server: a vendor's 429 reaches the client as 429 with Retry-After rounded up, retry-after-ms, x-should-retry, in the door's error shape";
    "SRV-002" "SRV" [] srv::srv_002: "server: a tenant's budget holds under concurrency: never overspent, refused with a 429 only once a call's worst case no longer fits";
    "SRV-003" "SRV" [] srv::srv_003: "server: every call is recorded once with tenant, provider, model, stream flag, outcome and the vendor's usage";
    "SRV-004" "SRV" [] srv::srv_004: "server: /health/live, /health/ready naming the provider, /metrics with its gen_ai request duration and time to first token, and the request series";
    "SRV-005" "SRV" [] srv::srv_005: "server: no key (tenant's, wrong, vendor's) in error bodies, streams, /metrics, /health/ready or the logs";
    "SRV-006" "SRV" [] srv::srv_006: "server: no key or a made-up one is a 401 authentication_error in the door's shape, and nothing is sent; a caller's key never reaches the vendor";
    "SRV-007" "SRV" [] srv::srv_007: "server: a tenant's own requests per minute hold: a minute's worth at once, the next a 429 with the exact wait; another tenant unaffected";
    "SRV-008" "SRV" [] srv::srv_008: "server: a user's runtime (PUT /v1/runtimes/{user}, x-concord-user) gives a call that names no model the user's model and fills its unset parameters; the call's own win";
    "SEC-001" "SEC" [0] sec::sec_001: "Debug/Display of contexts and credentials print no secret";
    "SEC-002" "SEC" [0] sec::sec_002: "recorded fixtures contain no credential";
}

/// The check with `id`.
pub fn by_id(id: &str) -> Option<&'static Check> {
    CHECKS.iter().find(|c| c.id == id)
}

/// Fails unless every tool-call id is valid and unique (B3).
pub(crate) fn valid_ids(calls: &[concord::ToolCall]) -> CheckResultOf {
    let mut seen = std::collections::HashSet::new();
    for c in calls {
        if !concord::ids::is_valid(&c.id) {
            crate::fail!(
                "tool-call id {:?} does not match ^[A-Za-z0-9_-]{{1,40}}$",
                c.id
            );
        }
        if !seen.insert(c.id.as_str()) {
            crate::fail!("tool-call id {:?} is repeated in one response", c.id);
        }
    }
    Ok(())
}
