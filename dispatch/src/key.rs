//! What a limit or a breaker is kept per: the provider, and optionally the model and tenant of
//! the call.

use concord::RuntimeContext;

/// Which parts of a call make its key. The provider is always part of it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyBy {
    /// One limit per model.
    pub model: bool,
    /// One limit per tenant (the context's `tenant`).
    pub tenant: bool,
}

impl KeyBy {
    /// The model and tenant parts of a call's key: all a layer around one provider keys by.
    pub(crate) fn parts(self, ctx: &RuntimeContext) -> Parts {
        Parts {
            model: self.model.then(|| ctx.model.clone()).flatten(),
            tenant: self.tenant.then(|| ctx.tenant.clone()).flatten(),
        }
    }
}

/// A [`Key`] without its provider. (An empty provider string would do, but comparing it runs
/// `memcmp` on a dangling pointer, which AVX-512 masked loads make slow: +15% per call.)
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Parts {
    pub model: Option<String>,
    pub tenant: Option<String>,
}

/// A call's key under a [`KeyBy`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    /// The provider's name.
    pub provider: String,
    /// The model, when keyed by model.
    pub model: Option<String>,
    /// The tenant, when keyed by tenant.
    pub tenant: Option<String>,
}

impl Key {
    /// The key of a call to `provider` with `ctx`.
    pub fn of(provider: &str, ctx: &RuntimeContext, by: KeyBy) -> Self {
        let Parts { model, tenant } = by.parts(ctx);
        Self {
            provider: provider.to_owned(),
            model,
            tenant,
        }
    }
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.provider)?;
        if let Some(m) = &self.model {
            write!(f, "/{m}")?;
        }
        if let Some(t) = &self.tenant {
            write!(f, "@{t}")?;
        }
        Ok(())
    }
}
