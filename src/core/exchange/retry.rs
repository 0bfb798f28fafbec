//! Retries of a request after a transient failure, with exponential backoff and jitter.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use super::debuglog::Observer;
use crate::core::error::{Error, ErrorKind};
use crate::core::http;

/// First retry delay; each further one doubles, up to `MAX_BACKOFF`.
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// Makes a request by `attempt`, again after a transient failure (429, 503, 504, a connection
/// that could not be made) up to `retries` more times, backing off exponentially with jitter or
/// as long as the server's `Retry-After` asks. Gives up at once when the wait would pass
/// `deadline`. A status outside 2xx becomes an `ErrorKind::HttpStatus` here. Each wait, and why,
/// goes to `observer`.
pub(crate) async fn with_retries<F: Future<Output = Result<http::Reply, Error>>>(
    retries: u32,
    deadline: Instant,
    observer: Observer<'_>,
    mut attempt: impl FnMut() -> F,
) -> Result<http::Reply, Error> {
    let mut retried = 0;
    loop {
        let (error, retry_after) = match attempt().await {
            Ok(reply) if (200..300).contains(&reply.status) => return Ok(reply),
            Ok(reply) => (
                Error::new(ErrorKind::HttpStatus {
                    status: reply.status,
                    body: reply.body,
                }),
                reply.retry_after,
            ),
            Err(error) => (error, None),
        };
        if retried >= retries || !error.is_transient() {
            return Err(error);
        }
        // Compared with the time left, so a `Retry-After` of any size just means giving up.
        let wait = retry_after.unwrap_or_else(|| backoff(retried));
        let why = || match error.status_code() {
            Some(status) if retry_after.is_some() => format!("status {status} (its Retry-After)"),
            Some(status) => format!("status {status}"),
            None => format!("{} before sending", error.code()),
        };
        if wait >= deadline.saturating_duration_since(Instant::now()) {
            observer.record(|| {
                format!(
                    "no retry after {}: waiting {} ms would pass the timeout",
                    why(),
                    wait.as_millis()
                )
            });
            return Err(error);
        }
        observer.record(|| format!("retry in {} ms after {}", wait.as_millis(), why()));
        tokio::time::sleep(wait).await;
        retried += 1;
    }
}

/// The wait before retry number `retried + 1`: 200 ms doubling per retry up to 10 s, of which a
/// random half is taken off ("equal jitter") so clients that failed together do not return
/// together.
fn backoff(retried: u32) -> Duration {
    let full = FIRST_BACKOFF
        .saturating_mul(1 << retried.min(16))
        .min(MAX_BACKOFF);
    let mut random = [0u8; 4];
    // Without randomness the wait is simply the longest: still correct, only less spread.
    let fraction = match getrandom::fill(&mut random) {
        Ok(()) => f64::from(u32::from_le_bytes(random)) / f64::from(u32::MAX),
        Err(_) => 1.0,
    };
    full / 2 + (full / 2).mul_f64(fraction)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::error::code;

    #[test]
    fn backoff_doubles_from_200_ms_to_10_s_with_half_of_it_random() {
        for (retried, full_ms) in [
            (0, 200),
            (1, 400),
            (2, 800),
            (5, 6400),
            (6, 10_000),
            (40, 10_000),
        ] {
            for _ in 0..50 {
                let wait = backoff(retried).as_millis() as u64;
                assert!(
                    (full_ms / 2..=full_ms).contains(&wait),
                    "retry {retried}: {wait} ms"
                );
            }
        }
        let spread: std::collections::HashSet<_> = (0..20).map(|_| backoff(3)).collect();
        assert!(spread.len() > 1, "no jitter");
    }

    #[tokio::test]
    async fn each_wait_is_recorded_with_its_length_and_why() {
        let steps = crate::core::exchange::debuglog::Steps::default();
        let mut statuses = vec![200, 503];
        let reply = with_retries(
            1,
            Instant::now() + Duration::from_secs(5),
            steps.observer(),
            || {
                let status = statuses.pop().unwrap_or(500);
                async move {
                    Ok(http::Reply {
                        status,
                        body: String::new(),
                        retry_after: Some(Duration::from_millis(5)),
                    })
                }
            },
        )
        .await
        .expect("the retry succeeds");
        assert_eq!(reply.status, 200);
        let lines = steps.take();
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].ends_with(" ms retry in 5 ms after status 503 (its Retry-After)"),
            "{lines:?}"
        );
    }

    #[tokio::test]
    async fn a_retry_after_beyond_the_clock_gives_up_at_once_instead_of_overflowing() {
        let deadline = Instant::now() + Duration::from_secs(5);
        let started = Instant::now();
        let err = with_retries(3, deadline, Observer::OFF, || async {
            Ok(http::Reply {
                status: 503,
                body: "busy".into(),
                retry_after: Some(Duration::from_secs(u64::MAX)),
            })
        })
        .await
        .expect_err("gives up");
        assert_eq!(err.code(), code::HTTP_STATUS);
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}
