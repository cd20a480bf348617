//! Making the call and printing it, for both ways a provider is found: the answer (streamed
//! or not) or the error, as text or one JSON object, and the exit code.

use std::io::{IsTerminal, Read, Write};
use std::time::{Duration, Instant};

use concord::{
    Error, ErrorKind, Message, Provider, Request, Response, RuntimeContext, StreamEvent,
};
use futures_util::StreamExt;

use std::sync::Arc;

use concord_models::{Model, Models, Verdict};

use super::ChatArgs;
use crate::output::{error_json, ChatJson, CostJson};
use crate::{EXIT_PROVIDER, EXIT_USAGE};

/// Where a call's cost and lifecycle come from: the model database, and the names it may file
/// the provider under (a registered name, then its type).
pub(crate) struct Pricing {
    models: Arc<Models>,
    names: Vec<String>,
}

impl Pricing {
    /// The model database `database` names; `None`, with a notice, when it cannot be opened (the
    /// call goes on without a cost).
    pub(crate) async fn open(
        database: &concord_models::DatabaseSection,
        names: Vec<String>,
    ) -> Option<Self> {
        match database.open(&|k| std::env::var(k).ok()).await {
            Ok(models) => Some(Self { models, names }),
            Err(e) => {
                eprintln!("notice: no cost for this call: {e}");
                None
            }
        }
    }

    /// The model database's model, by the first name that has it.
    fn find(&self, model: &str) -> Option<(&str, Arc<Model>)> {
        self.names
            .iter()
            .find_map(|n| self.models.get(n, model).map(|m| (n.as_str(), m)))
    }

    /// The model database's `default` model, when it is one of this provider's.
    pub(crate) fn default_model(&self, provider: &str) -> Option<String> {
        let d = self.models.default_for("default")?;
        let (p, m) = d.split_once('/')?;
        (p == provider).then(|| m.to_owned())
    }

    /// Whether `model` may be used now: a deprecation is said on stderr, an inactive model is
    /// `Err` with what to use instead.
    fn check(&self, model: &str) -> Result<(), String> {
        let Some((name, _)) = self.find(model) else {
            return Ok(());
        };
        match self.models.verdict(name, model, &concord_models::today()) {
            Verdict::Use => Ok(()),
            Verdict::Warn(why) => {
                eprintln!("warning: {why}");
                Ok(())
            }
            Verdict::Refuse(why) => Err(why),
        }
    }

    /// The cost of an answer (priced by the model asked for, else the one that answered).
    fn cost(&self, requested: &str, r: &Response) -> Option<CostJson> {
        let (_, model) = self.find(requested).or_else(|| self.find(&r.model))?;
        let cost = concord_models::cost(&r.usage, &model.prices)?;
        Some(CostJson::new(&model, &cost))
    }
}

/// A usage or configuration problem found before anything is sent: exit 2, with the kind that
/// names it (a missing key or URL, a build without the adapter, a bad prompt or number).
pub(crate) fn usage_error(args: &ChatArgs, kind: ErrorKind, provider: &str, message: String) -> u8 {
    let err = Error::new(kind, provider, message);
    report_error(args.json, &err);
    EXIT_USAGE
}

pub(crate) fn report_error(json: bool, err: &Error) {
    if json {
        out!("{}", error_json(err));
    } else {
        eprintln!("error: {err}");
    }
}

/// The request built from the flags (system prompt, prompt, parameters).
pub(crate) fn request_of(
    args: &ChatArgs,
    prompt: String,
    required_max_tokens: Option<u32>,
) -> Request {
    let mut request = Request::default();
    if let Some(system) = &args.system {
        request.messages.push(Message::system(system.clone()));
    }
    request.messages.push(Message::user(prompt));
    request.params.temperature = args.temperature;
    request.params.max_output_tokens = args.max_tokens.or(required_max_tokens);
    request
}

/// Makes the call, prints the answer (or the error) and returns the exit code.
pub(crate) async fn call(
    args: &ChatArgs,
    name: &str,
    model: &str,
    provider: &dyn Provider,
    request: &Request,
    ctx: &RuntimeContext,
    pricing: Option<&Pricing>,
) -> u8 {
    if let Some(Err(why)) = pricing.map(|p| p.check(model)) {
        return usage_error(args, ErrorKind::NotFound, name, why);
    }
    let started = Instant::now();
    let result = if args.stream {
        stream(provider, request, ctx, !args.json).await
    } else {
        provider.generate(request, ctx).await.inspect(|r| {
            if !args.json {
                out_part!("{}", r.text);
            }
        })
    };
    match result {
        Ok(response) => {
            if args.json {
                let json = ChatJson {
                    cost: pricing.and_then(|p| p.cost(model, &response)),
                    ..ChatJson::new(name, model, &response)
                };
                out!("{}", serde_json::to_string(&json).expect("serialisable"));
            } else {
                out!();
                summary(name, model, &response, started.elapsed());
            }
            0
        }
        Err(err) => {
            report_error(args.json, &err);
            match err.kind {
                ErrorKind::MissingRuntimeContext
                | ErrorKind::InvalidConfig
                | ErrorKind::Unsupported => EXIT_USAGE,
                _ => EXIT_PROVIDER,
            }
        }
    }
}

pub(crate) fn read_prompt(arg: Option<String>) -> Result<String, String> {
    let prompt = match arg {
        Some(p) => p,
        None if std::io::stdin().is_terminal() => {
            return Err("no prompt: pass it as an argument or pipe it on stdin".into())
        }
        None => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| format!("cannot read the prompt from stdin: {e}"))?;
            text
        }
    };
    if prompt.trim().is_empty() {
        return Err("the prompt is empty".into());
    }
    Ok(prompt)
}

/// Streams, printing text as it arrives when `print` is set, and assembles the response.
async fn stream(
    provider: &dyn Provider,
    request: &Request,
    ctx: &RuntimeContext,
    print: bool,
) -> concord::Result<Response> {
    let mut events = provider.stream(request, ctx).await?;
    let mut assembler = concord::Assembler::default();
    let mut stdout = std::io::stdout();
    while let Some(event) = events.next().await {
        let event = event?;
        if print {
            if let StreamEvent::TextDelta { text } = &event {
                // A closed stdout (a pipe to `head`) is not worth failing the call for.
                let _ = stdout.write_all(text.as_bytes());
                let _ = stdout.flush();
            }
        }
        assembler.push(provider.name(), event)?;
    }
    assembler.finish(provider.name())
}

fn summary(provider: &str, requested_model: &str, r: &Response, elapsed: Duration) {
    for call in &r.tool_calls {
        eprintln!("tool call {} {}({})", call.id, call.name, call.arguments);
    }
    let model = if r.model.is_empty() {
        requested_model
    } else {
        &r.model
    };
    let n = |v: Option<u64>| v.map_or_else(|| "?".to_owned(), |v| v.to_string());
    eprintln!(
        "{provider} {model} · finish {} ({}) · {} in / {} out tokens · {:.1} s",
        r.finish_reason.as_str(),
        r.raw_finish_reason.as_deref().unwrap_or("-"),
        n(r.usage.input_tokens),
        n(r.usage.output_tokens),
        elapsed.as_secs_f64()
    );
}
