//! The admin pages as a person uses them: Debian's Chromium, headless, driven over WebDriver by
//! chromedriver. Without them this test says it skipped and why; under `CI=true` (where
//! `.ci/run` installs them) their absence fails it.
//!
//! Screenshots of every page at 1280 and 390 pixels wide are written to the folder
//! `CONCORD_ADMIN_SCREENSHOTS` names (docs/admin/ in the repository):
//! `CONCORD_ADMIN_SCREENSHOTS=docs/admin cargo test -p concord-server --test server browser`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use concord_harness::{MockVendor, Protocol};
use concord_models::{DatabaseSection, Recorder};
use concord_registry::{Options, Registry, Settings};
use concord_server::{Server, ServerSection, Tenants};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use crate::common::{TempDir, ADMIN_KEY};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// chromedriver and the browser session it drives; the driver is killed on drop.
struct Browser {
    client: Client,
    driver: std::process::Child,
    _profile: TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Only the driver: a test that passes has closed its session (and so its Chromium).
        // Signalling a process group here instead took down every process of this machine's
        // sandbox, test runner included (seen three times; never without it).
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// The browser, or `None` (said why) when this machine has none and this is not CI.
async fn browser() -> Option<Browser> {
    crate::common::packages_installed().await;
    let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
        .into_iter()
        .filter(|p| !std::path::Path::new(p).exists())
        .collect();
    if !missing.is_empty() {
        let why = format!(
            "{} not installed (Debian's chromium and chromium-driver; .ci/run installs them)",
            missing.join(" and ")
        );
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "the admin pages' browser test cannot run: {why}"
        );
        eprintln!("skipped: the admin pages' browser test: {why}");
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let driver = std::process::Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let profile = std::env::temp_dir().join(format!("concord-chromium-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&profile);
    // The flags that keep Chromium off the network (this machine's is closed) and working as
    // root in a container.
    let caps = json!({
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--hide-scrollbars",
                format!("--user-data-dir={}", profile.display()), "--window-size=1280,900",
            ]
        }
    });
    let caps = match caps {
        Value::Object(m) => m,
        _ => unreachable!(),
    };
    let url = format!("http://127.0.0.1:{port}");
    let mut last = None;
    for _ in 0..50 {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            Ok(client) => {
                return Some(Browser {
                    client,
                    driver,
                    _profile: TempDir(profile),
                })
            }
            Err(e) => {
                last = Some(e.to_string());
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    panic!("chromedriver did not start a session: {last:?}");
}

/// What `concord serve --mock-providers` runs: the mock vendors as discovered providers (behind
/// the dispatcher, as from the environment), the model database in a folder of its own, a
/// tenant, the admin key.
struct Demo {
    server: Arc<Server>,
    base: String,
    key: String,
    http: reqwest::Client,
    _mocks: Vec<MockVendor>,
    _dir: TempDir,
}

async fn demo() -> Demo {
    let dir = std::env::temp_dir().join(format!("concord-admin-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let database = DatabaseSection {
        data_dir: Some(dir.clone()),
        refresh_secs: 0,
        ..DatabaseSection::default()
    };
    let (models, store) = database.open_with_store(&|_| None).await.unwrap();
    let tenants = Tenants::open(store.pool().clone()).await.unwrap();
    let key = tenants.create("demo", None, None).await.unwrap();
    let http = reqwest::Client::new();
    let mut vars = HashMap::new();
    let mut mocks = Vec::new();
    for (protocol, k, b) in [
        (Protocol::Openai, "OPENAI_API_KEY", "OPENAI_BASE_URL"),
        (
            Protocol::Anthropic,
            "ANTHROPIC_API_KEY",
            "ANTHROPIC_BASE_URL",
        ),
    ] {
        let mock = MockVendor::start(protocol, "auto").await.unwrap();
        vars.insert(k.to_owned(), "sk-vendor-mock".to_owned());
        vars.insert(b.to_owned(), mock.base_url());
        mocks.push(mock);
    }
    let mut options = Options::new(http.clone());
    options.env = Arc::new(move |k: &str| vars.get(k).cloned());
    let registry = Registry::new(options);
    registry.discover_all(&Settings::defaults()).await;
    let server = Arc::new(Server {
        registry,
        recorder: Recorder::new(models.store().clone()),
        budgets: Arc::new(concord_server::budget::Budgets::new(models.store().clone())),
        models,
        tenants,
        settings: ServerSection::default(),
        admin: concord_server::admin::AdminKey::new(ADMIN_KEY),
        users: Default::default(),
        shared: None,
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(server.clone().serve(listener, std::future::pending()));
    Demo {
        server,
        base,
        key,
        http,
        _mocks: mocks,
        _dir: TempDir(dir),
    }
}

impl Demo {
    /// A chat call through the OpenAI door with `key`; `model` left out when `None`.
    async fn call(&self, key: &str, model: Option<&str>) -> reqwest::Response {
        let mut body =
            json!({"messages": [{"role": "user", "content": "Hello"}], "max_tokens": 20});
        if let Some(m) = model {
            body["model"] = json!(m);
        }
        self.http
            .post(format!("{}/v1/chat/completions", self.base))
            .bearer_auth(key)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    async fn records(&self) -> Vec<concord_models::CallRecord> {
        // Records are written behind the answers; wait for them.
        self.server.recorder.flush().await;
        self.server.models.store().calls(0).await.unwrap()
    }
}

/// Fills the field `css` with `text` (clearing it first).
async fn fill(c: &Client, css: &str, text: &str) {
    let e = c
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"));
    e.clear().await.unwrap();
    e.send_keys(text).await.unwrap();
}

/// Clicks `css` and waits for the page it leads to (every click here submits or follows a
/// link, but [`open`]'s): the old page's root goes stale when the new one replaces it.
async fn click(c: &Client, css: &str) {
    let old = c.find(Locator::Css("html")).await.unwrap();
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap();
    for _ in 0..100 {
        if old.tag_name().await.is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("clicking {css} led nowhere");
}

/// Clicks `css`, which changes this page only (a `<details>` summary).
async fn open(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap();
}

async fn text(c: &Client, css: &str) -> String {
    match c
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(css))
        .await
    {
        Ok(e) => e.text().await.unwrap(),
        Err(e) => {
            let url = c
                .current_url()
                .await
                .map(|u| u.to_string())
                .unwrap_or_default();
            let page = match c.find(Locator::Css("body")).await {
                Ok(b) => b.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            panic!("{css}: {e}; at {url}, the page says:\n{page}")
        }
    }
}

async fn path(c: &Client) -> String {
    c.current_url().await.unwrap().path().to_owned()
}

/// Every page must fit 390 px without the page itself scrolling sideways (wide tables scroll in
/// their own box), and every control must have a label a screen reader can read.
async fn usable(c: &Client, page: &str) {
    let unlabelled = c
        .execute(
            "return [...document.querySelectorAll('input:not([type=hidden]),select,textarea')]\
             .filter(e => e.labels.length === 0 && !e.getAttribute('aria-label')).map(e => e.name || e.id);",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(unlabelled, json!([]), "{page}: controls without a label");
    let buttons = c
        .execute(
            "return [...document.querySelectorAll('button,a')].filter(e => !(e.textContent.trim() || e.getAttribute('aria-label'))).length;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(buttons, json!(0), "{page}: buttons or links without a name");
}

async fn screenshots(c: &Client, name: &str) {
    c.set_window_size(390, 844).await.unwrap();
    let overflow = c
        .execute(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth;",
            vec![],
        )
        .await
        .unwrap();
    if overflow.as_i64().unwrap_or(1) > 0 {
        let wide = c
            .execute(
                "const w = document.documentElement.clientWidth; return [...document.querySelectorAll('body *')]\
                 .filter(e => e.getBoundingClientRect().right > w)\
                 .slice(0, 8).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right)).concat([w, window.innerWidth, document.documentElement.scrollWidth]);",
                vec![],
            )
            .await
            .unwrap();
        panic!("{name}: the page scrolls sideways at 390 px by {overflow} px: {wide}");
    }
    if let Ok(dir) = std::env::var("CONCORD_ADMIN_SCREENSHOTS") {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join(format!("{name}-390.png")),
            c.screenshot().await.unwrap(),
        )
        .unwrap();
        c.set_window_size(1280, 900).await.unwrap();
        std::fs::write(
            dir.join(format!("{name}-1280.png")),
            c.screenshot().await.unwrap(),
        )
        .unwrap();
    }
    c.set_window_size(1280, 900).await.unwrap();
}

#[tokio::test]
async fn a_person_runs_the_gateway_from_the_admin_pages() {
    let Some(b) = browser().await else { return };
    let c = &b.client;
    let d = demo().await;
    let url = |p: &str| format!("{}{p}", d.base);

    // Signing in: a page without a session goes to the login; a wrong key is refused.
    c.goto(&url("/admin/models")).await.unwrap();
    assert_eq!(path(c).await, "/admin/login");
    usable(c, "login").await;
    screenshots(c, "login").await;
    fill(c, "#key", "not-the-admin-key").await;
    click(c, "button[type=submit]").await;
    assert!(text(c, ".problem").await.contains("not the admin key"));
    fill(c, "#key", ADMIN_KEY).await;
    click(c, "button[type=submit]").await;
    assert_eq!(path(c).await, "/admin/models");
    let html = c.source().await.unwrap();
    assert!(
        !html.contains(ADMIN_KEY),
        "the admin key is never on a page"
    );
    assert!(!c.current_url().await.unwrap().as_str().contains(ADMIN_KEY));

    // Add a model: a price finer than a millionth is refused with the CLI's message, kept in
    // the form; then added.
    click(c, "a.button").await;
    assert_eq!(path(c).await, "/admin/models/edit");
    usable(c, "model form").await;
    fill(c, "#id", "openai/concord-browser").await;
    fill(c, "#input", "1.0000001").await;
    fill(c, "#output", "2").await;
    click(c, "form.card button[type=submit]").await;
    let wrong = text(c, "#input-hint").await;
    assert!(wrong.contains("more precision than a millionth"), "{wrong}");
    fill(c, "#input", "1").await;
    click(c, "form.card button[type=submit]").await;
    assert_eq!(text(c, ".notice").await, "Added openai/concord-browser");
    let row = text(c, "tr[data-model='openai/concord-browser']").await;
    assert!(row.contains("$1") && row.contains("$2"), "{row}");
    screenshots(c, "models").await;

    // A call at the first price; then the price is edited, and the next call is charged the
    // new one while the first keeps its snapshot.
    assert_eq!(
        d.call(&d.key, Some("openai/concord-browser"))
            .await
            .status(),
        200
    );
    c.goto(&url("/admin/models/edit?id=openai/concord-browser"))
        .await
        .unwrap();
    screenshots(c, "model-edit").await;
    fill(c, "#input", "3").await;
    fill(c, "#output", "4").await;
    click(c, "form.card button[type=submit]").await;
    assert_eq!(text(c, ".notice").await, "Saved openai/concord-browser");
    assert_eq!(
        d.call(&d.key, Some("openai/concord-browser"))
            .await
            .status(),
        200
    );
    let records = d.records().await;
    let prices: Vec<String> = records
        .iter()
        .filter(|r| r.model == "concord-browser")
        .map(|r| r.prices.as_ref().unwrap().base.input.per_million_text())
        .collect();
    assert_eq!(
        prices,
        ["1", "3"],
        "each call keeps the prices it was charged"
    );

    // Deprecate with a confirmation and a replacement.
    click(c, "a[aria-label='Deprecate openai/concord-browser']").await;
    assert_eq!(path(c).await, "/admin/models/deprecate");
    usable(c, "deprecate").await;
    screenshots(c, "model-deprecate").await;
    fill(c, "#replaced_by", "openai/gpt-4o-mini").await;
    click(c, "button.danger").await;
    assert_eq!(
        text(c, ".notice").await,
        "openai/concord-browser is now deprecated"
    );
    let row = text(c, "tr[data-model='openai/concord-browser']").await;
    assert!(
        row.contains("deprecated") && row.contains("openai/gpt-4o-mini"),
        "{row}"
    );
    let answer = d.call(&d.key, Some("openai/concord-browser")).await;
    assert_eq!(
        answer.headers().get("deprecation").map(|v| v.as_bytes()),
        Some(&b"true"[..]),
        "a deprecated model's calls say so"
    );

    // Set a default, and a call that names no model uses it.
    fill(c, "#purpose", "default").await;
    fill(c, "#default-model", "anthropic/claude-haiku-4-5").await;
    click(c, "form[action='/admin/api/defaults'] button").await;
    assert_eq!(
        text(c, ".notice").await,
        "The default model of default is anthropic/claude-haiku-4-5"
    );
    assert_eq!(d.call(&d.key, None).await.status(), 200);
    let last = d.records().await.pop().unwrap();
    assert_eq!(
        (last.provider.as_str(), last.model.as_str()),
        ("anthropic", "claude-haiku-4-5")
    );

    // A provider's parallelism, changed and applied at run time.
    c.goto(&url("/admin/infra")).await.unwrap();
    usable(c, "infra").await;
    fill(c, "#par-openai", "3").await;
    click(c, "button[aria-label='Save limits of openai']").await;
    assert_eq!(
        text(c, ".notice").await,
        "Limits of openai saved and applied"
    );
    assert_eq!(
        text(c, "article[data-provider=openai] .parallel").await,
        "3 in parallel"
    );
    let applied = d
        .server
        .registry
        .snapshot()
        .into_iter()
        .find(|i| i.name == "openai")
        .and_then(|i| i.limits)
        .and_then(|l| l.max_concurrent);
    assert_eq!(applied, Some(3), "the dispatcher enforces it");
    screenshots(c, "infra").await;

    // A tenant: created, its key shown once, and it calls.
    c.goto(&url("/admin/tenants")).await.unwrap();
    open(c, "details.card > summary").await;
    fill(c, "#t-name", "browser-team").await;
    fill(c, "#t-budget", "5").await;
    click(c, "form[action='/admin/api/tenants'] button[type=submit]").await;
    let key = c
        .wait()
        .for_element(Locator::Css("#new-key"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap()
        .unwrap();
    assert!(key.starts_with("sk-concord-"), "the key is shown");
    assert!(
        !c.current_url().await.unwrap().as_str().contains(&key),
        "never in a URL"
    );
    usable(c, "tenants").await;
    assert_eq!(d.call(&key, Some("openai/gpt-4o-mini")).await.status(), 200);
    c.goto(&url("/admin/tenants")).await.unwrap();
    assert!(!c.source().await.unwrap().contains(&key), "shown once only");
    // The picture is taken without the key on the page: no key-like string in docs/.
    screenshots(c, "tenants").await;
    let spent = text(c, "tr[data-tenant=browser-team] td.spent").await;
    assert!(spent.contains("of $5 USD this month"), "{spent}");

    // The calls in the spend page: totals, the tenant's row, the chart, recent calls.
    c.goto(&url("/admin/spend?days=7")).await.unwrap();
    let records = d.records().await;
    assert_eq!(text(c, "#total-calls").await, records.len().to_string());
    let total = records
        .iter()
        .filter_map(|r| r.cost)
        .fold(0i64, |a, m| a + m.0);
    assert_eq!(
        text(c, "#total-cost").await,
        format!("${} USD", concord_models::Money(total).dollars())
    );
    let by_tenant = text(c, "table.totals").await;
    assert!(
        by_tenant.contains("browser-team") && by_tenant.contains("demo"),
        "{by_tenant}"
    );
    let bars = c.find_all(Locator::Css("svg rect.bar")).await.unwrap();
    assert_eq!(bars.len(), 14, "a bar per day, two charts of 7 days");
    let recent = text(c, "#recent").await;
    assert!(
        recent.contains("$3 / $4") && recent.contains("$1 / $2"),
        "each call's price snapshot: {recent}"
    );
    usable(c, "spend").await;
    screenshots(c, "spend").await;

    // HTML and SQL in a model's name are stored and shown as text.
    let evil = "<script>document.title='owned'</script>'; DROP TABLE models;--";
    c.goto(&url("/admin/models/edit")).await.unwrap();
    fill(c, "#id", &format!("openai/{evil}")).await;
    fill(c, "#input", "1").await;
    fill(c, "#output", "1").await;
    click(c, "form.card button[type=submit]").await;
    assert_eq!(text(c, ".notice").await, format!("Added openai/{evil}"));
    assert_ne!(c.title().await.unwrap(), "owned");
    c.goto(&url("/admin/models?provider=openai")).await.unwrap();
    assert_ne!(c.title().await.unwrap(), "owned");
    assert!(text(c, "main").await.contains(evil), "shown literally");
    assert!(
        d.server.models.get("openai", evil).is_some(),
        "stored literally"
    );

    // Signing out ends the session.
    click(c, ".logout button").await;
    c.goto(&url("/admin/tenants")).await.unwrap();
    assert_eq!(path(c).await, "/admin/login");
    b.client.clone().close().await.unwrap();
}
