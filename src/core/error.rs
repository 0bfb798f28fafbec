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
pub(crate) const EXCHANGE_PREFIX: &str = "Error exchanging code for data: ";
/// What a failure of the processed payload fetch starts with, after the prefix above.
pub(crate) const PAYLOAD_PREFIX: &str = "Could not return data from processed payload url: ";
/// civic-sip-api's words for a response token that fails verification.
pub(crate) const NOT_VERIFIED: &str = "JWT Token containing encrypted data could not be verified";

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
mod tests;
