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
        let made = match (&config.proxy, &config.ca, &roots) {
            (None, None, Some(roots)) => shared_http(roots)?,
            (proxy, ca, _) => {
                let roots = roots
                    .clone()
                    .unwrap_or_else(|| Arc::new(Roots::new(Vec::new())));
                Arc::new(http::Http::new(proxy.as_ref(), ca.as_deref(), roots)?)
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
fn shared_http(roots: &Arc<Roots>) -> Result<Arc<http::Http>, Error> {
    static SHARED: Mutex<Option<(Arc<Roots>, Arc<http::Http>)>> = Mutex::new(None);
    let mut shared = lock(&SHARED);
    if let Some((made_with, http)) = shared.as_ref() {
        if Arc::ptr_eq(made_with, roots) {
            return Ok(Arc::clone(http));
        }
    }
    let http = Arc::new(http::Http::new(None, None, Arc::clone(roots))?);
    *shared = Some((Arc::clone(roots), Arc::clone(&http)));
    Ok(http)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::error::code;
    use crate::core::exchange::config::CIVIC_PUBLIC_KEY;
    use serde_json::Value;

    /// Civic's recorded 2018 reply (__test__/fixtures/civic-recorded-2018.json, from shared/vectors), at its own time.
    fn vector() -> Value {
        let text = include_str!("../../../__test__/fixtures/civic-recorded-2018.json");
        serde_json::from_str(text).expect("vector JSON")
    }

    fn recorded_client(v: &Value) -> Client {
        let app = &v["app"];
        let s = |k: &str| app[k].as_str().map(str::to_owned);
        Client::new(Options {
            app_id: s("appId"),
            app_secret: s("appSecret"),
            prv_key: s("prvKey"),
            ..Options::default()
        })
        .expect("client")
        // 2018-03-01T19:35:00Z, inside the token's validity.
        .with_clock(|| 1_519_932_900)
    }

    #[test]
    fn a_response_token_verifies_under_any_of_the_configured_civic_keys() {
        let v = vector();
        let app = &v["app"];
        let s = |k: &str| app[k].as_str().map(str::to_owned);
        // Two well-formed P-256 points that are not Civic's: the generator G and 2G.
        let g = "046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c2964fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5";
        let g2 = "047cf27b188d034f7e8a52380304b51ac3c08969e277f21b35a60b48fc4766997807775510db8ed040293d9ac69f7430dbba7dade63ce982299e04b79d227873d1";
        let with_keys = |keys: &[&str]| {
            Client::new(Options {
                app_id: s("appId"),
                app_secret: s("appSecret"),
                prv_key: s("prvKey"),
                civic_public_keys: Some(keys.iter().map(|k| (*k).to_owned()).collect()),
                ..Options::default()
            })
            .expect("client")
            .with_clock(|| 1_519_932_900)
        };
        let reply = v["reply"].to_string();
        let outcome = |keys: &[&str]| with_keys(keys).process_payload(200, Some(&reply));
        for keys in [
            &[g, CIVIC_PUBLIC_KEY][..],
            &[CIVIC_PUBLIC_KEY, g2],
            &[g, g2, CIVIC_PUBLIC_KEY],
        ] {
            assert!(
                matches!(outcome(keys), Ok(ReplyOutcome::Ready(_))),
                "{keys:?}"
            );
        }
        for keys in [&[g][..], &[g, g2]] {
            let err = outcome(keys).expect_err("a key that did not sign it");
            assert_eq!(err.code(), code::VERIFICATION, "{keys:?}");
            assert_eq!(err.rejected(), Some(&Rejected::Signature), "{keys:?}");
        }
        let empty = with_keys(&[]).process_payload(200, Some(&reply));
        assert_eq!(
            empty.expect_err("no key").to_string(),
            "civicPublicKey must name at least one P-256 public key (an empty list names none)"
        );
        let bad = with_keys(&[g, "04zz"]).process_payload(200, Some(&reply));
        assert_eq!(
            bad.expect_err("a bad key").to_string(),
            "civicPublicKey[1] must be a P-256 public key in hex (SEC1, compressed or uncompressed)"
        );
    }

    #[test]
    fn civics_recorded_reply_verifies_with_the_built_in_key_and_decrypts() {
        let v = vector();
        let client = recorded_client(&v);
        let body = v["reply"].to_string();
        let Ok(ReplyOutcome::Ready(user)) = client.process_payload(200, Some(&body)) else {
            panic!("the recorded reply must open");
        };
        let data: Value = serde_json::from_str(&user.data).expect("JSON");
        assert_eq!(data, v["expected"]["data"]);
        assert_eq!(
            user.user_id.as_deref(),
            Some(v["expected"]["userId"].to_string().as_str())
        );
    }

    #[test]
    fn whitespace_around_the_response_token_is_ignored_inside_it_refused() {
        let v = vector();
        let client = recorded_client(&v);
        let token = v["reply"]["data"].as_str().expect("token").to_owned();
        let with = |data: String| {
            let mut reply = v["reply"].clone();
            reply["data"] = Value::String(data);
            client.process_payload(200, Some(&reply.to_string()))
        };
        for around in ["\n", "\r\n", " ", "\t", "\u{0b}\u{0c}", " \r\n\t "] {
            assert!(
                matches!(
                    with(format!("{around}{token}{around}")),
                    Ok(ReplyOutcome::Ready(_))
                ),
                "{around:?}"
            );
        }
        let (signed, signature) = token.rsplit_once('.').expect("three parts");
        for inside in [
            format!("{signed}. {signature}"),
            format!("{signed}.{}\n{}", &signature[..4], &signature[4..]),
            token.replacen('.', ". ", 1),
            format!("{token}\u{a0}"),
            format!("{token}\0"),
        ] {
            let err = with(inside.clone()).expect_err("refused");
            assert_eq!(err.code(), code::VERIFICATION, "{inside:?}");
        }
    }

    #[test]
    fn the_recorded_reply_is_refused_today() {
        let v = vector();
        let client = recorded_client(&v).with_clock(system_seconds);
        let err = client
            .process_payload(200, Some(&v["reply"].to_string()))
            .expect_err("expired");
        assert_eq!(err.code(), code::VERIFICATION);
        assert_eq!(
            err.to_string(),
            "JWT Token containing encrypted data could not be verified"
        );
        // Its exp is in 2018, after the clock of `recorded_client`.
        assert!(
            matches!(err.rejected(), Some(Rejected::Expired { exp }) if (1_519_932_900.0..1.6e9).contains(exp)),
            "{:?}",
            err.rejected()
        );
    }

    #[test]
    fn process_payload_messages_match_civic_sip_api() {
        let v = vector();
        let client = recorded_client(&v);
        let err = |status: u16, body: Option<&str>| {
            client
                .process_payload(status, body)
                .expect_err("error")
                .to_string()
        };
        assert_eq!(err(400, Some("x")), "400 x");
        // What a JS caller may give: a status that is not the number 200, printed as JS does.
        for (given, message) in [("200", "200 x"), ("undefined", "undefined x")] {
            let e = client
                .process_payload(ReplyStatus::Other(given.into()), Some("x"))
                .expect_err("refused");
            assert_eq!(
                (e.to_string().as_str(), e.code()),
                (message, code::HTTP_STATUS)
            );
        }
        let e = client
            .process_payload(ReplyStatus::Other("500".into()), None)
            .expect_err("refused");
        assert_eq!(e.to_string(), "500 undefined");
        assert_eq!(
            err(200, Some(r#"{"processed":true,"data":""}"#)),
            r#"Invalid response body or body data not found: {"processed":true,"data":""}"#
        );
        assert_eq!(
            err(200, None),
            "Invalid response body or body data not found: undefined"
        );
        assert_eq!(
            err(200, Some("oops")),
            r#"Invalid response body or body data not found: "oops""#
        );
        assert_eq!(
            err(200, Some(r#"{"data":0}"#)),
            r#"Invalid response body or body data not found: {"data":0}"#
        );
        assert!(matches!(
            client.process_payload(200, Some(r#"{"processed":1,"data":"http://x/"}"#)),
            Ok(ReplyOutcome::Processed(PendingPayload {
                encrypted: false,
                ..
            }))
        ));
    }

    #[test]
    fn key_material_is_wiped_when_the_client_is_dropped() {
        // Each secret the client holds is of a type that zeroes its memory on drop.
        fn wiped_on_drop<T: zeroize::ZeroizeOnDrop>(_: &T) {}
        let client = recorded_client(&vector());
        let config = client.config();
        wiped_on_drop(&config.app_secret);
        wiped_on_drop(config.signing_key.as_ref().expect("signing key"));
        wiped_on_drop(config.aes_key.as_ref().expect("AES key"));
        // And so is what each exchange derives from them: the AES round keys, and the two
        // SHA-256 states an HMAC keyed with the appSecret holds (hmac's own type has no marker,
        // but the states wipe themselves).
        fn derived_state_is_wiped<T: zeroize::ZeroizeOnDrop>() {}
        derived_state_is_wiped::<cbc::Decryptor<aes::Aes128>>();
        derived_state_is_wiped::<cbc::Decryptor<aes::Aes192>>();
        derived_state_is_wiped::<cbc::Decryptor<aes::Aes256>>();
        derived_state_is_wiped::<sha2::block_api::Sha256VarCore>();
    }

    #[test]
    fn debug_output_never_shows_a_secret() {
        let v = vector();
        let client = recorded_client(&v);
        let shown = format!("{client:?} {:#?}", client.config());
        for secret in ["appSecret", "prvKey"] {
            let value = v["app"][secret].as_str().expect("secret");
            assert!(!shown.contains(value), "{secret} in {shown}");
            assert!(
                !shown.contains(&value.to_uppercase()),
                "{secret} in {shown}"
            );
        }
        assert!(shown.contains("[redacted]"), "{shown}");
    }

    #[test]
    fn debug_output_never_shows_user_data_a_token_or_a_pre_signed_url() {
        let v = vector();
        let client = recorded_client(&v);
        let reply = v["reply"].to_string();
        let ready = client
            .process_payload(ReplyStatus::Ok, Some(&reply))
            .expect("opens");
        let shown = format!("{ready:?} {ready:#?}");
        let token = v["reply"]["data"].as_str().expect("token");
        assert!(!shown.contains(&token[..40]), "{shown}");
        for record in v["expected"]["data"].as_array().expect("records") {
            let value = record["value"].as_str().expect("value");
            assert!(!shown.contains(value), "{value} in {shown}");
        }
        let user_id = v["expected"]["userId"].as_str().expect("userId");
        assert!(!shown.contains(user_id), "{shown}");
        assert!(shown.contains("[redacted, "), "{shown}");
        let url =
            "https://bucket.example/payloads/p1?X-Amz-Signature=0123abcd&X-Amz-Credential=AKIA";
        let processed = client
            .process_payload(
                ReplyStatus::Ok,
                Some(&format!(
                    r#"{{"processed":true,"data":"{url}","userId":"u-42"}}"#
                )),
            )
            .expect("processed");
        let shown = format!("{processed:?}");
        assert!(shown.contains("bucket.example"), "{shown}");
        for hidden in ["payloads/p1", "X-Amz", "0123abcd", "u-42"] {
            assert!(!shown.contains(hidden), "{hidden} in {shown}");
        }
    }

    #[test]
    fn clients_share_one_http_client_per_set_of_roots_and_keep_no_failure() {
        use crate::core::exchange::config::ProxyOptions;
        let v = vector();
        let a = recorded_client(&v);
        let b = recorded_client(&v);
        let roots = Arc::new(Roots::new(Vec::new()));
        a.use_default_roots(Arc::clone(&roots));
        b.use_default_roots(Arc::clone(&roots));
        let first = a.http().expect("http");
        assert!(
            Arc::ptr_eq(&first, &b.http().expect("http")),
            "one pool per set"
        );
        assert!(
            Arc::ptr_eq(&first, &a.http().expect("http")),
            "kept while the set is"
        );
        // Another set (tls.setDefaultCACertificates()): another HTTP client, for both.
        let other = Arc::new(Roots::new(Vec::new()));
        a.use_default_roots(Arc::clone(&other));
        let second = a.http().expect("http");
        assert!(!Arc::ptr_eq(&first, &second));
        b.use_default_roots(other);
        assert!(Arc::ptr_eq(&second, &b.http().expect("http")));
        // A client that cannot make its HTTP client keeps no failure: each call tries again.
        let app = &v["app"];
        let s = |k: &str| app[k].as_str().map(str::to_owned);
        let bad = Client::new(Options {
            app_id: s("appId"),
            app_secret: s("appSecret"),
            prv_key: s("prvKey"),
            proxy: Some(ProxyOptions {
                url: Some("htp://127.0.0.1:1".to_owned()),
                reject_unauthorized: None,
            }),
            ..Options::default()
        })
        .expect("client");
        for _ in 0..2 {
            let e = bad.http().expect_err("a bad proxy URL");
            assert_eq!(e.to_string(), "Error: Invalid protocol: htp:");
            assert!(lock(&bad.http).is_none(), "the failure is not kept");
        }
    }

    #[tokio::test]
    async fn abort_before_or_during_an_exchange_rejects_with_aborted() {
        let client = recorded_client(&vector());
        let abort = Abort::default();
        abort.abort();
        let err = client
            .exchange_code_with_abort("code", &abort, Observer::OFF)
            .await
            .expect_err("aborted");
        assert_eq!(err.code(), code::ABORTED);
        assert_eq!(
            err.to_string(),
            "Error exchanging code for data: AbortError: The operation was aborted"
        );
    }
}
