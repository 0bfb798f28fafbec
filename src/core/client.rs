//! One exchange, end to end: sign, POST, read the reply, fetch the processed payload, verify,
//! decrypt.

use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::value::RawValue;
use serde_json::{Map, Value};
use tokio::sync::watch;
use tokio::time::Instant;

use super::civic_ext::{authorization_header, civic_extension, request_body};
use super::config::{Config, Options};
use super::error::{Error, ErrorKind};
use super::json::{self, UniqueKeys};
use super::key_text::is_js_ascii_whitespace;
use super::{http, jwt};

/// First retry delay; each further one doubles, up to `MAX_BACKOFF`.
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// Deepest nesting of arrays and objects accepted in the user data (serde_json's own limit).
const MAX_USER_DATA_DEPTH: usize = 128;

/// The user data of a successful exchange, as JSON texts so the caller parses them once, in its
/// own representation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserData {
    /// The decrypted clear text, checked to be JSON: normally an array of
    /// `{label, value, isValid, isOwner}` records.
    pub data: String,
    /// The reply's `userId` as JSON (normally a string), `None` where the reply had none.
    pub user_id: Option<String>,
}

/// What reading a 200 reply gives: the user data, or a payload URL still to fetch.
#[derive(Debug)]
pub enum Reply {
    Ready(UserData),
    Processed(PendingPayload),
}

/// A `processed: true` reply: the response token waits at `url`.
#[derive(Debug)]
pub struct PendingPayload {
    url: Option<String>,
    encrypted: bool,
    user_id: Option<String>,
}

/// The caller's way to stop an exchange (a JS `AbortSignal`): once `abort` is called, the
/// exchange rejects with `ErrorKind::Aborted` and its connections are dropped.
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

    pub fn is_aborted(&self) -> bool {
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

/// A Civic SIP client. Cheap to share behind an `Arc`; every exchange reuses its connections.
#[derive(Debug)]
pub struct Client {
    config: Config,
    http: OnceLock<Result<Arc<http::Http>, Error>>,
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
            http: OnceLock::new(),
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

    /// Exchanges an auth code for the user data, within the configured timeout.
    pub async fn exchange_code(&self, auth_code: &str) -> Result<UserData, Error> {
        self.exchange_code_until(auth_code, &Abort::default()).await
    }

    /// Exchanges an auth code for the user data, within the configured timeout, unless `abort`
    /// fires first.
    pub async fn exchange_code_until(
        &self,
        auth_code: &str,
        abort: &Abort,
    ) -> Result<UserData, Error> {
        let outcome = if abort.is_aborted() {
            Err(Error::new(ErrorKind::Aborted))
        } else {
            tokio::select! {
                biased;
                () = abort.aborted() => Err(Error::new(ErrorKind::Aborted)),
                outcome = self.within_timeout(|deadline| self.exchange(auth_code, deadline)) => outcome,
            }
        };
        outcome.map_err(Error::in_exchange)
    }

    /// Fetches, verifies and decrypts a processed payload, within the configured timeout.
    pub async fn fetch_payload(&self, pending: PendingPayload) -> Result<UserData, Error> {
        self.within_timeout(|deadline| self.fetch(pending, deadline))
            .await
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

    /// Makes a request by `attempt`, again after a transient failure (429, 503, 504, a
    /// connection that could not be made) while retries remain, backing off exponentially with
    /// jitter or as long as the server's `Retry-After` asks. Gives up at once when the wait would
    /// pass the deadline. A status outside 2xx becomes an error here.
    async fn with_retries<F: Future<Output = Result<http::Reply, Error>>>(
        &self,
        deadline: Instant,
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
            if retried >= self.config.retries || !error.is_transient() {
                return Err(error);
            }
            // Compared with the time left, so a `Retry-After` of any size just means giving up.
            let wait = retry_after.unwrap_or_else(|| backoff(retried));
            if wait >= deadline.saturating_duration_since(Instant::now()) {
                return Err(error);
            }
            tokio::time::sleep(wait).await;
            retried += 1;
        }
    }

    async fn exchange(&self, auth_code: &str, deadline: Instant) -> Result<UserData, Error> {
        let config = &self.config;
        let signing_key = config.signing_key.as_ref().map_err(Clone::clone)?;
        // Checked before the call so a bad secret or key fails fast, not after Civic answered.
        config.aes_key.as_ref().map_err(Clone::clone)?;
        config.civic_keys.as_ref().map_err(Clone::clone)?;
        let http = self.http()?;
        let body = request_body(auth_code);
        let extension = civic_extension(&body, &config.app_secret);

        // Each attempt gets a request token of its own (a fresh `jti` and `iat`).
        let reply = self
            .with_retries(deadline, || {
                let request_token = random_jti().and_then(|jti| {
                    let now_ms = SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .map_or(0, |d| d.as_millis() as u64);
                    jwt::sign_request_token(
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
                    http.post_auth_code(
                        &config.exchange_url,
                        authorization,
                        body,
                        config.max_response_bytes,
                    )
                    .await
                }
            })
            .await?;
        match self.process_payload(reply.status, Some(&reply.body))? {
            Reply::Ready(user_data) => Ok(user_data),
            Reply::Processed(pending) => self.fetch(pending, deadline).await,
        }
    }

    /// Clients without a `proxy` or `ca` option share one HTTP client: setting one up (TLS
    /// roots) costs milliseconds, and apps that create a Civic client per sign-in should not pay
    /// it each time.
    fn http(&self) -> Result<&http::Http, Error> {
        static SHARED: OnceLock<Result<Arc<http::Http>, Error>> = OnceLock::new();
        let config = &self.config;
        self.http
            .get_or_init(|| match (&config.proxy, &config.ca) {
                (None, None) => SHARED
                    .get_or_init(|| http::Http::new(None, None).map(Arc::new))
                    .clone(),
                (proxy, ca) => http::Http::new(proxy.as_ref(), ca.as_deref()).map(Arc::new),
            })
            .as_deref()
            .map_err(Clone::clone)
    }

    /// civic-sip-api's `processPayload`: a reply's status and body text (`None` for a missing
    /// body) to the user data, or to the payload URL of a processed reply.
    pub fn process_payload(&self, status: u16, body: Option<&str>) -> Result<Reply, Error> {
        if status != 200 {
            return Err(Error::new(ErrorKind::UnexpectedStatus {
                status: status.to_string(),
                body: body.unwrap_or("undefined").to_owned(),
            }));
        }
        self.read_reply(body)
    }

    /// Reads the body of a 200 reply: not JSON, or without `data`, is an invalid response.
    pub fn read_reply(&self, body: Option<&str>) -> Result<Reply, Error> {
        let invalid = || {
            Error::new(ErrorKind::InvalidResponse {
                body: body.map(str::to_owned),
            })
        };
        // Field values stay raw until needed: V8's JSON.parse, which civic-sip-api used, accepts
        // numbers beyond f64 (as Infinity) and lone surrogates that serde_json's values refuse.
        let reply = match body.map(serde_json::from_str::<UniqueKeys<Box<RawValue>>>) {
            Some(Ok(members)) => members.0,
            _ => return Err(invalid()),
        };
        let field = |name: &str| {
            reply
                .get(name)
                .map(|raw| serde_json::from_str::<Value>(raw.get()))
        };
        let data = field("data").filter(raw_truthy).ok_or_else(invalid)?.ok();
        let encrypted = field("encrypted").is_some_and(|v| raw_truthy(&v));
        let user_id = reply.get("userId").map(|raw| raw.get().to_owned());
        let data = data.as_ref().and_then(Value::as_str);
        if field("processed").is_some_and(|v| raw_truthy(&v)) {
            return Ok(Reply::Processed(PendingPayload {
                url: data.map(str::to_owned),
                encrypted,
                user_id,
            }));
        }
        let token = data.ok_or_else(|| Error::new(ErrorKind::Verification))?;
        self.open(token, encrypted, user_id).map(Reply::Ready)
    }

    async fn fetch(&self, pending: PendingPayload, deadline: Instant) -> Result<UserData, Error> {
        let in_payload = Error::in_payload;
        let http = self.http()?;
        let url = pending
            .url
            .as_deref()
            .filter(|u| url::Url::parse(u).is_ok())
            .ok_or_else(|| {
                let shown = pending.url.as_deref().unwrap_or("");
                in_payload(Error::new(ErrorKind::Network(format!(
                    "Invalid URI \"{shown}\""
                ))))
            })?;
        let max_bytes = self.config.max_response_bytes;
        let reply = self
            .with_retries(deadline, || http.get_payload(url, max_bytes))
            .await
            .map_err(in_payload)?;
        self.open(&reply.body, pending.encrypted, pending.user_id)
            .map_err(in_payload)
    }

    /// Verifies the response token and reads the user data out of it. Whitespace around the
    /// token (a payload body ending in a newline) is not part of the signed bytes, so it is
    /// ignored; inside the token it is refused.
    fn open(
        &self,
        token: &str,
        encrypted: bool,
        user_id: Option<String>,
    ) -> Result<UserData, Error> {
        let token = token.trim_matches(is_js_ascii_whitespace);
        let civic_keys = self.config.civic_keys.as_ref().map_err(Clone::clone)?;
        let now = (self.clock)();
        // Under any of the configured keys (more than one while Civic rotates its key).
        let claims = civic_keys
            .iter()
            .find_map(|key| jwt::verify_response_token(token, key, now).ok())
            .ok_or_else(|| Error::new(ErrorKind::Verification))?;
        let data = user_data_text(&claims, encrypted, &self.config)?;
        Ok(UserData { data, user_id })
    }
}

/// The request token's `jti`: 16 random bytes.
fn random_jti() -> Result<[u8; 16], Error> {
    let mut jti = [0u8; 16];
    getrandom::fill(&mut jti).map_err(|_| random_failed())?;
    Ok(jti)
}

fn random_failed() -> Error {
    Error::new(ErrorKind::Network("the system random source failed".into()))
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

fn user_data_text(
    claims: &Map<String, Value>,
    encrypted: bool,
    config: &Config,
) -> Result<String, Error> {
    let fail = |why| Error::new(ErrorKind::Decryption(why));
    let data = claims
        .get("data")
        .and_then(Value::as_str)
        .ok_or_else(|| fail("the token's data claim is not a string"))?;
    let clear = if encrypted {
        config
            .aes_key
            .as_ref()
            .map_err(Clone::clone)?
            .decrypt(data)
            .map_err(fail)?
    } else {
        data.to_owned()
    };
    // civic-sip-api resolved with `data: undefined` here; a clear error is more useful.
    // Records are two levels deep; hostile nesting would only overflow the app's stack later.
    if json::nests_deeper_than(&clear, MAX_USER_DATA_DEPTH) {
        return Err(fail("the clear text is nested too deeply"));
    }
    serde_json::from_str::<serde::de::IgnoredAny>(&clear)
        .map_err(|_| fail("the clear text is not JSON"))?;
    Ok(clear)
}

/// Truthiness of a raw field: a value serde_json cannot hold is a huge number (Infinity in JS)
/// or a string with a lone surrogate, both truthy.
fn raw_truthy(v: &serde_json::Result<Value>) -> bool {
    v.as_ref().map_or(true, truthy)
}

/// JavaScript truthiness of a JSON value.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null | Value::Bool(false) => false,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::config::CIVIC_PUBLIC_KEY;
    use crate::core::error::code;

    /// Civic's recorded 2018 reply (__test__/fixtures/civic-recorded-2018.json, from shared/vectors), at its own time.
    fn vector() -> Value {
        let text = include_str!("../../__test__/fixtures/civic-recorded-2018.json");
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
            assert!(matches!(outcome(keys), Ok(Reply::Ready(_))), "{keys:?}");
        }
        for keys in [&[g][..], &[g, g2]] {
            let err = outcome(keys).expect_err("a key that did not sign it");
            assert_eq!(err.code(), code::VERIFICATION, "{keys:?}");
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
        let Ok(Reply::Ready(user)) = client.process_payload(200, Some(&body)) else {
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
                    Ok(Reply::Ready(_))
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
            Ok(Reply::Processed(PendingPayload {
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
    async fn a_retry_after_beyond_the_clock_gives_up_at_once_instead_of_overflowing() {
        let client = recorded_client(&vector());
        let deadline = Instant::now() + Duration::from_secs(5);
        let started = Instant::now();
        let err = client
            .with_retries(deadline, || async {
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

    #[tokio::test]
    async fn abort_before_or_during_an_exchange_rejects_with_aborted() {
        let client = recorded_client(&vector());
        let abort = Abort::default();
        abort.abort();
        let err = client
            .exchange_code_until("code", &abort)
            .await
            .expect_err("aborted");
        assert_eq!(err.code(), code::ABORTED);
        assert_eq!(
            err.to_string(),
            "Error exchanging code for data: AbortError: The operation was aborted"
        );
        // Aborted while waiting: the waiter wakes.
        let later = Abort::default();
        let waiter = {
            let later = later.clone();
            tokio::spawn(async move { later.aborted().await })
        };
        later.abort();
        assert!(waiter.await.is_ok());
    }

    #[test]
    fn truthiness_is_javascripts() {
        for (v, t) in [
            ("null", false),
            ("false", false),
            ("0", false),
            ("-0.0", false),
            ("\"\"", false),
            ("1", true),
            ("\"0\"", true),
            ("[]", true),
            ("{}", true),
        ] {
            assert_eq!(truthy(&serde_json::from_str(v).expect("json")), t, "{v}");
        }
    }
}
