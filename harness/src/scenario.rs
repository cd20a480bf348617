//! Scenarios as data: `fixtures/<protocol>/<scenario>/scenario.json` with its `response.json`
//! and `stream.sse`, and the per-protocol error table `fixtures/<protocol>/errors.json`.
//! The format is described in `docs/cassettes.md`; `cargo xtask fixtures check` validates it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};

/// The `fixtures/` folder of this repository.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

/// The wire protocols the harness speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    /// OpenAI Chat Completions.
    Openai,
    /// OpenAI Responses.
    OpenaiResponses,
    /// Anthropic Messages.
    Anthropic,
    /// Google Gemini.
    Gemini,
}

impl Protocol {
    /// Every protocol.
    pub const ALL: [Protocol; 4] = [
        Self::Openai,
        Self::OpenaiResponses,
        Self::Anthropic,
        Self::Gemini,
    ];

    /// The folder and command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Openai => "openai",
            Self::OpenaiResponses => "openai-responses",
            Self::Anthropic => "anthropic",
            Self::Gemini => "gemini",
        }
    }

    /// Where an official SDK's base URL sits on the mock's host: `/v1` for both OpenAI APIs
    /// (the `openai` SDKs' convention), the host root for Anthropic and Gemini.
    pub fn sdk_base_path(self) -> &'static str {
        match self {
            Self::Openai | Self::OpenaiResponses => "/v1",
            Self::Anthropic | Self::Gemini => "",
        }
    }

    /// The protocol named `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// How a streamed answer ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamEnd {
    /// The server finishes the body cleanly.
    #[default]
    Close,
    /// The connection is cut without finishing the chunked body.
    Reset,
    /// Nothing more is sent and the connection stays open.
    Stall,
}

/// A buffered answer (JSON or text body).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseSpec {
    /// HTTP status.
    #[serde(default = "ok")]
    pub status: u16,
    /// Extra headers. A value `@http-date+N` becomes the HTTP-date N seconds after serving.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// A JSON body file beside `scenario.json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_file: Option<String>,
    /// An inline JSON body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// An inline non-JSON body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_text: Option<String>,
}

/// A streamed answer: the raw SSE bytes and how to deliver them.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamSpec {
    /// HTTP status.
    #[serde(default = "ok")]
    pub status: u16,
    /// Extra headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The SSE bytes, beside `scenario.json`.
    pub sse_file: String,
    /// Send the bytes in chunks of this many bytes (splitting frames and characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk_size: Option<usize>,
    /// Pause between chunks.
    #[serde(default)]
    pub delay_ms: u64,
    /// How the stream ends.
    #[serde(default)]
    pub end: StreamEnd,
    /// Send only this many bytes of the file, then end as `end` says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cut_at: Option<usize>,
}

fn ok() -> u16 {
    200
}

/// One scenario of one protocol.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// Which vendor document or recording it follows.
    pub provenance: String,
    /// What it shows.
    pub description: String,
    /// The non-streamed answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generate: Option<ResponseSpec>,
    /// The streamed answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<StreamSpec>,
    /// The normalised result a conforming client reports (contract B1–B5), written by hand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<Value>,
}

/// A loaded scenario with its files read.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The protocol.
    pub protocol: Protocol,
    /// The folder name.
    pub name: String,
    /// The parsed `scenario.json`.
    pub file: ScenarioFile,
    /// The generate body bytes, if any.
    pub generate_body: Option<Vec<u8>>,
    /// The SSE bytes, if any.
    pub stream_bytes: Option<Vec<u8>>,
}

/// One row of `errors.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorCase {
    /// Its name (the mock serves it as scenario `error_<name>`).
    pub name: String,
    /// HTTP status.
    pub status: u16,
    /// Headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// JSON body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// Non-JSON body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_text: Option<String>,
    /// The normalised error (kind, retryable, retry_after_ms, request_id).
    pub expect: Value,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ErrorsFile {
    provenance: String,
    cases: Vec<ErrorCase>,
}

impl ErrorCase {
    /// The case as a buffered response.
    pub fn response(&self) -> ResponseSpec {
        ResponseSpec {
            status: self.status,
            headers: self.headers.clone(),
            body_file: None,
            body: self.body.clone(),
            body_text: self.body_text.clone(),
        }
    }
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| Error::Read {
        path: path.to_owned(),
        source,
    })
}

pub(crate) fn parse<T: for<'de> Deserialize<'de>>(path: &Path, what: &'static str) -> Result<T> {
    serde_json::from_slice(&read(path)?).map_err(|e| Error::Invalid {
        path: path.to_owned(),
        what,
        message: e.to_string(),
    })
}

/// Where scenarios are read from.
#[derive(Debug, Clone)]
pub struct Fixtures {
    root: PathBuf,
}

impl Default for Fixtures {
    fn default() -> Self {
        Self::at(fixtures_dir())
    }
}

impl Fixtures {
    /// Fixtures under `root`.
    pub fn at(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Scenario names of `protocol`, sorted, error cases (`error_<name>`) last.
    pub fn list(&self, protocol: Protocol) -> Result<Vec<String>> {
        let dir = self.root.join(protocol.name());
        let entries = std::fs::read_dir(&dir).map_err(|source| Error::Read {
            path: dir.clone(),
            source,
        })?;
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.path().join("scenario.json").is_file())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        names.sort();
        names.extend(
            self.error_cases(protocol)?
                .into_iter()
                .map(|c| format!("error_{}", c.name)),
        );
        Ok(names)
    }

    /// Loads one scenario folder.
    pub fn scenario(&self, protocol: Protocol, name: &str) -> Result<Scenario> {
        let dir = self.root.join(protocol.name()).join(name);
        let path = dir.join("scenario.json");
        if !path.is_file() {
            return Err(Error::UnknownScenario {
                protocol: protocol.name().into(),
                name: name.into(),
            });
        }
        let file: ScenarioFile = parse(&path, "scenario")?;
        let generate_body = match &file.generate {
            Some(spec) => Some(body_bytes(spec, &dir)?),
            None => None,
        };
        let stream_bytes = match &file.stream {
            Some(spec) => Some(read(&dir.join(&spec.sse_file))?),
            None => None,
        };
        Ok(Scenario {
            protocol,
            name: name.into(),
            file,
            generate_body,
            stream_bytes,
        })
    }

    /// The error table of `protocol`.
    pub fn error_cases(&self, protocol: Protocol) -> Result<Vec<ErrorCase>> {
        let path = self.root.join(protocol.name()).join("errors.json");
        if !path.is_file() {
            return Ok(Vec::new());
        }
        Ok(parse::<ErrorsFile>(&path, "error table")?.cases)
    }
}

/// The bytes of a buffered response body.
pub fn body_bytes(spec: &ResponseSpec, dir: &Path) -> Result<Vec<u8>> {
    if let Some(file) = &spec.body_file {
        return read(&dir.join(file));
    }
    if let Some(body) = &spec.body {
        return Ok(serde_json::to_vec(body).expect("a JSON value always serialises"));
    }
    Ok(spec.body_text.clone().unwrap_or_default().into_bytes())
}

/// A header value with `@http-date+N` resolved against `now`.
pub fn header_value(value: &str, now: SystemTime) -> String {
    match value
        .strip_prefix("@http-date+")
        .and_then(|n| n.parse::<u64>().ok())
    {
        Some(secs) => httpdate::fmt_http_date(now + Duration::from_secs(secs)),
        None => value.to_owned(),
    }
}
