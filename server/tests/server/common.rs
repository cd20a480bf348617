//! A deployment for a test: mock vendors registered as providers, the model database in a
//! folder of the test's own, a tenant, and the server on a loopback port.

use std::sync::Arc;

use concord::RuntimeContext;
use concord_harness::{MockVendor, Protocol};
use concord_models::{DatabaseSection, Recorder};
use concord_registry::{Options, Registry};
use concord_server::{Server, ServerSection, Tenants};

pub const VENDOR_KEY: &str = "sk-vendor-test-0123456789";
pub const ADMIN_KEY: &str = "admin-test-key-9f8e7d6c5b4a";

pub struct Deployment {
    pub server: Arc<Server>,
    pub base: String,
    pub key: String,
    pub mocks: Vec<MockVendor>,
    pub client: reqwest::Client,
    _dir: TempDir,
}

pub struct TempDir(pub std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `providers`: `(registered name, descriptor row, protocol, scenario)`.
pub async fn deploy(test: &str, providers: &[(&str, &str, Protocol, &str)]) -> Deployment {
    deploy_with_latency(test, providers, std::time::Duration::ZERO).await
}

/// [`deploy`] with vendors that take `latency` before answering (so calls overlap).
pub async fn deploy_with_latency(
    test: &str,
    providers: &[(&str, &str, Protocol, &str)],
    latency: std::time::Duration,
) -> Deployment {
    deploy_with(test, providers, latency, ServerSection::default()).await
}

/// [`deploy`] with `[server]` settings of the test's own (the body limit is the tests' 64 KiB).
pub async fn deploy_with(
    test: &str,
    providers: &[(&str, &str, Protocol, &str)],
    latency: std::time::Duration,
    settings: ServerSection,
) -> Deployment {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir =
        std::env::temp_dir().join(format!("concord-server-{}-{test}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let database = DatabaseSection {
        data_dir: Some(dir.clone()),
        refresh_secs: 0,
        ..DatabaseSection::default()
    };
    let (models, store) = database
        .open_with_store(&|_| None)
        .await
        .expect("the model database opens");
    let tenants = Tenants::open(store.pool().clone()).await.unwrap();
    let key = tenants.create("team-a", None, None).await.unwrap();
    let client = reqwest::Client::new();
    let registry = Registry::new(Options::new(client.clone()));
    let mut mocks = Vec::new();
    for (name, row, protocol, scenario) in providers {
        let mut config = concord_harness::MockConfig::new(*protocol).scenario(*scenario);
        config.latency = latency;
        let mock = MockVendor::start_with(config).await.unwrap();
        let provider = concord::builtin(row).unwrap();
        let ctx = RuntimeContext::new()
            .base_url(mock.base_url())
            .credential(VENDOR_KEY)
            .client(client.clone());
        registry
            .register_instance(name, Arc::new(provider), ctx)
            .unwrap();
        mocks.push(mock);
    }
    let recorder = Recorder::new(models.store().clone());
    let models_store = models.store().clone();
    let server = Arc::new(Server {
        registry,
        models,
        recorder,
        tenants,
        budgets: Arc::new(concord_server::budget::Budgets::new(models_store.clone())),
        settings: ServerSection {
            body_limit: 64 * 1024,
            ..settings
        },
        admin: concord_server::admin::AdminKey::new(ADMIN_KEY),
        users: Default::default(),
        shared: None,
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(server.clone().serve(listener, std::future::pending()));
    Deployment {
        server,
        base,
        key,
        mocks,
        client,
        _dir: TempDir(dir),
    }
}

impl Deployment {
    /// `POST path` with the tenant's key and a JSON body.
    pub async fn post(&self, path: &str, body: &str) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.key)
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .unwrap()
    }
}

/// Waits for `.ci/packages` (Chromium, Redis), which `.ci/run` starts beside the build, to be
/// done or to have failed; at once when it is not running.
pub async fn packages_installed() {
    let Ok(done) = std::env::var("CONCORD_PACKAGES_DONE") else {
        return;
    };
    for _ in 0..1200 {
        if std::path::Path::new(&done).exists() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}
