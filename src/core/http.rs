//! The two HTTP calls of an exchange, over one connection pool per client.

use std::error::Error as StdError;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, ACCEPT, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{redirect, Certificate, Proxy, Url};

use super::config::{ProxyOptions, AUTH_CODE_PATH};
use super::error::{Error, ErrorKind};
use super::proxy::EnvProxies;

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
#[derive(Debug)]
pub struct Http {
    client: reqwest::Client,
    route: Route,
}

/// Where connections go: straight to the server, or through a proxy.
#[derive(Debug, Clone)]
enum Route {
    Direct,
    Fixed(Url),
    Env(Arc<EnvProxies>),
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
            invalid(&format!(
                "the HTTP client could not be set up: {}",
                cause_chain(&e)
            ))
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
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
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
