//! The store shared by a daemon's async tasks: one connection behind a mutex, used from tokio's
//! blocking pool so that SQLite's fsyncs never stall the async workers.

use std::sync::{Arc, Mutex, PoisonError};

use super::{Store, StoreError};

/// A cloneable handle on one [`Store`].
#[derive(Clone)]
pub struct SharedStore {
    inner: Arc<Mutex<Store>>,
    /// Counts calls that failed (`keeper_database_errors_total`), if set.
    errors: Option<prometheus::IntCounter>,
}

impl std::fmt::Debug for SharedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedStore").finish_non_exhaustive()
    }
}

impl SharedStore {
    pub fn new(store: Store) -> Self {
        Self { inner: Arc::new(Mutex::new(store)), errors: None }
    }

    /// The same store, counting every failed [`SharedStore::with`] on `errors`.
    pub fn counting_errors(self, errors: prometheus::IntCounter) -> Self {
        Self { errors: Some(errors), ..self }
    }

    /// Runs `f` with the store on the blocking pool. A panic in an earlier user of the store does
    /// not make it unusable: every write is a transaction, so a panic mid-way left nothing half-done.
    pub async fn with<T, E>(&self, f: impl FnOnce(&mut Store) -> Result<T, E> + Send + 'static) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        let result = tokio::task::spawn_blocking(move || {
            let mut store = inner.lock().unwrap_or_else(PoisonError::into_inner);
            f(&mut store)
        })
        .await
        .map_err(|join| E::from(StoreError::Task(join.to_string())))
        .and_then(|result| result);
        if let (Err(_), Some(errors)) = (&result, &self.errors) {
            errors.inc();
        }
        result
    }

    /// The same, blocking the calling thread (for code that is not async).
    pub fn with_blocking<T>(&self, f: impl FnOnce(&mut Store) -> T) -> T {
        let mut store = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut store)
    }
}
