//! REG: the provider registry — concord-registry's, or the subject's own
//! ([`Subject::registry`]) — holding the subject's provider, against its mock vendor.
//!
//! [`Subject::registry`]: crate::Subject::registry

use std::sync::Arc;
use std::time::Duration;

use concord::descriptor::{self, Api};
use concord::{ErrorKind, Provider, Request};
use concord_harness::Protocol;
use concord_registry::settings::RegistrySettings;
use concord_registry::{Options, Sources};
use futures_util::StreamExt;

use crate::cx::Cx;
use crate::outcome::{CheckResultOf, Outcome};
use crate::under_test::RegistryUnderTest;
use crate::{expect_eq, fail};

const NAME: &str = "subject";

fn registry(cx: &Cx<'_>, shutdown: Duration) -> Arc<dyn RegistryUnderTest> {
    let mut options = Options::new(cx.client().clone());
    options.settings = RegistrySettings {
        shutdown_timeout: shutdown,
        health_timeout: Duration::from_secs(5),
        health_interval: None,
        ..RegistrySettings::default()
    };
    // The registry is under test here, not the dispatcher (DSP tests that).
    options.dispatch = None;
    options.env = Arc::new(|_| None);
    (cx.subject.registry)(options)
}

fn register(
    reg: &dyn RegistryUnderTest,
    cx: &Cx<'_>,
    ctx: concord::RuntimeContext,
) -> CheckResultOf {
    reg.register(NAME, cx.subject.provider.clone(), ctx)
        .map_err(|e| Outcome::Fail(format!("a valid registration was refused: {e}")))
}

fn got<T>(what: &str, r: Result<T, String>) -> CheckResultOf<T> {
    r.map_err(|e| Outcome::Fail(format!("{what}: {e}")))
}

pub async fn reg_001(cx: &Cx<'_>) -> CheckResultOf {
    let mock = cx.mock("text").await?;
    let reg = registry(cx, Duration::from_secs(5));
    let mut events = reg.events();
    register(reg.as_ref(), cx, cx.ctx(&mock))?;
    let again = reg.register(NAME, cx.subject.provider.clone(), cx.ctx(&mock));
    expect_eq!(
        "registering a taken name",
        again,
        Err("already_exists".to_owned())
    );
    let bad = reg.register("Not A Name!", cx.subject.provider.clone(), cx.ctx(&mock));
    expect_eq!(
        "registering an invalid name",
        bad,
        Err("invalid_name".to_owned())
    );
    let (p, ctx) = got("get after register", reg.get(NAME))?;
    p.generate(&Request::user("hi"), &ctx).await.map_err(|e| {
        Outcome::Fail(format!(
            "a call through the registered provider failed: {e}"
        ))
    })?;
    got("unregister", reg.unregister(NAME))?;
    expect_eq!(
        "get after unregister",
        reg.get(NAME).err(),
        Some("not_found".to_owned())
    );
    expect_eq!(
        "unregistering twice",
        reg.unregister(NAME),
        Err("not_found".to_owned())
    );
    let kinds: Vec<&str> = std::iter::from_fn(|| events.try_recv().ok())
        .map(|e| e.kind())
        .collect();
    expect_eq!(
        "events in order",
        kinds,
        vec!["provider_registered", "provider_unregistered"]
    );
    reg.shutdown().await;
    Ok(())
}

fn api_of(p: Protocol) -> Api {
    match p {
        Protocol::Openai => Api::Chat,
        Protocol::OpenaiResponses => Api::Responses,
        Protocol::Anthropic => Api::Messages,
        Protocol::Gemini => Api::GenerateContent,
    }
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|d| d.join(program).is_file()))
        .unwrap_or(false)
}

const FILE_KEY: &str = "reg-file-key-0123456789";
const ENV_KEY: &str = "reg-env-key-0123456789";

pub async fn reg_002(cx: &Cx<'_>) -> CheckResultOf {
    if cx.subject.served.is_some() {
        return Err(Outcome::Skip(
            "discovery builds shipped providers from a file, not the server in front of one".into(),
        ));
    }
    let Some(row) = descriptor::get(cx.subject.provider.name()) else {
        return Err(Outcome::Skip(
            "discovery builds shipped providers; this subject is not a row of the table".into(),
        ));
    };
    if !on_path("python3") {
        return Err(Outcome::Skip(
            "the plugin half needs python3 on PATH".into(),
        ));
    }
    let mock = cx.mock("text").await?;
    let base = cx.mock_base_url(&mock);
    let dir = std::env::temp_dir().join(format!(
        "concord-reg-002-{}-{}",
        std::process::id(),
        cx.subject.name.replace('/', "-")
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let plugin =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/minimal/plugin.py");
    let setup = || -> std::io::Result<std::path::PathBuf> {
        std::fs::create_dir_all(dir.join("plugins/minimal"))?;
        std::fs::write(
            dir.join("plugins/minimal/manifest.json"),
            serde_json::json!({ "command": ["python3", plugin], "protocol": 1 }).to_string(),
        )?;
        let file = dir.join("concord.toml");
        std::fs::write(
            &file,
            format!(
                "[providers.from-file]\ntype = {:?}\napi = {:?}\nbase_url = {:?}\ncredential = {{ env = \"REG_FILE_KEY\" }}\nmodel = {:?}\nmax_tokens = 256\n\n[registry]\nplugins_dir = \"plugins\"\n",
                row.name,
                api_of(cx.protocol()).name(),
                base,
                cx.subject.model
            ),
        )?;
        Ok(file)
    };
    let file = setup().map_err(|e| Outcome::Fail(format!("cannot write the test's files: {e}")))?;
    let vars: Vec<(String, String)> = vec![
        ("REG_FILE_KEY".into(), FILE_KEY.into()),
        (row.key.name.into(), ENV_KEY.into()),
        (row.base_url.name.into(), base.clone()),
    ];
    let lookup = move |name: &str| vars.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    let env = Arc::new(lookup.clone());
    let settings = concord_registry::load(&Sources {
        file: Some(file),
        env: Box::new(lookup),
        overrides: Vec::new(),
    })
    .map_err(|e| Outcome::Fail(format!("the test's configuration was refused: {e}")))?;
    let mut options = Options::from_settings(&settings, cx.client().clone());
    options.env = env;
    options.dispatch = None;
    let reg = (cx.subject.registry)(options);
    reg.discover(&settings).await;
    let listing = reg.listing();
    let _ = std::fs::remove_dir_all(&dir);
    for (name, source) in [
        ("from-file", "config"),
        (row.name, "environment"),
        ("minimal", "plugin"),
    ] {
        if !listing.iter().any(|(n, s)| n == name && s == source) {
            reg.shutdown().await;
            fail!("{name} from {source} is not registered; the registry holds {listing:?}");
        }
    }
    let (p, ctx) = got("get from-file", reg.get("from-file"))?;
    let ctx = concord::RuntimeContext {
        client: Some(cx.client().clone()),
        ..ctx
    };
    let answer = p.generate(&Request::user("hi"), &ctx).await;
    let (_, env_ctx) = got("get the environment's provider", reg.get(row.name))?;
    reg.shutdown().await;
    answer.map_err(|e| Outcome::Fail(format!("a call through the file's provider failed: {e}")))?;
    let seen = mock.requests();
    expect_eq!(
        "the file's credential reference resolved on the wire",
        seen.last().and_then(|r| r.credential.clone()),
        Some(FILE_KEY.to_owned())
    );
    expect_eq!(
        "the environment provider's base URL",
        env_ctx.base_url.as_deref(),
        Some(base.as_str())
    );
    expect_eq!(
        "the environment provider's key",
        env_ctx.credential.as_ref().map(|c| c.expose().to_owned()),
        Some(ENV_KEY.to_owned())
    );
    Ok(())
}

pub async fn reg_003(cx: &Cx<'_>) -> CheckResultOf {
    cx.sees_vendor_failures()?;
    let mock = cx.mock("text").await?;
    mock.queue_scenarios(&["error_server_error"])
        .map_err(|e| Outcome::Fail(format!("cannot queue the failure: {e}")))?;
    let reg = registry(cx, Duration::from_secs(5));
    register(reg.as_ref(), cx, cx.ctx(&mock))?;
    let mut events = reg.events();
    reg.check_health().await;
    let down = reg.status(NAME);
    reg.check_health().await;
    let up = reg.status(NAME);
    reg.shutdown().await;
    expect_eq!(
        "status while the vendor fails",
        down.as_deref(),
        Some("error")
    );
    expect_eq!("status once it answers again", up.as_deref(), Some("ready"));
    let changes: Vec<bool> = std::iter::from_fn(|| events.try_recv().ok())
        .filter_map(|e| match e {
            concord_registry::Event::HealthChanged { healthy, .. } => Some(healthy),
            _ => None,
        })
        .collect();
    expect_eq!(
        "health_changed events (healthy?)",
        changes,
        vec![false, true]
    );
    Ok(())
}

pub async fn reg_004(cx: &Cx<'_>) -> CheckResultOf {
    cx.require(cx.caps().streaming, "streaming")?;
    let bound = Duration::from_millis(400);
    let mock = cx.mock("stall").await?;
    let reg = registry(cx, bound);
    register(reg.as_ref(), cx, cx.ctx(&mock))?;
    let (p, ctx) = got("get", reg.get(NAME))?;
    let mut stream = p
        .stream(&Request::user("hi"), &ctx)
        .await
        .map_err(|e| Outcome::Fail(format!("the stream did not start: {e}")))?;
    // The stall scenario sends its first events, then nothing: the stream is in flight.
    let consume = async move {
        let mut last = None;
        while let Some(item) = stream.next().await {
            let failed = item.is_err();
            last = Some(item);
            if failed {
                break;
            }
        }
        last
    };
    let started = std::time::Instant::now();
    let limit = bound + concord_registry::providers::SHUTDOWN_MARGIN + Duration::from_secs(1);
    let both = tokio::time::timeout(limit, async { tokio::join!(reg.shutdown(), consume) }).await;
    let Ok((cancelled, last)) = both else {
        fail!(
            "the shutdown (bound {} ms) or the stream in flight did not end within {} ms",
            bound.as_millis(),
            limit.as_millis()
        );
    };
    let took = started.elapsed();
    match last {
        Some(Err(e)) if e.kind == ErrorKind::Cancelled => {}
        Some(Ok(_)) | None => {}
        Some(Err(e)) => fail!(
            "the stream ended with {} rather than cancelled: {e}",
            e.kind
        ),
    }
    if cancelled != 1 {
        fail!("the shutdown reported {cancelled} cancelled calls; the stalled stream was one");
    }
    if took < bound.saturating_sub(Duration::from_millis(50)) {
        fail!(
            "the shutdown cancelled after {} ms, before its bound",
            took.as_millis()
        );
    }
    expect_eq!(
        "get after shutdown",
        reg.get(NAME).err(),
        Some("not_found".to_owned())
    );
    Ok(())
}

pub async fn reg_005(cx: &Cx<'_>) -> CheckResultOf {
    let mock = cx.mock_slow("text", Duration::from_millis(400)).await?;
    let reg = registry(cx, Duration::from_secs(5));
    register(reg.as_ref(), cx, cx.ctx(&mock))?;
    let (p, ctx) = got("get", reg.get(NAME))?;
    let req = Request::user("hi");
    let call = p.generate(&req, &ctx);
    let unregister = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        reg.unregister(NAME)
    };
    let (answer, unregistered) = tokio::join!(call, unregister);
    got("unregister during the call", unregistered)?;
    reg.shutdown().await;
    let answer = answer.map_err(|e| {
        Outcome::Fail(format!(
            "a call in flight broke when its provider was unregistered: {e}"
        ))
    })?;
    expect_eq!("the answer", answer.text, cx.expected("text")?.text);
    Ok(())
}
