//! Deliberately broken providers: the suite testing itself. Each wraps a working provider and
//! breaks one rule the way real implementations do; the self-test asserts each makes exactly its
//! checks fail. A check that no broken provider can fail is not yet a check.

use std::sync::Mutex;

use concord::{
    Credential, Error, ErrorKind, EventStream, FinishReason, Message, Parameters, Provider,
    Request, Response, RuntimeContext, StreamEvent,
};
use futures_util::future::BoxFuture;
use futures_util::StreamExt;

/// Which rule a [`Broken`] provider breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flaw {
    /// Keeps the first credential it sees and uses it for every later call (B6).
    KeepsFirstCredential,
    /// Drops usage from the finish event of streams (B2).
    DropsStreamUsage,
    /// Reports Gemini's `STOP` with function calls as `stop` (B1).
    StopWithToolCallsIsStop,
    /// Puts the key in error messages (B5).
    KeyInErrors,
    /// Reports a stream cut without its terminal marker as finished (B4).
    TruncatedIsFinished,
    /// Retries every failed call, a 400 included, inside the provider.
    RetriesEverything,
    /// Opens a fresh connection for every call instead of reusing the pool of the client it
    /// was given, as a provider that builds its own client per call does. Emulated by asking
    /// for `Connection: close`: the vendor sees the same thing, and a real client per call
    /// costs ~60 ms to build once a TLS backend is compiled in, which made this one flaw 40%
    /// of the self-test's time.
    FreshConnectionPerCall,
    /// Falls back to a default model when the context has none (B6).
    DefaultModel,
    /// Never sends the system prompt.
    DropsSystemPrompt,
    /// Ignores the request's sampling and length parameters.
    DropsParameters,
    /// Sends only the last of several consecutive user turns.
    DropsRepeatedUserTurns,
    /// Leaves tool results out of the history it sends.
    DropsToolResults,
    /// Sends every tool result as a success.
    DropsToolErrorFlag,
    /// Ignores `tool_choice`.
    IgnoresToolChoice,
    /// Ignores the response format.
    IgnoresResponseFormat,
    /// Hands out the vendor's tool-call ids as they came.
    RawToolCallIds,
    /// Maps finish reasons it does not know to `stop`.
    UnknownFinishIsStop,
    /// Mixes reasoning into the answer text.
    ReasoningInText,
    /// Ends a stream that failed mid-way with a clean finish.
    MidStreamErrorsAreFinished,
    /// Keeps reading a stream its caller dropped, to the end.
    DrainsAbandonedStreams,
    /// Ignores the context's timeout.
    IgnoresTimeout,
    /// Loses the vendor's response id.
    DropsResponseId,
    /// Decodes answer text as Latin-1 instead of UTF-8.
    Latin1Text,
    /// Loses the opaque data a tool call must carry back (Gemini's thoughtSignature).
    DropsToolCallSignatures,
    /// Loses the reasoning blocks a vendor needs to see again (Anthropic thinking signatures,
    /// OpenAI Responses encrypted reasoning).
    DropsReasoningBlocks,
    /// Maps errors by HTTP status class alone: every 4xx but 429 is `invalid_request`, whatever
    /// the vendor's body says (a wrong key, an unknown model, a prompt too long).
    ErrorsByStatusOnly,
}

impl Flaw {
    /// Every flaw.
    pub const ALL: [Flaw; 26] = [
        Self::KeepsFirstCredential,
        Self::DropsStreamUsage,
        Self::StopWithToolCallsIsStop,
        Self::KeyInErrors,
        Self::TruncatedIsFinished,
        Self::RetriesEverything,
        Self::FreshConnectionPerCall,
        Self::DefaultModel,
        Self::DropsSystemPrompt,
        Self::DropsParameters,
        Self::DropsRepeatedUserTurns,
        Self::DropsToolResults,
        Self::DropsToolErrorFlag,
        Self::IgnoresToolChoice,
        Self::IgnoresResponseFormat,
        Self::RawToolCallIds,
        Self::UnknownFinishIsStop,
        Self::ReasoningInText,
        Self::MidStreamErrorsAreFinished,
        Self::DrainsAbandonedStreams,
        Self::IgnoresTimeout,
        Self::DropsResponseId,
        Self::Latin1Text,
        Self::DropsToolCallSignatures,
        Self::DropsReasoningBlocks,
        Self::ErrorsByStatusOnly,
    ];
}

/// A working provider with one flaw.
pub struct Broken<P> {
    inner: P,
    flaw: Flaw,
    kept: Mutex<Option<Credential>>,
}

impl<P: Provider> Broken<P> {
    /// `inner` with `flaw`.
    pub fn new(inner: P, flaw: Flaw) -> Self {
        Self {
            inner,
            flaw,
            kept: Mutex::new(None),
        }
    }

    fn ctx(&self, ctx: &RuntimeContext) -> RuntimeContext {
        let mut ctx = ctx.clone();
        match self.flaw {
            Flaw::FreshConnectionPerCall => ctx.headers.push(("connection".into(), "close".into())),
            Flaw::DefaultModel if ctx.model.is_none() => ctx.model = Some("default-model".into()),
            // Anthropic still needs a length to accept the call at all.
            Flaw::DropsParameters => {
                ctx.settings = Parameters {
                    max_output_tokens: Some(4096),
                    ..Parameters::default()
                }
            }
            Flaw::IgnoresTimeout => ctx.timeout = None,
            Flaw::KeepsFirstCredential => {
                let mut kept = self.kept.lock().expect("lock");
                match (&*kept, &ctx.credential) {
                    (Some(first), Some(_)) => ctx.credential = Some(first.clone()),
                    (None, Some(c)) => *kept = Some(c.clone()),
                    _ => {}
                }
            }
            _ => {}
        }
        ctx
    }

    fn request(&self, request: &Request) -> Request {
        let mut r = request.clone();
        match self.flaw {
            Flaw::DropsSystemPrompt => r.messages.retain(|m| !matches!(m, Message::System { .. })),
            Flaw::DropsParameters => r.params = Parameters::default(),
            Flaw::DropsRepeatedUserTurns => {
                let mut kept: Vec<Message> = Vec::new();
                for m in r.messages {
                    if let (Some(Message::User { .. }), Message::User { .. }) = (kept.last(), &m) {
                        kept.pop();
                    }
                    kept.push(m);
                }
                r.messages = kept;
            }
            Flaw::DropsToolResults => r.messages.retain(|m| !matches!(m, Message::Tool { .. })),
            Flaw::DropsToolErrorFlag => {
                for m in &mut r.messages {
                    if let Message::Tool { is_error, .. } = m {
                        *is_error = false;
                    }
                }
            }
            Flaw::IgnoresToolChoice => r.tool_choice = None,
            Flaw::IgnoresResponseFormat => r.response_format = None,
            _ => {}
        }
        r
    }

    fn error(&self, e: Error, ctx: &RuntimeContext) -> Error {
        match (self.flaw, &ctx.credential) {
            (Flaw::ErrorsByStatusOnly, _)
                if e.status
                    .is_some_and(|s| (400..500).contains(&s) && s != 429) =>
            {
                Error {
                    kind: ErrorKind::InvalidRequest,
                    retryable: false,
                    ..e
                }
            }
            (Flaw::KeyInErrors, Some(c)) => Error {
                message: format!("{} (key {})", e.message, c.expose()),
                ..e
            },
            _ => e,
        }
    }

    fn response(&self, mut r: Response) -> Response {
        match self.flaw {
            Flaw::StopWithToolCallsIsStop if r.raw_finish_reason.as_deref() == Some("STOP") => {
                r.finish_reason = FinishReason::Stop
            }
            Flaw::UnknownFinishIsStop if r.finish_reason == FinishReason::Other => {
                r.finish_reason = FinishReason::Stop
            }
            Flaw::RawToolCallIds => {
                for call in &mut r.tool_calls {
                    call.id = call.provider_id.clone().unwrap_or_default();
                }
            }
            Flaw::DropsResponseId => r.id.clear(),
            Flaw::DropsToolCallSignatures => {
                r.tool_calls.iter_mut().for_each(|c| c.signature = None)
            }
            Flaw::DropsReasoningBlocks => r.reasoning_blocks.clear(),
            Flaw::Latin1Text => r.text = r.text.bytes().map(char::from).collect(),
            Flaw::ReasoningInText => {
                if let Some(reasoning) = r.reasoning.take() {
                    r.text = reasoning + &r.text;
                }
            }
            _ => {}
        }
        r
    }
}

/// What a flaw does to one stream item.
fn stream_item(
    flaw: Flaw,
    key: &Option<String>,
    item: concord::Result<StreamEvent>,
) -> concord::Result<StreamEvent> {
    let clean_finish = || {
        Ok(StreamEvent::Finish {
            finish_reason: FinishReason::Stop,
            raw_finish_reason: None,
            usage: Default::default(),
        })
    };
    match (flaw, item) {
        (
            Flaw::DropsStreamUsage,
            Ok(StreamEvent::Finish {
                finish_reason,
                raw_finish_reason,
                ..
            }),
        ) => Ok(StreamEvent::Finish {
            finish_reason,
            raw_finish_reason,
            usage: Default::default(),
        }),
        (
            Flaw::StopWithToolCallsIsStop,
            Ok(StreamEvent::Finish {
                raw_finish_reason,
                usage,
                ..
            }),
        ) if raw_finish_reason.as_deref() == Some("STOP") => Ok(StreamEvent::Finish {
            finish_reason: FinishReason::Stop,
            raw_finish_reason,
            usage,
        }),
        (
            Flaw::UnknownFinishIsStop,
            Ok(StreamEvent::Finish {
                finish_reason: FinishReason::Other,
                raw_finish_reason,
                usage,
            }),
        ) => Ok(StreamEvent::Finish {
            finish_reason: FinishReason::Stop,
            raw_finish_reason,
            usage,
        }),
        (Flaw::ReasoningInText, Ok(StreamEvent::ReasoningDelta { text })) => {
            Ok(StreamEvent::TextDelta { text })
        }
        (
            Flaw::DropsToolCallSignatures,
            Ok(StreamEvent::ToolCallStart {
                index,
                id,
                provider_id,
                name,
                ..
            }),
        ) => Ok(StreamEvent::ToolCallStart {
            index,
            id,
            provider_id,
            name,
            signature: None,
        }),
        (Flaw::TruncatedIsFinished, Err(e)) if e.kind == ErrorKind::StreamInterrupted => {
            clean_finish()
        }
        (Flaw::MidStreamErrorsAreFinished, Err(_)) => clean_finish(),
        (Flaw::KeyInErrors, Err(e)) => Err(Error {
            message: format!("{} (key {})", e.message, key.clone().unwrap_or_default()),
            ..e
        }),
        (_, item) => item,
    }
}

impl<P: Provider> Provider for Broken<P> {
    concord::wrapped_identity!(inner);

    fn generate<'a>(
        &'a self,
        request: &'a Request,
        ctx: &'a RuntimeContext,
    ) -> BoxFuture<'a, concord::Result<Response>> {
        Box::pin(async move {
            let (request, ctx) = (self.request(request), self.ctx(ctx));
            let mut result = self.inner.generate(&request, &ctx).await;
            if self.flaw == Flaw::RetriesEverything {
                for _ in 0..2 {
                    if result.is_ok() {
                        break;
                    }
                    result = self.inner.generate(&request, &ctx).await;
                }
            }
            result
                .map(|r| self.response(r))
                .map_err(|e| self.error(e, &ctx))
        })
    }

    fn stream<'a>(
        &'a self,
        request: &'a Request,
        ctx: &'a RuntimeContext,
    ) -> BoxFuture<'a, concord::Result<EventStream>> {
        Box::pin(async move {
            let (request, ctx) = (self.request(request), self.ctx(ctx));
            let mut started = self.inner.stream(&request, &ctx).await;
            if self.flaw == Flaw::RetriesEverything && started.is_err() {
                started = self.inner.stream(&request, &ctx).await;
            }
            let mut events = started.map_err(|e| self.error(e, &ctx))?;
            if self.flaw == Flaw::DrainsAbandonedStreams {
                // Read the upstream in a task of its own: dropping the returned stream no
                // longer closes the connection.
                let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
                tokio::spawn(async move {
                    while let Some(item) = events.next().await {
                        let _ = tx.send(item);
                    }
                });
                let rx = futures_util::stream::unfold(rx, |mut rx| async move {
                    rx.recv().await.map(|item| (item, rx))
                });
                return Ok(Box::pin(rx) as EventStream);
            }
            let flaw = self.flaw;
            let key = ctx.credential.as_ref().map(|c| c.expose().to_owned());
            // A clean finish substituted for an error ends the stream there.
            let mut ended = false;
            let events = events
                .map(move |item| stream_item(flaw, &key, item))
                .take_while(move |item| {
                    let go = !ended;
                    ended = matches!(item, Ok(StreamEvent::Finish { .. }) | Err(_));
                    futures_util::future::ready(go)
                });
            Ok(Box::pin(events) as EventStream)
        })
    }
}
