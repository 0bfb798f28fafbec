//! The two HTTP calls of an exchange, over one connection pool per client.

use std::error::Error as StdError;

use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{redirect, Proxy, Url};

use super::config::{ProxyOptions, AUTH_CODE_PATH};
use super::error::{Error, ErrorKind};
use super::proxy::EnvProxies;

/// Largest response body read, for the exchange reply and for the payload URL alike.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
/// How many redirects a payload fetch follows, as `request` did.
const MAX_REDIRECTS: usize = 10;

/// A response: its status and its body decoded as UTF-8 (invalid bytes replaced, a leading BOM
/// dropped, as `request` decoded it).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: String,
}

/// Builds the client: the configured proxy, or else the proxy environment variables.
pub fn build(proxy: Option<&ProxyOptions>) -> Result<reqwest::Client, Error> {
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
    match proxy {
        Some(options) => {
            // civic-sip-api passed `proxy.url` to `request` as is: given, it is the proxy for
            // every call; absent, there is none (not even the environment's).
            if let Some(url) = options.url.as_deref().filter(|u| !u.is_empty()) {
                let url =
                    proxy_url(url).ok_or_else(|| invalid("proxy.url is not a valid proxy URL"))?;
                builder = builder.proxy(
                    Proxy::all(url).map_err(|_| invalid("proxy.url is not a valid proxy URL"))?,
                );
            }
            if options.reject_unauthorized == Some(false) {
                builder = builder.tls_danger_accept_invalid_certs(true);
            }
        }
        None => {
            let env = EnvProxies::from_env();
            if !env.is_empty() {
                builder = builder.proxy(Proxy::custom(move |url| {
                    let host = url.host_str()?;
                    env.for_url(url.scheme(), host, url.port())
                        .and_then(proxy_url)
                }));
            }
        }
    }
    builder.build().map_err(|e| {
        invalid(&format!(
            "the HTTP client could not be set up: {}",
            cause_chain(&e)
        ))
    })
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

/// POSTs the exchange body with Civic's headers.
pub async fn post_auth_code(
    client: &reqwest::Client,
    url: &str,
    authorization: String,
    body: String,
) -> Result<Reply, Error> {
    let request = client
        .post(url)
        .header(CONTENT_TYPE, "application/json")
        .header(ACCEPT, "*/*")
        .header(AUTHORIZATION, authorization)
        .body(body);
    read(request).await
}

/// GETs the processed payload URL.
pub async fn get_payload(client: &reqwest::Client, url: &str) -> Result<Reply, Error> {
    read(client.get(url)).await
}

async fn read(request: reqwest::RequestBuilder) -> Result<Reply, Error> {
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
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    };
    let body = match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_owned(),
        None => text,
    };
    Ok(Reply { status, body })
}

/// A network failure, worded like Node's where there is an equivalent (`connect ECONNREFUSED
/// 127.0.0.1:8080`, `socket hang up`), so logs read the same as with civic-sip-api.
fn network(e: reqwest::Error) -> Error {
    let address = e.url().map(|u| {
        let host = u
            .host_str()
            .unwrap_or_default()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        (
            host.clone(),
            format!("{host}:{}", u.port_or_known_default().unwrap_or(0)),
        )
    });
    let io_kind = find_io_error(&e).map(std::io::Error::kind);
    let chain = cause_chain(&e);
    let cause = match (io_kind, address) {
        (Some(std::io::ErrorKind::ConnectionRefused), Some((_, addr))) => {
            format!("connect ECONNREFUSED {addr}")
        }
        (Some(std::io::ErrorKind::ConnectionReset), _) => "read ECONNRESET".to_owned(),
        _ if chain.contains("dns error") || chain.contains("failed to lookup address") => {
            match e.url() {
                Some(u) => format!("getaddrinfo ENOTFOUND {}", u.host_str().unwrap_or_default()),
                None => chain,
            }
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
