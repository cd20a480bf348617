//! `concord chat --provider <shipped>`: the row's variables (and the AI gateway's) fill its
//! `Connection`, the flags win over them, and `Descriptor::connect` builds it — the path every
//! caller of a shipped provider takes.

use std::time::Duration;

use concord::descriptor::{self, Api, Connection};
use concord::{Error, ErrorKind};
use concord_dispatch::{DispatchConfig, Dispatcher, RetryPolicy};
use concord_registry::Sources;

use super::call::{call, read_prompt, report_error, request_of, usage_error, Pricing};
use super::ChatArgs;
use crate::EXIT_PROVIDER;

pub(super) async fn chat(args: ChatArgs) -> u8 {
    let Some(d) = descriptor::get(&args.provider) else {
        let known: Vec<&str> = descriptor::names().collect();
        let message = format!(
            "no shipped provider is called `{}` (known: {}); a provider named in a config file needs --config FILE",
            args.provider,
            known.join(", ")
        );
        return usage_error(&args, ErrorKind::Unsupported, &args.provider, message);
    };
    let name = d.name;
    // The dispatcher's settings as everywhere else (`[dispatcher]` keys from the environment),
    // `--max-retries` their override.
    let retries = args
        .max_retries
        .map(|n| ("dispatcher.retries".to_owned(), n.to_string()));
    let settings = match crate::config::load(&Sources::from_env(None).set(retries)) {
        Ok(s) => s,
        Err(e) => return usage_error(&args, ErrorKind::InvalidConfig, name, e.to_string()),
    };
    crate::config::notices(&settings);

    let pricing = Pricing::open(&settings.database, vec![name.to_owned()]).await;
    // No --model: the model database's default model, when it is this provider's.
    let default = pricing.as_ref().and_then(|p| p.default_model(name));
    let Some(model) = args.model.clone().or(default) else {
        return usage_error(
            &args,
            ErrorKind::MissingRuntimeContext,
            name,
            "--model is required (with --config, a section's `model` can supply it; `concord models default default PROVIDER/MODEL` sets one)".into(),
        );
    };
    let prompt = match read_prompt(args.prompt.clone()) {
        Ok(p) => p,
        Err(message) => return usage_error(&args, ErrorKind::InvalidRequest, name, message),
    };
    let request = request_of(&args, prompt, d.required_max_tokens);
    let client = match crate::http_client() {
        Ok(c) => c,
        Err(message) => {
            report_error(args.json, &Error::new(ErrorKind::Transport, name, message));
            return EXIT_PROVIDER;
        }
    };
    // The row's variables (and the AI gateway's) fill the connection; the flags win over them.
    let mut connection = match Connection::from_env(d) {
        Ok(c) => c,
        Err(e) => return usage_error(&args, e.kind, name, e.message),
    };
    apply_flags(&args, &mut connection);
    if connection.gateway.is_some() && args.tenant.is_none() {
        return usage_error(
            &args,
            ErrorKind::MissingRuntimeContext,
            name,
            "the AI gateway (GENAI_PLATFORM_ENABLED) needs the calling user: pass --tenant".into(),
        );
    }
    let (provider, ctx) = match d.connect(&connection, client) {
        Ok(built) => built,
        Err(e) if e.kind == ErrorKind::MissingRuntimeContext => {
            let message = format!(
                "{} (or pass it as a flag: --api-key, --base-url)",
                e.message
            );
            return usage_error(&args, e.kind, name, message);
        }
        Err(e) => return usage_error(&args, e.kind, name, e.message),
    };
    let mut ctx = ctx.model(model.clone());
    if let Some(t) = &args.tenant {
        ctx = ctx.tenant(t.clone());
    }
    // The dispatcher with only its retry layer on: a one-shot command has nothing to queue or
    // take out of rotation.
    let config = DispatchConfig {
        retry: RetryPolicy::default().with_max_retries(settings.dispatcher.retry.max_retries),
        breaker: None,
        ..DispatchConfig::default()
    };
    let provider = match Dispatcher::new(provider, config) {
        Ok(d) => d,
        Err(e) => return usage_error(&args, ErrorKind::InvalidConfig, name, e.to_string()),
    };
    let pricing = Pricing::open(&settings.database, vec![name.to_owned()]).await;
    call(
        &args,
        name,
        &model,
        &provider,
        &request,
        &ctx,
        pricing.as_ref(),
    )
    .await
}

/// The flags over what the variables gave: each flag sets its field of the connection.
fn apply_flags(args: &ChatArgs, c: &mut Connection) {
    if let Some(api) = args.api.as_deref().and_then(Api::from_name) {
        c.api = Some(api);
    }
    if let Some(key) = &args.api_key {
        c.key = Some(concord::Credential::new(key.clone()));
    }
    let set = |field: &mut Option<String>, flag: &Option<String>| {
        if flag.is_some() {
            field.clone_from(flag);
        }
    };
    set(&mut c.base_url, &args.base_url);
    set(&mut c.api_version, &args.api_version);
    set(&mut c.project, &args.vertex_project);
    set(&mut c.location, &args.vertex_location);
    if let Some(secs) = args.timeout_secs {
        c.timeout = Some(Duration::from_secs(secs));
    }
}
