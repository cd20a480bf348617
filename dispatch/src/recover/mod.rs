//! Stream checkpoints and recovery. A stream's delivered events, text and reasoning are kept in
//! a [`Checkpoint`] (memory only: a process restart loses it), handed to an optional sink every
//! `checkpoint_every` events and when the stream fails. When a stream fails retryably after its
//! first event, the caller must never see a character twice or lose one:
//!
//! - where the provider continues a final assistant turn (`Capabilities::assistant_prefill`:
//!   Anthropic), the request is sent again with the delivered text as that turn, and the
//!   continuation is spliced after what the caller already has: its `start` is dropped, its
//!   first text loses the whitespace the prefill could not end with;
//! - otherwise, or when the cut came inside a tool call or after reasoning (never spliced by
//!   guesswork), the stream ends with the error, and the sink gets the checkpoint, whose text is
//!   exactly what the caller received. [`resume_from_checkpoint`] builds the continuation
//!   request where one is possible.
//!
//! The continuation's `finish` carries the continuation's usage only.

use std::sync::Arc;

use concord::{
    Error, ErrorKind, EventStream, Message, Provider, Request, Response, RuntimeContext,
    StreamEvent,
};
use futures_util::future::BoxFuture;
use futures_util::StreamExt;

/// What has reached the caller of one stream.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Checkpoint {
    /// The events delivered, up to `max_buffer_events` (then only counted).
    pub events: Vec<StreamEvent>,
    /// How many events were delivered.
    pub delivered: usize,
    /// The answer text delivered.
    pub text: String,
    /// The reasoning text delivered.
    pub reasoning: String,
    /// Whether a tool call had begun.
    pub in_tool_call: bool,
    /// Whether the finish event was delivered.
    pub finished: bool,
}

impl Checkpoint {
    fn push(&mut self, event: &StreamEvent, max_events: usize) {
        match event {
            StreamEvent::TextDelta { text } => self.text.push_str(text),
            StreamEvent::ReasoningDelta { text } => self.reasoning.push_str(text),
            StreamEvent::ToolCallStart { .. } | StreamEvent::ToolCallDelta { .. } => {
                self.in_tool_call = true
            }
            StreamEvent::Finish { .. } => self.finished = true,
            _ => {}
        }
        self.delivered += 1;
        if self.events.len() < max_events {
            self.events.push(event.clone());
        }
    }
}

/// The request that continues the answer a checkpoint holds, for a provider that continues a
/// final assistant turn; `None` when there is nothing to continue, or it would splice a tool
/// call or reasoning.
pub fn resume_from_checkpoint(request: &Request, checkpoint: &Checkpoint) -> Option<Request> {
    let prefill = checkpoint.text.trim_end();
    if prefill.is_empty() || checkpoint.in_tool_call || !checkpoint.reasoning.is_empty() {
        return None;
    }
    let mut next = request.clone();
    next.messages.push(Message::assistant(prefill));
    Some(next)
}

/// Receives checkpoints.
#[derive(Clone)]
pub struct CheckpointSink(pub Arc<dyn Fn(&Checkpoint) + Send + Sync>);

impl std::fmt::Debug for CheckpointSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CheckpointSink")
    }
}

impl PartialEq for CheckpointSink {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// How streams are checkpointed and recovered.
#[derive(Debug, Clone, PartialEq)]
pub struct RecoveryConfig {
    /// Resume cut streams where the provider continues an assistant turn.
    pub enabled: bool,
    /// Hand the sink a checkpoint every this many events (0: only when a stream fails).
    pub checkpoint_every: usize,
    /// The most events a checkpoint keeps (its text is always whole).
    pub max_buffer_events: usize,
    /// How many times one stream is resumed.
    pub max_recoveries: u32,
    /// Where checkpoints go.
    pub on_checkpoint: Option<CheckpointSink>,
}

impl Default for RecoveryConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            checkpoint_every: 32,
            max_buffer_events: 4096,
            max_recoveries: 1,
            on_checkpoint: None,
        }
    }
}

impl RecoveryConfig {
    /// Refuses values that cannot work, naming the setting.
    pub fn validate(&self) -> Result<(), crate::ConfigError> {
        if self.max_buffer_events == 0 {
            return Err(crate::ConfigError::new(
                "recovery.max_buffer_events",
                "must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

/// Failures after which a stream is worth resuming: the vendor's side broke, not the request.
fn resumable(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::StreamInterrupted
            | ErrorKind::Timeout
            | ErrorKind::Overloaded
            | ErrorKind::ServerError
    )
}

/// The recovery layer around a provider.
pub struct Recovery {
    inner: Arc<dyn Provider>,
    config: RecoveryConfig,
}

impl Recovery {
    /// `inner` with stream checkpoints and recovery.
    pub fn new(inner: Arc<dyn Provider>, config: RecoveryConfig) -> Self {
        Self { inner, config }
    }
}

struct Resuming {
    events: EventStream,
    provider: Arc<dyn Provider>,
    request: Request,
    ctx: RuntimeContext,
    config: RecoveryConfig,
    prefill: bool,
    checkpoint: Checkpoint,
    recoveries: u32,
    /// Inside a continuation: drop its `start`, and the whitespace the prefill lost.
    skip_start: bool,
    trim_next_text: bool,
    done: bool,
}

impl Resuming {
    fn sink(&self) {
        if let Some(sink) = &self.config.on_checkpoint {
            (sink.0)(&self.checkpoint);
        }
    }

    /// The next item for the caller.
    async fn next(&mut self) -> Option<concord::Result<StreamEvent>> {
        loop {
            if self.done {
                return None;
            }
            match self.events.next().await {
                None => {
                    self.done = true;
                    return None;
                }
                Some(Ok(mut event)) => {
                    if self.skip_start && matches!(event, StreamEvent::Start { .. }) {
                        self.skip_start = false;
                        continue;
                    }
                    if let StreamEvent::TextDelta { text } = &mut event {
                        if self.trim_next_text {
                            *text = text.trim_start().to_owned();
                            if text.is_empty() {
                                continue;
                            }
                            self.trim_next_text = false;
                        }
                    }
                    self.checkpoint.push(&event, self.config.max_buffer_events);
                    let every = self.config.checkpoint_every;
                    if every > 0 && self.checkpoint.delivered.is_multiple_of(every) {
                        self.sink();
                    }
                    return Some(Ok(event));
                }
                Some(Err(e)) => {
                    if let Some(resumed) = self.resume(&e).await {
                        self.events = resumed;
                        continue;
                    }
                    self.done = true;
                    self.sink();
                    if self.checkpoint.delivered > 0 {
                        crate::metrics::recovery(self.provider.name(), "checkpointed");
                    }
                    return Some(Err(e));
                }
            }
        }
    }

    /// A continuation stream, when this failure can be recovered.
    async fn resume(&mut self, e: &Error) -> Option<EventStream> {
        if !(self.config.enabled
            && self.prefill
            && resumable(e.kind)
            && self.checkpoint.delivered > 0
            && !self.checkpoint.finished
            && self.recoveries < self.config.max_recoveries)
        {
            return None;
        }
        let next = resume_from_checkpoint(&self.request, &self.checkpoint)?;
        self.recoveries += 1;
        tracing::info!(provider = self.provider.name(), kind = %e.kind, chars = self.checkpoint.text.len(), "resuming a cut stream");
        let resumed = self.provider.stream(&next, &self.ctx).await.ok()?;
        crate::metrics::recovery(self.provider.name(), "resumed");
        self.skip_start = true;
        self.trim_next_text = self.checkpoint.text.ends_with(char::is_whitespace);
        Some(resumed)
    }
}

impl Provider for Recovery {
    concord::wrapped_identity!(inner);

    fn generate<'a>(
        &'a self,
        request: &'a Request,
        ctx: &'a RuntimeContext,
    ) -> BoxFuture<'a, concord::Result<Response>> {
        self.inner.generate(request, ctx)
    }

    fn stream<'a>(
        &'a self,
        request: &'a Request,
        ctx: &'a RuntimeContext,
    ) -> BoxFuture<'a, concord::Result<EventStream>> {
        Box::pin(async move {
            let events = self.inner.stream(request, ctx).await?;
            let state = Resuming {
                events,
                provider: self.inner.clone(),
                request: request.clone(),
                ctx: ctx.clone(),
                config: self.config.clone(),
                prefill: self.inner.capabilities().assistant_prefill,
                checkpoint: Checkpoint::default(),
                recoveries: 0,
                skip_start: false,
                trim_next_text: false,
                done: false,
            };
            let events = futures_util::stream::unfold(state, |mut s| async move {
                let item = s.next().await?;
                Some((item, s))
            });
            Ok(events.boxed())
        })
    }
}

#[cfg(test)]
mod tests;
