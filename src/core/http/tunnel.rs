//! A CONNECT tunnel (RFC 9110 §9.3.6) through an HTTP proxy, for an https URL. Written here, not
//! taken from hyper-util, so a refusal keeps the proxy's status for `request`'s words
//! (`tunneling socket could not be established, statusCode=403`) and a broken answer keeps what
//! Node's parser would call it.

use hyper::header::HeaderValue;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::connection::Stream;
use super::connector::Failure;

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

/// Opens a CONNECT tunnel to `host:port` through the proxy on `stream`.
pub(crate) async fn tunnel(
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
