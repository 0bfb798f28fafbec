//! The two HTTP calls of an exchange, over one connection pool per client.

use std::error::Error as StdError;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, ACCEPT, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{redirect, Certificate, Proxy, Url};

use super::config::{ProxyOptions, AUTH_CODE_PATH};
use super::error::{Error, ErrorKind};
use super::proxy::{without_password, EnvProxies};

const CA_MESSAGE: &str = "ca must be PEM certificates (-----BEGIN CERTIFICATE-----)";
/// How many redirects a payload fetch follows, as `request` did.
const MAX_REDIRECTS: usize = 10;

/// A response: its status and its body decoded as UTF-8, invalid bytes replaced, a BOM kept,
/// as civic-sip-api's `request` decoded it.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: String,
    /// How long the server asked to be left alone (`Retry-After`), for a retry.
    pub retry_after: Option<Duration>,
}

/// The HTTP client of one Civic client, and where its connections go.
pub struct Http {
    client: reqwest::Client,
    route: Route,
}

// By hand: the derived forms would print a proxy URL's password.
impl std::fmt::Debug for Http {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Http")
            .field("route", &self.route)
            .finish_non_exhaustive()
    }
}

/// Where connections go: straight to the server, or through a proxy.
#[derive(Clone)]
enum Route {
    Direct,
    Fixed(Url),
    Env(Arc<EnvProxies>),
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Route::Direct => f.write_str("Direct"),
            Route::Fixed(url) => f
                .debug_tuple("Fixed")
                .field(&without_password(url.as_str()))
                .finish(),
            Route::Env(env) => f.debug_tuple("Env").field(env).finish(),
        }
    }
}

impl Route {
    fn proxy_for(&self, target: &Url) -> Option<Url> {
        match self {
            Route::Direct => None,
            Route::Fixed(proxy) => Some(proxy.clone()),
            Route::Env(env) => env
                .for_url(target.scheme(), target.host_str()?, target.port())
                .and_then(proxy_url),
        }
    }
}

impl Http {
    /// Builds the client: the configured proxy, or else the proxy environment variables; the
    /// given CA certificates (PEM) instead of the system's roots, or else the system's roots plus
    /// `NODE_EXTRA_CA_CERTS`, as Node treats its own `ca` option and that variable.
    pub fn new(proxy: Option<&ProxyOptions>, ca: Option<&[String]>) -> Result<Http, Error> {
        super::tls::install_default();
        let mut builder = reqwest::Client::builder()
            .no_proxy()
            .redirect(redirect::Policy::custom(|attempt| {
                // `request` followed redirects for GET (the payload URL) but never for the POST.
                let from_exchange = attempt
                    .previous()
                    .first()
                    .is_some_and(|u| u.path().ends_with(AUTH_CODE_PATH));
                if from_exchange {
                    attempt.stop()
                } else if attempt.previous().len() > MAX_REDIRECTS {
                    attempt.error("Exceeded maxRedirects. Probably stuck in a redirect loop")
                } else {
                    attempt.follow()
                }
            }));
        builder = match ca {
            Some(pems) => builder.tls_certs_only(parse_ca(pems)?),
            None => builder.tls_certs_merge(node_extra_ca_certs()),
        };
        let route = match proxy {
            // civic-sip-api passed `proxy.url` to `request` as is: given, it is the proxy for
            // every call; absent, there is none (not even the environment's).
            Some(options) => {
                if options.reject_unauthorized == Some(false) {
                    builder = builder.tls_danger_accept_invalid_certs(true);
                }
                match options.url.as_deref().filter(|u| !u.is_empty()) {
                    Some(url) => Route::Fixed(
                        proxy_url(url)
                            .ok_or_else(|| invalid("proxy.url is not a valid proxy URL"))?,
                    ),
                    None => Route::Direct,
                }
            }
            None => {
                let env = EnvProxies::from_env();
                if env.is_empty() {
                    Route::Direct
                } else {
                    Route::Env(Arc::new(env))
                }
            }
        };
        if !matches!(route, Route::Direct) {
            let chooser = route.clone();
            builder = builder.proxy(Proxy::custom(move |url| chooser.proxy_for(url)));
        }
        let client = builder.build().map_err(|e| {
            let why = cause_chain(&e);
            // A PEM block whose content is not a certificate is only found out here.
            if ca.is_some() && why.contains("certificate") {
                invalid(CA_MESSAGE)
            } else {
                invalid(&format!("the HTTP client could not be set up: {why}"))
            }
        })?;
        Ok(Http { client, route })
    }

    /// POSTs the exchange body with Civic's headers; reads at most `max_bytes` of the reply.
    pub async fn post_auth_code(
        &self,
        url: &str,
        authorization: String,
        body: String,
        max_bytes: usize,
    ) -> Result<Reply, Error> {
        let request = self
            .client
            .post(url)
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "*/*")
            .header(AUTHORIZATION, authorization)
            .body(body);
        self.read(request, max_bytes).await
    }

    /// GETs the processed payload URL; reads at most `max_bytes` of it.
    pub async fn get_payload(&self, url: &str, max_bytes: usize) -> Result<Reply, Error> {
        self.read(self.client.get(url), max_bytes).await
    }

    /// Sends the request and reads the body as it streams in, refusing it as soon as it is known
    /// to exceed `max_bytes`, so a hostile server cannot make us buffer more than that.
    async fn read(
        &self,
        request: reqwest::RequestBuilder,
        max_bytes: usize,
    ) -> Result<Reply, Error> {
        let network = |e| network(e, &self.route);
        let too_large = || Error::new(ErrorKind::TooLarge(max_bytes));
        let mut response = request.send().await.map_err(network)?;
        let status = response.status().as_u16();
        let retry_after = retry_after(response.headers());
        let announced = response.content_length().unwrap_or(0);
        if announced > max_bytes as u64 {
            return Err(too_large());
        }
        let mut bytes = Vec::with_capacity(announced.min(1 << 20) as usize);
        while let Some(chunk) = response.chunk().await.map_err(network)? {
            if bytes.len() + chunk.len() > max_bytes {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        let body = match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        };
        Ok(Reply {
            status,
            body,
            retry_after,
        })
    }
}

/// `Retry-After` as a number of seconds or an HTTP date; a date in the past means now.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Seconds; more than u64 holds is simply the longest wait there is.
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(
        at.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// The `ca` option's certificates; an entry with none, or one that does not parse, is refused
/// (never echoed: it is the caller's configuration, not a secret, but can be long).
fn parse_ca(pems: &[String]) -> Result<Vec<Certificate>, Error> {
    let mut certs = Vec::new();
    for pem in pems {
        match Certificate::from_pem_bundle(pem.as_bytes()) {
            Ok(found) if !found.is_empty() => certs.extend(found),
            _ => {
                return Err(invalid(
                    "ca must be PEM certificates (-----BEGIN CERTIFICATE-----)",
                ))
            }
        }
    }
    Ok(certs)
}

/// The certificates of the file `NODE_EXTRA_CA_CERTS` names, which Node adds to its roots. Node
/// already warned at startup if the file cannot be read, so a bad file is ignored here.
fn node_extra_ca_certs() -> Vec<Certificate> {
    std::env::var_os("NODE_EXTRA_CA_CERTS")
        .filter(|path| !path.is_empty())
        .and_then(|path| std::fs::read(path).ok())
        .and_then(|pem| Certificate::from_pem_bundle(&pem).ok())
        .unwrap_or_default()
}

/// A proxy URL; `host:port` without a scheme means plain HTTP.
fn proxy_url(text: &str) -> Option<Url> {
    if text.contains("://") {
        Url::parse(text).ok()
    } else {
        Url::parse(&format!("http://{text}")).ok()
    }
}

fn invalid(message: &str) -> Error {
    Error::new(ErrorKind::InvalidConfig(message.to_owned()))
}

/// A network failure, worded like Node's where there is an equivalent (`connect ECONNREFUSED
/// 127.0.0.1:8080`, `socket hang up`), so logs read the same as with civic-sip-api.
/// A refused connection names what it tried to reach: the proxy when there is one.
fn network(e: reqwest::Error, route: &Route) -> Error {
    let reached = e
        .url()
        .map(|target| route.proxy_for(target).unwrap_or_else(|| target.clone()));
    let host = reached.as_ref().map(|u| {
        let host = u.host_str().unwrap_or_default();
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned()
    });
    let port = reached.as_ref().and_then(Url::port_or_known_default);
    let chain = cause_chain(&e);
    let io_kind = find_io_error(&e).map(std::io::Error::kind);
    let dns = chain.contains("dns error") || chain.contains("failed to lookup address");
    // Not reaching the server at all, as opposed to a TLS or protocol failure once connected.
    let unreached = e.is_connect()
        && (dns
            || matches!(
                io_kind,
                Some(
                    std::io::ErrorKind::ConnectionRefused
                        | std::io::ErrorKind::ConnectionReset
                        | std::io::ErrorKind::ConnectionAborted
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::AddrNotAvailable
                )
            ));
    let cause = match (io_kind, host, port) {
        (Some(std::io::ErrorKind::ConnectionRefused), Some(host), Some(port)) => {
            format!("connect ECONNREFUSED {host}:{port}")
        }
        (Some(std::io::ErrorKind::ConnectionReset), _, _) => "read ECONNRESET".to_owned(),
        (_, Some(host), _) if dns => format!("getaddrinfo ENOTFOUND {host}"),
        _ if chain.contains("connection closed before message completed")
            || chain.contains("IncompleteMessage") =>
        {
            "socket hang up".to_owned()
        }
        _ => chain,
    };
    let error = Error::new(ErrorKind::Network(cause));
    if unreached {
        error.before_sending()
    } else {
        error
    }
}

fn find_io_error<'a>(e: &'a (dyn StdError + 'static)) -> Option<&'a std::io::Error> {
    let mut source = e.source();
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return Some(io);
        }
        source = s.source();
    }
    None
}

/// The error and its causes, joined, without the URL (which may carry a pre-signed token).
fn cause_chain(e: &reqwest::Error) -> String {
    let mut parts = vec![without_url(e)];
    let mut source = StdError::source(e);
    while let Some(s) = source {
        let text = s.to_string();
        if parts.last() != Some(&text) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

/// reqwest's message for the error itself, without the URL it appends.
fn without_url(e: &reqwest::Error) -> String {
    let text = e.to_string();
    match e.url() {
        Some(u) => text.replace(&format!(" for url ({u})"), ""),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn after(value: &str) -> Option<Duration> {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_str(value).expect("header"));
        retry_after(&headers)
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        assert_eq!(after("0"), Some(Duration::ZERO));
        assert_eq!(after(" 120 "), Some(Duration::from_secs(120)));
        assert_eq!(after("Sun, 06 Nov 1994 08:49:37 GMT"), Some(Duration::ZERO));
        let soon = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(30));
        let wait = after(&soon).expect("a date");
        assert!((Duration::from_secs(28)..=Duration::from_secs(30)).contains(&wait));
        for junk in ["-1", "soon", "1.5", ""] {
            assert_eq!(after(junk), None, "{junk}");
        }
        assert_eq!(retry_after(&HeaderMap::new()), None);
    }

    #[test]
    fn the_ca_option_takes_pem_certificates_only() {
        let pem = include_str!("../../__test__/fixtures/tls/ca.pem");
        assert_eq!(parse_ca(&[pem.to_owned()]).map(|c| c.len()), Ok(1));
        for bad in [
            "",
            "junk",
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        ] {
            let err = parse_ca(&[pem.to_owned(), bad.to_owned()]).expect_err(bad);
            assert_eq!(
                err.to_string(),
                "ca must be PEM certificates (-----BEGIN CERTIFICATE-----)"
            );
        }
    }
}
