//! The two HTTP calls of an exchange, over one connection pool per client: the client API the
//! exchange uses.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http_body_util::BodyExt;
use hyper::body::Bytes;
use hyper::header::{
    HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, LOCATION,
    RETRY_AFTER,
};
use hyper::Method;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use url::Url;

use super::connector::Failure;
use super::failure::{connect_failure, find_cause, network_failure, Stage};
use super::pool::{Fetcher, Outgoing};
use super::proxy::Route;
use super::request_target::{bare_host, request_target};
use super::tls::{self, SetupError, Trust};
use crate::core::error::{Error, ErrorKind, NetworkCause, ParseFailure};
use crate::core::exchange::config::ProxyOptions;
use crate::core::redact::ShownUrl;

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
    /// Both calls, over one pool of keep-alive connections. Follows no redirect by itself: the
    /// payload GET follows its own in `get_payload`, so the exchange POST, which carries the auth
    /// code, can never be sent anywhere but where it was addressed.
    fetcher: Fetcher,
    route: Route,
    /// Node's `http.maxHeaderSize`: a response head of this many bytes (see `head_size`) or more
    /// is refused.
    max_header_size: usize,
}

// By hand: the derived forms would print a proxy URL's password.
impl std::fmt::Debug for Http {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Http")
            .field("route", &self.route)
            .finish_non_exhaustive()
    }
}

impl Http {
    /// Builds the client: the configured proxy, or else the proxy environment variables; the
    /// given CA certificates (PEM) instead of `roots`, as Node's `ca` option replaces its
    /// default roots. `roots` is what Node trusts by default in this process (index.js reads it
    /// from Node); nothing is parsed from it until the first TLS handshake.
    ///
    /// Errors (`ErrorKind::InvalidConfig`): a `proxy.url` that is not an http(s) proxy URL
    /// (`Error: Invalid protocol: htp:`, civic-sip-api's words), a `ca` that is not PEM
    /// certificates. A response head of `max_header_size` bytes or more (Node's
    /// `http.maxHeaderSize`, counted as `head_size` does) fails as `Parse Error: Header overflow`.
    pub fn new(
        proxy: Option<&ProxyOptions>,
        ca: Option<&[String]>,
        roots: Arc<tls::Roots>,
        max_header_size: usize,
    ) -> Result<Http, Error> {
        let accept_any = proxy.is_some_and(|p| p.reject_unauthorized == Some(false));
        let trust = match (accept_any, ca) {
            (true, _) => Trust::Any,
            (false, Some(pems)) => Trust::Only(parse_ca(pems)?),
            (false, None) => Trust::Default(roots),
        };
        let tls = tls::client_config(trust).map_err(|e| match e {
            SetupError::BadCa => invalid(CA_MESSAGE),
            SetupError::Config(_) => Error::new(ErrorKind::Internal),
        })?;
        let route = Route::configured(proxy)?;
        Ok(Http {
            fetcher: Fetcher::new(Arc::new(tls), route.clone(), max_header_size),
            route,
            max_header_size,
        })
    }

    /// POSTs the exchange body with Civic's headers (`Content-Type: application/json`,
    /// `Accept: */*`, `Authorization`; `Host` and `Content-Length` are added by hyper), its
    /// request target as written; reads at most `max_bytes` of the reply. Never follows a
    /// redirect: a 3xx is the reply. A URL that is not http(s), or holds credentials, is a
    /// configuration error (`api`, `env`).
    pub async fn post_auth_code(
        &self,
        url: &str,
        authorization: String,
        body: String,
        max_bytes: usize,
    ) -> Result<Reply, Error> {
        let parsed = request_url(url).map_err(|why| invalid(&format!("Error: {why}")))?;
        // They would go out as a second Authorization header; civic-sip-api dropped them.
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(invalid(
                "api must not hold credentials (user:password@): the exchange's Authorization header is Civic's",
            ));
        }
        let mut headers = HeaderMap::with_capacity(4);
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(ACCEPT, HeaderValue::from_static("*/*"));
        // A request token and a Civic extension are base64url and base64: always a valid value.
        let authorization =
            HeaderValue::try_from(authorization).map_err(|_| Error::new(ErrorKind::Internal))?;
        headers.insert(AUTHORIZATION, authorization);
        let target = request_target(url);
        self.send(Method::POST, &parsed, &target, headers, Bytes::from(body))
            .await?
            .read(max_bytes)
            .await
    }

    /// GETs the processed payload URL, its path and query on the wire as written (see
    /// `request_target`), following up to 10 redirects (any 3xx with a `Location`, as `request` did
    /// for a GET); reads at most `max_bytes` of it.
    pub async fn get_payload(&self, url: &str, max_bytes: usize) -> Result<Reply, Error> {
        let mut text = url.to_owned();
        let mut followed = 0;
        loop {
            let url = request_url(&text).map_err(|why| Error::network(why, false))?;
            let target = request_target(&text);
            let mut response = self
                .send(Method::GET, &url, &target, HeaderMap::new(), Bytes::new())
                .await?;
            let redirected = (300..400).contains(&response.head.status);
            let Some(location) = response.location.take().filter(|_| redirected) else {
                return response.read(max_bytes).await;
            };
            if followed == MAX_REDIRECTS {
                return Err(Error::network(
                    NetworkCause::TooManyRedirects(ShownUrl::of(&text)),
                    true,
                ));
            }
            // An absolute Location is taken as written; a relative one is resolved.
            text = match Url::parse(&location) {
                Ok(_) => location,
                Err(_) => url
                    .join(&location)
                    .map_err(|_| {
                        Error::network(NetworkCause::InvalidUri(ShownUrl::of(&location)), true)
                    })?
                    .into(),
            };
            followed += 1;
        }
    }

    /// Sends one request once its route is decided (an unusable proxy variable fails it here,
    /// before anything is sent), and reads the response's head; the body is left to read.
    async fn send(
        &self,
        method: Method,
        url: &Url,
        target: &str,
        headers: HeaderMap,
        body: Bytes,
    ) -> Result<Incoming, Error> {
        let proxy = self.route.proxy_for(url)?;
        let reached = proxy.as_ref().unwrap_or(url);
        let outgoing = Outgoing {
            method,
            url,
            target,
            proxy: proxy.as_ref(),
            headers,
            body,
        };
        let response =
            self.fetcher
                .send(outgoing)
                .await
                .map_err(|e| match find_cause::<Failure>(&e) {
                    Some(failure) => connect_failure(failure, url, reached),
                    None => {
                        let address = (
                            bare_host(reached),
                            reached.port_or_known_default().unwrap_or(80),
                        );
                        network_failure(&e, Stage::Exchange, Some(address))
                    }
                })?;
        let (head, body) = response.into_parts();
        if head_size(&head) >= self.max_header_size {
            return Err(Error::network(
                NetworkCause::Parse(ParseFailure::HeaderOverflow),
                true,
            ));
        }
        Ok(Incoming {
            location: head
                .headers
                .get(LOCATION)
                .map(|l| String::from_utf8_lossy(l.as_bytes()).into_owned()),
            head: Head::of(head.status.as_u16(), &head.headers),
            body,
        })
    }
}

/// The bytes of a response head Node's HTTP parser counts against `http.maxHeaderSize`
/// (`TrackHeader` in node_http_parser.cc): the status line's reason and each header's name and
/// value, without the version, code, `: ` or line ends. Measured on Node 20.20.2: with the
/// default 16384, `200 OK`, `Content-Length: 0` and one `X-Big` header of N bytes pass up to
/// N = 16361 (16383 counted) and fail at 16362; with three such headers, up to N = 5450.
fn head_size(head: &hyper::http::response::Parts) -> usize {
    let reason = match head.extensions.get::<hyper::ext::ReasonPhrase>() {
        Some(reason) => reason.as_bytes().len(),
        None => head.status.canonical_reason().map_or(0, str::len),
    };
    head.headers.iter().fold(reason, |size, (name, value)| {
        size.saturating_add(name.as_str().len() + value.len())
    })
}

/// A response whose body is still to read.
struct Incoming {
    /// Its `Location` header, for a redirect.
    location: Option<String>,
    head: Head,
    body: hyper::body::Incoming,
}

impl Incoming {
    /// Reads the body (see `read_body`).
    async fn read(self, max_bytes: usize) -> Result<Reply, Error> {
        read_body(self.head, max_bytes, self.body).await
    }
}

/// What is needed of a response's head.
struct Head {
    status: u16,
    retry_after: Option<Duration>,
    content_length: Option<u64>,
}

impl Head {
    fn of(status: u16, headers: &HeaderMap) -> Head {
        Head {
            status,
            retry_after: retry_after(headers),
            content_length: headers
                .get(CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse().ok()),
        }
    }
}

/// Reads a body chunk by chunk, refusing it as soon as it is known to exceed `max_bytes`, so a
/// hostile server cannot make us buffer more than that.
async fn read_body(
    head: Head,
    max_bytes: usize,
    mut body: hyper::body::Incoming,
) -> Result<Reply, Error> {
    let too_large = || Error::new(ErrorKind::ResponseTooLarge(max_bytes));
    let announced = head.content_length.unwrap_or(0);
    if announced > max_bytes as u64 {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(announced.min(1 << 20) as usize);
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| network_failure(&e, Stage::Body, None))?;
        let Ok(chunk) = frame.into_data() else {
            continue; // trailers
        };
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
        status: head.status,
        body,
        retry_after: head.retry_after,
    })
}

/// A URL a request may be made to, or `request`'s reason why not: `Invalid URI "<url>"` (no
/// host) or `Invalid protocol: ftp:` (a scheme other than http and https).
fn request_url(text: &str) -> Result<Url, NetworkCause> {
    let invalid_uri = || NetworkCause::InvalidUri(ShownUrl::of(text));
    let url = Url::parse(text).map_err(|_| invalid_uri())?;
    let scheme = url.scheme();
    if matches!(scheme, "http" | "https") {
        return Ok(url);
    }
    // `request` (Node's legacy URL parser) saw no host in `javascript:` URLs or in an empty
    // authority (`file:///x`), and refused those as URIs; the rest by their protocol.
    let authority = text
        .trim_start()
        .get(scheme.len() + 1..)
        .unwrap_or_default();
    if scheme == "javascript"
        || (authority.starts_with("//") && url.host_str().is_none_or(str::is_empty))
    {
        Err(invalid_uri())
    } else {
        Err(NetworkCause::InvalidProtocol(scheme.to_owned()))
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
fn parse_ca(pems: &[String]) -> Result<Vec<CertificateDer<'static>>, Error> {
    let mut certs = Vec::new();
    for pem in pems {
        match pem_certificates(pem.as_bytes()) {
            Some(found) => certs.extend(found),
            None => return Err(invalid(CA_MESSAGE)),
        }
    }
    Ok(certs)
}

/// The certificates of a PEM text: `None` if it has none or a block that does not decode.
fn pem_certificates(pem: &[u8]) -> Option<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .ok()?;
    (!certs.is_empty()).then_some(certs)
}

fn invalid(message: &str) -> Error {
    Error::new(ErrorKind::InvalidConfig(message.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let pem = include_str!("../../../__test__/fixtures/tls/ca.pem");
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

    #[test]
    fn a_heads_retry_after_and_length_are_read_for_the_reply() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        headers.insert(CONTENT_LENGTH, HeaderValue::from_static(" 5 "));
        let head = Head::of(200, &headers);
        assert_eq!(head.status, 200);
        assert_eq!(head.retry_after, Some(Duration::from_secs(7)));
        assert_eq!(head.content_length, Some(5));
    }

    #[test]
    fn a_head_is_counted_as_nodes_parser_counts_it() {
        let head = |reason: Option<&'static str>, headers: &[(&'static str, usize)]| {
            let mut response = hyper::Response::new(());
            if let Some(reason) = reason {
                response
                    .extensions_mut()
                    .insert(hyper::ext::ReasonPhrase::from_static(reason.as_bytes()));
            }
            for (name, n) in headers {
                let value = HeaderValue::from_str(&"a".repeat(*n)).expect("header");
                response.headers_mut().append(*name, value);
            }
            head_size(&response.into_parts().0)
        };
        // `OK` + `content-length` `0` + `x-big` `<16361 a>`: 16383, the most Node 20's default
        // 16384 admits (measured).
        let measured = head(None, &[("content-length", 1), ("x-big", 16361)]);
        assert_eq!(measured, 16383);
        assert!(measured < crate::core::node_words::DEFAULT_MAX_HEADER_SIZE);
        // Three headers of 5450 were the most with three; a repeated name counts each time.
        let three = [
            ("content-length", 1),
            ("x-big", 5450),
            ("x-big", 5450),
            ("x-big", 5450),
        ];
        assert_eq!(head(None, &three), 16382);
        // A reason of its own is counted as sent.
        assert_eq!(head(Some("OKAYISH"), &[("x-big", 3)]), 15);
    }
}
