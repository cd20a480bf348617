//! The provider registry (`concord-registry`): how long registering a provider takes (the aim:
//! under 100 ms) — from a config section (settings checked, provider and context
//! built, dispatcher put around it, the map swapped) and from a value — with 50 others already
//! registered; how long `get` takes among them; and loading a config file.

use std::sync::Arc;
use std::time::Duration;

use concord_registry::{Options, Registry, Sources};
use criterion::{criterion_group, criterion_main, Criterion};

const OTHERS: usize = 50;

fn section_file(dir: &std::path::Path) -> std::path::PathBuf {
    let mut text = String::new();
    for i in 0..=OTHERS {
        text.push_str(&format!(
            "[providers.p{i}]\ntype = \"openai-compatible\"\nbase_url = \"http://127.0.0.1:9/v1\"\ncredential = {{ env = \"BENCH_KEY\" }}\nmodel = \"m\"\n[providers.p{i}.dispatcher]\nrate = \"600/min\"\n\n"
        ));
    }
    text.push_str("[dispatcher]\nretries = 2\n");
    let file = dir.join("concord.toml");
    std::fs::write(&file, text).expect("write the bench's config");
    file
}

fn registry(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = std::env::temp_dir().join(format!("concord-bench-registry-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = section_file(&dir);
    const VARS: &[(&str, &str)] = &[("BENCH_KEY", "k-0123456789")];
    let load = || concord_registry::load(&Sources::with_vars(Some(file.clone()), VARS)).unwrap();
    let settings = load();
    let mut options = Options::from_settings(&settings, concord::reqwest::Client::new());
    options.env = Arc::new(|n| (n == "BENCH_KEY").then(|| "k-0123456789".to_owned()));
    let reg = Registry::new(options);
    let _guard = rt.enter();
    for i in 0..OTHERS {
        let name = format!("p{i}");
        rt.block_on(reg.register(&name, settings.providers[&name].clone()))
            .unwrap();
    }
    let last = format!("p{OTHERS}");
    let section = settings.providers[&last].clone();

    c.bench_function("registry/register_section_among_50", |b| {
        b.iter(|| {
            rt.block_on(reg.register(&last, section.clone())).unwrap();
            reg.unregister(&last).unwrap();
        })
    });
    let value: Arc<dyn concord::Provider> =
        Arc::new(concord::descriptor::builtin("openai").unwrap());
    c.bench_function("registry/register_instance_among_50", |b| {
        b.iter(|| {
            reg.register_instance("v", value.clone(), concord::RuntimeContext::new())
                .unwrap();
            reg.unregister("v").unwrap();
        })
    });
    c.bench_function("registry/get_among_50", |b| {
        b.iter(|| reg.get("p25").unwrap())
    });
    c.bench_function("settings/load_51_sections", |b| b.iter(load));
    rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(5), reg.shutdown())
            .await
            .unwrap()
    });
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, registry);
criterion_main!(benches);
