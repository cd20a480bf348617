use std::io::Write;

use super::*;
use concord_settings::Problem;

fn file(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f
}

fn problems(src: &Sources<'_>) -> Vec<Problem> {
    match load(src) {
        Err(Error::Config(Problems(p))) => p,
        other => panic!("expected problems, got {other:?}"),
    }
}

#[test]
fn three_mistakes_are_all_reported_with_setting_and_line() {
    let f = file(
        "[providers.azure]\ntype = \"azure\"\nbase_url = \"not a url\"\n\n[dispatcher]\nretries = -1\n\n[runtimes]\nidle_ttl_secs = \"soon\"\n",
    );
    let name = f.path().display().to_string();
    let p = problems(&Sources::with_vars(Some(f.path().into()), &[]));
    let got: Vec<(&str, String)> = p
        .iter()
        .map(|p| (p.setting.as_str(), p.source.clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("dispatcher.retries", format!("{name}:6")),
            ("providers.azure.base_url", format!("{name}:3")),
            ("runtimes.idle_ttl_secs", format!("{name}:9")),
        ],
        "{p:#?}"
    );
    assert!(p[1].expected.contains("URL"), "{}", p[1]);
    assert!(p[0].expected.contains("whole number"), "{}", p[0]);
}

#[test]
fn a_base_url_with_a_query_is_refused_where_it_is_written() {
    let f = file(
        "[providers.o]\ntype = \"openai\"\nbase_url = \"https://api.openai.com/v1?key=abc\"\n",
    );
    let p = problems(&Sources::with_vars(Some(f.path().into()), &[]));
    assert_eq!(p.len(), 1, "{p:#?}");
    assert_eq!(p[0].setting, "providers.o.base_url");
    assert!(p[0].message.contains("query"), "{}", p[0]);
    assert!(!p[0].to_string().contains("key=abc"), "{}", p[0]);
}

#[test]
fn a_providers_own_dispatcher_table_is_checked_and_laid_over_the_global_one() {
    let f = file(
        "[dispatcher]\nretries = 5\nmax_concurrent = 8\n\n[providers.o]\ntype = \"openai\"\n[providers.o.dispatcher]\ntenant_rate = \"60/min\"\nmax_concurrent_per_tenant = 2\nbreaker_per_model = true\n",
    );
    let s = load(&Sources::with_vars(Some(f.path().into()), &[])).unwrap();
    let d = s.providers["o"].dispatch.as_ref().expect("its own table");
    assert_eq!(
        d.limits.tenant_rate,
        Some(concord_dispatch::Rate::per_minute(60))
    );
    assert_eq!(d.limits.max_concurrent_per_tenant, Some(2));
    assert_eq!(
        d.limits.max_concurrent,
        Some(8),
        "the rest from [dispatcher]"
    );
    assert_eq!(d.retry.max_retries, 5);
    assert!(d.breaker.as_ref().unwrap().per_model);
    assert_eq!(
        s.dispatcher.limits.tenant_rate, None,
        "the global one is untouched"
    );

    let f = file("[providers.o]\ntype = \"openai\"\n[providers.o.dispatcher]\ntenant_rate = \"lots\"\nmax_concurent = 2\n");
    let name = f.path().display().to_string();
    let p = problems(&Sources::with_vars(Some(f.path().into()), &[]));
    let got: Vec<(&str, &str)> = p
        .iter()
        .map(|p| (p.setting.as_str(), p.source.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (
                "providers.o.dispatcher.max_concurent",
                format!("{name}:5").as_str()
            ),
            (
                "providers.o.dispatcher.tenant_rate",
                format!("{name}:4").as_str()
            ),
        ],
        "{p:#?}"
    );
}

#[test]
fn the_environment_wins_over_the_file_and_overrides_over_both() {
    let f = file("[dispatcher]\nretries = 3\nbreaker_min_calls = 7\n");
    let vars = [
        ("CONCORD_DISPATCH_RETRIES", "5"),
        ("CONCORD_DISPATCH_MAX_QUEUE", "9"),
    ];
    let s = load(&Sources::with_vars(Some(f.path().into()), &vars)).unwrap();
    assert_eq!(s.dispatcher.retry.max_retries, 5);
    assert_eq!(s.dispatcher.limits.max_queue_size, 9);
    assert_eq!(s.dispatcher.breaker.as_ref().unwrap().min_calls, 7);
    let src = s
        .resolved()
        .into_iter()
        .find(|r| r.setting == "dispatcher.retries")
        .unwrap();
    assert_eq!(src.source, "environment variable CONCORD_DISPATCH_RETRIES");

    let mut over = Sources::with_vars(Some(f.path().into()), &vars);
    over.overrides = vec![("dispatcher.retries".into(), "1".into())];
    assert_eq!(load(&over).unwrap().dispatcher.retry.max_retries, 1);
}

#[test]
fn a_bad_variable_is_named_by_its_variable() {
    let p = problems(&Sources::with_vars(
        None,
        &[("CONCORD_DISPATCH_BREAKER", "maybe")],
    ));
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].setting, "dispatcher.breaker");
    assert_eq!(p[0].source, "environment variable CONCORD_DISPATCH_BREAKER");
}

#[test]
fn an_inlined_secret_is_refused_and_never_shown() {
    let f = file("[providers.o]\ntype = \"openai\"\ncredential = \"sk-live-abcdef123456\"\n");
    let p = problems(&Sources::with_vars(Some(f.path().into()), &[]));
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].setting, "providers.o.credential");
    assert!(!p[0].to_string().contains("sk-live"), "{}", p[0]);
}

#[test]
fn unknown_keys_sections_and_missing_types_are_reported() {
    let f = file("[providers.x]\nmodle = \"m\"\n\n[dispatch]\nretries = 1\n");
    let p = problems(&Sources::with_vars(Some(f.path().into()), &[]));
    let settings: Vec<&str> = p.iter().map(|p| p.setting.as_str()).collect();
    assert_eq!(
        settings,
        ["dispatch", "providers.x.modle", "providers.x.type"],
        "{p:#?}"
    );
}

#[test]
fn a_provider_section_becomes_typed_settings() {
    let f = file(
        "[providers.eu]\ntype = \"openai\"\napi = \"responses\"\ncredential = { env = \"EU_KEY\" }\nmodel = \"gpt-4o\"\ntimeout_secs = 9\n[providers.eu.dispatcher]\nrate = \"10/s\"\n",
    );
    let s = load(&Sources::with_vars(Some(f.path().into()), &[])).unwrap();
    let eu = &s.providers["eu"];
    assert!(matches!(eu.kind, ProviderKind::Builtin(d) if d.name == "openai"));
    assert_eq!(eu.api, Some(Api::Responses));
    assert_eq!(eu.credential, Some(SecretRef::Env("EU_KEY".into())));
    assert_eq!(eu.timeout, Some(Duration::from_secs(9)));
    assert_eq!(
        eu.dispatch.as_ref().unwrap().limits.rate.unwrap().requests,
        10
    );
    assert!(
        s.render().contains("credential = { env = \"EU_KEY\" }"),
        "{}",
        s.render()
    );
}

#[test]
fn a_missing_file_and_broken_toml_say_so() {
    let p = problems(&Sources::with_vars(
        Some("/nonexistent/concord.toml".into()),
        &[],
    ));
    assert!(p[0].message.contains("cannot read"), "{}", p[0]);
    let f = file("[dispatcher]\nretries = \n");
    let p = problems(&Sources::with_vars(Some(f.path().into()), &[]));
    assert!(p[0].source.ends_with(":2"), "{}", p[0]);
}

#[test]
fn ranges_the_schema_states_are_enforced() {
    let p = problems(&Sources::with_vars(
        None,
        &[("CONCORD_RUNTIMES_MAX_USERS", "0")],
    ));
    assert_eq!(p.len(), 1, "{p:#?}");
    assert_eq!(p[0].setting, "runtimes.max_users");
    assert_eq!(
        p[0].source,
        "environment variable CONCORD_RUNTIMES_MAX_USERS"
    );
    assert!(p[0].message.contains("smallest allowed, 1"), "{}", p[0]);
}
