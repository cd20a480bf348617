//! The admin pages: server-rendered HTML (maud escapes every value), one stylesheet and one
//! small script of our own (`assets/`), both optional: every control is a link or a form that
//! works without them. The script adds local times, copy buttons and "Saving…" on submit.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Response};
use axum::Extension;
use concord_models::edit::{FieldError, ModelEdit};
use concord_models::{Model, Price, Status};
use http::{header, StatusCode};
use maud::{html, Markup, DOCTYPE};
use serde::Deserialize;

use super::api::{self, NewTenant};
use super::{spend, Caller};
use crate::Server;

const CSS: &str = include_str!("assets/admin.css");
const JS: &str = include_str!("assets/admin.js");

/// `GET /admin/assets/admin.css`.
pub(super) async fn css() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], CSS).into_response()
}

/// `GET /admin/assets/admin.js`.
pub(super) async fn js() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        JS,
    )
        .into_response()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Nav {
    Models,
    Infra,
    Tenants,
    Spend,
    None,
}

fn page(
    status: StatusCode,
    title: &str,
    nav: Nav,
    caller: Option<&Caller>,
    body: Markup,
) -> Response {
    let link = |n: Nav, href: &str, text: &str| {
        html! {
            a href=(href) aria-current=[(n == nav).then_some("page")] { (text) }
        }
    };
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · concord admin" }
                link rel="stylesheet" href="/admin/assets/admin.css";
                script src="/admin/assets/admin.js" defer {}
            }
            body {
                header.top {
                    a.brand href="/admin/models" { "concord" }
                    @if caller.is_some() {
                        nav aria-label="Admin sections" {
                            (link(Nav::Models, "/admin/models", "Models"))
                            (link(Nav::Infra, "/admin/infra", "Providers"))
                            (link(Nav::Tenants, "/admin/tenants", "Tenants"))
                            (link(Nav::Spend, "/admin/spend", "Spend"))
                        }
                        form.logout method="post" action="/admin/logout" {
                            (csrf(caller))
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main id="main" { h1 { (title) } (body) }
            }
        }
    };
    (status, Html(markup.into_string())).into_response()
}

fn csrf(caller: Option<&Caller>) -> Markup {
    match caller {
        Some(Caller::Person { csrf }) => html! { input type="hidden" name="csrf" value=(csrf); },
        _ => html! {},
    }
}

fn notice(done: Option<&str>) -> Markup {
    html! {
        @if let Some(d) = done.filter(|d| !d.is_empty()) {
            p.notice role="status" { (d) }
        }
    }
}

fn problem(text: Option<&str>) -> Markup {
    html! {
        @if let Some(t) = text {
            p.problem role="alert" { (t) }
        }
    }
}

/// A page that only says something (errors, refusals).
pub(super) fn message_page(status: StatusCode, title: &str, text: &str) -> Response {
    page(
        status,
        title,
        Nav::None,
        None,
        html! { p.problem role="alert" { (text) } p { a href="/admin/models" { "Back to the admin pages" } } },
    )
}

/// The sign-in page.
pub(super) fn login(status: StatusCode, error: Option<&str>) -> Response {
    page(
        status,
        "Sign in",
        Nav::None,
        None,
        html! {
            (problem(error))
            form.card method="post" action="/admin/login" {
                label for="key" { "Admin key" }
                input #key type="password" name="key" autocomplete="current-password" required autofocus;
                p.hint { "The key concord serve was started with (CONCORD_ADMIN_KEY). It is sent once, in this form, never in a URL." }
                button type="submit" { "Sign in" }
            }
        },
    )
}

fn price(p: Option<Price>) -> String {
    p.map_or_else(|| "–".into(), |p| format!("${}", p.per_million_text()))
}

fn status_badge(s: Status) -> Markup {
    html! { span class=(format!("badge {}", s.name())) { (s.name()) } }
}

/// `<time>` in UTC, turned into the viewer's zone by the script.
fn time(at_ms: i64) -> Markup {
    let iso = spend::rfc3339(at_ms);
    html! { time datetime=(iso) data-ms=(at_ms) { (iso[..19].replace('T', " ")) " UTC" } }
}

#[derive(Deserialize, Default)]
pub(super) struct ModelsQuery {
    #[serde(default)]
    q: Option<String>,
    #[serde(default)]
    provider: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    done: Option<String>,
}

fn model_ids(server: &Server) -> Markup {
    html! {
        datalist #model-ids {
            @for m in server.models.all().iter().filter(|m| m.status != Status::Inactive) {
                option value=(m.key()) {}
            }
        }
    }
}

fn defaults_section(server: &Server, caller: &Caller, back: &str) -> Markup {
    let defaults = server.models.defaults();
    html! {
        section aria-labelledby="defaults-h" {
            h2 #defaults-h { "Default models" }
            p.hint { "A call that names no model gets its tenant's default model, else the default of the purpose " code { "default" } "." }
            @if defaults.is_empty() {
                p.empty { "No defaults yet: a call must name its model." }
            } @else {
                div.scroll { table {
                    thead { tr { th scope="col" { "Purpose" } th scope="col" { "Model" } } }
                    tbody { @for (p, m) in &defaults { tr { td { (p) } td { code { (m) } } } } }
                } }
            }
            form.inline method="post" action="/admin/api/defaults" {
                (csrf(Some(caller)))
                input type="hidden" name="back" value=(back);
                div { label for="purpose" { "Purpose" } input #purpose name="purpose" value="default" required; }
                div { label for="default-model" { "Model" } input #default-model name="model" list="model-ids" placeholder="provider/model" required; }
                button type="submit" { "Set default" }
            }
            (model_ids(server))
        }
    }
}

/// `GET /admin/models`: the models grouped by provider, with filters.
pub(super) async fn models(
    State(server): State<Arc<Server>>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<ModelsQuery>,
) -> Response {
    let search = q.q.as_deref().map(str::trim).unwrap_or("").to_lowercase();
    let provider = q.provider.as_deref().unwrap_or("");
    let status = q.status.as_deref().unwrap_or("");
    let all = server.models.all();
    let providers: std::collections::BTreeSet<&str> =
        all.iter().map(|m| m.provider.as_str()).collect();
    let defaults = server.models.defaults();
    let shown: Vec<&Arc<Model>> = all
        .iter()
        .filter(|m| provider.is_empty() || m.provider == provider)
        .filter(|m| status.is_empty() || m.status.name() == status)
        .filter(|m| {
            search.is_empty()
                || m.key().to_lowercase().contains(&search)
                || m.display_name
                    .as_deref()
                    .is_some_and(|d| d.to_lowercase().contains(&search))
        })
        .collect();
    let mut grouped: BTreeMap<&str, Vec<&Arc<Model>>> = BTreeMap::new();
    for m in &shown {
        grouped.entry(m.provider.as_str()).or_default().push(m);
    }
    let body = html! {
        (notice(q.done.as_deref()))
        div.actions { a.button href="/admin/models/edit" { "Add a model" } }
        form.filters method="get" action="/admin/models" role="search" {
            div { label for="q" { "Search" } input #q type="search" name="q" value=(q.q.as_deref().unwrap_or("")) placeholder="gpt-4o, claude…"; }
            div { label for="provider" { "Provider" }
                select #provider name="provider" {
                    option value="" { "All" }
                    @for p in &providers { option value=(p) selected[*p == provider] { (p) } }
                }
            }
            div { label for="status" { "Status" }
                select #status name="status" {
                    option value="" { "All" }
                    @for s in ["active", "deprecated", "inactive"] { option value=(s) selected[s == status] { (s) } }
                }
            }
            button type="submit" { "Filter" }
        }
        p.hint { (shown.len()) " of " (all.len()) " models. Prices in US dollars per million tokens." }
        @if shown.is_empty() {
            p.empty { "No model matches. " a href="/admin/models" { "Show all" } }
        }
        @for (p, list) in &grouped {
            section.provider aria-labelledby=(format!("p-{p}")) {
                h2 id=(format!("p-{p}")) { (p)
                    @if !server.registry.contains(p) { " " span.badge.inactive title="No provider of this name is registered here: its models cannot be called" { "not registered" } }
                }
                div.scroll { table.models {
                    thead { tr {
                        th scope="col" { "Model" } th scope="col" { "Status" } th.num scope="col" { "Input" } th.num scope="col" { "Output" }
                        th.num scope="col" { "Cached input" } th.num scope="col" { "Context" } th scope="col" { "Default for" } th scope="col" { span.sr { "Actions" } }
                    } }
                    tbody {
                        @for m in list {
                            @let key = m.key();
                            tr data-model=(key) {
                                th scope="row" { code { (m.id) } @if let Some(d) = &m.display_name { br; small { (d) } } }
                                td { (status_badge(m.status))
                                    @if let Some(r) = &m.replaced_by { br; small { "→ " (r) } } }
                                td.num { (price(Some(m.prices.base.input))) }
                                td.num { (price(Some(m.prices.base.output))) }
                                td.num { (price(m.prices.base.cache_read)) }
                                td.num { (m.context_window.map_or("–".into(), |c| c.to_string())) }
                                td { @for (purpose, _) in defaults.iter().filter(|(_, v)| **v == key) { span.badge.default { (purpose) } " " } }
                                td.row-actions {
                                    a href=(format!("/admin/models/edit?{}", serde_urlencoded::to_string([("id", &key)]).unwrap_or_default())) aria-label=(format!("Edit {key}")) { "Edit" }
                                    @if m.status == Status::Active {
                                        " " a href=(format!("/admin/models/deprecate?{}", serde_urlencoded::to_string([("id", &key)]).unwrap_or_default())) aria-label=(format!("Deprecate {key}")) { "Deprecate" }
                                    }
                                }
                            }
                        }
                    }
                } }
            }
        }
        (defaults_section(&server, &caller, "models"))
    };
    page(StatusCode::OK, "Models", Nav::Models, Some(&caller), body)
}

#[derive(Deserialize)]
pub(super) struct IdQuery {
    #[serde(default)]
    id: Option<String>,
}

/// `GET /admin/models/edit?id=provider/model` (no id: a new model).
pub(super) async fn model_form(
    State(server): State<Arc<Server>>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<IdQuery>,
) -> Response {
    let edit = match q
        .id
        .as_deref()
        .and_then(|id| id.split_once('/'))
        .and_then(|(p, m)| server.models.get(p, m))
    {
        Some(m) => {
            let t = |p: Option<Price>| p.map(Price::per_million_text);
            ModelEdit {
                id: m.key(),
                input: t(Some(m.prices.base.input)),
                output: t(Some(m.prices.base.output)),
                cache_read: t(m.prices.base.cache_read),
                cache_write: t(m.prices.base.cache_write),
                cache_write_1h: t(m.prices.base.cache_write_1h),
                reasoning: t(m.prices.base.reasoning),
                context_window: m.context_window.map(|c| c.to_string()),
                max_output: m.max_output.map(|c| c.to_string()),
                status: Some(m.status.name().into()),
                display_name: m.display_name.clone(),
            }
        }
        None => ModelEdit {
            id: q.id.unwrap_or_default(),
            ..ModelEdit::default()
        },
    };
    model_form_page(&server, &caller, &edit, None, StatusCode::OK)
}

/// The add/edit form, filled with `e`, with `error` beside its field.
pub(super) fn model_form_page(
    server: &Server,
    caller: &Caller,
    e: &ModelEdit,
    error: Option<&FieldError>,
    status: StatusCode,
) -> Response {
    let existing =
        e.id.split_once('/')
            .and_then(|(p, m)| server.models.get(p, m))
            .is_some();
    let field = |name: &'static str,
                 label: &str,
                 value: &Option<String>,
                 hint: &str,
                 mode: &str| {
        let wrong = error.filter(|f| f.field == name);
        html! {
            div.field {
                label for=(name) { (label) }
                input id=(name) name=(name) value=(value.as_deref().unwrap_or("")) inputmode=(mode)
                    aria-invalid=[wrong.map(|_| "true")] aria-describedby=(format!("{name}-hint"));
                small id=(format!("{name}-hint")) class=(if wrong.is_some() { "hint wrong" } else { "hint" }) {
                    @if let Some(w) = wrong { (w.message) } @else { (hint) }
                }
            }
        }
    };
    let id_error = error.filter(|f| f.field == "id");
    let body = html! {
        @if let Some(f) = error { p.problem role="alert" { "Not saved: " (f.field) ": " (f.message) } }
        form.card.grid method="post" action="/admin/api/models" novalidate {
            (csrf(Some(caller)))
            div.field.wide {
                label for="id" { "Model (provider/model)" }
                @if existing {
                    input #id name="id" value=(e.id) readonly aria-describedby="id-hint";
                    small #id-hint .hint { "A model's id cannot change; add a new one instead." }
                } @else {
                    input #id name="id" value=(e.id) required placeholder="openai/my-finetune" aria-invalid=[id_error.map(|_| "true")] aria-describedby="id-hint";
                    small #id-hint class=(if id_error.is_some() { "hint wrong" } else { "hint" }) {
                        @if let Some(w) = id_error { (w.message) } @else { "The provider's registered name, a slash, the vendor's model id." }
                    }
                }
            }
            (field("display_name", "Display name", &e.display_name, "Optional, for people.", "text"))
            (field("input", "Input $/M tokens", &e.input, "US dollars per million tokens, at most six decimals.", "decimal"))
            (field("output", "Output $/M tokens", &e.output, "US dollars per million tokens.", "decimal"))
            (field("cache_read", "Cached input read $/M", &e.cache_read, "Optional.", "decimal"))
            (field("cache_write", "Cache write $/M", &e.cache_write, "Optional.", "decimal"))
            (field("cache_write_1h", "Cache write (1 h) $/M", &e.cache_write_1h, "Optional.", "decimal"))
            (field("reasoning", "Reasoning $/M", &e.reasoning, "Optional: when priced apart from output.", "decimal"))
            (field("context_window", "Context window (tokens)", &e.context_window, "Optional.", "numeric"))
            (field("max_output", "Longest answer (tokens)", &e.max_output, "Optional.", "numeric"))
            div.field {
                label for="status" { "Status" }
                select #status name="status" {
                    @for s in ["active", "deprecated", "inactive"] {
                        option value=(s) selected[e.status.as_deref().unwrap_or("active") == s] { (s) }
                    }
                }
                small.hint { "To deprecate with a replacement, use Deprecate on the models page." }
            }
            div.wide.buttons {
                button type="submit" { @if existing { "Save" } @else { "Add model" } }
                " " a href="/admin/models" { "Cancel" }
            }
        }
        p.hint { "A price change applies to calls from now on; a call already made keeps the prices it was charged at." }
    };
    page(
        status,
        if existing {
            "Edit a model"
        } else {
            "Add a model"
        },
        Nav::Models,
        Some(caller),
        body,
    )
}

/// `GET /admin/models/deprecate?id=…`: the confirmation.
pub(super) async fn deprecate_form(
    State(server): State<Arc<Server>>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<IdQuery>,
) -> Response {
    deprecate_page(
        &server,
        &caller,
        q.id.as_deref().unwrap_or(""),
        None,
        None,
        StatusCode::OK,
    )
}

/// The deprecation confirmation for `id`.
pub(super) fn deprecate_page(
    server: &Server,
    caller: &Caller,
    id: &str,
    replaced_by: Option<&str>,
    error: Option<&FieldError>,
    status: StatusCode,
) -> Response {
    let Some(model) = id
        .split_once('/')
        .and_then(|(p, m)| server.models.get(p, m))
    else {
        return message_page(
            StatusCode::NOT_FOUND,
            "No such model",
            &format!("{id} is not in the model database."),
        );
    };
    let body = html! {
        @if let Some(f) = error { p.problem role="alert" { "Not deprecated: " (f.message) } }
        form.card method="post" action="/admin/api/models/deprecate" {
            (csrf(Some(caller)))
            input type="hidden" name="id" value=(model.key());
            p { "Deprecate " strong { code { (model.key()) } } "? Calls to it keep working, but every one warns and names its replacement. You can undo this by setting its status back to active." }
            label for="replaced_by" { "Replaced by (provider/model)" }
            input #replaced_by name="replaced_by" list="model-ids" value=(replaced_by.or(model.replaced_by.as_deref()).unwrap_or("")) placeholder="openai/gpt-5-mini";
            (model_ids(server))
            div.buttons {
                button.danger type="submit" { "Yes, deprecate " (model.key()) }
                " " a href="/admin/models" { "Cancel" }
            }
        }
    };
    page(status, "Deprecate a model", Nav::Models, Some(caller), body)
}

#[derive(Deserialize, Default)]
pub(super) struct Done {
    #[serde(default)]
    done: Option<String>,
}

/// `GET /admin/infra`: providers, their health and limits; the defaults.
pub(super) async fn infra(
    State(server): State<Arc<Server>>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<Done>,
) -> Response {
    let providers = server.registry.snapshot();
    let body = html! {
        (notice(q.done.as_deref()))
        section aria-labelledby="prov-h" {
            h2 #prov-h { "Registered providers" }
            @if providers.is_empty() {
                p.empty { "No provider is registered." }
            }
            @for i in &providers {
                @let listed = server.models.limits(&i.name).unwrap_or_default();
                @let n = |v: Option<u32>| v.map_or(String::new(), |v| v.to_string());
                article.card.provider-card data-provider=(i.name) {
                    h3 { (i.name) " " span class=(format!("badge {}", i.status.name())) { (i.status.name()) } }
                    dl.facts {
                        dt { "Source" } dd { (format!("{:?}", i.source).to_lowercase()) " · " (i.origin) }
                        dt { "Breaker" } dd { (i.breaker.map_or("none (no dispatcher)".into(), |b| format!("{b:?}").to_lowercase())) }
                        @if let Some(a) = i.admission {
                            dt { "Queue" } dd { (a.queued) " waiting · " (a.in_flight) " in flight · " (a.refused_full + a.refused_timeout) " refused" }
                        }
                        @if let Some(l) = &i.limits {
                            dt { "Applied limits" } dd.applied {
                                (l.rate.map_or("no rate limit".into(), |r| r.to_string())) " · "
                                (l.tokens_per_minute.map_or("no token limit".into(), |t| format!("{t} tokens/min"))) " · "
                                span.parallel { (l.max_concurrent.map_or("no parallel limit".into(), |c| format!("{c} in parallel"))) }
                            }
                        }
                    }
                    @if i.limits.is_some() {
                        form.inline method="post" action="/admin/api/providers/limits" {
                            (csrf(Some(&caller)))
                            input type="hidden" name="provider" value=(i.name);
                            div { label for=(format!("rpm-{}", i.name)) { "Requests/min" } input id=(format!("rpm-{}", i.name)) name="rpm" inputmode="numeric" value=(n(listed.requests_per_minute)) placeholder="none"; }
                            div { label for=(format!("tpm-{}", i.name)) { "Tokens/min" } input id=(format!("tpm-{}", i.name)) name="tpm" inputmode="numeric" value=(n(listed.tokens_per_minute)) placeholder="none"; }
                            div { label for=(format!("par-{}", i.name)) { "Max parallel" } input id=(format!("par-{}", i.name)) name="parallel" inputmode="numeric" value=(n(listed.max_parallel)) placeholder="none"; }
                            button type="submit" aria-label=(format!("Save limits of {}", i.name)) { "Save limits" }
                        }
                        p.hint { "Empty is no limit beyond the configuration's. Applied at once, without a restart; calls in flight keep their places." }
                    } @else {
                        p.hint { "Registered without the dispatcher: its limits cannot be set here." }
                    }
                }
            }
        }
        (defaults_section(&server, &caller, "infra"))
    };
    page(
        StatusCode::OK,
        "Providers and infrastructure",
        Nav::Infra,
        Some(&caller),
        body,
    )
}

/// `GET /admin/tenants`.
pub(super) async fn tenants(
    State(server): State<Arc<Server>>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<Done>,
) -> Response {
    tenants_page_with(
        &server,
        &caller,
        None,
        None,
        None,
        StatusCode::OK,
        q.done.as_deref(),
    )
    .await
}

/// The tenants page; `made` is a key just made (shown this once), `error` what went wrong
/// with the create form `form` (kept filled).
pub(super) async fn tenants_page(
    server: &Server,
    caller: &Caller,
    made: Option<(&str, &str)>,
    error: Option<&str>,
    form: Option<&NewTenant>,
    status: StatusCode,
) -> Response {
    tenants_page_with(server, caller, made, error, form, status, None).await
}

async fn tenants_page_with(
    server: &Server,
    caller: &Caller,
    made: Option<(&str, &str)>,
    error: Option<&str>,
    form: Option<&NewTenant>,
    status: StatusCode,
    done: Option<&str>,
) -> Response {
    let spent = api::spent_all(server).await;
    let list = server.tenants.list();
    let blank = NewTenant::default();
    let f = form.unwrap_or(&blank);
    let v = |o: &Option<String>| o.clone().unwrap_or_default();
    let body = html! {
        (notice(done))
        @if let Some((name, key)) = made {
            section.card.key role="status" aria-labelledby="key-h" {
                h2 #key-h { "The key of " (name) }
                p { "Copy it now: it is shown this once and cannot be shown again (rotate to get a new one)." }
                div.copy {
                    input #new-key readonly value=(key) aria-label=(format!("The key of {name}"));
                    button type="button" data-copy="new-key" { "Copy" }
                }
            }
        }
        (problem(error))
        details.card open[form.is_some() || list.is_empty()] {
            summary { "Create a tenant" }
            form.grid method="post" action="/admin/api/tenants" {
                (csrf(Some(caller)))
                div.field { label for="t-name" { "Name" } input #t-name name="name" value=(f.name) required pattern="[a-z0-9_-]{1,64}" aria-describedby="t-name-hint"; small #t-name-hint .hint { "a-z, 0-9, - and _; at most 64." } }
                div.field { label for="t-model" { "Default model" } input #t-model name="default_model" list="model-ids" value=(v(&f.default_model)) placeholder="optional: provider/model"; }
                div.field { label for="t-budget" { "Budget (USD)" } input #t-budget name="budget_usd" inputmode="decimal" value=(v(&f.budget_usd)) placeholder="none"; }
                div.field { label for="t-period" { "Budget period" }
                    select #t-period name="period" { @for p in ["month", "day", "total"] { option value=(p) selected[f.period.as_deref() == Some(p)] { (p) } } } }
                div.field { label for="t-rpm" { "Requests/min" } input #t-rpm name="rpm" inputmode="numeric" value=(v(&f.rpm)) placeholder="unlimited"; }
                div.field { label for="t-tpm" { "Tokens/min" } input #t-tpm name="tpm" inputmode="numeric" value=(v(&f.tpm)) placeholder="unlimited"; }
                div.wide.buttons { button type="submit" { "Create tenant" } }
            }
            (model_ids(server))
        }
        @if list.is_empty() {
            p.empty { "No tenants yet: create one above, then give its key to the team that calls." }
        } @else {
            div.scroll { table.tenants {
                thead { tr { th scope="col" { "Tenant" } th scope="col" { "State" } th scope="col" { "Created" } th scope="col" { "Default model" }
                    th scope="col" { "Rate limits" } th scope="col" { "Spend this period" } th scope="col" { span.sr { "Manage" } } } }
                tbody {
                    @for t in &list {
                        @let s = spent.get(&t.name).copied();
                        tr data-tenant=(t.name) {
                            th scope="row" { (t.name) br; small { @for h in &t.key_hints { "…" (h) " " } } }
                            td { @if t.disabled { span.badge.inactive { "disabled" } } @else { span.badge.active { "enabled" } } }
                            td { (time(t.created_at_ms)) }
                            td { (t.default_model.as_deref().unwrap_or("–")) }
                            td { (t.rpm.map_or("unlimited".into(), |n| format!("{n} req/min"))) br; (t.tpm.map_or("unlimited".into(), |n| format!("{n} tokens/min"))) }
                            td.spent {
                                @match (t.budget, s) {
                                    (Some(b), Some(s)) => {
                                        (spend::usd(s)) " of " (spend::usd(b.limit)) " this " (b.period.name())
                                        meter min="0" max=(b.limit.0.max(1)) value=(s.0.clamp(0, b.limit.0.max(1))) aria-label=(format!("{} spent of its budget", t.name)) {}
                                    }
                                    (None, Some(s)) => { (spend::usd(s)) " this month · no budget" }
                                    (_, None) => { "unknown (the database did not answer)" }
                                }
                            }
                            td {
                                details.manage {
                                    summary aria-label=(format!("Manage {}", t.name)) { "Manage" }
                                    div.manage-body {
                                        form method="post" action=(format!("/admin/api/tenants/{}/{}", t.name, if t.disabled { "enable" } else { "disable" })) {
                                            (csrf(Some(caller)))
                                            button type="submit" { @if t.disabled { "Enable" } @else { "Disable" } }
                                        }
                                        form method="post" action=(format!("/admin/api/tenants/{}/rotate", t.name)) {
                                            (csrf(Some(caller)))
                                            button type="submit" { "Rotate key" }
                                        }
                                        form.inline method="post" action=(format!("/admin/api/tenants/{}/limits", t.name)) {
                                            (csrf(Some(caller)))
                                            div { label for=(format!("rpm-{}", t.name)) { "Req/min" } input id=(format!("rpm-{}", t.name)) name="rpm" inputmode="numeric" value=(t.rpm.map_or(String::new(), |n| n.to_string())) placeholder="unlimited"; }
                                            div { label for=(format!("tpm-{}", t.name)) { "Tokens/min" } input id=(format!("tpm-{}", t.name)) name="tpm" inputmode="numeric" value=(t.tpm.map_or(String::new(), |n| n.to_string())) placeholder="unlimited"; }
                                            button type="submit" { "Save limits" }
                                        }
                                        form.inline method="post" action=(format!("/admin/api/tenants/{}/budget", t.name)) {
                                            (csrf(Some(caller)))
                                            div { label for=(format!("b-{}", t.name)) { "Budget USD" } input id=(format!("b-{}", t.name)) name="budget_usd" inputmode="decimal" value=(t.budget.map_or(String::new(), |b| b.limit.dollars())) placeholder="none"; }
                                            div { label for=(format!("bp-{}", t.name)) { "Per" }
                                                select id=(format!("bp-{}", t.name)) name="period" { @for p in ["month", "day", "total"] { option value=(p) selected[t.budget.map(|b| b.period.name()) == Some(p)] { (p) } } } }
                                            button type="submit" { "Save budget" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            } }
        }
    };
    page(status, "Tenants", Nav::Tenants, Some(caller), body)
}

#[derive(Deserialize, Default)]
pub(super) struct SpendQuery {
    #[serde(default)]
    days: Option<u32>,
}

fn totals_table(caption: &str, rows: &BTreeMap<String, spend::Totals>) -> Markup {
    let mut rows: Vec<_> = rows.iter().collect();
    rows.sort_by(|a, b| b.1.cost.cmp(&a.1.cost).then(b.1.calls.cmp(&a.1.calls)));
    html! {
        div.scroll { table.totals {
            caption { (caption) }
            thead { tr { th scope="col" { "Name" } th.num scope="col" { "Calls" } th.num scope="col" { "Failed" } th.num scope="col" { "Input tokens" } th.num scope="col" { "Output tokens" } th.num scope="col" { "Cost" } } }
            tbody { @for (name, t) in rows {
                tr { th scope="row" { (name) } td.num { (t.calls) } td.num { (t.failed) } td.num { (t.input_tokens) } td.num { (t.output_tokens) }
                    td.num { (spend::usd(t.cost)) @if t.unpriced > 0 { br; small { (t.unpriced) " unpriced" } } } }
            } }
        } }
    }
}

/// `GET /admin/spend?days=7`.
pub(super) async fn spend(
    State(server): State<Arc<Server>>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<SpendQuery>,
) -> Response {
    let days = api::days(q.days);
    let now = concord_models::date::now_ms();
    let since = spend::since(days, now);
    let records = match server.models.store().calls(since).await {
        Ok(r) => r,
        Err(e) => {
            return page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Spend and traffic",
                Nav::Spend,
                Some(&caller),
                html! { p.problem role="alert" { "The call records cannot be read now: " (e) ". Calls are still served; their records are held and written when the database answers." } },
            )
        }
    };
    let s = spend::sum(&records, since, now);
    let today = concord_models::today();
    let body = html! {
        form.filters method="get" action="/admin/spend" {
            div { label for="days" { "Period" }
                select #days name="days" { @for d in [1u32, 7, 30, 90] { option value=(d) selected[d == days] { "last " (d) @if d == 1 { " day" } @else { " days" } } } } }
            button type="submit" { "Show" }
        }
        dl.summary {
            div { dt { "Calls" } dd #total-calls { (s.total.calls) } }
            div { dt { "Failed" } dd { (s.total.failed) } }
            div { dt { "Tokens in / out" } dd { (s.total.input_tokens) " / " (s.total.output_tokens) } }
            div { dt { "Cost" } dd #total-cost { (spend::usd(s.total.cost)) } }
        }
        @if records.is_empty() {
            p.empty { "No calls yet in this period. Calls through /v1/chat/completions or /v1/messages appear here as they finish." }
        } @else {
            div.charts {
                (spend::chart("Cost per day (UTC), US dollars", &s.days, |t| t.cost.0, |t| spend::usd(t.cost)))
                (spend::chart("Calls per day (UTC)", &s.days, |t| t.calls as i64, |t| format!("{} calls", t.calls)))
            }
            (totals_table("By tenant", &s.tenants))
            (totals_table("By model", &s.models))
            (totals_table("By provider", &s.providers))
            h2 { "Recent calls" }
            div.scroll { table.calls #recent {
                thead { tr { th scope="col" { "When" } th scope="col" { "Tenant" } th scope="col" { "Model" } th scope="col" { "Outcome" }
                    th.num scope="col" { "Latency" } th.num scope="col" { "Tokens in / out" } th.num scope="col" { "Cost" } th.num scope="col" { "Prices charged ($/M in / out)" } } }
                tbody { @for r in records.iter().rev().take(50) {
                    tr data-call=(r.id) {
                        td { (time(r.at_ms)) }
                        td { (r.tenant.as_deref().unwrap_or("–")) }
                        td { code { (r.provider) "/" (r.model) } @if r.stream { " " small { "stream" } } }
                        td { @if r.outcome == "ok" { span.badge.active { "ok" } } @else { span.badge.inactive { (r.outcome) } } }
                        td.num { (r.latency_ms) " ms" }
                        td.num { (r.usage.input_tokens.map_or("–".into(), |n| n.to_string())) " / " (r.usage.output_tokens.map_or("–".into(), |n| n.to_string())) }
                        td.num.cost { (r.cost.map_or("–".into(), spend::usd)) }
                        td.num.prices { (r.prices.as_ref().map_or("–".into(), |p| format!("${} / ${}", p.base.input.per_million_text(), p.base.output.per_million_text()))) }
                    }
                } }
            } }
        }
        section.card aria-labelledby="csv-h" {
            h2 #csv-h { "Export" }
            form.inline method="get" action="/admin/api/calls.csv" {
                div { label for="from" { "From (UTC day)" } input #from type="date" name="from" value=(concord_models::date((since / 1000) as u64)); }
                div { label for="to" { "To (UTC day, included)" } input #to type="date" name="to" value=(today); }
                button type="submit" { "Download CSV" }
            }
        }
    };
    page(
        StatusCode::OK,
        "Spend and traffic",
        Nav::Spend,
        Some(&caller),
        body,
    )
}
