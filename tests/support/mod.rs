//! The servers the integration tests talk to, all on 127.0.0.1 (as reqwest's tests/support
//! builds them), and a client pointed at them.

#![allow(dead_code)] // Each test file uses its own part of this module.

use std::time::Duration;

use civic_sip_native::core::{Client, Options, ProxyOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc::UnboundedReceiver;

/// A P-256 private key and a 16-byte (AES-128) app secret, in hex: well-formed, no one's.
pub const PRV_KEY: &str = "bf5efd7bdde29dc28443614bfee78c3d6ee39c71e55a0437eee02bf7e3647721";
pub const APP_SECRET: &str = "00112233445566778899aabbccddeeff";

/// What a client is given beside `api`.
#[derive(Default)]
pub struct Setup {
    /// `proxy.url`; without it the client goes straight to the server (the proxy variables of
    /// the environment unread).
    pub proxy: Option<String>,
    pub max_response_bytes: Option<usize>,
    pub timeout: Option<Duration>,
}

/// A client for `api` that makes no retry, so each test sees each request it causes.
pub fn client(api: &str, setup: Setup) -> Client {
    Client::new(Options {
        app_id: Some("app".to_owned()),
        app_secret: Some(APP_SECRET.to_owned()),
        prv_key: Some(PRV_KEY.to_owned()),
        api: Some(api.to_owned()),
        proxy: Some(ProxyOptions {
            url: setup.proxy,
            reject_unauthorized: None,
        }),
        max_response_bytes: setup.max_response_bytes,
        timeout: setup.timeout,
        retries: Some(0),
        ..Options::default()
    })
    .expect("client")
}

pub async fn listener() -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("address").port();
    (listener, port)
}

/// Reads one request off `stream`: its head up to the blank line, and as much body as its
/// Content-Length says. `None` once the client has closed the connection.
pub async fn read_request(stream: &mut TcpStream) -> Option<(String, Vec<u8>)> {
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

/// A request a server saw: the number of the connection it came on, its head and its body.
pub type Seen = (usize, String, Vec<u8>);

/// A server that answers every request on every connection with `reply`, and reports each
/// request it read.
pub async fn answering(reply: &'static str) -> (u16, UnboundedReceiver<Seen>) {
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
