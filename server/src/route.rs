//! Which registered provider and vendor model a request's `model` names: `provider/model` for a
//! registered provider; else a model the model database lists under a registered provider;
//! else, for a call that names none, the tenant's default and then the deployment's. The model
//! database's verdict applies: an inactive model is refused (404) before anything is sent, a
//! deprecated one is served with a warning the door turns into a header.

use concord::{Error, ErrorKind};
use concord_models::{Models, Verdict};
use concord_registry::{Handle, Registry};

/// Where a call goes.
#[derive(Debug, Clone)]
pub struct Route {
    /// The registered provider.
    pub provider: Handle,
    /// Its registered name (the name the model database lists its models under).
    pub name: String,
    /// The vendor's model id.
    pub model: String,
    /// What replaces the model, when it is deprecated: `(why, replaced_by)`.
    pub deprecated: Option<(String, Option<String>)>,
}

/// The output limit of a call that sets none, for a model the database does not size.
pub const DEFAULT_MAX_OUTPUT: u32 = 4096;

impl Route {
    /// The context of a call for `tenant`: the provider's registered context with the
    /// route's model and the tenant. A call that sets no output limit gets the model's
    /// (`max_output` in the model database, else [`DEFAULT_MAX_OUTPUT`]): some vendors require
    /// one (Anthropic), and a budget reserves against it.
    pub fn context(&self, models: &Models, tenant: &str) -> concord::RuntimeContext {
        let mut ctx = self
            .provider
            .context()
            .model(self.model.clone())
            .tenant(tenant.to_owned());
        if ctx.settings.max_output_tokens.is_none() {
            ctx.settings.max_output_tokens = Some(
                models
                    .get(&self.name, &self.model)
                    .and_then(|m| m.max_output)
                    .and_then(|n| u32::try_from(n).ok())
                    .unwrap_or(DEFAULT_MAX_OUTPUT),
            );
        }
        ctx
    }
}

fn not_found(message: String) -> Error {
    Error::new(ErrorKind::NotFound, "concord", message)
}

/// The route of a call naming `requested` (or none) for a tenant whose default is
/// `tenant_default`.
pub fn route(
    registry: &Registry,
    models: &Models,
    requested: Option<&str>,
    tenant_default: Option<&str>,
) -> Result<Route, Error> {
    let named = match requested.filter(|m| !m.is_empty()) {
        Some(m) => m.to_owned(),
        None => tenant_default
            .map(str::to_owned)
            .or_else(|| models.default_for("default"))
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidRequest,
                    "concord",
                    "name a model: this deployment has no default model (concord models default default PROVIDER/MODEL)",
                )
            })?,
    };
    let (name, model) = match named.split_once('/') {
        Some((p, m)) if registry.contains(p) && !m.is_empty() => (p.to_owned(), m.to_owned()),
        _ => {
            // The registered providers (a few), each asked for the id: a lookup per
            // provider, not a scan of every model on every call.
            let listed = registry
                .names()
                .into_iter()
                .find_map(|p| models.get(&p, &named))
                .ok_or_else(|| {
                    not_found(format!(
                        "the model {named:?} does not exist here: name one GET /v1/models lists, or provider/model for a registered provider"
                    ))
                })?;
            (listed.provider.clone(), listed.id.clone())
        }
    };
    let deprecated = match models.verdict(&name, &model, &concord_models::today()) {
        Verdict::Use => None,
        Verdict::Warn(why) => Some((
            why,
            models
                .get(&name, &model)
                .and_then(|m| m.replaced_by.clone()),
        )),
        Verdict::Refuse(why) => return Err(not_found(why)),
    };
    let provider = registry.get(&name).map_err(|e| not_found(e.to_string()))?;
    Ok(Route {
        provider,
        name,
        model,
        deprecated,
    })
}
