//! A client's configuration, owned by that client (civic-sip-api kept `api` in module state, so
//! one client's setting leaked into every later one; here nothing is shared).

use std::fmt;
use std::time::Duration;

use zeroize::Zeroizing;

use super::civic_ext::AUTH_CODE_PATH;
use crate::core::crypto::cipher::AesKey;
use crate::core::crypto::es256::{SigningKey, VerifyingKey};
use crate::core::crypto::key_text;
use crate::core::error::{Error, ErrorKind};
use crate::core::node_words::NodeWords;
use crate::core::redact::{shown_proxy, shown_url, Redacted};

/// Civic's production base URL; `aud` of the request token is this, trailing slash included.
pub const DEFAULT_API: &str = "https://api.civic.com/sip/";
/// Civic's production signing key (uncompressed SEC1 point), as published in civic-sip-api.
pub const CIVIC_PUBLIC_KEY: &str = "049a45998638cfb3c4b211d72030d9ae8329a242db63bfb0076a54e7647370a8ac5708b57af6065805d5a6be72332620932dbb35e8d318fce18e7c980a0eb26aa1";
pub const DEFAULT_ENV: &str = "prod";
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Node's longest timer (2^31 - 1 ms, about 24.8 days); a longer `timeout` counts as this.
pub const MAX_TIMEOUT: Duration = Duration::from_millis(2_147_483_647);
/// Largest response body read, the exchange reply and the payload URL's alike. Civic parks large
/// replies (KYC document images) on S3, so the payload can run to megabytes.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;
/// Most retries a caller may ask for: more would only hammer a struggling server.
pub const MAX_RETRIES: u32 = 10;

const NO_APP_ID: &str = "Please supply your application ID.";
const NO_APP_SECRET: &str = "Please supply your application secret.";
const NO_PRV_KEY: &str = "Please supply your application private key.";

/// The options a caller gives, already normalised from JS: falsy values are `None`.
#[derive(Default, Clone)]
pub struct Options {
    pub app_id: Option<String>,
    pub app_secret: Option<String>,
    pub prv_key: Option<String>,
    pub env: Option<String>,
    pub api: Option<String>,
    pub include_stage_in_url: Option<bool>,
    pub proxy: Option<ProxyOptions>,
    /// Civic's response-token keys, hex each: a token verifies if it verifies under any of them
    /// (several while Civic rotates its key). `None` is Civic's production key.
    pub civic_public_keys: Option<Vec<String>>,
    /// The whole exchange's time limit ([`DEFAULT_TIMEOUT`] when `None`). Zero is refused; more
    /// than [`MAX_TIMEOUT`] counts as that.
    pub timeout: Option<Duration>,
    /// Largest response body read, in bytes ([`DEFAULT_MAX_RESPONSE_BYTES`] when `None`; no
    /// limit is `usize::MAX`). Zero is refused.
    pub max_response_bytes: Option<usize>,
    /// PEM certificates to trust instead of Node's default roots (Node's `ca`).
    pub ca: Option<Vec<String>>,
    /// Further attempts after a transient failure, at most [`MAX_RETRIES`] (0 when `None`).
    pub retries: Option<u32>,
    /// Whose words the messages use: the running Node's (the binding reads its versions).
    pub words: NodeWords,
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("app_id", &self.app_id)
            .field(
                "app_secret",
                &self.app_secret.as_ref().map(|_| Redacted::Secret),
            )
            .field("prv_key", &self.prv_key.as_ref().map(|_| Redacted::Secret))
            .field("env", &self.env)
            .field("api", &self.api.as_deref().map(shown_url))
            .field("include_stage_in_url", &self.include_stage_in_url)
            .field("proxy", &self.proxy)
            .field("civic_public_keys", &self.civic_public_keys)
            .field("timeout", &self.timeout)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("ca", &self.ca.as_ref().map(Vec::len))
            .field("retries", &self.retries)
            .field("words", &self.words)
            .finish()
    }
}

/// civic-sip-api's `proxy: { url, rejectUnauthorized }`.
#[derive(Clone, Default)]
pub struct ProxyOptions {
    pub url: Option<String>,
    /// `false` accepts any server certificate, as civic-sip-api's option did.
    pub reject_unauthorized: Option<bool>,
}

impl fmt::Debug for ProxyOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyOptions")
            .field("url", &self.url.as_deref().map(shown_proxy))
            .field("reject_unauthorized", &self.reject_unauthorized)
            .finish()
    }
}

/// The settings an exchange runs with. Key material that does not parse is kept as the error
/// the exchange will reject with: construction never fails for it (civic-sip-api's did not).
pub struct Config {
    pub app_id: String,
    /// The appSecret string: its UTF-8 bytes key the Civic extension HMAC.
    pub app_secret: Zeroizing<String>,
    pub signing_key: Result<SigningKey, Error>,
    pub aes_key: Result<AesKey, Error>,
    /// Every key a response token may be signed with (at least one).
    pub civic_keys: Result<Vec<VerifyingKey>, Error>,
    /// Base URL with its trailing slash: the request token's `aud`.
    pub audience: String,
    pub exchange_url: String,
    pub proxy: Option<ProxyOptions>,
    pub timeout: Duration,
    pub max_response_bytes: usize,
    /// PEM texts of the certificates that replace Node's default roots, if any.
    pub ca: Option<Vec<String>>,
    /// Further attempts after a transient failure (0: civic-sip-api's single attempt).
    pub retries: u32,
    /// The Node line whose words the messages use.
    pub words: NodeWords,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("app_id", &self.app_id)
            .field("app_secret", &Redacted::Secret)
            .field("signing_key", &Redacted::Secret)
            .field("aes_key", &Redacted::Secret)
            .field("civic_keys", &self.civic_keys.as_ref().map(Vec::len))
            .field("audience", &shown_url(&self.audience))
            .field("exchange_url", &shown_url(&self.exchange_url))
            .field("proxy", &self.proxy)
            .field("timeout", &self.timeout)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("ca", &self.ca.as_ref().map(Vec::len))
            .field("retries", &self.retries)
            .field("words", &self.words)
            .finish()
    }
}

/// civic-sip-api's sentences for a missing required option, the first that applies.
pub fn missing_field(options: &Options) -> Option<Error> {
    let absent = |v: &Option<String>| v.as_deref().is_none_or(str::is_empty);
    let message = if absent(&options.app_id) {
        NO_APP_ID
    } else if absent(&options.app_secret) {
        NO_APP_SECRET
    } else if absent(&options.prv_key) {
        NO_PRV_KEY
    } else {
        return None;
    };
    Some(Error::new(ErrorKind::MissingConfig(message)))
}

pub const TIMEOUT_MESSAGE: &str = "timeout must be a positive number of milliseconds";
pub const MAX_RESPONSE_BYTES_MESSAGE: &str = "maxResponseBytes must be a positive integer";
/// `retries must be an integer from 0 to 10`.
pub fn retries_message() -> String {
    format!("retries must be an integer from 0 to {MAX_RETRIES}")
}

impl Config {
    /// Fails only where civic-sip-api's `newClient` threw (a missing appId, appSecret or prvKey,
    /// checked first), or for a zero timeout or maxResponseBytes or more than [`MAX_RETRIES`].
    pub fn new(options: Options) -> Result<Config, Error> {
        if let Some(missing) = missing_field(&options) {
            return Err(missing);
        }
        let (audience, exchange_url) = urls(&options);
        let present = |v: Option<String>| v.filter(|s| !s.is_empty());
        let app_id = present(options.app_id).unwrap_or_default();
        let app_secret = Zeroizing::new(present(options.app_secret).unwrap_or_default());
        let prv_key = Zeroizing::new(present(options.prv_key).unwrap_or_default());

        let timeout = match options.timeout {
            None => DEFAULT_TIMEOUT,
            Some(Duration::ZERO) => return Err(invalid(TIMEOUT_MESSAGE)),
            // Longer than Node's longest timer counts as that: no deadline can overflow a clock.
            Some(timeout) => timeout.min(MAX_TIMEOUT),
        };
        let max_response_bytes = match options.max_response_bytes {
            None => DEFAULT_MAX_RESPONSE_BYTES,
            Some(0) => return Err(invalid(MAX_RESPONSE_BYTES_MESSAGE)),
            Some(n) => n,
        };
        let retries = match options.retries {
            None => 0,
            Some(n) if n <= MAX_RETRIES => n,
            Some(_) => return Err(invalid(&retries_message())),
        };

        Ok(Config {
            app_id,
            signing_key: parse_signing_key(&prv_key),
            aes_key: AesKey::from_hex(&app_secret).ok_or_else(|| invalid(APP_SECRET_MESSAGE)),
            app_secret,
            civic_keys: parse_civic_keys(options.civic_public_keys.as_deref()),
            audience,
            exchange_url,
            proxy: options.proxy,
            timeout,
            max_response_bytes,
            ca: options.ca,
            retries,
            words: options.words,
        })
    }
}

/// The request token's `aud` (the base URL with its trailing slash) and the exchange URL.
fn urls(options: &Options) -> (String, String) {
    let present = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
    let mut audience = present(&options.api).unwrap_or_else(|| DEFAULT_API.to_owned());
    if !audience.ends_with('/') {
        audience.push('/');
    }
    let env = present(&options.env).unwrap_or_else(|| DEFAULT_ENV.to_owned());
    // civic-sip-api joins `<base><env>` or `<base>` with `/scopeRequest/authCode`; without
    // the stage that leaves a double slash, which is kept so both hit the same URL.
    let exchange_url = if options.include_stage_in_url.unwrap_or(true) {
        format!("{audience}{env}/{AUTH_CODE_PATH}")
    } else {
        format!("{audience}/{AUTH_CODE_PATH}")
    };
    (audience, exchange_url)
}

/// What a deployment check shows of some options, each part decided as an exchange with them
/// decides it (nothing here holds a secret: the public key is the one Civic's portal shows).
pub struct Description {
    /// Where the exchange is POSTed (may hold whatever `api` holds: shown redacted).
    pub exchange_url: String,
    /// The uncompressed SEC1 public point of `prvKey`, or the error an exchange rejects with.
    pub public_key: Result<[u8; 65], Error>,
    /// `Ok` when `appSecret` keys the payload's decryption, or the error an exchange rejects with.
    pub app_secret: Result<(), Error>,
    /// The proxy the exchange goes through (`None`: direct), or the error it fails with.
    pub proxy: Result<Option<url::Url>, Error>,
    /// A proxy variable would apply but `NO_PROXY` covers the exchange URL's host.
    pub no_proxy_bypass: bool,
}

/// The parts of [`Config::new`] and the client's route a check reports; never fails (each part
/// carries its own error), and missing fields are left to the caller.
pub fn describe(options: &Options) -> Description {
    let (_, exchange_url) = urls(options);
    let secret = |v: &Option<String>| Zeroizing::new(v.clone().unwrap_or_default());
    let public_key =
        parse_signing_key(&secret(&options.prv_key)).map(|key| key.verifying_key().to_sec1_bytes());
    let app_secret = AesKey::from_hex(&secret(&options.app_secret))
        .map(drop)
        .ok_or_else(|| invalid(APP_SECRET_MESSAGE));
    let route = crate::core::http::proxy::Route::configured(options.proxy.as_ref());
    let target = url::Url::parse(&exchange_url);
    let (proxy, no_proxy_bypass) = match (&route, &target) {
        (Ok(route), Ok(target)) => (route.proxy_for(target), route.bypassed_for(target)),
        (Err(e), _) => (Err(e.clone()), false),
        (Ok(_), Err(_)) => (Ok(None), false),
    };
    Description {
        exchange_url,
        public_key,
        app_secret,
        proxy,
        no_proxy_bypass,
    }
}

const APP_SECRET_MESSAGE: &str =
    "appSecret must be 32, 48 or 64 hex characters (the app secret from Civic's integration portal)";

fn invalid(message: &str) -> Error {
    Error::new(ErrorKind::InvalidConfig(message.to_owned()))
}

/// The P-256 scalar in any spelling civic-sip-api reads as it (see `key_text::private_scalar`).
fn parse_signing_key(prv_key: &str) -> Result<SigningKey, Error> {
    let fail = || invalid("prvKey must be a P-256 private key as 64 hex characters");
    let bytes = key_text::private_scalar(prv_key).ok_or_else(fail)?;
    SigningKey::from_slice(&bytes[..]).map_err(|_| fail())
}

/// The keys `civicPublicKey` names: one, or a list while Civic rotates its key (Civic's
/// production key when none is given). An empty list names no key, so it is refused rather than
/// read as the default; a bad entry is named by its place, never its value.
fn parse_civic_keys(hex_keys: Option<&[String]>) -> Result<Vec<VerifyingKey>, Error> {
    let Some(hex_keys) = hex_keys else {
        return parse_civic_key(CIVIC_PUBLIC_KEY, "civicPublicKey").map(|key| vec![key]);
    };
    match hex_keys {
        [] => Err(invalid(
            "civicPublicKey must name at least one P-256 public key (an empty list names none)",
        )),
        [one] => parse_civic_key(one, "civicPublicKey").map(|key| vec![key]),
        many => many
            .iter()
            .enumerate()
            .map(|(i, hex_key)| parse_civic_key(hex_key, &format!("civicPublicKey[{i}]")))
            .collect(),
    }
}

fn parse_civic_key(hex_key: &str, field: &str) -> Result<VerifyingKey, Error> {
    let fail = || {
        invalid(&format!(
            "{field} must be a P-256 public key in hex (SEC1, compressed or uncompressed)"
        ))
    };
    let bytes = key_text::public_key_sec1(hex_key).ok_or_else(fail)?;
    VerifyingKey::from_sec1_bytes(&bytes).map_err(|_| fail())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> Options {
        Options {
            app_id: Some("app".into()),
            app_secret: Some("44bbae32d1e02bf481074177002bbdef".into()),
            prv_key: Some(
                "bf5efd7bdde29dc28443614bfee78c3d6ee39c71e55a0437eee02bf7e3647721".into(),
            ),
            ..Options::default()
        }
    }

    #[test]
    fn describe_reports_what_an_exchange_would_use_and_refuse() {
        let mut o = options();
        o.api = Some("http://127.0.0.1:9/sip".into());
        o.env = Some("dev".into());
        o.proxy = Some(ProxyOptions {
            url: Some("http://user:pw@127.0.0.1:3128".into()),
            reject_unauthorized: None,
        });
        let d = describe(&o);
        assert_eq!(
            d.exchange_url,
            "http://127.0.0.1:9/sip/dev/scopeRequest/authCode"
        );
        assert_eq!(d.exchange_url, Config::new(o.clone()).unwrap().exchange_url);
        let point = d.public_key.unwrap();
        let key = parse_signing_key(o.prv_key.as_deref().unwrap()).unwrap();
        assert_eq!(point, key.verifying_key().to_sec1_bytes());
        assert!(d.app_secret.is_ok());
        let proxy = d.proxy.unwrap().unwrap();
        assert_eq!(proxy.as_str(), "http://user:pw@127.0.0.1:3128/");
        assert!(!d.no_proxy_bypass);

        o.app_secret = Some("44bbae32d1e02bf481074177002bbdef ".into());
        o.prv_key = Some("not a key".into());
        o.proxy = Some(ProxyOptions {
            url: Some("socks5://127.0.0.1:1080".into()),
            reject_unauthorized: None,
        });
        let d = describe(&o);
        assert_eq!(d.app_secret.unwrap_err().to_string(), APP_SECRET_MESSAGE);
        let prv = d.public_key.unwrap_err().to_string();
        assert_eq!(
            prv,
            "prvKey must be a P-256 private key as 64 hex characters"
        );
        let proxy = d.proxy.unwrap_err().to_string();
        assert_eq!(proxy, "Error: Invalid protocol: socks5:");
    }

    #[test]
    fn missing_fields_give_civic_sip_apis_messages_in_its_order() {
        let err = |o: Options| Config::new(o).err().map(|e| e.to_string());
        assert_eq!(err(Options::default()), Some(NO_APP_ID.into()));
        let mut o = options();
        o.app_secret = Some(String::new());
        o.prv_key = None;
        assert_eq!(err(o), Some(NO_APP_SECRET.into()));
        let mut o = options();
        o.prv_key = None;
        assert_eq!(err(o), Some(NO_PRV_KEY.into()));
    }

    #[test]
    fn urls_for_every_api_env_and_stage_combination() {
        let cases = [
            (
                None,
                None,
                None,
                "https://api.civic.com/sip/",
                "https://api.civic.com/sip/prod/scopeRequest/authCode",
            ),
            (
                None,
                Some("dev"),
                Some(true),
                "https://api.civic.com/sip/",
                "https://api.civic.com/sip/dev/scopeRequest/authCode",
            ),
            (
                None,
                None,
                Some(false),
                "https://api.civic.com/sip/",
                "https://api.civic.com/sip//scopeRequest/authCode",
            ),
            (
                Some("http://127.0.0.1:9/x"),
                None,
                None,
                "http://127.0.0.1:9/x/",
                "http://127.0.0.1:9/x/prod/scopeRequest/authCode",
            ),
            (
                Some("http://127.0.0.1:9/x/"),
                Some("test"),
                None,
                "http://127.0.0.1:9/x/",
                "http://127.0.0.1:9/x/test/scopeRequest/authCode",
            ),
            (
                Some("http://h/"),
                Some("dev"),
                Some(false),
                "http://h/",
                "http://h//scopeRequest/authCode",
            ),
            (
                Some(""),
                Some(""),
                None,
                "https://api.civic.com/sip/",
                "https://api.civic.com/sip/prod/scopeRequest/authCode",
            ),
        ];
        for (api, env, stage, aud, url) in cases {
            let mut o = options();
            o.api = api.map(Into::into);
            o.env = env.map(Into::into);
            o.include_stage_in_url = stage;
            let c = Config::new(o).expect("config");
            assert_eq!(c.audience, aud, "{api:?} {env:?} {stage:?}");
            assert_eq!(c.exchange_url, url, "{api:?} {env:?} {stage:?}");
        }
    }

    #[test]
    fn malformed_keys_do_not_fail_construction_and_never_echo_the_value() {
        let o = Options {
            app_id: Some("a".into()),
            app_secret: Some("b-secret".into()),
            prv_key: Some("c-secret".into()),
            civic_public_keys: Some(vec!["04zz".into()]),
            ..Options::default()
        };
        let c = Config::new(o).expect("construction must not fail");
        for e in [
            c.signing_key.as_ref().map(|_| ()).expect_err("prvKey"),
            c.aes_key.as_ref().map(|_| ()).expect_err("appSecret"),
            c.civic_keys
                .as_ref()
                .map(|_| ())
                .expect_err("civicPublicKey"),
        ] {
            let m = e.to_string();
            assert!(
                !m.contains("b-secret") && !m.contains("c-secret") && !m.contains("04zz"),
                "{m}"
            );
            assert_eq!(e.code(), crate::core::error::code::CONFIG);
        }
        assert!(c
            .signing_key
            .as_ref()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
            .starts_with("prvKey must be"));
        let debug = format!("{c:?}");
        assert!(
            !debug.contains("b-secret") && !debug.contains("c-secret"),
            "{debug}"
        );
    }

    #[test]
    fn key_spellings_timeouts_and_sizes() {
        let key = |k: &str| {
            let mut o = options();
            o.prv_key = Some(k.into());
            Config::new(o).expect("config").signing_key.is_ok()
        };
        assert!(key(&"1".repeat(62)));
        assert!(key("c"));
        assert!(key(&format!("00{}\n", "1".repeat(64))));
        assert!(!key(&"1".repeat(65)));
        assert!(!key(&"0".repeat(64)));
        assert!(!key(&"f".repeat(64)));
        assert!(!key("0x1"));
        let mut o = options();
        o.timeout = Some(Duration::ZERO);
        let e = Config::new(o.clone()).map(|_| ()).expect_err("refused");
        assert_eq!(e.to_string(), TIMEOUT_MESSAGE);
        for huge in [MAX_TIMEOUT + Duration::from_nanos(1), Duration::MAX] {
            o.timeout = Some(huge);
            assert_eq!(Config::new(o.clone()).expect("config").timeout, MAX_TIMEOUT);
        }
        o.timeout = Some(Duration::from_nanos(1));
        assert_eq!(
            Config::new(o.clone()).expect("config").timeout,
            Duration::from_nanos(1)
        );
        o.timeout = Some(Duration::from_millis(1500));
        assert_eq!(
            Config::new(o).expect("config").timeout,
            Duration::from_millis(1500)
        );
    }

    #[test]
    fn a_missing_field_is_reported_before_a_bad_number() {
        let o = Options {
            app_id: Some("app".into()),
            timeout: Some(Duration::ZERO),
            retries: Some(11),
            ..Options::default()
        };
        assert_eq!(
            missing_field(&o).map(|e| e.to_string()),
            Some(NO_APP_SECRET.into())
        );
        let e = Config::new(o).map(|_| ()).expect_err("refused");
        assert_eq!(e.to_string(), NO_APP_SECRET);
        let retries = |n| {
            let mut o = options();
            o.retries = Some(n);
            Config::new(o).map(|c| c.retries).map_err(|e| e.to_string())
        };
        assert_eq!(retries(10), Ok(10));
        assert_eq!(
            retries(11),
            Err("retries must be an integer from 0 to 10".to_owned())
        );
    }

    #[test]
    fn max_response_bytes_is_positive() {
        let bytes = |n: usize| {
            let mut o = options();
            o.max_response_bytes = Some(n);
            Config::new(o).map(|c| c.max_response_bytes)
        };
        assert_eq!(bytes(1).ok(), Some(1));
        assert_eq!(bytes(65536).ok(), Some(65536));
        assert_eq!(bytes(usize::MAX).ok(), Some(usize::MAX));
        assert_eq!(
            bytes(0).err().map(|e| e.to_string()),
            Some(MAX_RESPONSE_BYTES_MESSAGE.to_owned())
        );
    }

    #[test]
    fn options_debug_hides_secrets() {
        let d = format!("{:?}", options());
        assert!(!d.contains("44bbae32") && !d.contains("bf5efd7b"), "{d}");
    }

    #[test]
    fn debug_shows_no_user_info_of_api_or_the_proxy() {
        let mut o = options();
        o.api = Some("http://USERMARK:PASSMARK@127.0.0.1:9/sip/".into());
        o.proxy = Some(ProxyOptions {
            url: Some("http://PUSERMARK:PPASSMARK@127.0.0.1:3128".into()),
            reject_unauthorized: None,
        });
        let shown = format!("{o:?} {:?}", Config::new(o.clone()).expect("config"));
        for marker in ["USERMARK", "PASSMARK"] {
            assert!(!shown.contains(marker), "{shown}");
        }
        assert!(
            shown.contains("\"http://127.0.0.1:9/sip/prod/scopeRequest/authCode\""),
            "{shown}"
        );
        assert!(
            shown.contains("Some(\"http://127.0.0.1:3128/\")"),
            "{shown}"
        );
    }
}
