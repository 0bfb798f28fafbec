//! Network failures in Node's words (`connect ECONNREFUSED 127.0.0.1:8080`, `socket hang up`,
//! `self-signed certificate`), chosen by the typed cause hyper, rustls, the system or our
//! connector gave, so logs read the same as with civic-sip-api and no hyper or rustls wording
//! reaches a message.

use std::error::Error as StdError;

use url::Url;

use super::connector::Failure;
use super::request_target::bare_host;
use super::tls;
use super::tunnel::BadAnswer;
use crate::core::error::{Error, NetworkCause, ParseFailure};
use crate::core::redact::ShownUrl;

/// Where a network failure happened, which decides some of its words.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// Making the connection (TCP, TLS, proxy tunnel).
    Connect,
    /// Sending the request and reading the response head.
    Exchange,
    /// Reading the body.
    Body,
}

/// A connection that could not be made, in Node's words (`request`'s for a proxy's refusal).
pub(crate) fn connect_failure(failure: &Failure, url: &Url, reached: &Url) -> Error {
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
                F::TunnelAnswer(BadAnswer::NotHttp) => NetworkCause::Parse(ParseFailure::NotHttp),
                F::TunnelAnswer(BadAnswer::Status) => NetworkCause::Parse(ParseFailure::Status),
                F::TunnelAnswer(BadAnswer::TooLong) => {
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
pub(crate) fn network_failure(
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
            // hyper's own bound on a head (its read buffer, its header count): Node's words.
            // hyper's `is_parse_too_large` is server-side only; its text is the kind's.
            Some(h) if h.is_parse() && h.to_string() == "message head is too large" => {
                NetworkCause::Parse(ParseFailure::HeaderOverflow)
            }
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
pub(crate) fn find_cause<'a, T: StdError + 'static>(
    e: &'a (dyn StdError + 'static),
) -> Option<&'a T> {
    std::iter::successors(Some(e), |&e| e.source()).find_map(|e| e.downcast_ref::<T>())
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
