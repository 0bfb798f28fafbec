//! Errors of the exchange: one kind per way it can fail, each with a stable code and the message
//! civic-sip-api gives for the same failure.

use std::fmt;
use std::time::Duration;

use super::json::json_string;
use super::node_words::NodeWords;
use super::redact::ShownUrl;
pub use crate::core::crypto::jwt::Rejected;
use crate::core::http::tls;

/// What every rejection of `exchangeCode` starts with, as in civic-sip-api.
pub const EXCHANGE_PREFIX: &str = "Error exchanging code for data: ";
/// What a failure of the processed payload fetch starts with, after the prefix above.
pub const PAYLOAD_PREFIX: &str = "Could not return data from processed payload url: ";
/// civic-sip-api's words for a response token that fails verification.
pub const NOT_VERIFIED: &str = "JWT Token containing encrypted data could not be verified";

/// Defines each code once: a constant named as index.js's `codes` names it, and [`code::ALL`],
/// which the binding exports so index.js and the tests read the list rather than copy it.
macro_rules! codes {
    ($($(#[$doc:meta])* $name:ident = $value:literal,)*) => {
        /// Stable, documented error codes (the JS `error.code`).
        pub mod code {
            $($(#[$doc])* pub const $name: &str = $value;)*
            /// Every code, by its name in index.js's `codes`, in the order documented there.
            pub const ALL: &[(&str, &str)] = &[$((stringify!($name), $value)),*];
        }
    };
}

codes! {
    CONFIG = "ERR_CIVIC_CONFIG",
    HTTP_STATUS = "ERR_CIVIC_HTTP_STATUS",
    NETWORK = "ERR_CIVIC_NETWORK",
    TIMEOUT = "ERR_CIVIC_TIMEOUT",
    INVALID_RESPONSE = "ERR_CIVIC_INVALID_RESPONSE",
    VERIFICATION = "ERR_CIVIC_VERIFICATION",
    DECRYPTION = "ERR_CIVIC_DECRYPTION",
    /// Node's own code for an argument of the wrong type; always on a `TypeError`.
    INVALID_ARGUMENT = "ERR_INVALID_ARG_TYPE",
    INTERNAL = "ERR_CIVIC_INTERNAL",
    RESPONSE_TOO_LARGE = "ERR_CIVIC_RESPONSE_TOO_LARGE",
    /// Node's own code for an aborted operation (`AbortError`).
    ABORTED = "ABORT_ERR",
}

/// What went wrong, with what is known about it, as Keats/jsonwebtoken's `ErrorKind` does.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A required setting is missing: civic-sip-api's exact sentence, thrown by the constructor.
    MissingConfig(&'static str),
    /// A setting is present but unusable (malformed key, bad URL); names the field, never its value.
    InvalidConfig(String),
    /// The call itself was misused (an auth code that is not a string).
    InvalidArgument(String),
    /// Civic (or the payload host) answered with a status outside 2xx.
    HttpStatus { status: u16, body: String },
    /// A status other than 200 reaching `processPayload` (from the exchange: a 2xx other than
    /// 200), which civic-sip-api refuses too. The status as text: a JS caller may pass anything.
    UnexpectedStatus { status: String, body: String },
    /// The request failed on the network (`ERR_CIVIC_NETWORK`).
    Network {
        /// Why, worded as Node (or civic-sip-api's `request`) words it.
        cause: NetworkCause,
        /// Whether the server may have seen the request: `false` only when no connection was
        /// made (refused, reset while connecting, a name that did not resolve), which is what
        /// makes another attempt safe.
        sent: bool,
    },
    /// The whole exchange took longer than the configured timeout.
    Timeout(Duration),
    /// A 200 whose body is not JSON or has no `data`; holds the raw body text.
    InvalidResponse { body: Option<String> },
    /// The response token was refused, and why: forged or signed by another key, malformed, not
    /// ES256, expired (with its `exp`), without `exp`, or not yet valid. civic-sip-api had one
    /// message for all of them, so the reason is data, not words.
    Verification(Rejected),
    /// The user data could not be decrypted or read; says why, never with key material.
    Decryption(&'static str),
    /// A bug in this package (a panic), turned into a rejection instead of a crash or a hang.
    Internal,
    /// The system's random source failed (the request token's `jti` and its ECDSA nonce need
    /// it). Neither the network's fault nor the caller's: like a bug, only the machine's operator
    /// can mend it, so it shares `ERR_CIVIC_INTERNAL` and is never retried.
    RandomSource,
    /// A response body (the exchange reply or the payload) longer than the configured limit, in
    /// bytes (`ERR_CIVIC_RESPONSE_TOO_LARGE`).
    ResponseTooLarge(usize),
    /// The caller's `AbortSignal` fired before the exchange settled.
    Aborted,
}

/// Why a request failed on the network. `Display` gives Node's words for it (its `Error`'s
/// message, without the `Error: ` that the message of an [`Error`] puts before it), as
/// civic-sip-api's `request` reported it, so logs read the same.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NetworkCause {
    /// The host name did not resolve: `getaddrinfo ENOTFOUND <host>`.
    HostNotFound(String),
    /// Nothing listens there: `connect ECONNREFUSED <ip>:<port>`.
    Refused { host: String, port: u16 },
    /// The connection could not be made in time: `connect ETIMEDOUT <ip>:<port>`.
    ConnectTimedOut { host: String, port: u16 },
    /// The connection could not even be tried, for a cause on this machine (file descriptors
    /// exhausted, no local address or port left, a local firewall rule):
    /// `connect EMFILE <ip>:<port> - Local (undefined:undefined)`, with the code Node (libuv)
    /// gives the system error and the local address Node reports, `undefined:undefined` where
    /// no socket could be made, the unbound `0.0.0.0:0` (`:::0`) where it could.
    LocalConnect {
        code: &'static str,
        host: String,
        port: u16,
        local: &'static str,
    },
    /// The peer reset the connection: `read ECONNRESET`.
    Reset,
    /// The connection closed before a whole response head came: `socket hang up`.
    HangUp,
    /// The body stopped short of its length or last chunk: `aborted`.
    BodyCutShort,
    /// The answer is not HTTP (llhttp's `Parse Error: ...`).
    Parse(ParseFailure),
    /// The TLS handshake failed: Node's (OpenSSL's) words for why, such as
    /// `self-signed certificate` or `write EPROTO wrong version number`.
    Tls(String),
    /// The proxy answered the CONNECT with a status other than 2xx:
    /// `tunneling socket could not be established, statusCode=<status>`.
    TunnelRefused(u16),
    /// The CONNECT failed otherwise:
    /// `tunneling socket could not be established, cause=<cause>`.
    TunnelFailed(Box<NetworkCause>),
    /// A payload fetch redirected more than 10 times:
    /// `Exceeded maxRedirects. Probably stuck in a redirect loop <url>`, the URL last requested
    /// as [`ShownUrl`] shows it (no user info, no query).
    TooManyRedirects(ShownUrl),
    /// A URL with no host, or one a request line cannot carry: `Invalid URI "<url>"`, the URL
    /// as [`ShownUrl`] shows it (no user info, no query).
    InvalidUri(ShownUrl),
    /// A URL that is not http(s): `Invalid protocol: <scheme>:`.
    InvalidProtocol(String),
}

/// How an answer failed to parse as HTTP, in llhttp's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseFailure {
    /// `Parse Error: Expected HTTP/, RTSP/ or ICE/` (`Expected HTTP/` before llhttp 9.3)
    NotHttp,
    /// `Parse Error: Invalid status code` (`Invalid response status` before llhttp 9)
    Status,
    /// `Parse Error: Header overflow`
    HeaderOverflow,
}

impl fmt::Display for NetworkCause {
    /// In the default line's words ([`NodeWords::default`]).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_in(f, NodeWords::default())
    }
}

impl NetworkCause {
    /// Node's words for this cause on the line `words` describes.
    fn write_in(&self, f: &mut dyn fmt::Write, words: NodeWords) -> fmt::Result {
        const TUNNEL: &str = "tunneling socket could not be established";
        match self {
            NetworkCause::HostNotFound(host) => write!(f, "getaddrinfo ENOTFOUND {host}"),
            NetworkCause::Refused { host, port } => write!(f, "connect ECONNREFUSED {host}:{port}"),
            NetworkCause::ConnectTimedOut { host, port } => {
                write!(f, "connect ETIMEDOUT {host}:{port}")
            }
            NetworkCause::LocalConnect {
                code,
                host,
                port,
                local,
            } => write!(f, "connect {code} {host}:{port} - Local ({local})"),
            NetworkCause::Reset => f.write_str("read ECONNRESET"),
            NetworkCause::HangUp => f.write_str("socket hang up"),
            NetworkCause::BodyCutShort => f.write_str("aborted"),
            NetworkCause::Parse(ParseFailure::NotHttp) => {
                write!(f, "Parse Error: {}", words.not_http())
            }
            NetworkCause::Parse(ParseFailure::Status) => {
                write!(f, "Parse Error: {}", words.invalid_status())
            }
            NetworkCause::Parse(ParseFailure::HeaderOverflow) => {
                f.write_str("Parse Error: Header overflow")
            }
            NetworkCause::Tls(reason) => f.write_str(&tls::reason_on(reason, words)),
            NetworkCause::TunnelRefused(status) => write!(f, "{TUNNEL}, statusCode={status}"),
            NetworkCause::TunnelFailed(cause) => {
                write!(f, "{TUNNEL}, cause=")?;
                cause.write_in(f, words)
            }
            NetworkCause::TooManyRedirects(url) => {
                write!(
                    f,
                    "Exceeded maxRedirects. Probably stuck in a redirect loop {url}"
                )
            }
            NetworkCause::InvalidUri(url) => write!(f, "Invalid URI \"{url}\""),
            NetworkCause::InvalidProtocol(scheme) => write!(f, "Invalid protocol: {scheme}:"),
        }
    }
}

impl std::error::Error for NetworkCause {}

/// Which step of an exchange an error arose in: it decides the message's wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Signing and posting the auth code, or reading Civic's reply (what `processPayload` reads).
    Exchange,
    /// Fetching, verifying or decrypting the processed payload a reply pointed at.
    Payload,
}

/// An error of the exchange. `kind()` tells what went wrong; `Display` is the message a JS caller
/// sees, worded for the step it arose in.
#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    kind: Box<ErrorKind>,
    stage: Stage,
    /// Reached the caller through `exchangeCode`, whose messages all start with
    /// [`EXCHANGE_PREFIX`] (`processPayload`'s do not).
    via_exchange_code: bool,
    /// The Node line whose words the message uses.
    words: NodeWords,
}

impl Error {
    pub fn new(kind: ErrorKind) -> Self {
        Error {
            kind: Box::new(kind),
            stage: Stage::Exchange,
            via_exchange_code: false,
            words: NodeWords::default(),
        }
    }

    /// A network failure; `sent` as in [`ErrorKind::Network`].
    pub fn network(cause: NetworkCause, sent: bool) -> Self {
        Error::new(ErrorKind::Network { cause, sent })
    }

    /// Worth another attempt when retries are on: a connection that could not be made, or the
    /// statuses that mean "not now" (429 Too Many Requests, 503 Unavailable, 504 Gateway Timeout).
    pub fn is_transient(&self) -> bool {
        match &*self.kind {
            // A URL that cannot be requested stays so: no attempt would fare better.
            ErrorKind::Network { cause, sent } => {
                !sent
                    && !matches!(
                        cause,
                        NetworkCause::InvalidUri(_) | NetworkCause::InvalidProtocol(_)
                    )
            }
            ErrorKind::HttpStatus { status, .. } => matches!(status, 429 | 503 | 504),
            _ => false,
        }
    }

    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    pub fn code(&self) -> &'static str {
        match *self.kind {
            ErrorKind::MissingConfig(_) | ErrorKind::InvalidConfig(_) => code::CONFIG,
            ErrorKind::InvalidArgument(_) => code::INVALID_ARGUMENT,
            ErrorKind::HttpStatus { .. } | ErrorKind::UnexpectedStatus { .. } => code::HTTP_STATUS,
            ErrorKind::Network { .. } => code::NETWORK,
            ErrorKind::Timeout(_) => code::TIMEOUT,
            ErrorKind::InvalidResponse { .. } => code::INVALID_RESPONSE,
            ErrorKind::Verification(_) => code::VERIFICATION,
            ErrorKind::Decryption(_) => code::DECRYPTION,
            ErrorKind::Internal | ErrorKind::RandomSource => code::INTERNAL,
            ErrorKind::ResponseTooLarge(_) => code::RESPONSE_TOO_LARGE,
            ErrorKind::Aborted => code::ABORTED,
        }
    }

    /// The HTTP status, for the kinds that have one.
    pub fn status_code(&self) -> Option<u16> {
        match &*self.kind {
            ErrorKind::HttpStatus { status, .. } => Some(*status),
            ErrorKind::UnexpectedStatus { status, .. } => status.parse().ok(),
            _ => None,
        }
    }

    /// The response body text, for the HTTP status kinds.
    pub fn response_body(&self) -> Option<&str> {
        match &*self.kind {
            ErrorKind::HttpStatus { body, .. } | ErrorKind::UnexpectedStatus { body, .. } => {
                Some(body)
            }
            _ => None,
        }
    }

    /// Why the response token was refused, for `ErrorKind::Verification`.
    pub fn rejected(&self) -> Option<&Rejected> {
        match &*self.kind {
            ErrorKind::Verification(why) => Some(why),
            _ => None,
        }
    }

    #[cfg(test)]
    fn stage(&self) -> Stage {
        self.stage
    }

    /// The error arose while fetching or reading the processed payload.
    pub(crate) fn in_payload(mut self) -> Self {
        // A timeout or an abort covers the whole exchange, so it is reported as such, not as a
        // payload failure.
        if !matches!(*self.kind, ErrorKind::Timeout(_) | ErrorKind::Aborted) {
            self.stage = Stage::Payload;
        }
        self
    }

    /// The error reaches the caller through `exchangeCode`, which prefixes its message; a
    /// missing setting keeps civic-sip-api's bare sentence.
    pub(crate) fn via_exchange_code(mut self) -> Self {
        if !matches!(*self.kind, ErrorKind::MissingConfig(_)) {
            self.via_exchange_code = true;
        }
        self
    }

    /// The message worded as the Node line `words` words it (the client's, from the binding).
    pub(crate) fn in_words(mut self, words: NodeWords) -> Self {
        self.words = words;
        self
    }

    /// The message with the `Invalid response body` JSON rendered by `render_json`, which turns
    /// the raw body text into what `JSON.stringify(JSON.parse(body) ?? body)` gives. The Node
    /// binding passes V8's own JSON so the text is byte-exact; `Display` uses serde_json.
    pub fn message_with(&self, render_json: &dyn Fn(Option<&str>) -> String) -> String {
        let mut out = String::new();
        let payload = self.stage == Stage::Payload;
        if self.via_exchange_code {
            out.push_str(EXCHANGE_PREFIX);
        }
        if payload {
            out.push_str(PAYLOAD_PREFIX);
        }
        match &*self.kind {
            ErrorKind::MissingConfig(m) => out.push_str(m),
            ErrorKind::InvalidConfig(m) | ErrorKind::InvalidArgument(m) => out.push_str(m),
            ErrorKind::HttpStatus { status, body } => {
                // request-promise's StatusCodeError: `<status> - <JSON of the body text>`.
                if payload {
                    out.push_str("StatusCodeError: ");
                }
                out.push_str(&format!("{status} - {}", json_string(body)));
            }
            ErrorKind::UnexpectedStatus { status, body } => {
                out.push_str(&format!("{status} {body}"));
            }
            ErrorKind::Network { cause, .. } => {
                if payload {
                    out.push_str("RequestError: ");
                }
                out.push_str("Error: ");
                // Writing to a String cannot fail.
                let _ = cause.write_in(&mut out, self.words);
            }
            ErrorKind::Timeout(d) => {
                out.push_str(&format!(
                    "Error: ETIMEDOUT: no answer within {} ms",
                    d.as_millis()
                ));
            }
            ErrorKind::InvalidResponse { body } => {
                if payload {
                    out.push_str("Error: ");
                }
                out.push_str("Invalid response body or body data not found: ");
                out.push_str(&render_json(body.as_deref()));
            }
            ErrorKind::Verification(_) => {
                if payload {
                    out.push_str("Error: ");
                }
                out.push_str(NOT_VERIFIED);
            }
            ErrorKind::Decryption(why) => {
                if payload {
                    out.push_str("Error: ");
                }
                out.push_str("Could not decrypt user data: ");
                out.push_str(why);
            }
            ErrorKind::Internal => {
                out.push_str("internal error in civic-sip-native (please report it)")
            }
            // The same words whichever call it fails in (no `RequestError: ` for a payload).
            ErrorKind::RandomSource => out.push_str("Error: the system random source failed"),
            ErrorKind::ResponseTooLarge(limit) => {
                if payload {
                    out.push_str("RequestError: ");
                }
                out.push_str(&format!(
                    "Error: response body larger than {limit} bytes (maxResponseBytes)"
                ));
            }
            ErrorKind::Aborted => out.push_str("AbortError: The operation was aborted"),
        }
        out
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Self {
        Error::new(kind)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message_with(&render_json_serde))
    }
}

impl std::error::Error for Error {
    /// The reason a response token was refused, or the network cause; the other kinds carry no
    /// cause of their own.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &*self.kind {
            ErrorKind::Verification(why) => Some(why),
            ErrorKind::Network { cause, .. } => Some(cause),
            _ => None,
        }
    }
}

/// `JSON.stringify(parsed body, or the body text where it does not parse)`, approximated with
/// serde_json (key order kept; V8 may differ on number formatting and integer-like keys).
pub fn render_json_serde(body: Option<&str>) -> String {
    match body {
        None => "undefined".to_owned(),
        Some(text) => match serde_json::from_str::<serde_json::Value>(text) {
            Ok(v) => v.to_string(),
            Err(_) => json_string(text),
        },
    }
}

#[cfg(test)]
mod tests {
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
        let hint =
            "; if the root CA is installed locally, try running Node.js with --use-system-ca";
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
}
