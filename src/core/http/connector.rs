//! The connections of a client's requests: straight to the server, through an HTTP proxy
//! (absolute form), or through a CONNECT tunnel for https, with the client's TLS configuration.
//!
//! Our own connector, not hyper-util's `HttpConnector` and `HttpsConnector`: their errors drop the
//! address a connection was for and the status a proxy refused a CONNECT with, and Node's words
//! for those failures (`connect ECONNREFUSED 127.0.0.1:8080`, `tunneling socket could not be
//! established, statusCode=403`) need both. So a failure here is a typed [`Failure`], which
//! `failure` words.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::Uri;
use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use url::Url;

use super::connect::connect;
use super::connection::{Conn, Stream};
use super::pool::basic_credentials;
use super::proxy::Route;
use super::request_target::bare_host;
use super::tunnel::{tunnel, BadAnswer};
use crate::core::error::Error;

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

// Only its type is read (the HTTP layer words it); the text is for a `Debug` reader.
impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

impl std::error::Error for Failure {}

/// The longest a connection may take to set up (TCP, proxy tunnel, TLS), about as long as
/// Linux gives a TCP connect. An exchange's own deadline comes first; this bounds the attempts
/// hyper-util goes on with in the background after a pooled connection served the request, so
/// a server that accepts and never finishes its handshake cannot hold a task and a socket for
/// ever.
const CONNECTION_SETUP_LIMIT: Duration = Duration::from_secs(120);

/// Makes the connections of a `Fetcher`.
#[derive(Clone)]
pub(crate) struct Connector {
    pub(crate) tls: Arc<ClientConfig>,
    pub(crate) route: Arc<Route>,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::error::ErrorKind;
    use crate::core::http::proxy::EnvProxies;
    use crate::core::http::tls::{client_config, Trust};

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
}
