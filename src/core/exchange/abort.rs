//! The caller's way to stop an exchange (a JS `AbortSignal`).

use std::sync::Arc;

use tokio::sync::watch;

/// Once `abort` is called, every exchange given this handle rejects with
/// `ErrorKind::Aborted` and its connections are dropped. Clones share the one state.
#[derive(Debug, Clone)]
pub struct Abort(Arc<watch::Sender<bool>>);

impl Default for Abort {
    fn default() -> Self {
        Abort(Arc::new(watch::channel(false).0))
    }
}

impl Abort {
    pub fn abort(&self) {
        self.0.send_replace(true);
    }

    pub(crate) fn is_aborted(&self) -> bool {
        *self.0.borrow()
    }

    /// Completes once `abort` has been called.
    pub async fn aborted(&self) {
        let mut receiver = self.0.subscribe();
        // The sender lives in `self`, so the wait can only end by an abort.
        if receiver.wait_for(|aborted| *aborted).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_waiter_wakes_when_aborted() {
        let abort = Abort::default();
        assert!(!abort.is_aborted());
        let waiter = {
            let abort = abort.clone();
            tokio::spawn(async move { abort.aborted().await })
        };
        abort.abort();
        assert!(waiter.await.is_ok());
        assert!(abort.is_aborted());
    }
}
