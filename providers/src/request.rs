//! What a caller asks for, independent of any vendor. Adapters encode these types; nothing here
//! knows a wire format.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One call's input: the conversation, tools and generation options.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Request {
    /// The conversation so far, oldest first.
    pub messages: Vec<Message>,
    /// Tools the model may call.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<Tool>,
    /// How the model may use the tools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice>,
    /// Sampling and length parameters; unset ones fall back to the context's settings.
    #[serde(default)]
    pub params: Parameters,
    /// Constrain the output to JSON matching a schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_format: Option<ResponseFormat>,
    /// Ask for reasoning ("thinking") output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<ReasoningOptions>,
}

impl Request {
    /// A request with a single user text message.
    pub fn user(text: impl Into<String>) -> Self {
        Self {
            messages: vec![Message::user(text)],
            ..Self::default()
        }
    }
}

/// One turn of the conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum Message {
    /// Instructions for the model. Vendors put these in different places (contract CTR-004).
    System {
        /// The instruction text.
        content: String,
    },
    /// The user's turn: text and images.
    User {
        /// Text and image parts, in order.
        content: Vec<ContentPart>,
    },
    /// An earlier model turn: its text, the tools it called, and the reasoning blocks the vendor
    /// needs to see again (build one from a [`Response`](crate::Response) with
    /// [`Message::from_response`]).
    Assistant {
        /// The text the model produced (may be empty when it only called tools).
        #[serde(default)]
        content: String,
        /// The tool calls it made.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        tool_calls: Vec<ToolCall>,
        /// Reasoning blocks with their replay data (Anthropic thinking signatures, OpenAI
        /// Responses encrypted reasoning). Each encoder sends back only what its vendor issued.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        reasoning: Vec<ReasoningBlock>,
    },
    /// The result of running a tool the model called.
    Tool {
        /// The `id` of the tool call this answers.
        call_id: String,
        /// The tool's output.
        content: String,
        /// Whether the tool failed.
        #[serde(default)]
        is_error: bool,
    },
}

impl Message {
    /// A system message.
    pub fn system(text: impl Into<String>) -> Self {
        Self::System {
            content: text.into(),
        }
    }

    /// A user message with one text part.
    pub fn user(text: impl Into<String>) -> Self {
        Self::User {
            content: vec![ContentPart::Text { text: text.into() }],
        }
    }

    /// An assistant message with text only.
    pub fn assistant(text: impl Into<String>) -> Self {
        Self::Assistant {
            content: text.into(),
            tool_calls: Vec::new(),
            reasoning: Vec::new(),
        }
    }

    /// The assistant turn a response stands for, with everything the vendor needs to see again
    /// in history: its text, tool calls (with their signatures) and reasoning blocks.
    pub fn from_response(response: &crate::Response) -> Self {
        Self::Assistant {
            content: response.text.clone(),
            tool_calls: response.tool_calls.clone(),
            reasoning: response.reasoning_blocks.clone(),
        }
    }

    /// A tool result.
    pub fn tool_result(call_id: impl Into<String>, content: impl Into<String>) -> Self {
        Self::Tool {
            call_id: call_id.into(),
            content: content.into(),
            is_error: false,
        }
    }
}

/// A part of a user message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentPart {
    /// Plain text.
    Text {
        /// The text.
        text: String,
    },
    /// An image, inline or by URL.
    Image {
        /// Where the image bytes come from.
        source: ImageSource,
    },
}

/// Where an image comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ImageSource {
    /// Base64-encoded bytes with their media type (`image/png`).
    Base64 {
        /// The MIME type.
        media_type: String,
        /// The base64 text (no `data:` prefix).
        data: String,
    },
    /// A URL the vendor fetches.
    Url {
        /// The address.
        url: String,
    },
}

/// A tool the model may call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Tool {
    /// The function name.
    pub name: String,
    /// What it does, for the model.
    #[serde(default)]
    pub description: String,
    /// The JSON schema of its arguments object.
    pub parameters: Value,
}

/// How the model may use tools.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ToolChoice {
    /// The model decides.
    Auto,
    /// No tool calls.
    None,
    /// At least one tool call.
    Required,
    /// This tool must be called.
    Named(String),
}

/// A tool call: in a response, or in an assistant turn of history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ToolCall {
    /// The normalised id (contract B3): `^[A-Za-z0-9_-]{1,40}$`, unique within its response.
    pub id: String,
    /// The vendor's original id, when it gave one.
    pub provider_id: Option<String>,
    /// The function name.
    pub name: String,
    /// The arguments, parsed (`{}` when none).
    pub arguments: Value,
    /// Opaque vendor data that must go back with this call in history (Gemini's
    /// `thoughtSignature`, which thinking models require on function calls they are shown again).
    /// Serialised when present, so a response carried over a pipe (the plugin protocol, a
    /// saved conversation) can still be sent back; `None` for vendors without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

/// One reasoning block as the vendor returned it, with the opaque data that must go back with it
/// on later turns (extended thinking with tool use, stateless OpenAI Responses). Vendors without
/// such data produce no blocks; their reasoning is only [`Response::reasoning`](crate::Response).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ReasoningBlock {
    /// The block's readable reasoning (or summary) text; may be empty.
    #[serde(default)]
    pub text: String,
    /// Anthropic: the thinking block's `signature`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    /// Anthropic: a `redacted_thinking` block's encrypted `data`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redacted: Option<String>,
    /// OpenAI Responses: the reasoning item's `encrypted_content`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypted_content: Option<String>,
    /// OpenAI Responses: the reasoning item's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// Sampling and length parameters. `None` means "not set": it is left out of the wire body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Parameters {
    /// Sampling temperature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus sampling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// The most tokens to generate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u32>,
    /// Sequences that end generation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stop: Vec<String>,
}

impl Parameters {
    /// `self` with every unset field taken from `defaults`.
    pub fn or(&self, defaults: &Parameters) -> Parameters {
        Parameters {
            temperature: self.temperature.or(defaults.temperature),
            top_p: self.top_p.or(defaults.top_p),
            max_output_tokens: self.max_output_tokens.or(defaults.max_output_tokens),
            stop: if self.stop.is_empty() {
                defaults.stop.clone()
            } else {
                self.stop.clone()
            },
        }
    }
}

/// Structured output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ResponseFormat {
    /// A name for the schema (OpenAI requires one).
    pub name: String,
    /// The JSON schema the output must match.
    pub schema: Value,
    /// Ask the vendor to enforce the schema strictly, where it can.
    #[serde(default)]
    pub strict: bool,
}

/// Reasoning ("thinking") options.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ReasoningOptions {
    /// Token budget for reasoning (Anthropic `budget_tokens`, Gemini `thinkingBudget`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_tokens: Option<u32>,
    /// Effort level (`low`/`medium`/`high`) for vendors that take one (OpenAI `reasoning_effort`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effort: Option<String>,
}
