use std::sync::{Arc, Mutex};

use concord::{
    Capabilities, Error, ErrorKind, EventStream, FinishReason, Message, Provider, Request,
    Response, RuntimeContext, StreamEvent, Usage,
};
use futures_util::future::BoxFuture;
use futures_util::StreamExt;

use super::*;

/// Streams scripted events: each call takes the next script; remembers the requests.
struct Scripted {
    prefill: bool,
    scripts: Mutex<Vec<Vec<concord::Result<StreamEvent>>>>,
    requests: Mutex<Vec<Request>>,
}

fn start() -> concord::Result<StreamEvent> {
    Ok(StreamEvent::Start {
        id: "r".into(),
        model: "m".into(),
    })
}

fn text(t: &str) -> concord::Result<StreamEvent> {
    Ok(StreamEvent::TextDelta { text: t.into() })
}

fn finish() -> concord::Result<StreamEvent> {
    Ok(StreamEvent::Finish {
        finish_reason: FinishReason::Stop,
        raw_finish_reason: None,
        usage: Usage::new(Some(1), Some(1)),
    })
}

fn cut() -> concord::Result<StreamEvent> {
    Err(Error::new(ErrorKind::StreamInterrupted, "scripted", "cut"))
}

impl Provider for Scripted {
    fn name(&self) -> &str {
        "scripted"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            assistant_prefill: self.prefill,
            ..Capabilities::ALL
        }
    }

    fn generate<'a>(
        &'a self,
        _: &'a Request,
        _: &'a RuntimeContext,
    ) -> BoxFuture<'a, concord::Result<Response>> {
        unimplemented!("streams only")
    }

    fn stream<'a>(
        &'a self,
        request: &'a Request,
        _: &'a RuntimeContext,
    ) -> BoxFuture<'a, concord::Result<EventStream>> {
        self.requests.lock().unwrap().push(request.clone());
        let script = self.scripts.lock().unwrap().remove(0);
        Box::pin(async move { Ok(futures_util::stream::iter(script).boxed()) })
    }
}

fn scripted(prefill: bool, scripts: Vec<Vec<concord::Result<StreamEvent>>>) -> Arc<Scripted> {
    Arc::new(Scripted {
        prefill,
        scripts: Mutex::new(scripts),
        requests: Mutex::default(),
    })
}

async fn run(
    provider: Arc<Scripted>,
    sink: Option<CheckpointSink>,
) -> (String, usize, usize, Option<ErrorKind>) {
    let recovery = Recovery::new(
        provider,
        RecoveryConfig {
            on_checkpoint: sink,
            ..RecoveryConfig::default()
        },
    );
    let mut events = recovery
        .stream(&Request::user("hi"), &RuntimeContext::new())
        .await
        .unwrap();
    let (mut text, mut starts, mut finishes, mut error) = (String::new(), 0, 0, None);
    while let Some(item) = events.next().await {
        match item {
            Ok(StreamEvent::Start { .. }) => starts += 1,
            Ok(StreamEvent::TextDelta { text: t }) => text.push_str(&t),
            Ok(StreamEvent::Finish { .. }) => finishes += 1,
            Ok(_) => {}
            Err(e) => error = Some(e.kind),
        }
    }
    (text, starts, finishes, error)
}

#[tokio::test]
async fn a_cut_stream_is_continued_from_its_text_once() {
    let p = scripted(
        true,
        vec![
            vec![start(), text("The quick "), text("brown "), cut()],
            vec![start(), text(" fox."), finish()],
        ],
    );
    let (text, starts, finishes, error) = run(p.clone(), None).await;
    assert_eq!(
        (text.as_str(), starts, finishes, error),
        ("The quick brown fox.", 1, 1, None)
    );
    let sent = p.requests.lock().unwrap();
    // The prefill is what the caller has, without the trailing whitespace Anthropic refuses.
    assert_eq!(
        sent[1].messages.last(),
        Some(&Message::assistant("The quick brown"))
    );
}

#[tokio::test]
async fn without_prefill_the_error_ends_the_stream_with_a_checkpoint_of_what_was_delivered() {
    let seen = Arc::new(Mutex::new(None));
    let s = seen.clone();
    let sink = CheckpointSink(Arc::new(move |c: &Checkpoint| {
        *s.lock().unwrap() = Some(c.clone())
    }));
    let p = scripted(
        false,
        vec![vec![start(), text("Half an "), text("answer"), cut()]],
    );
    let (text, _, finishes, error) = run(p.clone(), Some(sink)).await;
    assert_eq!(
        (text.as_str(), finishes, error),
        ("Half an answer", 0, Some(ErrorKind::StreamInterrupted))
    );
    let checkpoint = seen.lock().unwrap().clone().unwrap();
    assert_eq!(
        (checkpoint.text.as_str(), checkpoint.delivered),
        ("Half an answer", 3)
    );
    assert_eq!(p.requests.lock().unwrap().len(), 1, "nothing re-sent");
    let resume = resume_from_checkpoint(&Request::user("hi"), &checkpoint).unwrap();
    assert_eq!(
        resume.messages.last(),
        Some(&Message::assistant("Half an answer"))
    );
}

#[tokio::test]
async fn a_cut_inside_a_tool_call_is_never_spliced() {
    let call = Ok(StreamEvent::ToolCallStart {
        index: 0,
        id: "c".into(),
        provider_id: None,
        name: "f".into(),
        signature: None,
    });
    let p = scripted(
        true,
        vec![vec![start(), text("Let me check. "), call, cut()]],
    );
    let (_, _, _, error) = run(p.clone(), None).await;
    assert_eq!(error, Some(ErrorKind::StreamInterrupted));
    assert_eq!(p.requests.lock().unwrap().len(), 1);
}
