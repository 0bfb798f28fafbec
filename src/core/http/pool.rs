//! The requests of one client, sent with hyper-util's pooled client (keep-alive connections,
//! reused across exchanges) over the connections `connector` makes.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderMap, HeaderValue, AUTHORIZATION, PROXY_AUTHORIZATION};
use hyper::{Method, Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls::ClientConfig;
use url::Url;

use super::connector::Connector;
use super::proxy::Route;

/// hyper's default read buffer bound (8 KiB + 100 x 4 KiB), kept as the least.
const HYPER_MAX_BUF_SIZE: usize = 8192 + 4096 * 100;

/// One request to send.
pub struct Outgoing<'a> {
    pub method: Method,
    /// Where it goes (scheme, host, port, credentials).
    pub url: &'a Url,
    /// The request target as it goes on the wire (see `request_target`).
    pub target: &'a str,
    /// The proxy `Route::proxy_for` chose for `url`, for its `Proxy-Authorization`.
    pub proxy: Option<&'a Url>,
    /// Headers besides `Host`, `Content-Length` and the credentials, which are added here.
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// The requests of one client, over a pool of their own connections.
pub struct Fetcher {
    client: Client<Connector, Full<Bytes>>,
}

impl Fetcher {
    /// `max_head` is the bound `Http` puts on a response head (Node's `maxHeaderSize`); hyper's
    /// read buffer is made to hold any head under it, with its `: ` and line ends, so the bound
    /// met is that one, not hyper's.
    pub fn new(tls: Arc<ClientConfig>, route: Route, max_head: usize) -> Fetcher {
        let connector = Connector {
            tls,
            route: Arc::new(route),
        };
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .http1_max_buf_size(max_head.saturating_mul(2).max(HYPER_MAX_BUF_SIZE))
            .build(connector);
        Fetcher { client }
    }

    /// Sends the request and returns the response, its body still to read. The error is
    /// hyper-util's, with a `Failure` as its cause when the connection could not be made.
    pub async fn send(
        &self,
        outgoing: Outgoing<'_>,
    ) -> Result<Response<Incoming>, hyper_util::client::legacy::Error> {
        let url = outgoing.url;
        let authority = match url.port() {
            Some(p) => format!("{}:{p}", url.host_str().unwrap_or_default()),
            None => url.host_str().unwrap_or_default().to_owned(),
        };
        let uri = format!("{}://{authority}{}", url.scheme(), outgoing.target);
        let mut request = Request::builder().method(outgoing.method).uri(uri.as_str());
        if let Some(headers) = request.headers_mut() {
            *headers = outgoing.headers;
            // As `request` did: credentials in the URL are sent as Basic authentication.
            if let Some(auth) = basic_credentials(url) {
                headers.insert(AUTHORIZATION, auth);
            }
            // Absolute form through the proxy: it reads its credentials from the request.
            if url.scheme() == "http" {
                if let Some(auth) = outgoing.proxy.and_then(basic_credentials) {
                    headers.insert(PROXY_AUTHORIZATION, auth);
                }
            }
        }
        // The target was encoded for a request line (`request_target`), so the URI parses. Were
        // it not to, the request would carry no URI: hyper-util refuses one without a host
        // before connecting, so nothing is sent (the caller words it as a hang-up).
        let request = request
            .body(Full::new(outgoing.body))
            .unwrap_or_else(|_| Request::new(Full::default()));
        self.client.request(request).await
    }
}

/// `Basic` credentials from a URL's user info, percent-decoded.
pub(crate) fn basic_credentials(url: &Url) -> Option<HeaderValue> {
    if url.username().is_empty() && url.password().is_none() {
        return None;
    }
    let decode = |s: &str| percent_encoding::percent_decode_str(s).collect::<Vec<u8>>();
    let mut credentials = decode(url.username());
    credentials.push(b':');
    credentials.extend(decode(url.password().unwrap_or_default()));
    let value = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(credentials)
    );
    // Base64 is always a valid header value.
    HeaderValue::try_from(value).ok()
}
