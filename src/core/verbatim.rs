//! The client's requests, their request targets on the wire exactly as the URL wrote them.
//!
//! A pre-signed payload URL's signature covers its path as written, and civic-sip-api (`request`)
//! sent every URL byte for byte. The URL standard (so `url`) removes dot segments (`/a/../b`
//! becomes `/b`); hyper takes a request target as given. So both calls of an exchange go out with
//! hyper-util's pooled client over connections made here: straight to the server, through an
//! HTTP proxy (absolute form), or through a CONNECT tunnel for https, with the client's TLS
//! configuration. Each connection's reads are metered (`Conn`) so that no server can hold the
//! thread that runs the exchanges.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use base64::Engine;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderMap, HeaderValue, AUTHORIZATION, PROXY_AUTHORIZATION};
use hyper::{Method, Request, Response, Uri};
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use url::Url;

use super::error::Error;
use super::proxy::Route;

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// Most bytes one read hands hyper.
const READ_CAP: usize = 16 * 1024;
/// Bytes a connection may read without the socket running dry before its task yields.
const READ_BUDGET: usize = 64 * 1024;

/// Why a connection could not be made: the stage, and the typed cause for its wording.
#[derive(Debug)]
pub enum Failure {
    /// The host name did not resolve.
    Dns(String),
    /// No connection could be made to this address (refused, unreachable).
    Connect(std::io::Error, SocketAddr),
    /// The proxy refused the CONNECT tunnel with this status.
    Tunnel(u16),
    /// The proxy closed the connection before answering the CONNECT.
    TunnelClosed,
    /// The connection to the proxy broke while asking for the tunnel.
    TunnelIo(std::io::Error),
    /// The proxy's answer to the CONNECT is not an HTTP response.
    TunnelAnswer(BadAnswer),
    /// The connection broke or TLS failed before the request went out.
    Io(std::io::Error),
    /// The URL cannot be put on a request line or in a TLS handshake.
    Invalid,
    /// The proxy for this URL cannot be used (checked before every request, so only reached if
    /// that check is ever skipped: the connection is refused, never made directly instead).
    Proxy(Error),
}

/// What is wrong with a proxy's answer to a CONNECT, as Node's HTTP parser would tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadAnswer {
    /// It does not start with `HTTP/`.
    NotHttp,
    /// Its status is not three digits.
    Status,
    /// Its head is longer than Node's limit (16 KiB).
    TooLong,
}

// Only its type is read (the HTTP layer words it); the text is for a `Debug` reader.
impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

impl std::error::Error for Failure {}

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
    pub fn new(tls: Arc<ClientConfig>, route: Route) -> Fetcher {
        let connector = Connector {
            tls,
            route: Arc::new(route),
        };
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(90))
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

/// The longest a connection may take to set up (TCP, proxy tunnel, TLS), about as long as
/// Linux gives a TCP connect. An exchange's own deadline comes first; this bounds the attempts
/// hyper-util goes on with in the background after a pooled connection served the request, so
/// a server that accepts and never finishes its handshake cannot hold a task and a socket for
/// ever.
const CONNECTION_SETUP_LIMIT: Duration = Duration::from_secs(120);

/// Makes the connections of a `Fetcher`.
#[derive(Clone)]
struct Connector {
    tls: Arc<ClientConfig>,
    route: Arc<Route>,
}

impl tower_service::Service<Uri> for Connector {
    type Response = Conn;
    type Error = Failure;
    type Future = Pin<Box<dyn Future<Output = Result<Conn, Failure>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Failure>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let connector = self.clone();
        Box::pin(async move {
            tokio::time::timeout(CONNECTION_SETUP_LIMIT, connector.open(uri))
                .await
                .unwrap_or_else(|_| Err(Failure::Io(std::io::ErrorKind::TimedOut.into())))
        })
    }
}

impl Connector {
    async fn open(&self, uri: Uri) -> Result<Conn, Failure> {
        let url = Url::parse(&uri.to_string()).map_err(|_| Failure::Invalid)?;
        let host = bare_host(&url);
        let port = url.port_or_known_default().unwrap_or(80);
        let https = url.scheme() == "https";
        let (stream, proxied) = match self.route.proxy_for(&url).map_err(Failure::Proxy)? {
            None => (connect(&host, port).await?, false),
            Some(proxy) => {
                let proxy_host = bare_host(&proxy);
                let proxy_port = proxy.port_or_known_default().unwrap_or(80);
                let mut stream = connect(&proxy_host, proxy_port).await?;
                if proxy.scheme() == "https" {
                    stream = handshake(&self.tls, &proxy_host, stream).await?;
                }
                if https {
                    tunnel(&mut stream, &host, port, basic_credentials(&proxy)).await?;
                    (stream, false)
                } else {
                    (stream, true)
                }
            }
        };
        let stream = if https {
            handshake(&self.tls, &host, stream).await?
        } else {
            stream
        };
        Ok(Conn {
            io: stream,
            proxied,
            unyielded: 0,
        })
    }
}

/// A connection: to the server, or to an HTTP proxy that takes absolute-form requests.
///
/// Its reads are metered because hyper's HTTP/1 client parses and drops interim (1xx)
/// responses in a loop that reads again as long as the socket has data (`Io::parse` in
/// hyper's proto/h1), and tokio's cooperative budget counts reads (128 a turn), not the bytes
/// they bring: a server streaming `103 Early Hints` would hold the exchanges' worker thread for
/// hundreds of milliseconds at a time. So one read hands hyper at most `READ_CAP` bytes, and
/// after `READ_BUDGET` bytes without the socket running dry the task yields (as
/// `tokio::task::yield_now` does: the runtime polls its timers and sockets before running it
/// again), so deadlines, aborts and other connections keep their turn.
struct Conn {
    io: Box<dyn Stream>,
    proxied: bool,
    /// Bytes read since the socket last ran dry or the task last yielded.
    unyielded: usize,
}

impl Connection for Conn {
    fn connected(&self) -> Connected {
        Connected::new().proxy(self.proxied)
    }
}

impl hyper::rt::Read for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        if this.unyielded >= READ_BUDGET {
            this.unyielded = 0;
            let yielded = std::pin::pin!(tokio::task::yield_now()).poll(cx);
            debug_assert!(yielded.is_pending());
            return Poll::Pending;
        }
        // SAFETY: as hyper-util's `TokioIo` does: tokio's `ReadBuf` only ever initialises the
        // bytes it is given, and the cursor is advanced by exactly the bytes the read filled.
        let n = unsafe {
            let unfilled = buf.as_mut();
            let want = unfilled.len().min(READ_CAP);
            let mut read = ReadBuf::uninit(&mut unfilled[..want]);
            match Pin::new(&mut this.io).poll_read(cx, &mut read) {
                Poll::Ready(Ok(())) => read.filled().len(),
                Poll::Pending => {
                    this.unyielded = 0;
                    return Poll::Pending;
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            }
        };
        this.unyielded += n;
        // SAFETY: the read initialised these `n` bytes (above).
        unsafe { buf.advance(n) };
        Poll::Ready(Ok(()))
    }
}

impl hyper::rt::Write for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// The request target (path and query) of an absolute http(s) URL, as written up to any
/// fragment: dot segments, doubled slashes and percent-escapes are kept byte for byte. What
/// `request` (Node's legacy `url.parse`) escaped is percent-encoded (spaces, `"`, `'`, `<`,
/// `>`, `^`, a backtick, `{`, `|`, `}`, controls), and non-ASCII as UTF-8; `\` in the path is
/// read as `/`, as every URL parser does for http.
pub fn request_target(text: &str) -> String {
    let text = text.trim_matches(|c: char| c <= ' ');
    let after_scheme = text.split_once(':').map_or(text, |(_, rest)| rest);
    let authority_and_rest = after_scheme.trim_start_matches(['/', '\\']);
    let rest = authority_and_rest
        .find(['/', '\\', '?', '#'])
        .map_or("", |i| &authority_and_rest[i..]);
    let rest = rest.split('#').next().unwrap_or_default();
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    let mut target = String::with_capacity(rest.len() + 1);
    if !path.starts_with(['/', '\\']) {
        target.push('/');
    }
    encode_into(&mut target, &path.replace('\\', "/"));
    if let Some(query) = query {
        target.push('?');
        encode_into(&mut target, query);
    }
    target
}

/// Appends `text`, percent-encoding the bytes `url.parse` escaped (`'` among them, which a
/// request target could hold) and those a request target cannot hold (`[` and `]` are kept, as
/// `url.parse` kept them and hyper takes them). A pre-signed URL's signature is unaffected:
/// S3's canonical request encodes `'` either way.
fn encode_into(out: &mut String, text: &str) {
    for &b in text.as_bytes() {
        let kept = b.is_ascii_alphanumeric() || b"-._~!$&()*+,;=:@/?%[]".contains(&b);
        if kept {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

/// The host without IPv6 brackets, as name resolution, TLS and Node's messages want it.
pub(super) fn bare_host(url: &Url) -> String {
    url.host_str()
        .unwrap_or_default()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned()
}

/// How long one address gets before the next is tried beside it (RFC 8305's "Connection Attempt
/// Delay"; Node's `autoSelectFamilyAttemptTimeout`, which civic-sip-api's `request` had on Node 20,
/// is 250 ms too).
const ATTEMPT_DELAY: Duration = Duration::from_millis(250);

async fn connect(host: &str, port: u16) -> Result<Box<dyn Stream>, Failure> {
    let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|_| Failure::Dns(host.to_owned()))?
        .collect();
    let stream = connect_any(interleave_families(addresses))
        .await
        .map_err(|last| last.unwrap_or_else(|| Failure::Dns(host.to_owned())))?;
    // Best effort: Nagle only delays a lone small request.
    let _ = stream.set_nodelay(true);
    Ok(Box::new(stream))
}

/// The addresses alternating between IPv6 and IPv4, starting with the family the resolver put
/// first (RFC 8305, section 4), so an unreachable family costs one attempt delay, not all of its
/// addresses'.
fn interleave_families(addresses: Vec<SocketAddr>) -> Vec<SocketAddr> {
    let first_v6 = addresses.first().is_some_and(SocketAddr::is_ipv6);
    let (mut preferred, mut other): (Vec<_>, Vec<_>) =
        addresses.into_iter().partition(|a| a.is_ipv6() == first_v6);
    let mut ordered = Vec::with_capacity(preferred.len() + other.len());
    preferred.reverse();
    other.reverse();
    loop {
        match (preferred.pop(), other.pop()) {
            (None, None) => return ordered,
            (a, b) => ordered.extend(a.into_iter().chain(b)),
        }
    }
}

/// Connects to the first of `addresses` that answers, as Happy Eyeballs does (RFC 8305): each
/// address gets `ATTEMPT_DELAY` alone, then the next one starts beside it, and a failure starts
/// the next one at once; the first connection made wins and the other attempts are dropped. A
/// host whose first address swallows packets (an IPv6 address that is not routed, a dead
/// load-balancer) is then reached through the next one, as Node reaches it. The error is the
/// last attempt's (`None` for no address at all).
async fn connect_any(addresses: Vec<SocketAddr>) -> Result<TcpStream, Option<Failure>> {
    let mut waiting = addresses.into_iter().peekable();
    let mut attempts = tokio::task::JoinSet::new();
    let mut last = None;
    loop {
        if attempts.is_empty() {
            // Nothing in flight: start the next address now, or give up.
            let Some(address) = waiting.next() else {
                return Err(last);
            };
            attempts.spawn(async move { (address, TcpStream::connect(address).await) });
        }
        tokio::select! {
            finished = attempts.join_next() => match finished {
                Some(Ok((_, Ok(stream)))) => return Ok(stream),
                Some(Ok((address, Err(e)))) => last = Some(Failure::Connect(e, address)),
                // A connect task cannot panic; were it cancelled, the next address is tried.
                Some(Err(_)) | None => {}
            },
            () = tokio::time::sleep(ATTEMPT_DELAY), if waiting.peek().is_some() => {
                if let Some(address) = waiting.next() {
                    attempts.spawn(async move { (address, TcpStream::connect(address).await) });
                }
            }
        }
    }
}

async fn handshake(
    tls: &Arc<ClientConfig>,
    host: &str,
    stream: Box<dyn Stream>,
) -> Result<Box<dyn Stream>, Failure> {
    let name = ServerName::try_from(host.to_owned()).map_err(|_| Failure::Invalid)?;
    let stream = tokio_rustls::TlsConnector::from(tls.clone())
        .connect(name, stream)
        .await
        .map_err(Failure::Io)?;
    Ok(Box::new(stream))
}

/// Opens a CONNECT tunnel to `host:port` through the proxy on `stream`.
async fn tunnel(
    stream: &mut Box<dyn Stream>,
    host: &str,
    port: u16,
    authorization: Option<HeaderValue>,
) -> Result<(), Failure> {
    let authority = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let mut head = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n").into_bytes();
    if let Some(auth) = authorization {
        head.extend_from_slice(b"Proxy-Authorization: ");
        head.extend_from_slice(auth.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
    stream.write_all(&head).await.map_err(Failure::TunnelIo)?;
    // Read the proxy's answer up to its blank line, a byte at a time so that nothing of the
    // tunnel's own traffic is consumed; capped at Node's default limit for a head.
    let mut answer = Vec::new();
    while !answer.ends_with(b"\r\n\r\n") {
        if answer.len() >= MAX_ANSWER {
            return Err(Failure::TunnelAnswer(BadAnswer::TooLong));
        }
        let mut byte = [0u8; 1];
        match stream.read(&mut byte).await.map_err(Failure::TunnelIo)? {
            0 => return Err(Failure::TunnelClosed),
            _ => answer.push(byte[0]),
        }
    }
    match tunnel_status(&answer)? {
        200..=299 => Ok(()),
        status => Err(Failure::Tunnel(status)),
    }
}

/// Node's limit on the size of a response head (`--max-http-header-size`).
const MAX_ANSWER: usize = 16 * 1024;

/// The status of a proxy's answer: `HTTP/<version> <three digits>`.
fn tunnel_status(answer: &[u8]) -> Result<u16, Failure> {
    let line = answer.split(|&b| b == b'\r').next().unwrap_or_default();
    let Some(rest) = line.strip_prefix(b"HTTP/") else {
        return Err(Failure::TunnelAnswer(BadAnswer::NotHttp));
    };
    let digits = rest.split(|&b| b == b' ').nth(1).unwrap_or_default();
    if digits.len() != 3 || !digits.iter().all(u8::is_ascii_digit) {
        return Err(Failure::TunnelAnswer(BadAnswer::Status));
    }
    Ok(digits.iter().fold(0, |n, &d| n * 10 + u16::from(d - b'0')))
}

/// `Basic` credentials from a URL's user info, percent-decoded.
fn basic_credentials(url: &Url) -> Option<HeaderValue> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::error::ErrorKind;
    use crate::core::proxy::EnvProxies;
    use crate::core::tls::{client_config, Trust};

    #[test]
    fn addresses_alternate_between_families_starting_with_the_resolvers_first() {
        let a = |text: &str| text.parse::<SocketAddr>().expect("address");
        let resolved = vec![a("[::1]:1"), a("[::2]:1"), a("[::3]:1"), a("10.0.0.1:1")];
        assert_eq!(
            interleave_families(resolved),
            vec![a("[::1]:1"), a("10.0.0.1:1"), a("[::2]:1"), a("[::3]:1")]
        );
        let resolved = vec![a("10.0.0.1:1"), a("10.0.0.2:1"), a("[::1]:1")];
        assert_eq!(
            interleave_families(resolved),
            vec![a("10.0.0.1:1"), a("[::1]:1"), a("10.0.0.2:1")]
        );
        assert_eq!(interleave_families(Vec::new()), Vec::<SocketAddr>::new());
    }

    /// A listener on 127.0.0.2 (loopback) whose accept queue is full, so a further connection
    /// attempt hangs (Linux drops its SYN) as one to an address that swallows packets would.
    async fn swallowing_address() -> (tokio::net::TcpListener, Vec<TcpStream>, SocketAddr) {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket
            .bind("127.0.0.2:0".parse().expect("address"))
            .expect("bind");
        let address = socket.local_addr().expect("address");
        let listener = socket.listen(1).expect("listen");
        let mut queued = Vec::new();
        for _ in 0..8 {
            match tokio::time::timeout(Duration::from_millis(100), TcpStream::connect(address))
                .await
            {
                Ok(Ok(stream)) => queued.push(stream),
                _ => break,
            }
        }
        let hangs = tokio::time::timeout(Duration::from_millis(600), TcpStream::connect(address))
            .await
            .is_err();
        assert!(
            hangs,
            "the full accept queue should make a connection attempt hang"
        );
        (listener, queued, address)
    }

    #[tokio::test]
    async fn an_address_that_swallows_packets_costs_one_attempt_delay_not_the_connection() {
        let (_listener, _queued, swallowing) = swallowing_address().await;
        let answering = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("listener");
        let reachable = answering.local_addr().expect("address");
        let started = tokio::time::Instant::now();
        // Tried one after another, the first address would take the kernel's whole connect
        // timeout (about two minutes); the bound is far from both.
        let stream = tokio::time::timeout(
            Duration::from_secs(5),
            connect_any(vec![swallowing, reachable]),
        )
        .await
        .expect("the second address is tried while the first hangs")
        .map_err(|_| "no connection")
        .expect("connected");
        assert_eq!(stream.peer_addr().expect("peer"), reachable);
        assert!(
            started.elapsed() >= ATTEMPT_DELAY,
            "the first address had its turn alone"
        );
    }

    #[tokio::test]
    async fn when_every_address_refuses_the_last_refusal_is_the_error() {
        let mut closed = Vec::new();
        for _ in 0..2 {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("listener");
            closed.push(listener.local_addr().expect("address"));
        }
        match connect_any(closed.clone()).await {
            Err(Some(Failure::Connect(e, at))) => {
                assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused);
                assert_eq!(at, closed[1]);
            }
            other => panic!("expected a refusal, got {:?}", other.map(|_| ())),
        }
        assert!(matches!(connect_any(Vec::new()).await, Err(None)));
    }

    /// The connector asks the route itself: a proxy variable that applies but cannot be used
    /// refuses the connection, never makes it directly.
    #[tokio::test]
    async fn the_connector_fails_closed_on_an_unusable_proxy() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("address").port();
        let env = EnvProxies {
            http: Some("ftp://127.0.0.1:1".to_owned()),
            https: None,
            no_proxy: None,
        };
        let connector = Connector {
            tls: Arc::new(client_config(Trust::Any).expect("TLS")),
            route: Arc::new(Route::Env(Arc::new(env))),
        };
        let uri: Uri = format!("http://127.0.0.1:{port}/").parse().expect("URI");
        match connector.open(uri).await {
            Err(Failure::Proxy(e)) => assert_eq!(
                e.kind(),
                &ErrorKind::InvalidConfig("Error: Invalid protocol: ftp:".to_owned())
            ),
            Err(other) => panic!("{other:?}"),
            Ok(_) => panic!("connected"),
        }
        // Nothing reached the server directly.
        let accepted = tokio::time::timeout(Duration::from_millis(100), listener.accept()).await;
        assert!(accepted.is_err(), "a direct connection was made");
    }

    /// A server that accepts and never finishes the TLS handshake holds a connection attempt for
    /// `CONNECTION_SETUP_LIMIT` at most (on paused time: the clock jumps once nothing else runs).
    #[tokio::test(start_paused = true)]
    async fn a_handshake_that_never_finishes_is_given_up_after_the_setup_limit() {
        use tower_service::Service as _;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("address").port();
        let silent = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.expect("accept");
            std::future::pending::<()>().await;
            drop(stream);
        });
        let mut connector = Connector {
            tls: Arc::new(client_config(Trust::Any).expect("TLS")),
            route: Arc::new(Route::Direct),
        };
        let started = tokio::time::Instant::now();
        let uri: Uri = format!("https://127.0.0.1:{port}/").parse().expect("URI");
        let attempt = tokio::time::timeout(Duration::from_secs(600), connector.call(uri));
        match attempt.await.expect("given up within the limit") {
            Err(Failure::Io(e)) => assert_eq!(e.kind(), std::io::ErrorKind::TimedOut),
            Err(other) => panic!("{other:?}"),
            Ok(_) => panic!("connected"),
        }
        assert!(started.elapsed() >= CONNECTION_SETUP_LIMIT);
        silent.abort();
    }

    #[test]
    fn a_proxys_answer_to_connect_is_read_as_nodes_parser_reads_it() {
        let status = |answer: &str| match tunnel_status(answer.as_bytes()) {
            Ok(status) => Ok(status),
            Err(Failure::TunnelAnswer(why)) => Err(why),
            Err(other) => panic!("{other:?}"),
        };
        assert_eq!(
            status("HTTP/1.1 200 Connection established\r\n\r\n"),
            Ok(200)
        );
        assert_eq!(status("HTTP/1.0 403 Forbidden\r\nX: y\r\n\r\n"), Ok(403));
        assert_eq!(status("HTTP/1.1 407\r\n\r\n"), Ok(407));
        assert_eq!(status("garbage\r\n\r\n"), Err(BadAnswer::NotHttp));
        assert_eq!(status("http/1.1 200 OK\r\n\r\n"), Err(BadAnswer::NotHttp));
        for bad in [
            "HTTP/1.1 20 OK",
            "HTTP/1.1 2000 OK",
            "HTTP/1.1 2x0 OK",
            "HTTP/1.1\r\n",
        ] {
            assert_eq!(
                status(&format!("{bad}\r\n\r\n")),
                Err(BadAnswer::Status),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_request_target_is_the_urls_text() {
        for (url, target) in [
            (
                "http://h/bucket/a/../b?X-Amz-Signature=abc",
                "/bucket/a/../b?X-Amz-Signature=abc",
            ),
            ("https://h:8443/./a//b/%2F%2f%7E%7e", "/./a//b/%2F%2f%7E%7e"),
            ("http://h", "/"),
            ("http://h?x=1", "/?x=1"),
            ("http://u:p@h/a#frag", "/a"),
            ("http://h/a b\"é?q=<x>", "/a%20b%22%C3%A9?q=%3Cx%3E"),
            (
                "http://h/'[x]^`{|}?'[y]\\",
                "/%27[x]%5E%60%7B%7C%7D?%27[y]%5C",
            ),
            ("http:\\\\h\\a\\..\\b", "/a/../b"),
            ("  http://h/x  ", "/x"),
            ("http://[::1]:8/p?q", "/p?q"),
        ] {
            assert_eq!(request_target(url), target, "{url}");
        }
    }
}
