//! JS options into the core's: the options object as index.js normalises it, its JS numbers
//! checked into Rust's types with the core's messages, and `describeOptions` for `check`.

use std::time::Duration;

use napi_derive::napi;

use crate::core::error::{Error as CoreError, ErrorKind};
use crate::core::exchange::config;
use crate::core::node_words::NodeWords;
use crate::core::{Options, ProxyOptions};

/// The options as index.js normalises them: falsy values are absent, the rest strings.
#[napi(object)]
pub struct NativeOptions {
    pub app_id: Option<String>,
    pub app_secret: Option<String>,
    pub prv_key: Option<String>,
    pub env: Option<String>,
    pub api: Option<String>,
    #[napi(js_name = "includeStageInURL")]
    pub include_stage_in_url: Option<bool>,
    pub proxy: Option<NativeProxy>,
    /// Civic's response-token keys; index.js turns one string or a list into this.
    pub civic_public_keys: Option<Vec<String>>,
    /// Milliseconds, any JS number (checked in `into_options`).
    pub timeout: Option<f64>,
    /// Bytes, any JS number (checked in `into_options`).
    pub max_response_bytes: Option<f64>,
    /// PEM texts; index.js turns a string, a Buffer or an array of them into this.
    pub ca: Option<Vec<String>>,
    /// Any JS number (checked in `into_options`).
    pub retries: Option<f64>,
    /// `process.versions.node`, `.llhttp` and `.openssl` of the running Node (Bun's and Deno's
    /// say which Node they follow): the messages are worded as that line words them.
    pub node_version: Option<String>,
    pub llhttp_version: Option<String>,
    pub openssl_version: Option<String>,
    /// `require('node:http').maxHeaderSize` (bytes): the bound on a response head.
    pub max_header_size: Option<f64>,
}

#[napi(object)]
pub struct NativeProxy {
    pub url: Option<String>,
    pub reject_unauthorized: Option<bool>,
}

impl NativeOptions {
    /// The options in Rust's types. JS numbers are checked here, with the messages the core gives
    /// for the values they cannot be (a missing appId, appSecret or prvKey is still reported
    /// first, as civic-sip-api threw it).
    pub(super) fn into_options(self) -> std::result::Result<Options, CoreError> {
        let timeout = self.timeout.map(timeout_from_ms).transpose();
        let max_response_bytes = self.max_response_bytes.map(bytes_from_js).transpose();
        let retries = self.retries.map(retries_from_js).transpose();
        let options = Options {
            app_id: self.app_id,
            app_secret: self.app_secret,
            prv_key: self.prv_key,
            env: self.env,
            api: self.api,
            include_stage_in_url: self.include_stage_in_url,
            proxy: self.proxy.map(|p| ProxyOptions {
                url: p.url,
                reject_unauthorized: p.reject_unauthorized,
            }),
            civic_public_keys: self.civic_public_keys,
            timeout: timeout.clone().unwrap_or_default(),
            max_response_bytes: max_response_bytes.clone().unwrap_or_default(),
            ca: self.ca,
            retries: retries.clone().unwrap_or_default(),
            words: NodeWords::of(
                self.node_version.as_deref(),
                self.llhttp_version.as_deref(),
                self.openssl_version.as_deref(),
            )
            // Node's own setting (a positive whole number); anything else keeps the default.
            .with_max_header_size(
                self.max_header_size
                    .filter(|n| *n >= 1.0 && n.fract() == 0.0)
                    .map(|n| n as usize),
            ),
        };
        let numbers = timeout.and(max_response_bytes).and(retries);
        match (config::missing_field(&options), numbers) {
            (Some(missing), _) => Err(missing),
            (None, Err(bad)) => Err(bad),
            (None, Ok(_)) => Ok(options),
        }
    }
}

fn invalid_option(message: &str) -> CoreError {
    CoreError::new(ErrorKind::InvalidConfig(message.to_owned()))
}

/// `timeout` in milliseconds. Longer than Node's longest timer (`Infinity` too) counts as that;
/// below a nanosecond rounds to zero, which is refused like 0, -0 and negatives; NaN fails the
/// comparison.
fn timeout_from_ms(ms: f64) -> std::result::Result<Duration, CoreError> {
    if ms >= 1e-6 {
        Ok(Duration::from_secs_f64(
            ms.min(config::MAX_TIMEOUT.as_secs_f64() * 1000.0) / 1000.0,
        ))
    } else {
        Err(invalid_option(config::TIMEOUT_MESSAGE))
    }
}

/// `maxResponseBytes`: a positive whole number; `Infinity`, or more than memory can address, is
/// no limit (the cast saturates).
fn bytes_from_js(n: f64) -> std::result::Result<usize, CoreError> {
    if n >= 1.0 && (n == f64::INFINITY || n.fract() == 0.0) {
        Ok(n as usize)
    } else {
        Err(invalid_option(config::MAX_RESPONSE_BYTES_MESSAGE))
    }
}

/// `retries`: a whole number from 0 to `MAX_RETRIES` (`-0` is 0).
fn retries_from_js(n: f64) -> std::result::Result<u32, CoreError> {
    if n.fract() == 0.0 && (0.0..=f64::from(config::MAX_RETRIES)).contains(&n) {
        Ok(n as u32)
    } else {
        Err(invalid_option(&config::retries_message()))
    }
}

/// What `check` (check.js) reports of some options, decided by the core as an exchange with them
/// decides it. Nothing in it is a secret; `proxy` is the proxy URL as configured (it may hold a
/// password: check.js shows only its scheme, host and port, and uses the rest to connect).
#[napi(object)]
// Under `cargo test` napi-derive registers no export, so nothing would use these.
#[cfg_attr(test, allow(dead_code))]
pub struct NativeDescription {
    /// The URL the exchange is POSTed to.
    pub exchange_url: String,
    /// `prvKey`'s public key, uncompressed SEC1 in hex (`04…`, 130 characters).
    pub public_key: Option<String>,
    /// The same key compressed (`02…`/`03…`, 66 characters).
    pub public_key_compressed: Option<String>,
    /// Why an exchange would refuse `prvKey` (instead of `public_key`).
    pub prv_key_error: Option<String>,
    /// Why an exchange would refuse `appSecret`.
    pub app_secret_error: Option<String>,
    /// The proxy the exchange goes through; absent when it goes direct.
    pub proxy: Option<String>,
    /// Why the exchange would fail to choose its route (an unusable proxy URL).
    pub proxy_error: Option<String>,
    /// A proxy variable would apply but `NO_PROXY` covers the exchange URL's host.
    pub no_proxy_bypass: bool,
}

/// The configuration, public key and route `check` reports (see [`NativeDescription`]); reads
/// the proxy environment variables now, as a client made now would. Never throws for a bad
/// option: each part carries its error.
#[napi(catch_unwind)]
#[cfg_attr(test, allow(dead_code))]
pub fn describe_options(options: NativeOptions) -> NativeDescription {
    let options = Options {
        app_secret: options.app_secret,
        prv_key: options.prv_key,
        env: options.env,
        api: options.api,
        include_stage_in_url: options.include_stage_in_url,
        proxy: options.proxy.map(|p| ProxyOptions {
            url: p.url,
            reject_unauthorized: p.reject_unauthorized,
        }),
        ..Options::default()
    };
    let described = config::describe(&options);
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let (public_key, public_key_compressed, prv_key_error) = match described.public_key {
        Ok(point) => {
            let mut compressed = vec![2 + (point[64] & 1)];
            compressed.extend_from_slice(&point[1..33]);
            (Some(hex(&point)), Some(hex(&compressed)), None)
        }
        Err(e) => (None, None, Some(e.to_string())),
    };
    let (proxy, proxy_error) = match described.proxy {
        Ok(proxy) => (proxy.map(String::from), None),
        Err(e) => (None, Some(e.to_string())),
    };
    NativeDescription {
        exchange_url: described.exchange_url,
        public_key,
        public_key_compressed,
        prv_key_error,
        app_secret_error: described.app_secret.err().map(|e| e.to_string()),
        proxy,
        proxy_error,
        no_proxy_bypass: described.no_proxy_bypass,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn js_numbers_become_rust_types_or_the_cores_messages() {
        let message = |e: CoreError| e.to_string();
        for bad in [0.0, -0.0, -1.0, 1e-9, f64::NAN, f64::NEG_INFINITY] {
            assert_eq!(
                timeout_from_ms(bad).map_err(message),
                Err(config::TIMEOUT_MESSAGE.to_owned()),
                "{bad}"
            );
        }
        for huge in [1e22, 1e300, f64::MAX, f64::INFINITY] {
            assert_eq!(timeout_from_ms(huge).ok(), Some(config::MAX_TIMEOUT));
        }
        assert_eq!(
            timeout_from_ms(1500.0).ok(),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(timeout_from_ms(1e-6).ok(), Some(Duration::from_nanos(1)));

        assert_eq!(bytes_from_js(1.0).ok(), Some(1));
        assert_eq!(bytes_from_js(65536.0).ok(), Some(65536));
        assert_eq!(bytes_from_js(f64::INFINITY).ok(), Some(usize::MAX));
        assert_eq!(bytes_from_js(1e300).ok(), Some(usize::MAX));
        for bad in [0.0, -0.0, -1.0, 1.5, f64::NAN, f64::NEG_INFINITY] {
            assert_eq!(
                bytes_from_js(bad).map_err(message),
                Err(config::MAX_RESPONSE_BYTES_MESSAGE.to_owned()),
                "{bad}"
            );
        }

        assert_eq!(retries_from_js(-0.0).ok(), Some(0));
        assert_eq!(retries_from_js(10.0).ok(), Some(10));
        for bad in [-1.0, 0.5, 11.0, f64::INFINITY, f64::NAN] {
            assert_eq!(
                retries_from_js(bad).map_err(message),
                Err("retries must be an integer from 0 to 10".to_owned()),
                "{bad}"
            );
        }
    }

    fn native(timeout: Option<f64>, app_secret: Option<&str>) -> NativeOptions {
        NativeOptions {
            app_id: Some("app".into()),
            app_secret: app_secret.map(Into::into),
            prv_key: Some("1".into()),
            env: None,
            api: None,
            include_stage_in_url: None,
            proxy: None,
            civic_public_keys: None,
            timeout,
            max_response_bytes: Some(f64::NAN),
            ca: None,
            retries: None,
            node_version: None,
            llhttp_version: None,
            openssl_version: None,
            max_header_size: None,
        }
    }

    #[test]
    fn a_missing_option_is_reported_before_a_bad_number_and_numbers_in_order() {
        let message = |o: NativeOptions| o.into_options().map(|_| ()).map_err(|e| e.to_string());
        assert_eq!(
            message(native(Some(0.0), None)),
            Err("Please supply your application secret.".to_owned())
        );
        assert_eq!(
            message(native(Some(0.0), Some("s"))),
            Err(config::TIMEOUT_MESSAGE.to_owned())
        );
        assert_eq!(
            message(native(None, Some("s"))),
            Err(config::MAX_RESPONSE_BYTES_MESSAGE.to_owned())
        );
    }
}
