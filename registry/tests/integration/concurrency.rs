//! The registry under concurrent register / unregister / get / call: readers never see a torn
//! map, a call through a handle always finishes (whatever happens to its name meanwhile), and the
//! final names are exactly what the operations leave.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use concord::{Capabilities, EventStream, Provider, Request, Response, RuntimeContext, Usage};
use concord_registry::{Options, Registry};
use futures_util::future::BoxFuture;
use proptest::prelude::*;

struct Echo;

impl Provider for Echo {
    fn name(&self) -> &str {
        "echo"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::ALL
    }

    fn generate<'a>(
        &'a self,
        _: &'a Request,
        ctx: &'a RuntimeContext,
    ) -> BoxFuture<'a, concord::Result<Response>> {
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(2)).await;
            Ok(Response::from_text(
                ctx.model.clone().unwrap_or_default(),
                "ok",
                Usage::new(Some(1), Some(1)),
            ))
        })
    }

    fn stream<'a>(
        &'a self,
        _: &'a Request,
        _: &'a RuntimeContext,
    ) -> BoxFuture<'a, concord::Result<EventStream>> {
        Box::pin(async {
            Err(concord::Error::new(
                concord::ErrorKind::Unsupported,
                "echo",
                "no",
            ))
        })
    }
}

#[derive(Debug, Clone)]
enum Op {
    Register(u8),
    Unregister(u8),
    Call(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..6).prop_map(Op::Register),
        (0u8..6).prop_map(Op::Unregister),
        (0u8..6).prop_map(Op::Call),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn concurrent_operations_keep_the_registry_consistent(
        workers in proptest::collection::vec(proptest::collection::vec(op(), 1..20), 2..6)
    ) {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(async {
            let mut options = Options::new(reqwest::Client::new());
            options.env = Arc::new(|_| None);
            let reg = Registry::new(options);
            let tasks: Vec<_> = workers.into_iter().map(|ops| {
                let reg = reg.clone();
                tokio::spawn(async move {
                    for op in ops {
                        match op {
                            Op::Register(n) => {
                                let name = format!("p{n}");
                                match reg.register_instance(&name, Arc::new(Echo), RuntimeContext::new().model(name.clone())) {
                                    Ok(_) => {}
                                    Err(e) => assert_eq!(e.kind(), "already_exists"),
                                }
                            }
                            Op::Unregister(n) => {
                                if let Err(e) = reg.unregister(&format!("p{n}")) {
                                    assert_eq!(e.kind(), "not_found");
                                }
                            }
                            Op::Call(n) => {
                                let name = format!("p{n}");
                                if let Ok(h) = reg.get(&name) {
                                    // The handle's provider and template belong together, and
                                    // the call finishes even if the name goes meanwhile.
                                    let answer = h.generate(&Request::user("hi"), &h.context()).await.unwrap();
                                    assert_eq!(answer.model, name);
                                }
                            }
                        }
                        tokio::task::yield_now().await;
                    }
                })
            }).collect();
            for t in tasks {
                t.await.unwrap();
            }
            let names: BTreeSet<String> = reg.names().into_iter().collect();
            let snapshot: BTreeSet<String> = reg.snapshot().into_iter().map(|i| i.name).collect();
            assert_eq!(names, snapshot);
            for n in &names {
                assert!(reg.get(n).is_ok());
            }
            assert_eq!(reg.in_flight(), 0, "every call's count was returned");
        });
    }
}

#[tokio::test]
async fn a_watched_file_adds_and_removes_providers_without_a_restart() {
    let dir = std::env::temp_dir().join(format!("concord-watch-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("c.toml");
    let section = |name: &str| {
        format!("[providers.{name}]\ntype = \"openai-compatible\"\nbase_url = \"http://127.0.0.1:9/v1\"\ncredential = {{ env = \"K\" }}\n")
    };
    std::fs::write(&file, section("first")).unwrap();
    let mut options = Options::new(reqwest::Client::new());
    options.env = Arc::new(|n| (n == "K").then(|| "k-0123456789".to_owned()));
    let reg = Registry::new(options);
    let load = || {
        concord_registry::load(&concord_registry::Sources::with_vars(
            Some(file.clone()),
            &[("K", "k-0123456789")],
        ))
        .unwrap()
    };
    reg.discover_all(&load()).await;
    assert_eq!(reg.names(), ["first"]);
    reg.watch(file.clone(), Duration::from_millis(20));
    // Some filesystems keep modification times in whole seconds: wait past one.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    std::fs::write(&file, section("second")).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while reg.names() != ["second"] && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(reg.names(), ["second"]);
    reg.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}
