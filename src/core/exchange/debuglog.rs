//! What an exchange did, step by step, with timings: the lines `NODE_DEBUG=civic-sip-native`
//! prints. Recorded only when the caller hands a [`Steps`] collector; without one every
//! [`Observer::record`] is a branch on `None` and formats nothing.
//!
//! Never recorded: a secret, the auth code, a token, the user data, a URL's path or query (a
//! pre-signed payload URL's query is a credential), a proxy. Hosts and ports (`redact::host_of`),
//! statuses, sizes, codes, reasons and timings only.

use std::sync::Mutex;

use tokio::time::Instant;

/// The lines of one exchange, each prefixed with the milliseconds since it started.
#[derive(Debug)]
pub struct Steps {
    started: Instant,
    lines: Mutex<Vec<String>>,
}

impl Default for Steps {
    fn default() -> Self {
        Steps {
            started: Instant::now(),
            lines: Mutex::new(Vec::new()),
        }
    }
}

impl Steps {
    /// The lines recorded so far, taken out.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.lines.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// An observer that records into this collector.
    pub fn observer(&self) -> Observer<'_> {
        Observer(Some(self))
    }
}

/// Where the steps of an exchange go: a [`Steps`] collector, or nowhere.
#[derive(Debug, Clone, Copy)]
pub struct Observer<'a>(Option<&'a Steps>);

impl Observer<'_> {
    /// Records nothing.
    pub const OFF: Observer<'static> = Observer(None);

    /// Records the line `what` makes, with its time; `what` runs only when recording.
    pub fn record(self, what: impl FnOnce() -> String) {
        if let Some(steps) = self.0 {
            let ms = steps.started.elapsed().as_secs_f64() * 1000.0;
            let line = format!("+{ms:.1} ms {}", what());
            steps
                .lines
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(line);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_only_when_given_a_collector() {
        let mut ran = false;
        Observer::OFF.record(|| {
            ran = true;
            String::new()
        });
        assert!(!ran);
        let steps = Steps::default();
        steps.observer().record(|| "one".into());
        steps.observer().record(|| "two".into());
        let lines = steps.take();
        assert_eq!(lines.len(), 2);
        assert!(
            lines[0].starts_with('+') && lines[0].ends_with(" ms one"),
            "{lines:?}"
        );
        assert!(steps.take().is_empty());
    }
}
