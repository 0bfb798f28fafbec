//! The two HTTP calls of an exchange, over one connection pool per client.

use std::error::Error as StdError;
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

use super::config::ProxyOptions;
use super::error::{Error, ErrorKind, NetworkCause, ParseFailure};
use super::proxy::Route;
use super::redact::ShownUrl;
use super::tls::{self, SetupError, Trust};
use super::verbatim::{self, bare_host, Failure, Outgoing};

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
    fetcher: verbatim::Fetcher,
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

impl Http {
    /// Builds the client: the configured proxy, or else the proxy environment variables; the
    /// given CA certificates (PEM) instead of `roots`, as Node's `ca` option replaces its
    /// default roots. `roots` is what Node trusts by default in this process (index.js reads it
    /// from Node); nothing is parsed from it until the first TLS handshake.
    ///
    /// Errors (`ErrorKind::InvalidConfig`): a `proxy.url` that is not an http(s) proxy URL
    /// (`Error: Invalid protocol: htp:`, civic-sip-api's words), a `ca` that is not PEM
    /// certificates.
    pub fn new(
        proxy: Option<&ProxyOptions>,
        ca: Option<&[String]>,
        roots: Arc<tls::Roots>,
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
            fetcher: verbatim::Fetcher::new(Arc::new(tls), route.clone()),
            route,
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
        let target = verbatim::request_target(url);
        self.send(Method::POST, &parsed, &target, headers, Bytes::from(body))
            .await?
            .read(max_bytes)
            .await
    }

    /// GETs the processed payload URL, its path and query on the wire as written (see
    /// `verbatim`), following up to 10 redirects (any 3xx with a `Location`, as `request` did
    /// for a GET); reads at most `max_bytes` of it.
    pub async fn get_payload(&self, url: &str, max_bytes: usize) -> Result<Reply, Error> {
        let mut text = url.to_owned();
        let mut followed = 0;
        loop {
            let url = request_url(&text).map_err(|why| Error::network(why, false))?;
            let target = verbatim::request_target(&text);
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

/// Where a network failure happened, which decides some of its words.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Making the connection (TCP, TLS, proxy tunnel).
    Connect,
    /// Sending the request and reading the response head.
    Exchange,
    /// Reading the body.
    Body,
}

/// A connection that could not be made, in Node's words (`request`'s for a proxy's refusal).
fn connect_failure(failure: &Failure, url: &Url, reached: &Url) -> Error {
    use Failure as F;
    let address = Some((
        bare_host(reached),
        reached.port_or_known_default().unwrap_or(80),
    ));
    match failure {
        F::Dns(host) => Error::network(NetworkCause::HostNotFound(host.clone()), false),
        F::Tunnel(status) => Error::network(NetworkCause::TunnelRefused(*status), true),
        // `request` (tunnel-agent) words every other failure of the CONNECT by its cause.
        F::TunnelClosed | F::TunnelIo(_) | F::TunnelAnswer(_) => {
            let cause = match failure {
                F::TunnelIo(e) => node_cause(e, Stage::Exchange, address),
                F::TunnelAnswer(verbatim::BadAnswer::NotHttp) => {
                    NetworkCause::Parse(ParseFailure::NotHttp)
                }
                F::TunnelAnswer(verbatim::BadAnswer::Status) => {
                    NetworkCause::Parse(ParseFailure::Status)
                }
                F::TunnelAnswer(verbatim::BadAnswer::TooLong) => {
                    NetworkCause::Parse(ParseFailure::HeaderOverflow)
                }
                _ => NetworkCause::HangUp,
            };
            Error::network(NetworkCause::TunnelFailed(Box::new(cause)), true)
        }
        F::Proxy(e) => e.clone(),
        F::Connect(e, at) => match local_failure(e, at) {
            Some(cause) => Error::network(cause, false),
            None => network_failure(e, Stage::Connect, Some((at.ip().to_string(), at.port()))),
        },
        F::Io(e) => network_failure(e, Stage::Connect, address),
        F::Invalid => Error::network(NetworkCause::InvalidUri(ShownUrl::of(url.as_str())), false),
    }
}

/// A connection that failed on this machine before anything was sent, in Node's words: libuv's
/// code for the system error, and the local address Node's `net` puts after it for a failure
/// `connect()` reported at once (`- Local (undefined:undefined)` where the socket could not even
/// be made, as with descriptors exhausted; the unbound address where it could). `None` for
/// the failures the network reports (refused, unreachable host, timed out), worded elsewhere.
fn local_failure(e: &std::io::Error, at: &std::net::SocketAddr) -> Option<NetworkCause> {
    let unbound = if at.is_ipv6() { ":::0" } else { "0.0.0.0:0" };
    let (code, local) = match e.raw_os_error()? {
        errno::EMFILE => ("EMFILE", "undefined:undefined"),
        errno::ENFILE => ("ENFILE", "undefined:undefined"),
        errno::ENOBUFS => ("ENOBUFS", "undefined:undefined"),
        errno::EADDRNOTAVAIL => ("EADDRNOTAVAIL", unbound),
        errno::EACCES => ("EACCES", unbound),
        errno::EPERM => ("EPERM", unbound),
        errno::ENETUNREACH => ("ENETUNREACH", unbound),
        _ => return None,
    };
    Some(NetworkCause::LocalConnect {
        code,
        host: at.ip().to_string(),
        port: at.port(),
        local,
    })
}

/// The system's numbers for the errors `local_failure` words: libc's on Unix, Winsock's on
/// Windows (which libuv maps to the same codes).
mod errno {
    #[cfg(windows)]
    pub use self::windows::*;
    #[cfg(unix)]
    pub use libc::{EACCES, EADDRNOTAVAIL, EMFILE, ENETUNREACH, ENFILE, ENOBUFS, EPERM};

    #[cfg(windows)]
    mod windows {
        // No Winsock equivalent of EPERM or ENFILE: numbers no call returns.
        pub const EPERM: i32 = -1;
        pub const ENFILE: i32 = -2;
        pub const EACCES: i32 = 10013;
        pub const EMFILE: i32 = 10024;
        pub const EADDRNOTAVAIL: i32 = 10049;
        pub const ENETUNREACH: i32 = 10051;
        pub const ENOBUFS: i32 = 10055;
    }
}

/// A network failure in Node's words (`connect ECONNREFUSED 127.0.0.1:8080`, `socket hang up`,
/// `aborted`, `self-signed certificate`), chosen by the typed cause in `e` or below it, so logs
/// read the same as with civic-sip-api and no hyper or rustls wording reaches a
/// message. `address` is what the connection was for (host, port).
fn network_failure(
    e: &(dyn StdError + 'static),
    stage: Stage,
    address: Option<(String, u16)>,
) -> Error {
    use std::io::ErrorKind as Io;
    // Not reaching the server at all, as opposed to a TLS or protocol failure once connected.
    let unreached = stage == Stage::Connect
        && matches!(
            find_cause::<std::io::Error>(e).map(std::io::Error::kind),
            Some(
                Io::ConnectionRefused
                    | Io::ConnectionReset
                    | Io::ConnectionAborted
                    | Io::TimedOut
                    | Io::AddrNotAvailable
            )
        );
    Error::network(node_cause(e, stage, address), !unreached)
}

/// The cause of a network failure as Node would report it (see `network_failure`).
fn node_cause(
    e: &(dyn StdError + 'static),
    stage: Stage,
    address: Option<(String, u16)>,
) -> NetworkCause {
    use std::io::ErrorKind as Io;
    if let Some(words) = find_tls_error(e).and_then(tls::node_words) {
        return NetworkCause::Tls(words);
    }
    let (host, port) = address.unwrap_or_default();
    match find_cause::<std::io::Error>(e).map(std::io::Error::kind) {
        Some(Io::ConnectionRefused) => NetworkCause::Refused { host, port },
        Some(Io::TimedOut) if stage == Stage::Connect => {
            NetworkCause::ConnectTimedOut { host, port }
        }
        Some(Io::ConnectionReset) => NetworkCause::Reset,
        // The body stopped short (of its Content-Length, or of its last chunk).
        _ if stage == Stage::Body => NetworkCause::BodyCutShort,
        _ => match find_cause::<hyper::Error>(e) {
            Some(h) if h.is_parse_status() => NetworkCause::Parse(ParseFailure::Status),
            Some(h) if h.is_parse() => NetworkCause::Parse(ParseFailure::NotHttp),
            // Closed before a whole response came: Node's word for it.
            _ => NetworkCause::HangUp,
        },
    }
}

/// The rustls error in `e` or its causes, also where an `io::Error` carries it (tokio-rustls wraps it in
/// one, and the connector may wrap that in another).
fn find_tls_error<'a>(e: &'a (dyn StdError + 'static)) -> Option<&'a rustls::Error> {
    fn inside<'a>(e: &'a (dyn StdError + 'static)) -> Option<&'a rustls::Error> {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        let io = e.downcast_ref::<std::io::Error>()?;
        let inner: &(dyn StdError + 'static) = io.get_ref()?;
        inside(inner)
    }
    std::iter::successors(Some(e), |&e| e.source()).find_map(inside)
}

/// The first error of type `T` in `e` and its causes.
fn find_cause<'a, T: StdError + 'static>(e: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    std::iter::successors(Some(e), |&e| e.source()).find_map(|e| e.downcast_ref::<T>())
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
    fn local_failures_of_connect_are_worded_as_nodes_net_words_them() {
        let v4: std::net::SocketAddr = "127.0.0.1:443".parse().expect("address");
        let v6: std::net::SocketAddr = "[::1]:8443".parse().expect("address");
        let words = |errno: i32, at: &std::net::SocketAddr| {
            local_failure(&std::io::Error::from_raw_os_error(errno), at).map(|c| c.to_string())
        };
        assert_eq!(
            words(errno::EMFILE, &v4).as_deref(),
            Some("connect EMFILE 127.0.0.1:443 - Local (undefined:undefined)")
        );
        assert_eq!(
            words(errno::ENFILE, &v6).as_deref(),
            Some("connect ENFILE ::1:8443 - Local (undefined:undefined)")
        );
        // A socket was made: Node reports its unbound local address.
        assert_eq!(
            words(errno::EADDRNOTAVAIL, &v4).as_deref(),
            Some("connect EADDRNOTAVAIL 127.0.0.1:443 - Local (0.0.0.0:0)")
        );
        assert_eq!(
            words(errno::ENETUNREACH, &v6).as_deref(),
            Some("connect ENETUNREACH ::1:8443 - Local (:::0)")
        );
        // What the network answers is worded elsewhere (`connect ECONNREFUSED ...`).
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(local_failure(&refused, &v4), None);
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
    // The HTTP path against real servers on 127.0.0.1 (as reqwest's own tests do): what reaches
    // the wire, what is read back, and how failures are worded.

    use std::sync::atomic::{AtomicU64, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    fn no_roots() -> Arc<tls::Roots> {
        Arc::new(tls::Roots::new(Vec::new()))
    }

    /// A client that goes straight to the server (the environment's proxy variables unread).
    fn direct() -> Http {
        let options = ProxyOptions {
            url: None,
            reject_unauthorized: None,
        };
        Http::new(Some(&options), None, no_roots()).expect("client")
    }

    async fn listener() -> (TcpListener, u16) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("address").port();
        (listener, port)
    }

    /// Reads one request off `stream`: its head up to the blank line, and as much body as its
    /// Content-Length says. `None` once the client has closed the connection.
    async fn read_request(stream: &mut TcpStream) -> Option<(String, Vec<u8>)> {
        let mut bytes = Vec::new();
        let mut byte = [0u8; 1];
        while !bytes.ends_with(b"\r\n\r\n") {
            if stream.read(&mut byte).await.ok()? == 0 {
                return None;
            }
            bytes.push(byte[0]);
        }
        let head = String::from_utf8(bytes).expect("an ASCII head");
        let length = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .map_or(0, |n| n.parse().expect("a length"));
        let mut body = vec![0; length];
        stream.read_exact(&mut body).await.ok()?;
        Some((head, body))
    }

    /// A server that answers every request on every connection with `reply`, and reports each
    /// request as (connection number, head, body).
    async fn answering(
        reply: &'static str,
    ) -> (
        u16,
        tokio::sync::mpsc::UnboundedReceiver<(usize, String, Vec<u8>)>,
    ) {
        let (listener, port) = listener().await;
        let (seen, requests) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            for connection in 0.. {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                let seen = seen.clone();
                tokio::spawn(async move {
                    while let Some((head, body)) = read_request(&mut stream).await {
                        let _ = seen.send((connection, head, body));
                        if stream.write_all(reply.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        (port, requests)
    }

    #[tokio::test]
    async fn the_post_reaches_the_wire_as_civic_sip_api_sent_it_and_its_reply_is_read_back() {
        let (port, mut requests) =
            answering("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nRetry-After: 7\r\n\r\nhello").await;
        let http = direct();
        // A dot segment stays as written, as `request` sent it.
        let url = format!("http://127.0.0.1:{port}/sip/../prod/scopeRequest/authCode");
        let body = r#"{"allowS3UploadedPayload":true,"authToken":"a.b.c"}"#;
        for _ in 0..2 {
            let reply = http
                .post_auth_code(&url, "Civic t.o.k.en".to_owned(), body.to_owned(), 100)
                .await
                .expect("a reply");
            assert_eq!(reply.status, 200);
            assert_eq!(reply.body, "hello");
            assert_eq!(reply.retry_after, Some(Duration::from_secs(7)));
        }
        let expected_head = format!(
            "POST /sip/../prod/scopeRequest/authCode HTTP/1.1\r\n\
             content-type: application/json\r\n\
             accept: */*\r\n\
             authorization: Civic t.o.k.en\r\n\
             host: 127.0.0.1:{port}\r\n\
             content-length: {}\r\n\r\n",
            body.len()
        );
        for n in 0..2 {
            let (connection, head, sent) = requests.recv().await.expect("a request");
            // Both over one kept-alive connection.
            assert_eq!(connection, 0, "request {n}");
            assert_eq!(head, expected_head);
            assert_eq!(sent, body.as_bytes());
        }
    }

    #[tokio::test]
    async fn a_redirect_is_the_posts_reply_never_followed() {
        let (port, mut requests) = answering(
            "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/elsewhere\r\nContent-Length: 0\r\n\r\n",
        )
        .await;
        let url = format!("http://127.0.0.1:{port}/prod/scopeRequest/authCode");
        let reply = direct()
            .post_auth_code(&url, "Civic x".to_owned(), "{}".to_owned(), 100)
            .await
            .expect("a reply");
        assert_eq!((reply.status, reply.body.as_str()), (302, ""));
        assert!(requests.recv().await.is_some());
        assert!(requests.try_recv().is_err(), "one request only");
    }

    #[tokio::test]
    async fn a_payload_url_is_quoted_without_its_user_info_or_query() {
        let (looping, mut requests) = answering(
            "HTTP/1.1 302 Found\r\nLocation: /loop?X-Amz-Signature=QUERYMARK\r\nContent-Length: 0\r\n\r\n",
        )
        .await;
        let (bad_location, _) = answering(
            "HTTP/1.1 302 Found\r\nLocation: http://USERMARK:PASSMARK@exa mple/x?QUERYMARK\r\nContent-Length: 0\r\n\r\n",
        )
        .await;
        let http = direct();
        let shown = |e: &Error| format!("{e} {e:?}");
        let url =
            format!("http://USERMARK:PASSMARK@127.0.0.1:{looping}/loop?X-Amz-Credential=QUERYMARK");
        let error = http.get_payload(&url, 100).await.expect_err("a loop");
        assert_eq!(
            error.to_string(),
            format!("Error: Exceeded maxRedirects. Probably stuck in a redirect loop http://127.0.0.1:{looping}/loop")
        );
        // The first GET and the 10 redirects followed, the user info sent as Basic credentials.
        for _ in 0..=MAX_REDIRECTS {
            let (_, head, _) = requests.recv().await.expect("a request");
            assert!(head.contains("authorization: Basic "), "{head}");
        }
        let url = format!("http://127.0.0.1:{bad_location}/p?QUERYMARK");
        let moved = http.get_payload(&url, 100).await.expect_err("no URL");
        assert_eq!(
            moved.to_string(),
            "Error: Invalid URI \"http://exa%20mple/x\""
        );
        let invalid = http
            .get_payload("http://USERMARK:PASSMARK@exa mple/p?QUERYMARK", 100)
            .await
            .expect_err("no URL");
        assert_eq!(
            invalid.to_string(),
            "Error: Invalid URI \"http://exa%20mple/p\""
        );
        let api = http
            .post_auth_code(
                "http://USERMARK:PASSMARK@exa mple/prod/scopeRequest/authCode?QUERYMARK",
                "Civic x".to_owned(),
                "{}".to_owned(),
                100,
            )
            .await
            .expect_err("no URL");
        assert_eq!(api.code(), super::super::error::code::CONFIG);
        assert_eq!(
            api.to_string(),
            "Error: Invalid URI \"http://exa%20mple/prod/scopeRequest/authCode\""
        );
        for e in [&error, &moved, &invalid, &api] {
            for marker in ["USERMARK", "PASSMARK", "QUERYMARK"] {
                assert!(!shown(e).contains(marker), "{}", shown(e));
            }
        }
    }

    #[tokio::test]
    async fn a_body_past_the_cap_is_refused_announced_or_streamed() {
        let too_large = ErrorKind::ResponseTooLarge(10);
        let announced = answering("HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n01234567890").await;
        let streamed = answering(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n012345\r\n5\r\n67890\r\n0\r\n\r\n",
        )
        .await;
        let exact = answering("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789").await;
        let http = direct();
        for port in [announced.0, streamed.0] {
            let url = format!("http://127.0.0.1:{port}/");
            let error = http
                .post_auth_code(&url, "Civic x".to_owned(), "{}".to_owned(), 10)
                .await
                .expect_err("too large");
            assert_eq!(error.kind(), &too_large);
            let error = http.get_payload(&url, 10).await.expect_err("too large");
            assert_eq!(error.kind(), &too_large);
        }
        let url = format!("http://127.0.0.1:{}/", exact.0);
        let reply = http.get_payload(&url, 10).await.expect("at the cap");
        assert_eq!(reply.body, "0123456789");
    }

    #[tokio::test]
    async fn a_refused_connection_is_worded_as_nodes_and_may_be_retried() {
        let (listener, port) = listener().await;
        drop(listener);
        let url = format!("http://127.0.0.1:{port}/prod/scopeRequest/authCode");
        let error = direct()
            .post_auth_code(&url, "Civic x".to_owned(), "{}".to_owned(), 100)
            .await
            .expect_err("refused");
        assert_eq!(
            error.kind(),
            &ErrorKind::Network {
                cause: NetworkCause::Refused {
                    host: "127.0.0.1".to_owned(),
                    port
                },
                sent: false
            }
        );
        assert_eq!(
            error.to_string(),
            format!("Error: connect ECONNREFUSED 127.0.0.1:{port}")
        );
        assert!(error.is_transient(), "nothing was sent");
    }

    #[tokio::test]
    async fn a_proxy_that_refuses_the_tunnel_is_worded_as_request_words_it() {
        let (port, mut requests) =
            answering("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n").await;
        let options = ProxyOptions {
            url: Some(format!("http://127.0.0.1:{port}")),
            reject_unauthorized: None,
        };
        let http = Http::new(Some(&options), None, no_roots()).expect("client");
        let error = http
            .post_auth_code(
                "https://127.0.0.1:1/p",
                "Civic x".to_owned(),
                "{}".to_owned(),
                100,
            )
            .await
            .expect_err("refused");
        assert_eq!(
            error.kind(),
            &ErrorKind::Network {
                cause: NetworkCause::TunnelRefused(502),
                sent: true
            }
        );
        assert_eq!(
            error.to_string(),
            "Error: tunneling socket could not be established, statusCode=502"
        );
        assert!(!error.is_transient(), "the proxy saw the request");
        let (_, head, _) = requests.recv().await.expect("the CONNECT");
        assert!(
            head.starts_with("CONNECT 127.0.0.1:1 HTTP/1.1\r\n"),
            "{head}"
        );
    }

    /// On one thread, a server streaming `103 Early Hints` without end cannot hold the runtime:
    /// a timer on the same thread fires on time while the flood is read and dropped.
    #[tokio::test(flavor = "current_thread")]
    async fn a_flood_of_interim_responses_does_not_hold_the_thread() {
        let (listener, port) = listener().await;
        let written = Arc::new(AtomicU64::new(0));
        let counter = written.clone();
        tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.expect("accept");
            read_request(&mut stream).await.expect("the request");
            let block =
                "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n".repeat(1024);
            while stream.write_all(block.as_bytes()).await.is_ok() {
                counter.fetch_add(block.len() as u64, Ordering::Relaxed);
            }
        });
        let http = direct();
        let url = format!("http://127.0.0.1:{port}/");
        let post = http.post_auth_code(&url, "Civic x".to_owned(), "{}".to_owned(), 100);
        let flood = tokio::time::timeout(Duration::from_millis(1500), post);
        let ticks = async {
            let mut worst = Duration::ZERO;
            for _ in 0..50 {
                let start = tokio::time::Instant::now();
                tokio::time::sleep(Duration::from_millis(20)).await;
                worst = worst.max(start.elapsed() - Duration::from_millis(20));
            }
            worst
        };
        let (outcome, worst) = tokio::join!(flood, ticks);
        assert!(outcome.is_err(), "no final response ever came");
        // The server shares this thread: what it wrote, the client read (less the kernel's
        // buffers), so a flood of some megabytes proves the client was reading it.
        let mb = written.load(Ordering::Relaxed) / (1 << 20);
        assert!(mb >= 8, "only {mb} MB of 103s were written");
        // Without the metered reads one turn of the connection read hundreds of milliseconds
        // of 103s; the bound leaves room for a loaded machine.
        assert!(
            worst < Duration::from_millis(100),
            "a 20 ms timer fired {worst:?} late"
        );
    }
}
