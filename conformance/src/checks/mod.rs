//! The check catalogue (its text here; `docs/conformance.md` is generated from it): one function per id, registered in [`CHECKS`]
//! in catalogue order.

mod ctr;
mod err;
mod features;
mod sec;
mod sl;
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
    /// Whether it can run against a real vendor (it observes only the caller's side).
    pub live: bool,
    pub(crate) run: for<'a> fn(&'a Cx<'a>) -> BoxFuture<'a, CheckResultOf>,
}

impl std::fmt::Debug for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id)
    }
}

macro_rules! checks {
    ($($id:literal $family:literal $live:literal $f:path : $title:literal;)*) => {
        /// Every check, in catalogue order.
        pub static CHECKS: &[Check] = &[$(Check {
            id: $id,
            family: $family,
            title: $title,
            live: $live,
            run: |cx| Box::pin($f(cx)),
        }),*];
    };
}

checks! {
    "CTR-001" "CTR" true ctr::ctr_001: "generate: text, finish stop, id, model, usage with total = input + output";
    "CTR-002" "CTR" true ctr::ctr_002: "stream: start first, deltas, one finish last with usage, deltas concatenate to the text";
    "CTR-003" "CTR" false ctr::ctr_003: "stream ≡ generate for the same exchange";
    "CTR-004" "CTR" false ctr::ctr_004: "system prompt reaches the wire in the protocol's place";
    "CTR-005" "CTR" false ctr::ctr_005: "parameters reach the wire under the protocol's names; unset ones are absent";
    "CTR-006" "CTR" false ctr::ctr_006: "multi-turn history (alternating, and two user turns in a row) is encoded validly";
    "CTR-007" "CTR" false ctr::ctr_007: "UTF-8 split across chunks and frames decodes exactly";
    "CTR-008" "CTR" false ctr::ctr_008: "unknown fields and enum values are tolerated (finish `other`); CRLF framing and comment lines too";
    "TOOL-001" "TOOL" false tool::tool_001: "one tool call, generate and stream";
    "TOOL-002" "TOOL" false tool::tool_002: "parallel tool calls assembled by index, order and arguments kept";
    "TOOL-003" "TOOL" false tool::tool_003: "a tool call without arguments gives {}";
    "TOOL-004" "TOOL" false tool::tool_004: "a tool call and its result in history are encoded the protocol's way";
    "TOOL-005" "TOOL" false tool::tool_005: "tool_choice auto / none / required / named map to the protocol's form";
    "TOOL-006" "TOOL" false tool::tool_006: "tool-call ids are normalised: valid, unique, deterministic, originals kept";
    "TOOL-007" "TOOL" false tool::tool_007: "a tool result marked as an error is encoded as one";
    "TOOL-008" "TOOL" false tool::tool_008: "arguments that are not JSON end in malformed_response";
    "RSN-001" "RSN" false features::rsn_001: "reasoning arrives as reasoning, never in the text; reasoning tokens counted in output";
    "JSON-001" "JSON" false features::json_001: "a JSON-schema response format is encoded the protocol's way";
    "MM-001" "MM" false features::mm_001: "image input, base64 and URL, is encoded the protocol's way";
    "USE-001" "USE" false features::use_001: "usage rules (B2) for cached and reasoning tokens, generate and stream";
    "ERR-001" "ERR" false err::err_001: "every vendor error maps to its kind, status, provider and retryable flag; no retry inside";
    "ERR-002" "ERR" false err::err_002: "retry_after from each A6 signal; x-should-retry overrides";
    "ERR-003" "ERR" false err::err_003: "an error mid-stream surfaces as an error item of the right kind";
    "ERR-004" "ERR" false err::err_004: "a malformed frame gives malformed_response";
    "ERR-005" "ERR" false err::err_005: "a stream cut without its terminal marker (mid-text, or after the finish reason) gives stream_interrupted";
    "ERR-006" "ERR" false err::err_006: "a stalled upstream gives timeout within the configured bound";
    "ERR-007" "ERR" true err::err_007: "no error output contains the credential";
    "SL-001" "SL" true sl::sl_001: "a call without its runtime context fails before anything is sent";
    "SL-002" "SL" false sl::sl_002: "no retained state: A, B, A put A's, B's, A's values on the wire";
    "SL-003" "SL" false sl::sl_003: "concurrent isolation (property test)";
    "SL-004" "SL" false sl::sl_004: "the supplied HTTP client is reused";
    "SL-005" "SL" false sl::sl_005: "dropping a stream closes the upstream connection";
    "SEC-001" "SEC" true sec::sec_001: "Debug/Display of contexts and credentials print no secret";
    "SEC-002" "SEC" true sec::sec_002: "recorded fixtures contain no credential";
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
