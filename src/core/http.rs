//! The two HTTP calls of an exchange, over one connection pool per client.

use std::error::Error as StdError;
use std::sync::Arc;

use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{redirect, Proxy, Url};

use super::config::{ProxyOptions, AUTH_CODE_PATH};
use super::error::{Error, ErrorKind};
use super::proxy::EnvProxies;

/// Largest response body read, for the exchange reply and for the payload URL alike.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
/// How many redirects a payload fetch follows, as `request` did.
const MAX_REDIRECTS: usize = 10;

/// A response: its status and its body decoded as UTF-8, invalid bytes replaced, a BOM kept,
/// as civic-sip-api's `request` decoded it.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: String,
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
    /// Builds the client: the configured proxy, or else the proxy environment variables.
    pub fn new(proxy: Option<&ProxyOptions>) -> Result<Http, Error> {
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

    /// POSTs the exchange body with Civic's headers.
    pub async fn post_auth_code(
        &self,
        url: &str,
        authorization: String,
        body: String,
    ) -> Result<Reply, Error> {
        let request = self
            .client
            .post(url)
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "*/*")
            .header(AUTHORIZATION, authorization)
            .body(body);
        self.read(request).await
    }

    /// GETs the processed payload URL.
    pub async fn get_payload(&self, url: &str) -> Result<Reply, Error> {
        self.read(self.client.get(url)).await
    }

    async fn read(&self, request: reqwest::RequestBuilder) -> Result<Reply, Error> {
        let network = |e| network(e, &self.route);
        let mut response = request.send().await.map_err(network)?;
        let status = response.status().as_u16();
        let mut bytes = Vec::with_capacity(
            response
                .content_length()
                .map_or(4096, |n| n.min(1 << 20) as usize),
        );
        while let Some(chunk) = response.chunk().await.map_err(network)? {
            if bytes.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(Error::new(ErrorKind::Network(format!(
                    "response body larger than {MAX_BODY_BYTES} bytes"
                ))));
            }
            bytes.extend_from_slice(&chunk);
        }
        let body = match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        };
        Ok(Reply { status, body })
    }
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
    let cause = match (find_io_error(&e).map(std::io::Error::kind), host, port) {
        (Some(std::io::ErrorKind::ConnectionRefused), Some(host), Some(port)) => {
            format!("connect ECONNREFUSED {host}:{port}")
        }
        (Some(std::io::ErrorKind::ConnectionReset), _, _) => "read ECONNRESET".to_owned(),
        (_, Some(host), _)
            if chain.contains("dns error") || chain.contains("failed to lookup address") =>
        {
            format!("getaddrinfo ENOTFOUND {host}")
        }
        _ if chain.contains("connection closed before message completed")
            || chain.contains("IncompleteMessage") =>
        {
            "socket hang up".to_owned()
        }
        _ => chain,
    };
    Error::new(ErrorKind::Network(cause))
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
