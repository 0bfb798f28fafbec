//! One GET whose request target goes on the wire exactly as the URL wrote it.
//!
//! A pre-signed payload URL's signature covers its path as written, and civic-sip-api sent it
//! byte for byte. The URL standard (so `url`, so reqwest) removes dot segments (`/a/../b` becomes
//! `/b`); hyper takes a request target as given. So this sends the GET with hyper-util's pooled
//! client over connections made here: straight to the server, through an HTTP proxy (absolute
//! form), or through a CONNECT tunnel for https, with the client's TLS configuration.

use std::net::SocketAddr;
use std::sync::Arc;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use base64::Engine;
use http_body_util::Empty;
use hyper::body::{Bytes, Incoming};
use hyper::header::{AUTHORIZATION, PROXY_AUTHORIZATION};
use hyper::{Request, Response, Uri};
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use reqwest::Url;
use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// Why a connection could not be made: the stage, and the typed cause for its wording.
#[derive(Debug)]
pub enum Failure {
    /// The host name did not resolve.
    Dns(String),
    /// No connection could be made to this address (refused, unreachable).
    Connect(std::io::Error, SocketAddr),
    /// The proxy refused the CONNECT tunnel with this status.
    Tunnel(u16),
    /// The connection broke or TLS failed before the request went out.
    Io(std::io::Error),
    /// The URL cannot be put on a request line or in a TLS handshake.
    Invalid,
}

// Only its type is read (the HTTP layer words it); the text is for a `Debug` reader.
impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

impl std::error::Error for Failure {}

/// Which proxy, if any, a URL goes through.
pub type ProxyFor = Arc<dyn Fn(&Url) -> Option<Url> + Send + Sync>;

/// The payload GETs of one client, over a pool of their own connections.
pub struct Fetcher {
    client: Client<Connector, Empty<Bytes>>,
    proxy_for: ProxyFor,
}

impl Fetcher {
    pub fn new(tls: Arc<ClientConfig>, proxy_for: ProxyFor) -> Fetcher {
        let connector = Connector {
            tls,
            proxy_for: proxy_for.clone(),
        };
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .build(connector);
        Fetcher { client, proxy_for }
    }

    /// Sends `GET target` to the server of `url` and returns the response, its body still to
    /// read. The error is hyper-util's, with a `Failure` as its cause when the connection could
    /// not be made.
    pub async fn get(
        &self,
        url: &Url,
        target: &str,
    ) -> Result<Response<Incoming>, hyper_util::client::legacy::Error> {
        let authority = match url.port() {
            Some(p) => format!("{}:{p}", url.host_str().unwrap_or_default()),
            None => url.host_str().unwrap_or_default().to_owned(),
        };
        let uri = format!("{}://{authority}{target}", url.scheme());
        let mut request = Request::get(uri.as_str());
        // As `request` did: credentials in the URL are sent as Basic authentication.
        if let Some(auth) = basic_credentials(url) {
            request = request.header(AUTHORIZATION, auth);
        }
        if url.scheme() == "http" {
            if let Some(auth) = (self.proxy_for)(url).as_ref().and_then(basic_credentials) {
                request = request.header(PROXY_AUTHORIZATION, auth);
            }
        }
        // The target was encoded for a request line, so the URI parses; if not, the connector
        // is never reached and the error says so.
        let request = request
            .body(Empty::<Bytes>::new())
            .unwrap_or_else(|_| Request::new(Empty::new()));
        self.client.request(request).await
    }
}

/// Makes the connections of a `Fetcher`.
#[derive(Clone)]
struct Connector {
    tls: Arc<ClientConfig>,
    proxy_for: ProxyFor,
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
        Box::pin(async move { connector.open(uri).await })
    }
}

impl Connector {
    async fn open(&self, uri: Uri) -> Result<Conn, Failure> {
        let url = Url::parse(&uri.to_string()).map_err(|_| Failure::Invalid)?;
        let host = bare_host(&url);
        let port = url.port_or_known_default().unwrap_or(80);
        let https = url.scheme() == "https";
        let (stream, proxied) = match (self.proxy_for)(&url) {
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
            io: TokioIo::new(stream),
            proxied,
        })
    }
}

/// A connection: to the server, or to an HTTP proxy that takes absolute-form requests.
struct Conn {
    io: TokioIo<Box<dyn Stream>>,
    proxied: bool,
}

impl Connection for Conn {
    fn connected(&self) -> Connected {
        Connected::new().proxy(self.proxied)
    }
}

impl hyper::rt::Read for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
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
/// fragment: dot segments, doubled slashes and percent-escapes are kept byte for byte. Only what
/// a request line cannot carry (spaces, quotes, non-ASCII...) is percent-encoded, and `\` is
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

/// Appends `text`, percent-encoding the bytes an HTTP request target cannot hold.
fn encode_into(out: &mut String, text: &str) {
    for &b in text.as_bytes() {
        let kept = b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?%".contains(&b);
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

async fn connect(host: &str, port: u16) -> Result<Box<dyn Stream>, Failure> {
    let addresses = tokio::net::lookup_host((host, port))
        .await
        .map_err(|_| Failure::Dns(host.to_owned()))?;
    let mut last = None;
    for address in addresses {
        match TcpStream::connect(address).await {
            Ok(stream) => {
                // Best effort: Nagle only delays a lone small request.
                let _ = stream.set_nodelay(true);
                return Ok(Box::new(stream));
            }
            Err(e) => last = Some(Failure::Connect(e, address)),
        }
    }
    Err(last.unwrap_or_else(|| Failure::Dns(host.to_owned())))
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
    authorization: Option<String>,
) -> Result<(), Failure> {
    let authority = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let mut head = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n");
    if let Some(auth) = authorization {
        head.push_str(&format!("Proxy-Authorization: {auth}\r\n"));
    }
    head.push_str("\r\n");
    stream
        .write_all(head.as_bytes())
        .await
        .map_err(Failure::Io)?;
    // Read the proxy's answer up to its blank line, a byte at a time so that nothing of the
    // tunnel's own traffic is consumed; a proxy answer is small, but is capped all the same.
    let mut answer = Vec::new();
    while !answer.ends_with(b"\r\n\r\n") {
        if answer.len() > 64 * 1024 {
            return Err(Failure::Tunnel(0));
        }
        let mut byte = [0u8; 1];
        match stream.read(&mut byte).await.map_err(Failure::Io)? {
            0 => {
                return Err(Failure::Io(std::io::Error::from(
                    std::io::ErrorKind::UnexpectedEof,
                )))
            }
            _ => answer.push(byte[0]),
        }
    }
    let status = std::str::from_utf8(&answer)
        .ok()
        .and_then(|text| text.split(' ').nth(1))
        .and_then(|code| code.parse::<u16>().ok())
        .unwrap_or(0);
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(Failure::Tunnel(status))
    }
}

/// `Basic` credentials from a URL's user info, percent-decoded.
fn basic_credentials(url: &Url) -> Option<String> {
    if url.username().is_empty() && url.password().is_none() {
        return None;
    }
    let decode = |s: &str| percent_encoding::percent_decode_str(s).collect::<Vec<u8>>();
    let mut credentials = decode(url.username());
    credentials.push(b':');
    credentials.extend(decode(url.password().unwrap_or_default()));
    Some(format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(credentials)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

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
            ("http:\\\\h\\a\\..\\b", "/a/../b"),
            ("  http://h/x  ", "/x"),
            ("http://[::1]:8/p?q", "/p?q"),
        ] {
            assert_eq!(request_target(url), target, "{url}");
        }
    }
}
