//! Which proxy a URL goes through: `proxy.url`, or when none is configured the environment
//! variables, read the way civic-sip-api's HTTP library (`request`) read them, so a deployment
//! behaves the same.
//!
//! - `NO_PROXY` (or `no_proxy`): `*` bypasses every proxy; otherwise a comma-separated list of
//!   host suffixes, each optionally with `:port`, matched on whole labels (`civic.com` and
//!   `.civic.com` both cover `api.civic.com`).
//! - `http:` URLs use `HTTP_PROXY` / `http_proxy`; `https:` URLs use `HTTPS_PROXY` /
//!   `https_proxy`, then fall back to `HTTP_PROXY` / `http_proxy`.
//!
//! Chosen here rather than by hyper-util's proxy support, whose tunnel errors drop the status a
//! proxy refused the CONNECT with: the route decided here is what `connector` connects through
//! and `tunnel` tunnels through, so each failure keeps what Node's words for it need.

use std::sync::Arc;

use url::Url;

use crate::core::error::{Error, ErrorKind};
use crate::core::exchange::config::ProxyOptions;
use crate::core::redact::shown_proxy;

/// Where a client's connections go: straight to the server, or through a proxy.
#[derive(Clone)]
pub enum Route {
    Direct,
    /// `proxy.url`: every request, whatever its host.
    Fixed(Url),
    /// The environment variables, read once when the client was made.
    Env(Arc<EnvProxies>),
}

impl Route {
    /// The route of a client made with this `proxy` option. civic-sip-api passed `proxy.url` to
    /// `request` as is: given, it is the proxy for every call; a `proxy` without a `url` is no
    /// proxy (not even the environment's); no `proxy` at all reads the environment variables.
    /// Errors as [`proxy_url`] for a `proxy.url` that cannot be used.
    pub fn configured(proxy: Option<&ProxyOptions>) -> Result<Route, Error> {
        Ok(match proxy {
            Some(options) => match options.url.as_deref().filter(|u| !u.is_empty()) {
                Some(url) => Route::Fixed(proxy_url(url, "proxy.url")?),
                None => Route::Direct,
            },
            None => {
                let env = EnvProxies::from_env();
                if env.is_empty() {
                    Route::Direct
                } else {
                    Route::Env(Arc::new(env))
                }
            }
        })
    }

    /// Whether `NO_PROXY` is why a request to `target` goes direct: a proxy variable would
    /// apply to it but the list covers its host.
    pub fn bypassed_for(&self, target: &Url) -> bool {
        match (self, target.host_str()) {
            (Route::Env(env), Some(host)) => {
                let unlisted = EnvProxies {
                    no_proxy: None,
                    ..EnvProxies::clone(env)
                };
                env.for_url(target.scheme(), host, target.port()).is_none()
                    && unlisted
                        .for_url(target.scheme(), host, target.port())
                        .is_some()
            }
            _ => false,
        }
    }

    /// The proxy for a request to `target`. An environment variable that applies to it but
    /// cannot be used is an error, never a reason to go direct (as in `request`, a variable that
    /// does not apply is no error).
    pub fn proxy_for(&self, target: &Url) -> Result<Option<Url>, Error> {
        match self {
            Route::Direct => Ok(None),
            Route::Fixed(proxy) => Ok(Some(proxy.clone())),
            Route::Env(env) => match target.host_str() {
                Some(host) => env
                    .for_url(target.scheme(), host, target.port())
                    .map(|text| proxy_url(text, "the proxy environment variable"))
                    .transpose(),
                None => Ok(None),
            },
        }
    }
}

// By hand: the derived form would print a proxy URL's password.
impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Route::Direct => f.write_str("Direct"),
            Route::Fixed(url) => f
                .debug_tuple("Fixed")
                .field(&shown_proxy(url.as_str()))
                .finish(),
            Route::Env(env) => f.debug_tuple("Env").field(env).finish(),
        }
    }
}

/// A proxy URL, http or https; `host:port` without a scheme means plain HTTP. Anything else is
/// refused, never skipped: `Error: Invalid protocol: htp:` (civic-sip-api's words) for another
/// scheme, `<name> is not a valid proxy URL` for the rest. Never echoes the URL (a password).
pub fn proxy_url(text: &str, name: &str) -> Result<Url, Error> {
    let invalid = |message: String| Error::new(ErrorKind::InvalidConfig(message));
    let not_valid = || invalid(format!("{name} is not a valid proxy URL"));
    let url = if text.contains("://") {
        Url::parse(text).map_err(|_| not_valid())?
    } else {
        // Scheme-less only as `host:port`: a lone word or number is no proxy address.
        let url = Url::parse(&format!("http://{}", text.trim())).map_err(|_| not_valid())?;
        if url.port().is_none() || url.path() != "/" || url.query().is_some() {
            return Err(invalid("Error: Invalid protocol: null".to_owned()));
        }
        url
    };
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(format!(
            "Error: Invalid protocol: {}:",
            url.scheme()
        )));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(not_valid());
    }
    Ok(url)
}

/// A snapshot of the proxy environment variables.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct EnvProxies {
    pub http: Option<String>,
    pub https: Option<String>,
    pub no_proxy: Option<String>,
}

impl EnvProxies {
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the variables through `get`; the upper-case name wins, empty counts as unset.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Self {
        let var = |upper: &str, lower: &str| {
            get(upper)
                .filter(|v| !v.is_empty())
                .or_else(|| get(lower).filter(|v| !v.is_empty()))
        };
        EnvProxies {
            http: var("HTTP_PROXY", "http_proxy"),
            https: var("HTTPS_PROXY", "https_proxy"),
            no_proxy: var("NO_PROXY", "no_proxy"),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.http.is_none() && self.https.is_none()
    }

    /// The proxy for a URL with this scheme, host and port (`None` = the scheme's default port).
    pub fn for_url(&self, scheme: &str, host: &str, port: Option<u16>) -> Option<&str> {
        let port = port.unwrap_or(if scheme == "https" { 443 } else { 80 });
        if let Some(list) = &self.no_proxy {
            if list.trim() == "*" || list.split(',').any(|zone| bypasses(zone, host, port)) {
                return None;
            }
        }
        match scheme {
            "http" => self.http.as_deref(),
            "https" => self.https.as_deref().or(self.http.as_deref()),
            _ => None,
        }
    }
}

impl std::fmt::Debug for EnvProxies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = |url: &Option<String>| url.as_deref().map(shown_proxy);
        f.debug_struct("EnvProxies")
            .field("http", &shown(&self.http))
            .field("https", &shown(&self.https))
            .field("no_proxy", &self.no_proxy)
            .finish()
    }
}

/// Whether one `NO_PROXY` entry covers the host and port.
fn bypasses(zone: &str, host: &str, port: u16) -> bool {
    let zone = zone.trim().to_ascii_lowercase();
    if zone.is_empty() {
        return false;
    }
    let (zone_host, zone_port) = match zone.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (zone.as_str(), None),
    };
    let dotted = |h: &str| format!(".{}", h.trim_start_matches('.').to_ascii_lowercase());
    let host_matches = dotted(host).ends_with(&dotted(zone_host));
    host_matches && zone_port.is_none_or(|p| p == port.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> EnvProxies {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        EnvProxies::from_lookup(move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn bypassed_only_where_no_proxy_is_why_a_request_goes_direct() {
        let route = |pairs: &[(&str, &str)]| Route::Env(Arc::new(env(pairs)));
        let url = |u: &str| Url::parse(u).unwrap();
        let listed = route(&[
            ("HTTPS_PROXY", "http://127.0.0.1:3128"),
            ("NO_PROXY", "civic.com"),
        ]);
        assert!(listed.bypassed_for(&url("https://api.civic.com/sip/")));
        assert!(!listed.bypassed_for(&url("https://localhost/")));
        // No variable for http: direct, but not because of NO_PROXY.
        let https_only = route(&[("HTTPS_PROXY", "http://127.0.0.1:3128"), ("NO_PROXY", "*")]);
        assert!(https_only.bypassed_for(&url("https://localhost/")));
        assert!(!https_only.bypassed_for(&url("http://localhost/")));
        assert!(!Route::Direct.bypassed_for(&url("https://api.civic.com/")));
    }

    #[test]
    fn debug_output_hides_a_proxy_user_and_password() {
        let e = env(&[("HTTPS_PROXY", "http://USERMARK:s3cret@p:1")]);
        let fixed = Route::Fixed(Url::parse("http://USERMARK:s3cret@q:2/").expect("url"));
        let debug = format!("{e:?} {fixed:?}");
        assert!(
            !debug.contains("s3cret") && !debug.contains("USERMARK"),
            "{debug}"
        );
        assert!(debug.contains("\"http://p:1/\""), "{debug}");
        assert!(debug.contains("Fixed(\"http://q:2/\")"), "{debug}");
    }

    #[test]
    fn scheme_picks_the_variable_and_https_falls_back_to_http_proxy() {
        let e = env(&[("HTTP_PROXY", "http://p:1"), ("https_proxy", "http://s:2")]);
        assert_eq!(e.for_url("http", "api.civic.com", None), Some("http://p:1"));
        assert_eq!(
            e.for_url("https", "api.civic.com", None),
            Some("http://s:2")
        );
        let only_http = env(&[("http_proxy", "http://p:1")]);
        assert_eq!(
            only_http.for_url("https", "api.civic.com", None),
            Some("http://p:1")
        );
        assert_eq!(env(&[]).for_url("https", "api.civic.com", None), None);
        assert!(env(&[("HTTP_PROXY", "")]).is_empty());
    }

    #[test]
    fn no_proxy_matches_suffixes_on_label_boundaries_and_ports() {
        let with = |no: &str| env(&[("HTTP_PROXY", "http://p:1"), ("NO_PROXY", no)]);
        assert_eq!(with("*").for_url("http", "anything", None), None);
        assert_eq!(
            with("civic.com").for_url("https", "api.civic.com", None),
            None
        );
        assert_eq!(
            with(".civic.com").for_url("https", "api.civic.com", None),
            None
        );
        assert_eq!(
            with("ivic.com").for_url("https", "api.civic.com", None),
            Some("http://p:1")
        );
        assert_eq!(
            with("127.0.0.1:8080").for_url("http", "127.0.0.1", Some(8080)),
            None
        );
        assert_eq!(
            with("127.0.0.1:8080").for_url("http", "127.0.0.1", Some(9090)),
            Some("http://p:1")
        );
        assert_eq!(
            with("x.org, API.CIVIC.COM:443").for_url("https", "api.civic.com", None),
            None
        );
        assert_eq!(with(" , ").for_url("http", "h", None), Some("http://p:1"));
    }
}
