//! A callback a snapshot of the database calls after each write of its own: how an instance of
//! the server tells the others that the models or the tenants changed (docs/scale-out.md).

use std::sync::OnceLock;

/// Set once, called after every write.
#[derive(Default)]
pub struct Notify(OnceLock<Box<dyn Fn() + Send + Sync>>);

impl Notify {
    /// Calls `f` after every write from now on; a second `f` is ignored (one listener: the
    /// instance's link to the others).
    pub fn set(&self, f: impl Fn() + Send + Sync + 'static) {
        let _ = self.0.set(Box::new(f));
    }

    /// A write happened.
    pub fn wrote(&self) {
        if let Some(f) = self.0.get() {
            f();
        }
    }
}
