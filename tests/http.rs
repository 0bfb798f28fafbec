//! The HTTP path of an exchange against real servers on 127.0.0.1, through the public API (as
//! reqwest's own tests do): what reaches the wire, what is read back, and how failures are
//! worded.
//!
//! The core as a plain Rust library: with the `node` feature, napi's module registration needs
//! the Node-API symbols only Node provides, so no test executable links. `npm test` runs these
//! with `cargo test --no-default-features --test '*'`.
#![cfg(not(feature = "node"))]

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use civic_sip_native::core::error::{code, NetworkCause, Rejected};
use civic_sip_native::core::exchange::civic_ext::{civic_extension, request_body};
use civic_sip_native::core::exchange::debuglog::{Observer, Steps};
use civic_sip_native::core::{Abort, Client, Error, ErrorKind, ReplyOutcome};
use support::{answering, client, listener, read_request, Setup, APP_SECRET};
use tokio::io::AsyncWriteExt;

/// The exchange's prefix, and the processed payload's after it.
const EXCHANGE: &str = "Error exchanging code for data: ";
const PAYLOAD: &str = "Could not return data from processed payload url: ";

async fn exchange(client: &Client) -> Result<(), Error> {
    client
        .exchange_code_with_abort("code", &Abort::default(), Observer::OFF)
        .await
        .map(|_| ())
}

/// Fetches the processed payload at `url`, as a reply naming it makes the client do.
async fn fetch_payload(client: &Client, url: &str) -> Result<(), Error> {
    fetch_payload_observed(client, url, Observer::OFF).await
}

async fn fetch_payload_observed(
    client: &Client,
    url: &str,
    observer: Observer<'_>,
) -> Result<(), Error> {
    let reply = serde_json::json!({ "data": url, "processed": true }).to_string();
    let Ok(ReplyOutcome::Processed(pending)) = client.process_payload(200u16, Some(&reply)) else {
        panic!("a processed reply");
    };
    client.fetch_payload(pending, observer).await.map(|_| ())
}

#[tokio::test]
async fn the_post_reaches_the_wire_as_civic_sip_api_sent_it_and_its_reply_is_read_back() {
    let (port, mut requests) =
        answering("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nRetry-After: 7\r\n\r\nhello").await;
    // A dot segment stays as written, as `request` sent it.
    let client = client(
        &format!("http://127.0.0.1:{port}/sip/../"),
        Setup::default(),
    );
    for _ in 0..2 {
        let error = exchange(&client).await.expect_err("not a Civic reply");
        assert_eq!(
            error.kind(),
            &ErrorKind::InvalidResponse {
                body: Some("hello".to_owned())
            }
        );
    }
    let body = request_body("code");
    let extension = civic_extension(&body, APP_SECRET);
    for n in 0..2 {
        let (connection, head, sent) = requests.recv().await.expect("a request");
        // Both over one kept-alive connection.
        assert_eq!(connection, 0, "request {n}");
        let (before, after) = head
            .split_once("authorization: Civic ")
            .expect("Civic's Authorization");
        assert_eq!(
            before,
            "POST /sip/../prod/scopeRequest/authCode HTTP/1.1\r\n\
             content-type: application/json\r\n\
             accept: */*\r\n"
        );
        let (authorization, rest) = after.split_once("\r\n").expect("a header line");
        let (token, sent_extension) = authorization.rsplit_once('.').expect("token.extension");
        assert_eq!(token.split('.').count(), 3, "{token}");
        assert_eq!(sent_extension, extension);
        assert_eq!(
            rest,
            format!(
                "host: 127.0.0.1:{port}\r\ncontent-length: {}\r\n\r\n",
                body.len()
            )
        );
        assert_eq!(sent, body.as_bytes());
    }
}

#[tokio::test]
async fn a_redirect_is_the_posts_reply_never_followed() {
    let (port, mut requests) = answering(
        "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/elsewhere\r\nContent-Length: 0\r\n\r\n",
    )
    .await;
    let client = client(&format!("http://127.0.0.1:{port}/"), Setup::default());
    let error = exchange(&client).await.expect_err("a 302");
    assert_eq!(
        error.kind(),
        &ErrorKind::HttpStatus {
            status: 302,
            body: String::new()
        }
    );
    assert_eq!(error.to_string(), format!("{EXCHANGE}302 - \"\""));
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
    let client = client("http://USERMARK:PASSMARK@exa mple/", Setup::default());
    let shown = |e: &Error| format!("{e} {e:?}");
    let url =
        format!("http://USERMARK:PASSMARK@127.0.0.1:{looping}/loop?X-Amz-Credential=QUERYMARK");
    let error = fetch_payload(&client, &url).await.expect_err("a loop");
    assert_eq!(
        error.to_string(),
        format!("{PAYLOAD}RequestError: Error: Exceeded maxRedirects. Probably stuck in a redirect loop http://127.0.0.1:{looping}/loop")
    );
    // The first GET and the 10 redirects followed, the user info sent as Basic credentials.
    for _ in 0..=10 {
        let (_, head, _) = requests.recv().await.expect("a request");
        assert!(head.contains("authorization: Basic "), "{head}");
    }
    let url = format!("http://127.0.0.1:{bad_location}/p?QUERYMARK");
    let moved = fetch_payload(&client, &url).await.expect_err("no URL");
    assert_eq!(
        moved.to_string(),
        format!("{PAYLOAD}RequestError: Error: Invalid URI \"http://exa%20mple/x\"")
    );
    let invalid = fetch_payload(&client, "http://USERMARK:PASSMARK@exa mple/p?QUERYMARK")
        .await
        .expect_err("no URL");
    assert_eq!(
        invalid.to_string(),
        format!("{PAYLOAD}RequestError: Error: Invalid URI \"http://exa%20mple/p\"")
    );
    let api = exchange(&client).await.expect_err("no URL");
    assert_eq!(api.code(), code::CONFIG);
    assert_eq!(
        api.to_string(),
        format!("{EXCHANGE}Error: Invalid URI \"http://exa%20mple/prod/scopeRequest/authCode\"")
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
    let capped = |port: u16| {
        let setup = Setup {
            max_response_bytes: Some(10),
            ..Setup::default()
        };
        client(&format!("http://127.0.0.1:{port}/"), setup)
    };
    for port in [announced.0, streamed.0] {
        let client = capped(port);
        let error = exchange(&client).await.expect_err("too large");
        assert_eq!(error.kind(), &too_large);
        let url = format!("http://127.0.0.1:{port}/");
        let error = fetch_payload(&client, &url).await.expect_err("too large");
        assert_eq!(error.kind(), &too_large);
    }
    // At the cap, the body is read whole (and is then no response token).
    let url = format!("http://127.0.0.1:{}/", exact.0);
    let steps = Steps::default();
    let error = fetch_payload_observed(&capped(exact.0), &url, steps.observer())
        .await
        .expect_err("no token");
    assert_eq!(error.kind(), &ErrorKind::Verification(Rejected::Malformed));
    let lines = steps.take();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("payload: status 200, 10 bytes")),
        "{lines:?}"
    );
}

#[tokio::test]
async fn a_refused_connection_is_worded_as_nodes_and_may_be_retried() {
    let (listener, port) = listener().await;
    drop(listener);
    let client = client(&format!("http://127.0.0.1:{port}/"), Setup::default());
    let error = exchange(&client).await.expect_err("refused");
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
        format!("{EXCHANGE}Error: connect ECONNREFUSED 127.0.0.1:{port}")
    );
    assert!(error.is_transient(), "nothing was sent");
}

#[tokio::test]
async fn a_proxy_that_refuses_the_tunnel_is_worded_as_request_words_it() {
    let (port, mut requests) =
        answering("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n").await;
    let setup = Setup {
        proxy: Some(format!("http://127.0.0.1:{port}")),
        ..Setup::default()
    };
    let error = exchange(&client("https://127.0.0.1:1/", setup))
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
        format!("{EXCHANGE}Error: tunneling socket could not be established, statusCode=502")
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
        let block = "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n".repeat(1024);
        while stream.write_all(block.as_bytes()).await.is_ok() {
            counter.fetch_add(block.len() as u64, Ordering::Relaxed);
        }
    });
    let limit = Duration::from_millis(1500);
    let setup = Setup {
        timeout: Some(limit),
        ..Setup::default()
    };
    let client = client(&format!("http://127.0.0.1:{port}/"), setup);
    let ticks = async {
        let mut worst = Duration::ZERO;
        for _ in 0..50 {
            let start = tokio::time::Instant::now();
            tokio::time::sleep(Duration::from_millis(20)).await;
            worst = worst.max(start.elapsed() - Duration::from_millis(20));
        }
        worst
    };
    let (outcome, worst) = tokio::join!(exchange(&client), ticks);
    let error = outcome.expect_err("no final response ever came");
    assert_eq!(error.kind(), &ErrorKind::Timeout(limit));
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
