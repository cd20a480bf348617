//! `/admin/api/...`: the admin API. Every endpoint takes JSON (a script) or a form (the admin
//! pages) and answers in kind: JSON, or the page that shows the result. Errors in JSON are
//! `{"error": {"type", "message", "field"?}}` with 400 (malformed), 401, 404, 409, 422 (a value
//! that cannot be used, its field named) or 503 (the database).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form, Json};
use concord_models::edit::{self, EditError, KnownProviders, ModelEdit};
use concord_models::{Money, ProviderLimits, Status};
use http::{header, StatusCode};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{pages, spend, Caller};
use crate::tenants::{Budget, Period};
use crate::Server;

/// Whether a request came as JSON or as a form, and so how to answer it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Via {
    Json,
    Form,
}

/// A body read from JSON or a form.
pub(super) struct Input<T>(pub T, pub Via);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Input<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        let form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if form {
            Form::<T>::from_request(req, state)
                .await
                .map(|Form(t)| Input(t, Via::Form))
                .map_err(|e| {
                    pages::message_page(
                        StatusCode::BAD_REQUEST,
                        "That form was not understood",
                        &e.body_text(),
                    )
                })
        } else {
            Json::<T>::from_request(req, state)
                .await
                .map(|Json(t)| Input(t, Via::Json))
                .map_err(|e| error(e.status(), "invalid_request", &e.body_text()))
        }
    }
}

/// A JSON error answer.
pub(super) fn error(status: StatusCode, kind: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {"type": kind, "message": message}})),
    )
        .into_response()
}

fn field_error(f: &edit::FieldError) -> Response {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(json!({"error": {"type": "invalid_request", "field": f.field, "message": f.message}})),
    )
        .into_response()
}

fn server_error(e: &crate::Error) -> Response {
    match e {
        crate::Error::Invalid(m) => error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", m),
        crate::Error::NotFound(m) => error(StatusCode::NOT_FOUND, "not_found", m),
        crate::Error::Exists(m) => error(StatusCode::CONFLICT, "conflict", m),
        crate::Error::Database(_) | crate::Error::Startup(_) => {
            error(StatusCode::SERVICE_UNAVAILABLE, "database", &e.to_string())
        }
    }
}

fn models_error(e: &concord_models::Error) -> Response {
    match e {
        concord_models::Error::NotFound(m) => error(StatusCode::NOT_FOUND, "not_found", m),
        concord_models::Error::Invalid(m) => {
            error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", m)
        }
        concord_models::Error::Database(_) => {
            error(StatusCode::SERVICE_UNAVAILABLE, "database", &e.to_string())
        }
    }
}

/// After a form that changed something: back to `page`, saying `done` (never a secret: a URL
/// is logged by proxies).
fn back(page: &str, done: &str) -> Response {
    let q = serde_urlencoded::to_string([("done", done)]).unwrap_or_default();
    Redirect::to(&format!("{page}?{q}")).into_response()
}

/// The providers a model may be added to here: registered, or shipped with concord.
pub(super) fn known(server: &Server) -> KnownProviders<'_> {
    KnownProviders {
        names: Box::new(|p: &str| {
            server.registry.contains(p) || concord::descriptor::get(p).is_some()
        }),
        listed: format!(
            "a registered provider ({}) or a shipped one",
            server.registry.names().join(", ")
        ),
    }
}

/// `GET /admin/api/models`.
pub(super) async fn models(State(server): State<Arc<Server>>) -> Response {
    let list: Vec<Value> = server
        .models
        .all()
        .iter()
        .map(|m| edit::describe(m, &server.models, server.registry.contains(&m.provider)))
        .collect();
    Json(Value::Array(list)).into_response()
}

/// `POST /admin/api/models`: add a model or change one (201 when added).
pub(super) async fn save_model(
    State(server): State<Arc<Server>>,
    caller: Extension<Caller>,
    Input(e, via): Input<ModelEdit>,
) -> Response {
    match e.save(&server.models, &known(&server)).await {
        Ok((model, added)) => match via {
            Via::Json => (
                if added {
                    StatusCode::CREATED
                } else {
                    StatusCode::OK
                },
                Json(edit::describe(
                    &model,
                    &server.models,
                    server.registry.contains(&model.provider),
                )),
            )
                .into_response(),
            Via::Form => back(
                "/admin/models",
                &format!("{} {}", if added { "Added" } else { "Saved" }, model.key()),
            ),
        },
        Err(EditError::Field(f)) => match via {
            Via::Json => field_error(&f),
            Via::Form => pages::model_form_page(
                &server,
                &caller,
                &e,
                Some(&f),
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
        },
        Err(EditError::Store(s)) => models_error(&s),
    }
}

#[derive(Deserialize)]
pub(super) struct Lifecycle {
    id: String,
    #[serde(default, deserialize_with = "edit::lenient_text")]
    replaced_by: Option<String>,
}

/// `POST /admin/api/models/deprecate`.
pub(super) async fn deprecate(
    server: State<Arc<Server>>,
    caller: Extension<Caller>,
    input: Input<Lifecycle>,
) -> Response {
    lifecycle(server, caller, input, Status::Deprecated).await
}

/// `POST /admin/api/models/remove`: inactive, refused before anything is sent.
pub(super) async fn remove(
    server: State<Arc<Server>>,
    caller: Extension<Caller>,
    input: Input<Lifecycle>,
) -> Response {
    lifecycle(server, caller, input, Status::Inactive).await
}

async fn lifecycle(
    State(server): State<Arc<Server>>,
    Extension(caller): Extension<Caller>,
    Input(l, via): Input<Lifecycle>,
    status: Status,
) -> Response {
    match edit::lifecycle(&server.models, &l.id, status, l.replaced_by.as_deref()).await {
        Ok(model) => match via {
            Via::Json => Json(edit::describe(
                &model,
                &server.models,
                server.registry.contains(&model.provider),
            ))
            .into_response(),
            Via::Form => back(
                "/admin/models",
                &format!("{} is now {}", model.key(), status.name()),
            ),
        },
        Err(EditError::Field(f)) => match via {
            Via::Json => field_error(&f),
            Via::Form => pages::deprecate_page(
                &server,
                &caller,
                &l.id,
                l.replaced_by.as_deref(),
                Some(&f),
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
        },
        Err(EditError::Store(s)) => models_error(&s),
    }
}

/// `GET /admin/api/defaults`: `{purpose: "provider/model"}`.
pub(super) async fn defaults(State(server): State<Arc<Server>>) -> Response {
    Json(server.models.defaults()).into_response()
}

#[derive(Deserialize)]
pub(super) struct SetDefault {
    purpose: String,
    model: String,
    /// The page to go back to (a form's).
    #[serde(default)]
    back: Option<String>,
}

/// `POST /admin/api/defaults`.
pub(super) async fn set_default(
    State(server): State<Arc<Server>>,
    Input(d, via): Input<SetDefault>,
) -> Response {
    let purpose = d.purpose.trim();
    if purpose.is_empty() {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            "purpose: give a purpose, like default",
        );
    }
    let (p, m) = match edit::split(d.model.trim()) {
        Ok(pm) => pm,
        Err(f) => {
            return match via {
                Via::Json => field_error(&edit::FieldError {
                    field: "model",
                    ..f
                }),
                Via::Form => pages::message_page(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Default not set",
                    &f.message,
                ),
            }
        }
    };
    match server.models.set_default(purpose, p, m).await {
        Ok(()) => match via {
            Via::Json => Json(server.models.defaults()).into_response(),
            Via::Form => {
                let page = match d.back.as_deref() {
                    Some("infra") => "/admin/infra",
                    _ => "/admin/models",
                };
                back(page, &format!("The default model of {purpose} is {p}/{m}"))
            }
        },
        Err(e) => match via {
            Via::Json => models_error(&e),
            Via::Form => pages::message_page(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Default not set",
                &e.to_string(),
            ),
        },
    }
}

/// A provider as the admin API shows it.
pub(super) fn provider_json(i: &concord_registry::Info, listed: Option<&ProviderLimits>) -> Value {
    let limits = i.limits.as_ref();
    json!({
        "name": i.name,
        "source": format!("{:?}", i.source).to_lowercase(),
        "origin": i.origin,
        "status": i.status.name(),
        "breaker": i.breaker.map(|b| format!("{b:?}").to_lowercase()),
        "model": i.model,
        "admission": i.admission.map(|a| json!({
            "queued": a.queued, "in_flight": a.in_flight,
            "refused_full": a.refused_full, "refused_timeout": a.refused_timeout,
        })),
        "limits": limits.map(|l| json!({
            "rate": l.rate.map(|r| r.to_string()),
            "tokens_per_minute": l.tokens_per_minute,
            "max_parallel": l.max_concurrent,
        })),
        "limits_from_model_database": listed,
    })
}

/// `GET /admin/api/providers`.
pub(super) async fn providers(State(server): State<Arc<Server>>) -> Response {
    let list: Vec<Value> = server
        .registry
        .snapshot()
        .iter()
        .map(|i| provider_json(i, server.models.limits(&i.name).as_ref()))
        .collect();
    Json(Value::Array(list)).into_response()
}

#[derive(Deserialize)]
pub(super) struct LimitsInput {
    provider: String,
    #[serde(default, deserialize_with = "edit::lenient_text")]
    rpm: Option<String>,
    #[serde(default, deserialize_with = "edit::lenient_text")]
    tpm: Option<String>,
    #[serde(default, deserialize_with = "edit::lenient_text")]
    parallel: Option<String>,
}

/// A limit's new value: left out keeps `old`; empty or 0 removes it; else a whole number.
fn limit(
    field: &'static str,
    given: &Option<String>,
    old: Option<u32>,
) -> Result<Option<u32>, edit::FieldError> {
    match given.as_deref().map(str::trim) {
        None => Ok(old),
        Some("") | Some("0") => Ok(None),
        Some(t) => t.parse::<u32>().map(Some).map_err(|_| edit::FieldError {
            field,
            message: format!("{t:?}: a whole number (0 or empty for no limit)"),
        }),
    }
}

/// `POST /admin/api/providers/limits`: requests and tokens per minute and calls in flight of a
/// registered provider, applied to its dispatcher at once.
pub(super) async fn provider_limits(
    State(server): State<Arc<Server>>,
    Input(l, via): Input<LimitsInput>,
) -> Response {
    if !server.registry.contains(&l.provider) {
        let m = format!(
            "no provider {:?} is registered (registered: {})",
            l.provider,
            server.registry.names().join(", ")
        );
        return match via {
            Via::Json => error(StatusCode::NOT_FOUND, "not_found", &m),
            Via::Form => pages::message_page(StatusCode::NOT_FOUND, "No such provider", &m),
        };
    }
    let old = server.models.limits(&l.provider).unwrap_or_default();
    let parsed = (|| {
        Ok::<_, edit::FieldError>(ProviderLimits {
            provider: l.provider.clone(),
            requests_per_minute: limit("rpm", &l.rpm, old.requests_per_minute)?,
            tokens_per_minute: limit("tpm", &l.tpm, old.tokens_per_minute)?,
            max_parallel: limit("parallel", &l.parallel, old.max_parallel)?,
        })
    })();
    let limits = match parsed {
        Ok(x) => x,
        Err(f) => {
            return match via {
                Via::Json => field_error(&f),
                Via::Form => pages::message_page(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Limits not saved",
                    &f.to_string(),
                ),
            }
        }
    };
    if let Err(e) = server.models.set_limits(&limits).await {
        return models_error(&e);
    }
    // Applied now, not at the next tick: the page shows what is enforced.
    server.registry.apply_limits_from(&server.models);
    match via {
        Via::Json => Json(json!(limits)).into_response(),
        Via::Form => back(
            "/admin/infra",
            &format!("Limits of {} saved and applied", l.provider),
        ),
    }
}

/// What a tenant has spent in its budget's period so far (the whole month for one without a
/// budget), from the call records.
pub(super) async fn spent(
    server: &Server,
    t: &crate::Tenant,
) -> Result<Money, concord_models::Error> {
    let period = t.budget.map_or(Period::Month, |b| b.period);
    let (from, _) = crate::budget::period_bounds(period, concord_models::date::now_ms());
    server.models.store().spent(&t.name, from).await
}

/// A tenant as the admin API shows it (never a key: only their last characters).
pub(super) fn tenant_json(t: &crate::Tenant, spent: Option<Money>) -> Value {
    json!({
        "name": t.name,
        "disabled": t.disabled,
        "default_model": t.default_model,
        "created_ms": t.created_at_ms,
        "keys": t.key_hints.iter().map(|h| format!("…{h}")).collect::<Vec<_>>(),
        "budget": t.budget.map(|b| json!({"usd": b.limit.dollars(), "period": b.period.name()})),
        "spent_usd": spent.map(Money::dollars),
        "spent_period": t.budget.map_or("month", |b| b.period.name()),
        "rpm": t.rpm,
        "tpm": t.tpm,
    })
}

/// `GET /admin/api/tenants`.
pub(super) async fn tenants(State(server): State<Arc<Server>>) -> Response {
    let mut list = Vec::new();
    for t in server.tenants.list() {
        let s = spent(&server, &t).await.ok();
        list.push(tenant_json(&t, s));
    }
    Json(Value::Array(list)).into_response()
}

#[derive(Deserialize, Default, Clone)]
pub(super) struct NewTenant {
    pub name: String,
    #[serde(default, deserialize_with = "edit::lenient_text")]
    pub default_model: Option<String>,
    #[serde(default, deserialize_with = "edit::lenient_text")]
    pub budget_usd: Option<String>,
    #[serde(default, deserialize_with = "edit::lenient_text")]
    pub period: Option<String>,
    #[serde(default, deserialize_with = "edit::lenient_text")]
    pub rpm: Option<String>,
    #[serde(default, deserialize_with = "edit::lenient_text")]
    pub tpm: Option<String>,
}

fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

fn budget_of(usd: &Option<String>, period: &Option<String>) -> Result<Option<Budget>, String> {
    let Some(usd) = given(usd) else {
        return Ok(None);
    };
    let limit = Money::from_dollars(usd).map_err(|e| format!("budget_usd: {e}"))?;
    let period = given(period).unwrap_or("month");
    let period = Period::from_name(period)
        .ok_or_else(|| format!("period {period:?}: day, month or total"))?;
    Ok(Some(Budget { limit, period }))
}

fn per_minute(field: &str, v: &Option<String>) -> Result<Option<u64>, String> {
    given(v)
        .map(|t| {
            t.parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                format!("{field} {t:?}: a whole number, at least 1 (empty for no limit)")
            })
        })
        .transpose()
}

/// `POST /admin/api/tenants`: makes a tenant; its key is in the answer, the only time it is
/// shown (201).
pub(super) async fn create_tenant(
    State(server): State<Arc<Server>>,
    Extension(caller): Extension<Caller>,
    Input(n, via): Input<NewTenant>,
) -> Response {
    let refuse = |status: StatusCode, m: String, n: &NewTenant| {
        let server = server.clone();
        let caller = caller.clone();
        let n = n.clone();
        async move {
            match via {
                Via::Json => error(status, "invalid_request", &m),
                Via::Form => {
                    pages::tenants_page(&server, &caller, None, Some(&m), Some(&n), status).await
                }
            }
        }
    };
    let checked = (|| {
        let budget = budget_of(&n.budget_usd, &n.period)?;
        let rpm = per_minute("rpm", &n.rpm)?;
        let tpm = per_minute("tpm", &n.tpm)?;
        if let Some(d) = given(&n.default_model) {
            edit::split(d).map_err(|f| format!("default_model: {}", f.message))?;
        }
        Ok::<_, String>((budget, rpm, tpm))
    })();
    let (budget, rpm, tpm) = match checked {
        Ok(c) => c,
        Err(m) => return refuse(StatusCode::UNPROCESSABLE_ENTITY, m, &n).await,
    };
    let name = n.name.trim();
    let key = match server
        .tenants
        .create(name, given(&n.default_model), budget)
        .await
    {
        Ok(k) => k,
        Err(e) => {
            let status = match e {
                crate::Error::Exists(_) => StatusCode::CONFLICT,
                crate::Error::Database(_) => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            };
            return refuse(status, e.to_string(), &n).await;
        }
    };
    let limits = if rpm.or(tpm).is_some() {
        server.tenants.set_rate_limits(name, rpm, tpm).await.err()
    } else {
        None
    };
    let note = limits.map(|e| format!("its rate limits were not set ({e}); set them below"));
    match via {
        Via::Json => (
            StatusCode::CREATED,
            Json(json!({"name": name, "key": key, "warning": note})),
        )
            .into_response(),
        Via::Form => {
            pages::tenants_page(
                &server,
                &caller,
                Some((name, &key)),
                note.as_deref(),
                None,
                StatusCode::CREATED,
            )
            .await
        }
    }
}

async fn tenant_done(
    server: &Server,
    via: Via,
    caller: &Caller,
    name: &str,
    done: Result<String, crate::Error>,
) -> Response {
    match (done, via) {
        (Ok(m), Via::Json) => {
            let t = server.tenants.get(name);
            Json(json!({"done": m, "tenant": t.map(|t| tenant_json(&t, None))})).into_response()
        }
        (Ok(m), Via::Form) => back("/admin/tenants", &m),
        (Err(e), Via::Json) => server_error(&e),
        (Err(e), Via::Form) => {
            pages::tenants_page(
                server,
                caller,
                None,
                Some(&e.to_string()),
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

#[derive(Deserialize, Default)]
pub(super) struct Nothing {}

/// `POST /admin/api/tenants/{name}/disable`.
pub(super) async fn disable_tenant(
    State(server): State<Arc<Server>>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    Input(_, via): Input<Nothing>,
) -> Response {
    let done = server
        .tenants
        .set_disabled(&name, true)
        .await
        .map(|()| format!("{name} is disabled: its keys are refused"));
    tenant_done(&server, via, &caller, &name, done).await
}

/// `POST /admin/api/tenants/{name}/enable`.
pub(super) async fn enable_tenant(
    State(server): State<Arc<Server>>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    Input(_, via): Input<Nothing>,
) -> Response {
    let done = server
        .tenants
        .set_disabled(&name, false)
        .await
        .map(|()| format!("{name} is enabled"));
    tenant_done(&server, via, &caller, &name, done).await
}

/// `POST /admin/api/tenants/{name}/rotate`: a new key, shown once; the old ones stop working.
pub(super) async fn rotate_tenant(
    State(server): State<Arc<Server>>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    Input(_, via): Input<Nothing>,
) -> Response {
    match (server.tenants.rotate_key(&name).await, via) {
        (Ok(key), Via::Json) => Json(json!({"name": name, "key": key})).into_response(),
        (Ok(key), Via::Form) => {
            pages::tenants_page(
                &server,
                &caller,
                Some((&name, &key)),
                None,
                None,
                StatusCode::OK,
            )
            .await
        }
        (Err(e), via) => tenant_done(&server, via, &caller, &name, Err(e)).await,
    }
}

#[derive(Deserialize)]
pub(super) struct TenantLimits {
    #[serde(default, deserialize_with = "edit::lenient_text")]
    rpm: Option<String>,
    #[serde(default, deserialize_with = "edit::lenient_text")]
    tpm: Option<String>,
}

/// `POST /admin/api/tenants/{name}/limits`: empty or left out is unlimited.
pub(super) async fn tenant_limits(
    State(server): State<Arc<Server>>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    Input(l, via): Input<TenantLimits>,
) -> Response {
    let done = match (per_minute("rpm", &l.rpm), per_minute("tpm", &l.tpm)) {
        (Ok(rpm), Ok(tpm)) => server
            .tenants
            .set_rate_limits(&name, rpm, tpm)
            .await
            .map(|()| {
                let show = |n: Option<u64>| n.map_or("unlimited".to_owned(), |n| n.to_string());
                format!(
                    "{name}: {} requests and {} tokens a minute",
                    show(rpm),
                    show(tpm)
                )
            }),
        (Err(m), _) | (_, Err(m)) => Err(crate::Error::Invalid(m)),
    };
    tenant_done(&server, via, &caller, &name, done).await
}

#[derive(Deserialize)]
pub(super) struct TenantBudget {
    #[serde(default, deserialize_with = "edit::lenient_text")]
    budget_usd: Option<String>,
    #[serde(default, deserialize_with = "edit::lenient_text")]
    period: Option<String>,
}

/// `POST /admin/api/tenants/{name}/budget`: empty `budget_usd` removes the budget.
pub(super) async fn tenant_budget(
    State(server): State<Arc<Server>>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    Input(b, via): Input<TenantBudget>,
) -> Response {
    let done = match budget_of(&b.budget_usd, &b.period) {
        Ok(budget) => server
            .tenants
            .set_budget(&name, budget)
            .await
            .map(|()| match budget {
                Some(b) => format!(
                    "{name} may spend {} per {}",
                    spend::usd(b.limit),
                    b.period.name()
                ),
                None => format!("{name} has no budget"),
            }),
        Err(m) => Err(crate::Error::Invalid(m)),
    };
    tenant_done(&server, via, &caller, &name, done).await
}

#[derive(Deserialize)]
pub(super) struct Days {
    #[serde(default)]
    pub days: Option<u32>,
}

/// The days a spend view covers: 7 by default, at most 90.
pub(super) fn days(d: Option<u32>) -> u32 {
    d.unwrap_or(7).clamp(1, 90)
}

/// `GET /admin/api/spend?days=7`: calls, tokens and cost per UTC day, tenant, model, provider.
pub(super) async fn spend(State(server): State<Arc<Server>>, Query(d): Query<Days>) -> Response {
    let now = concord_models::date::now_ms();
    let since = spend::since(days(d.days), now);
    match server.models.store().calls(since).await {
        Ok(records) => Json(spend::sum(&records, since, now)).into_response(),
        Err(e) => models_error(&e),
    }
}

#[derive(Deserialize)]
pub(super) struct Recent {
    #[serde(default)]
    limit: Option<usize>,
    #[serde(default)]
    days: Option<u32>,
}

/// `GET /admin/api/calls?limit=50&days=7`: the latest calls first, with their cost snapshot.
pub(super) async fn calls(State(server): State<Arc<Server>>, Query(r): Query<Recent>) -> Response {
    let since = spend::since(days(r.days), concord_models::date::now_ms());
    match server.models.store().calls(since).await {
        Ok(records) => {
            let list: Vec<_> = records
                .into_iter()
                .rev()
                .take(r.limit.unwrap_or(50).min(1000))
                .collect();
            Json(list).into_response()
        }
        Err(e) => models_error(&e),
    }
}

#[derive(Deserialize)]
pub(super) struct Period2 {
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
}

fn day_start(date: &str) -> Option<i64> {
    let mut it = date.trim().splitn(3, '-');
    let (y, m, d) = (
        it.next()?.parse().ok()?,
        it.next()?.parse().ok()?,
        it.next()?.parse().ok()?,
    );
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    Some(concord_models::date::days(y, m, d) * 86_400_000)
}

/// `GET /admin/api/calls.csv?from=YYYY-MM-DD&to=YYYY-MM-DD`: every call of those UTC days
/// (both included; the last 30 days by default), as a CSV download.
pub(super) async fn calls_csv(
    State(server): State<Arc<Server>>,
    Query(p): Query<Period2>,
) -> Response {
    let now = concord_models::date::now_ms();
    let from = match p.from.as_deref().filter(|s| !s.is_empty()) {
        None => spend::since(30, now),
        Some(f) => match day_start(f) {
            Some(ms) => ms,
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "from: a date as YYYY-MM-DD",
                )
            }
        },
    };
    let to = match p.to.as_deref().filter(|s| !s.is_empty()) {
        None => i64::MAX,
        Some(t) => match day_start(t) {
            Some(ms) => ms + 86_400_000,
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "to: a date as YYYY-MM-DD",
                )
            }
        },
    };
    match server.models.store().calls(from).await {
        Ok(records) => {
            let records: Vec<_> = records.into_iter().filter(|r| r.at_ms < to).collect();
            let name = format!(
                "concord-calls-{}.csv",
                concord_models::date((from / 1000) as u64)
            );
            (
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"{name}\""),
                    ),
                ],
                spend::csv(&records),
            )
                .into_response()
        }
        Err(e) => models_error(&e),
    }
}

/// Everything the tenants page needs per tenant: spend this period, keyed by name.
pub(super) async fn spent_all(server: &Server) -> BTreeMap<String, Money> {
    let mut out = BTreeMap::new();
    for t in server.tenants.list() {
        if let Ok(m) = spent(server, &t).await {
            out.insert(t.name.clone(), m);
        }
    }
    out
}
