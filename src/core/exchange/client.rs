//! A Civic SIP client and its exchange, end to end: sign, POST, read the reply, fetch the
//! processed payload, verify, decrypt.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

use super::abort::Abort;
use super::civic_ext::{authorization_header, civic_extension, request_body};
use super::config::{Config, Options};
use super::debuglog::Observer;
use super::reply::{self, PendingPayload, ReplyFields, ReplyStatus};
use super::request_token;
use super::response_token::verify_and_decrypt;
use super::retry::with_retries;
use crate::core::error::{Error, ErrorKind, NetworkCause, Rejected};
use crate::core::http;
use crate::core::http::tls::Roots;
use crate::core::redact::{host_of, ShownUrl};

/// The user data of a successful exchange, as JSON texts so the caller parses them once, in its
/// own representation.
#[derive(Clone, PartialEq, Eq)]
pub struct UserData {
    /// The decrypted clear text, checked to be JSON: normally an array of
    /// `{label, value, isValid, isOwner}` records.
    pub data: String,
    /// The reply's `userId` as JSON (normally a string), `None` where the reply had none.
    pub user_id: Option<String>,
}

// By hand: the user's verified data (names, documents, addresses) must not reach a log through
// `{:?}`; its size is what a reader of `Debug` output needs.
impl std::fmt::Debug for UserData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::core::redact::Redacted;
        f.debug_struct("UserData")
            .field("data", &Redacted::Bytes(self.data.len()))
            .field(
                "user_id",
                &self.user_id.as_ref().map(|u| Redacted::Bytes(u.len())),
            )
            .finish()
    }
}

/// What reading a 200 reply gives: the user data, or a processed payload still to fetch.
#[derive(Debug)]
pub enum ReplyOutcome {
    Ready(UserData),
    Processed(PendingPayload),
}

/// An HTTP client and the default roots it was made with (`None`: it does not use them).
type MadeHttp = (Option<Arc<Roots>>, Arc<http::Http>);

/// A Civic SIP client. Cheap to share behind an `Arc`; every exchange reuses its connections.
#[derive(Debug)]
pub struct Client {
    config: Config,
    /// What is trusted without `ca`: Node's default roots, handed in by index.js
    /// ([`Client::use_default_roots`]); none until then.
    default_roots: Mutex<Arc<Roots>>,
    /// The HTTP client, made at the first exchange, and the roots it was made with (`None` for a
    /// client whose `ca` or `rejectUnauthorized: false` leaves them unused). Only a success is
    /// kept: a failure is the next exchange's to try again.
    http: Mutex<Option<MadeHttp>>,
    /// Seconds since the epoch; replaceable so recorded replies can be checked at their time.
    clock: fn() -> i64,
}

fn system_seconds() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl Client {
    /// Fails only as civic-sip-api's `newClient` did (a missing appId, appSecret or prvKey) or
    /// for an invalid timeout; malformed keys are reported by the exchange.
    pub fn new(options: Options) -> Result<Client, Error> {
        Ok(Client {
            config: Config::new(options)?,
            default_roots: Mutex::new(Arc::new(Roots::new(Vec::new()))),
            http: Mutex::new(None),
            clock: system_seconds,
        })
    }

    /// The same client with another clock, for checking recorded replies.
    pub fn with_clock(mut self, clock: fn() -> i64) -> Client {
        self.clock = clock;
        self
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The roots to trust from now on where the client has no `ca`: Node's default ones (see
    /// [`Roots`]). Exchanges already under way keep the ones they started with.
    pub fn use_default_roots(&self, roots: Arc<Roots>) {
        *lock(&self.default_roots) = roots;
    }

    /// Exchanges an auth code for the user data, within the configured timeout, unless `abort`
    /// fires first; each step, with its time, goes to `observer` (see [`crate::core::exchange::debuglog`]).
    pub async fn exchange_code_with_abort(
        &self,
        auth_code: &str,
        abort: &Abort,
        observer: Observer<'_>,
    ) -> Result<UserData, Error> {
        let outcome = if abort.is_aborted() {
            Err(Error::new(ErrorKind::Aborted))
        } else {
            tokio::select! {
                biased;
                () = abort.aborted() => Err(Error::new(ErrorKind::Aborted)),
                outcome = self.within_timeout(|deadline| self.exchange(auth_code, deadline, observer)) => outcome,
            }
        };
        settled(observer, &outcome);
        let words = self.config.words;
        outcome.map_err(|e| e.via_exchange_code().in_words(words))
    }

    /// Fetches, verifies and decrypts a processed payload, within the configured timeout; each
    /// step goes to `observer`.
    pub async fn fetch_payload(
        &self,
        pending: PendingPayload,
        observer: Observer<'_>,
    ) -> Result<UserData, Error> {
        let outcome = self
            .within_timeout(|deadline| self.fetch(pending, deadline, observer))
            .await;
        settled(observer, &outcome);
        let words = self.config.words;
        outcome.map_err(|e| e.in_words(words))
    }

    async fn within_timeout<F: Future<Output = Result<UserData, Error>>>(
        &self,
        work: impl FnOnce(Instant) -> F,
    ) -> Result<UserData, Error> {
        let deadline = Instant::now() + self.config.timeout;
        tokio::time::timeout_at(deadline, work(deadline))
            .await
            .unwrap_or_else(|_| Err(Error::new(ErrorKind::Timeout(self.config.timeout))))
    }

    async fn exchange(
        &self,
        auth_code: &str,
        deadline: Instant,
        observer: Observer<'_>,
    ) -> Result<UserData, Error> {
        let config = &self.config;
        let signing_key = config.signing_key.as_ref().map_err(Clone::clone)?;
        // Checked before the call so a bad secret or key fails fast, not after Civic answered.
        config.aes_key.as_ref().map_err(Clone::clone)?;
        config.civic_keys.as_ref().map_err(Clone::clone)?;
        let http = &*self.http()?;
        let body = request_body(auth_code);
        let extension = civic_extension(&body, &config.app_secret);

        // Each attempt gets a request token of its own (a fresh `jti` and `iat`).
        let mut attempts = 0;
        let reply = with_retries(config.retries, deadline, observer, || {
            attempts += 1;
            let attempt = attempts;
            let request_token = random_jti().and_then(|jti| {
                let now_ms = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as u64);
                request_token::sign_request_token(
                    signing_key,
                    &config.app_id,
                    &config.audience,
                    now_ms,
                    &jti,
                )
                .map_err(|_| random_failed())
            });
            let body = body.clone();
            let extension = &extension;
            async move {
                let authorization = authorization_header(&request_token?, extension);
                observer.record(|| {
                    format!(
                        "exchange: POST to {} (attempt {attempt})",
                        host_of(&config.exchange_url)
                    )
                });
                let post = http.post_auth_code(
                    &config.exchange_url,
                    authorization,
                    body,
                    config.max_response_bytes,
                );
                answered(observer, "exchange", post.await)
            }
        })
        .await?;
        match self.process_payload_observed(reply.status.into(), Some(&reply.body), observer)? {
            ReplyOutcome::Ready(user_data) => Ok(user_data),
            ReplyOutcome::Processed(pending) => self.fetch(pending, deadline, observer).await,
        }
    }

    /// The HTTP client for the roots now in use. Clients without a `proxy` or `ca` option share
    /// one per set of roots, so apps that create a Civic client per sign-in reuse one
    /// connection pool.
    fn http(&self) -> Result<Arc<http::Http>, Error> {
        let config = &self.config;
        let uses_roots = config.ca.is_none()
            && config
                .proxy
                .as_ref()
                .is_none_or(|p| p.reject_unauthorized != Some(false));
        let roots = uses_roots.then(|| Arc::clone(&lock(&self.default_roots)));
        let mut own = lock(&self.http);
        if let Some((made_with, http)) = own.as_ref() {
            let same = match (made_with, &roots) {
                (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                (a, b) => a.is_none() && b.is_none(),
            };
            if same {
                return Ok(Arc::clone(http));
            }
        }
        let max_header_size = config.words.max_header_size();
        let made = match (&config.proxy, &config.ca, &roots) {
            (None, None, Some(roots)) => shared_http(roots, max_header_size)?,
            (proxy, ca, _) => {
                let roots = roots
                    .clone()
                    .unwrap_or_else(|| Arc::new(Roots::new(Vec::new())));
                Arc::new(http::Http::new(
                    proxy.as_ref(),
                    ca.as_deref(),
                    roots,
                    max_header_size,
                )?)
            }
        };
        *own = Some((roots, Arc::clone(&made)));
        Ok(made)
    }

    /// civic-sip-api's `processPayload`: a reply's status (a number, or what a JS caller gave) and
    /// body text (`None` for a missing body) to the user data, or to the payload URL of a
    /// processed reply. A status other than the number 200 is `ErrorKind::UnexpectedStatus`; a
    /// body that is not JSON or has no `data`, `ErrorKind::InvalidResponse`.
    pub fn process_payload(
        &self,
        status: impl Into<ReplyStatus>,
        body: Option<&str>,
    ) -> Result<ReplyOutcome, Error> {
        self.process_payload_observed(status.into(), body, Observer::OFF)
    }

    /// The one path from a reply to its outcome, for the exchange and `processPayload` alike.
    fn process_payload_observed(
        &self,
        status: ReplyStatus,
        body: Option<&str>,
        observer: Observer<'_>,
    ) -> Result<ReplyOutcome, Error> {
        if let ReplyStatus::Other(status) = status {
            return Err(Error::new(ErrorKind::UnexpectedStatus {
                status,
                body: body.unwrap_or("undefined").to_owned(),
            }));
        }
        match reply::read(body)? {
            ReplyFields::Processed(pending) => {
                observer.record(|| {
                    let at = pending.url.as_deref().map_or("no URL".to_owned(), host_of);
                    format!("exchange: the user data waits at a processed payload URL on {at}")
                });
                Ok(ReplyOutcome::Processed(pending))
            }
            ReplyFields::Token {
                token,
                encrypted,
                user_id,
            } => {
                // `data` truthy but not a string: no token at all.
                let token = token.ok_or_else(|| {
                    observer.record(|| {
                        "response token refused (malformed): data is not a string".into()
                    });
                    Error::new(ErrorKind::Verification(Rejected::Malformed))
                })?;
                self.user_data(&token, encrypted, user_id, observer)
                    .map(ReplyOutcome::Ready)
            }
        }
    }

    async fn fetch(
        &self,
        pending: PendingPayload,
        deadline: Instant,
        observer: Observer<'_>,
    ) -> Result<UserData, Error> {
        let in_payload = Error::in_payload;
        let http = &*self.http()?;
        let url = pending
            .url
            .as_deref()
            .filter(|u| url::Url::parse(u).is_ok())
            .ok_or_else(|| {
                let shown = ShownUrl::of(pending.url.as_deref().unwrap_or(""));
                in_payload(Error::network(NetworkCause::InvalidUri(shown), false))
            })?;
        let max_bytes = self.config.max_response_bytes;
        let mut attempts = 0;
        let reply = with_retries(self.config.retries, deadline, observer, || {
            attempts += 1;
            let attempt = attempts;
            // The host only: a pre-signed URL's query is a credential.
            observer.record(|| format!("payload: GET from {} (attempt {attempt})", host_of(url)));
            async move {
                let reply = http.get_payload(url, max_bytes).await;
                answered(observer, "payload", reply)
            }
        })
        .await
        .map_err(in_payload)?;
        self.user_data(&reply.body, pending.encrypted, pending.user_id, observer)
            .map_err(in_payload)
    }

    /// The user data of a response token, verified at the client's clock.
    fn user_data(
        &self,
        token: &str,
        encrypted: bool,
        user_id: Option<String>,
        observer: Observer<'_>,
    ) -> Result<UserData, Error> {
        let now = (self.clock)();
        let data = verify_and_decrypt(&self.config, token, encrypted, now, observer)?;
        Ok(UserData { data, user_id })
    }
}

/// Records what a request got: a status and its size, or the code it failed with.
fn answered(
    observer: Observer<'_>,
    step: &str,
    reply: Result<http::Reply, Error>,
) -> Result<http::Reply, Error> {
    observer.record(|| match &reply {
        Ok(reply) => format!(
            "{step}: status {}, {} bytes",
            reply.status,
            reply.body.len()
        ),
        Err(e) => format!("{step}: failed, {}", e.code()),
    });
    reply
}

/// Records how the exchange ended.
fn settled(observer: Observer<'_>, outcome: &Result<UserData, Error>) {
    observer.record(|| match outcome {
        Ok(_) => "settled: resolved".to_owned(),
        Err(e) => match e.rejected() {
            Some(why) => format!("settled: rejected, {} ({})", e.code(), why.as_str()),
            None => format!("settled: rejected, {}", e.code()),
        },
    });
}

/// The request token's `jti`: 16 random bytes.
fn random_jti() -> Result<[u8; 16], Error> {
    let mut jti = [0u8; 16];
    getrandom::fill(&mut jti).map_err(|_| random_failed())?;
    Ok(jti)
}

fn random_failed() -> Error {
    Error::new(ErrorKind::RandomSource)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The HTTP client shared by the clients without `proxy` or `ca` that trust `roots`: the last
/// set asked for (setting one up and its pool is the cost saved; roots change rarely, by
/// `tls.setDefaultCACertificates()`). Made again when asked for another set; never holds a
/// failure.
fn shared_http(roots: &Arc<Roots>, max_header_size: usize) -> Result<Arc<http::Http>, Error> {
    type Shared = Option<(Arc<Roots>, usize, Arc<http::Http>)>;
    static SHARED: Mutex<Shared> = Mutex::new(None);
    let mut shared = lock(&SHARED);
    if let Some((made_with, size, http)) = shared.as_ref() {
        if Arc::ptr_eq(made_with, roots) && *size == max_header_size {
            return Ok(Arc::clone(http));
        }
    }
    let http = Arc::new(http::Http::new(
        None,
        None,
        Arc::clone(roots),
        max_header_size,
    )?);
    *shared = Some((Arc::clone(roots), max_header_size, Arc::clone(&http)));
    Ok(http)
}

#[cfg(test)]
mod tests;
