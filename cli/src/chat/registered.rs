//! `concord chat --config FILE --provider NAME`: a call through a provider the file (or the
//! environment, or a plugin) registers, with its settings; flags win over them.

use std::path::PathBuf;
use std::time::Duration;

use concord::ErrorKind;
use concord_registry::settings::{ProviderKind, ProviderSettings};
use concord_registry::Sources;

use super::call::{call, read_prompt, request_of, usage_error, Pricing};
use super::ChatArgs;

pub(super) async fn chat(args: ChatArgs, file: PathBuf) -> u8 {
    let name = args.provider.clone();
    if args.api_key.is_some() {
        return usage_error(
            &args,
            ErrorKind::InvalidConfig,
            &name,
            "--api-key cannot be combined with --config: a section names where its key comes from (credential = { env = \"VAR\" })".into(),
        );
    }
    let (settings, registry) = match crate::config::open(&Sources::from_env(Some(file))) {
        Ok(o) => o,
        Err((code, message)) => {
            eprintln!("error: {message}");
            return code;
        }
    };
    // Register only what is needed: the named section, else whatever discovery finds.
    let registered = match settings.providers.get(&name) {
        Some(section) => {
            let section = with_flags(&args, section.clone());
            registry.register(&name, section).await.map(|_| ())
        }
        None => {
            registry.discover_all(&settings).await;
            Ok(())
        }
    };
    if let Err(e) = registered {
        let kind = match &e {
            concord_registry::Error::RegistrationFailed { kind, .. } => *kind,
            _ => ErrorKind::InvalidConfig,
        };
        return usage_error(&args, kind, &name, e.to_string());
    }
    let handle = match registry.get(&name) {
        Ok(h) => h,
        Err(e) => return usage_error(&args, ErrorKind::Unsupported, &name, e.to_string()),
    };
    let mut ctx = handle.context();
    if let Some(m) = &args.model {
        ctx.model = Some(m.clone());
    }
    if let Some(t) = args.timeout_secs {
        ctx.timeout = Some(Duration::from_secs(t));
    }
    if let Some(t) = &args.tenant {
        ctx.tenant = Some(t.clone());
    }
    let Some(model) = ctx.model.clone() else {
        return usage_error(
            &args,
            ErrorKind::MissingRuntimeContext,
            &name,
            format!("no model: pass --model, or set `model` in [providers.{name}]"),
        );
    };
    let prompt = match read_prompt(args.prompt.clone()) {
        Ok(p) => p,
        Err(message) => return usage_error(&args, ErrorKind::InvalidRequest, &name, message),
    };
    let required = match settings.providers.get(&name).map(|s| &s.kind) {
        Some(ProviderKind::Builtin(d)) => d.required_max_tokens,
        _ => concord::descriptor::get(&name).and_then(|d| d.required_max_tokens),
    };
    let request = request_of(&args, prompt, ctx.settings.max_output_tokens.or(required));
    // The model database files a provider under its registered name, or the row it is an instance of.
    let mut names = vec![name.clone()];
    if let Some(ProviderKind::Builtin(d)) = settings.providers.get(&name).map(|s| &s.kind) {
        names.push(d.name.to_owned());
    }
    let pricing = Pricing::open(&settings.database, names).await;
    let code = call(
        &args,
        &name,
        &model,
        &handle,
        &request,
        &ctx,
        pricing.as_ref(),
    )
    .await;
    registry.shutdown().await;
    code
}

/// The section with what the flags set laid over it (the flags win).
fn with_flags(args: &ChatArgs, mut s: ProviderSettings) -> ProviderSettings {
    if let Some(api) = args.api.as_deref().and_then(concord::Api::from_name) {
        s.api = Some(api);
    }
    for (field, flag) in [
        (&mut s.base_url, &args.base_url),
        (&mut s.api_version, &args.api_version),
        (&mut s.project, &args.vertex_project),
        (&mut s.location, &args.vertex_location),
    ] {
        if flag.is_some() {
            field.clone_from(flag);
        }
    }
    if let Some(t) = args.timeout_secs {
        s.timeout = Some(Duration::from_secs(t));
    }
    s
}
