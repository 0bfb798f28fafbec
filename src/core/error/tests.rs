//! The error kinds' codes and messages, each against civic-sip-api's words.

use super::*;

#[test]
fn http_status_message_is_civic_sip_apis() {
    let e = Error::new(ErrorKind::HttpStatus {
        status: 401,
        body: r#"{"message":"Unauthorized"}"#.into(),
    })
    .via_exchange_code();
    assert_eq!(
        e.to_string(),
        r#"Error exchanging code for data: 401 - "{\"message\":\"Unauthorized\"}""#
    );
    assert_eq!(e.code(), code::HTTP_STATUS);
    assert_eq!(e.status_code(), Some(401));
    assert_eq!(e.response_body(), Some(r#"{"message":"Unauthorized"}"#));
    let odd = Error::new(ErrorKind::UnexpectedStatus {
        status: "undefined".into(),
        body: "x".into(),
    });
    assert_eq!(
        (odd.to_string().as_str(), odd.status_code()),
        ("undefined x", None)
    );
}

#[test]
fn payload_failures_are_wrapped_like_request_promise_errors() {
    let e = Error::new(ErrorKind::HttpStatus {
        status: 403,
        body: "denied".into(),
    })
    .in_payload()
    .via_exchange_code();
    assert_eq!(
        e.to_string(),
        "Error exchanging code for data: Could not return data from processed payload url: \
         StatusCodeError: 403 - \"denied\""
    );
    let v = Error::new(ErrorKind::Verification(Rejected::Signature))
        .in_payload()
        .via_exchange_code();
    assert_eq!(
        v.to_string(),
        "Error exchanging code for data: Could not return data from processed payload url: \
         Error: JWT Token containing encrypted data could not be verified"
    );
    let t = Error::new(ErrorKind::Timeout(Duration::from_millis(5)))
        .in_payload()
        .via_exchange_code();
    assert_eq!(t.stage(), Stage::Exchange);
    assert_eq!(v.stage(), Stage::Payload);
    assert_eq!(t.code(), code::TIMEOUT);
}

#[test]
fn missing_config_is_never_prefixed() {
    let e = Error::new(ErrorKind::MissingConfig(
        "Please supply your application ID.",
    ))
    .via_exchange_code();
    assert_eq!(e.to_string(), "Please supply your application ID.");
    assert_eq!(e.code(), code::CONFIG);
}

#[test]
fn invalid_body_renders_parsed_json_or_the_text() {
    let e = Error::new(ErrorKind::InvalidResponse {
        body: Some(r#"{"processed":true,"data":""}"#.into()),
    });
    assert_eq!(
        e.to_string(),
        r#"Invalid response body or body data not found: {"processed":true,"data":""}"#
    );
    let t = Error::new(ErrorKind::InvalidResponse {
        body: Some("Service \"down\"".into()),
    });
    assert_eq!(
        t.to_string(),
        r#"Invalid response body or body data not found: "Service \"down\"""#
    );
}

#[test]
fn a_verification_failure_keeps_its_reason_as_its_source() {
    use std::error::Error as _;
    let e = Error::new(ErrorKind::Verification(Rejected::Expired { exp: 1.5e9 }));
    assert_eq!(e.to_string(), NOT_VERIFIED);
    assert_eq!(e.rejected(), Some(&Rejected::Expired { exp: 1.5e9 }));
    let source = e.source().expect("a source");
    assert_eq!(source.to_string(), "its exp, 1500000000, has passed");
    assert!(Error::new(ErrorKind::Internal).source().is_none());
}

#[test]
fn every_code_is_listed_once_by_its_constants_name() {
    assert_eq!(code::ALL.len(), 11);
    assert!(code::ALL.contains(&("RESPONSE_TOO_LARGE", code::RESPONSE_TOO_LARGE)));
    assert!(code::ALL.contains(&("ABORTED", "ABORT_ERR")));
    let values: std::collections::HashSet<_> = code::ALL.iter().map(|(_, v)| v).collect();
    assert_eq!(values.len(), code::ALL.len());
}

#[test]
fn a_random_source_failure_is_internal_with_the_words_it_had() {
    let e = Error::new(ErrorKind::RandomSource).via_exchange_code();
    assert_eq!(e.code(), code::INTERNAL);
    assert_eq!(
        e.to_string(),
        "Error exchanging code for data: Error: the system random source failed"
    );
    assert!(!e.is_transient());
}

#[test]
fn a_network_cause_is_worded_as_node_and_request_word_it() {
    use std::error::Error as _;
    let host = || "127.0.0.1".to_owned();
    for (cause, words) in [
        (
            NetworkCause::HostNotFound("civic.invalid".into()),
            "getaddrinfo ENOTFOUND civic.invalid",
        ),
        (
            NetworkCause::Refused {
                host: host(),
                port: 8080,
            },
            "connect ECONNREFUSED 127.0.0.1:8080",
        ),
        (
            NetworkCause::ConnectTimedOut {
                host: host(),
                port: 443,
            },
            "connect ETIMEDOUT 127.0.0.1:443",
        ),
        (
            NetworkCause::LocalConnect {
                code: "EMFILE",
                host: host(),
                port: 8080,
                local: "undefined:undefined",
            },
            "connect EMFILE 127.0.0.1:8080 - Local (undefined:undefined)",
        ),
        (NetworkCause::Reset, "read ECONNRESET"),
        (NetworkCause::HangUp, "socket hang up"),
        (NetworkCause::BodyCutShort, "aborted"),
        (
            NetworkCause::Parse(ParseFailure::NotHttp),
            "Parse Error: Expected HTTP/, RTSP/ or ICE/",
        ),
        (
            NetworkCause::Parse(ParseFailure::Status),
            "Parse Error: Invalid status code",
        ),
        (
            NetworkCause::Parse(ParseFailure::HeaderOverflow),
            "Parse Error: Header overflow",
        ),
        (
            NetworkCause::Tls("self-signed certificate".into()),
            "self-signed certificate",
        ),
        (
            NetworkCause::TunnelRefused(407),
            "tunneling socket could not be established, statusCode=407",
        ),
        (
            NetworkCause::TunnelFailed(Box::new(NetworkCause::Reset)),
            "tunneling socket could not be established, cause=read ECONNRESET",
        ),
        (
            NetworkCause::TooManyRedirects(ShownUrl::of("http://u:p@h/a?X-Amz-Signature=s")),
            "Exceeded maxRedirects. Probably stuck in a redirect loop http://h/a",
        ),
        (
            NetworkCause::InvalidUri(ShownUrl::of("http://u:p@a b?q")),
            "Invalid URI \"http://a%20b/\"",
        ),
        (
            NetworkCause::InvalidProtocol("ftp".into()),
            "Invalid protocol: ftp:",
        ),
    ] {
        let e = Error::network(cause.clone(), true).via_exchange_code();
        assert_eq!(e.to_string(), format!("{EXCHANGE_PREFIX}Error: {words}"));
        assert_eq!(e.code(), code::NETWORK);
        assert_eq!(e.source().map(ToString::to_string), Some(words.to_owned()));
        let payload = Error::network(cause, true).in_payload().via_exchange_code();
        assert_eq!(
            payload.to_string(),
            format!("{EXCHANGE_PREFIX}{PAYLOAD_PREFIX}RequestError: Error: {words}")
        );
    }
}

#[test]
fn a_quoted_url_shows_no_user_info_or_query_in_the_message_source_or_debug() {
    use std::error::Error as _;
    let url = "http://USERMARK:PASSMARK@127.0.0.1:9/loop?X-Amz-Signature=QUERYMARK#FRAGMARK";
    for cause in [
        NetworkCause::TooManyRedirects(ShownUrl::of(url)),
        NetworkCause::InvalidUri(ShownUrl::of(url)),
    ] {
        let e = Error::network(cause, true).in_payload().via_exchange_code();
        let shown = format!("{e} {e:?} {e:#?} {:?}", e.source().map(ToString::to_string));
        for marker in ["USERMARK", "PASSMARK", "QUERYMARK", "FRAGMARK"] {
            assert!(!shown.contains(marker), "{shown}");
        }
        assert!(
            e.to_string().ends_with(" http://127.0.0.1:9/loop")
                || e.to_string().ends_with(" \"http://127.0.0.1:9/loop\""),
            "{e}"
        );
    }
}

#[test]
fn network_messages_are_worded_as_the_clients_node_line_words_them() {
    let v18 = NodeWords::of(Some("18.20.8"), Some("6.1.1"), None);
    let v24 = NodeWords::of(Some("24.22.3"), Some("9.4.4"), None);
    let message = |cause: NetworkCause, words| {
        Error::network(cause, true)
            .via_exchange_code()
            .in_words(words)
            .to_string()
    };
    let hint = "; if the root CA is installed locally, try running Node.js with --use-system-ca";
    for reason in [
        "self-signed certificate",
        "unable to verify the first certificate",
    ] {
        let tls = || NetworkCause::Tls(reason.into());
        assert_eq!(
            message(tls(), v24),
            format!("{EXCHANGE_PREFIX}Error: {reason}{hint}")
        );
        assert_eq!(
            message(tls(), v18),
            format!("{EXCHANGE_PREFIX}Error: {reason}")
        );
        let tunnel = NetworkCause::TunnelFailed(Box::new(tls()));
        assert!(message(tunnel, v24).ends_with(&format!("cause={reason}{hint}")));
    }
    // Reasons Node 24 leaves without the hint.
    for reason in [
        "self-signed certificate in certificate chain",
        "unable to get local issuer certificate",
        "certificate has expired",
    ] {
        assert_eq!(
            message(NetworkCause::Tls(reason.into()), v24),
            format!("{EXCHANGE_PREFIX}Error: {reason}")
        );
    }
    assert_eq!(
        message(NetworkCause::Parse(ParseFailure::NotHttp), v18),
        format!("{EXCHANGE_PREFIX}Error: Parse Error: Expected HTTP/")
    );
    assert_eq!(
        message(NetworkCause::Parse(ParseFailure::Status), v18),
        format!("{EXCHANGE_PREFIX}Error: Parse Error: Invalid response status")
    );
    assert_eq!(
        message(NetworkCause::Parse(ParseFailure::NotHttp), v24),
        format!("{EXCHANGE_PREFIX}Error: Parse Error: Expected HTTP/, RTSP/ or ICE/")
    );
}

#[test]
fn only_a_request_that_never_went_out_to_a_usable_url_is_worth_retrying() {
    let refused = || NetworkCause::Refused {
        host: "127.0.0.1".into(),
        port: 1,
    };
    assert!(Error::network(refused(), false).is_transient());
    assert!(Error::network(NetworkCause::HostNotFound("h".into()), false).is_transient());
    assert!(!Error::network(refused(), true).is_transient());
    assert!(!Error::network(NetworkCause::HangUp, true).is_transient());
    assert!(!Error::network(NetworkCause::InvalidUri(ShownUrl::of("x")), false).is_transient());
    assert!(!Error::network(NetworkCause::InvalidProtocol("ftp".into()), false).is_transient());
    for (status, transient) in [
        (429, true),
        (503, true),
        (504, true),
        (500, false),
        (401, false),
    ] {
        let e = Error::new(ErrorKind::HttpStatus {
            status,
            body: String::new(),
        });
        assert_eq!(e.is_transient(), transient, "{status}");
    }
}
