//! The Civic SIP exchange in plain Rust: no napi import anywhere below this folder, so it builds,
//! links and is tested (`cargo test`) without Node. `src/binding/` turns its values and errors
//! into JS ones.
//!
//! # The map
//!
//! [`exchange`]: the exchange itself, in Civic's terms.
//! - `config`: the options checked into a client's [`Config`](exchange::config::Config) (URLs,
//!   keys, limits), owned by that client; `describe` for `describeOptions`.
//! - `client`: [`Client`], the exchange end to end, and `processPayload`.
//! - `request_token`: the ES256 JWT that signs the request; `civic_ext`: the Civic extension
//!   (HMAC of the body) and the `Authorization` header.
//! - `reply`: the exchange's reply read as civic-sip-api read it (JS truthiness); `response_token`:
//!   Civic's token verified under the configured keys, then its user data decrypted.
//! - `retry`: retries after a transient failure; `abort`: the caller's `AbortSignal`;
//!   `debuglog`: the steps `NODE_DEBUG=civic-sip-native` prints.
//!
//! [`crypto`]: ES256 on ring (`es256`), the JWT compact form and its verification (`jwt`), the
//! user data's AES-CBC (`cipher`), key text read as civic-sip-api reads it (`key_text`, `hex`).
//!
//! [`http`]: the two calls over hyper-util's pooled client.
//! - `client`: the client API the exchange uses (`post_auth_code`, `get_payload`, bodies read
//!   against a cap, redirects followed for the payload only).
//! - `pool`: the pooled client and the request's credentials; `connector`: our own connections,
//!   direct, through a proxy or a CONNECT `tunnel`, over `connect` (Happy Eyeballs) and
//!   [`tls`](http::tls) (rustls on ring; `ca` and certificate failures as Node has them);
//!   `connection`: a connection's reads metered against flooding servers.
//! - `proxy`: which proxy a URL takes (`proxy.url`, or the environment as `request` read it);
//!   `request_target`: a URL's path and query on the wire as written; `failure`: network
//!   failures in Node's words.
//!
//! Across them: [`error`] (the kinds, their codes and civic-sip-api's messages), [`redact`] (what
//! a message, a debug line or `Debug` may show of a URL or a secret), [`node_words`] (which Node
//! line's words a message uses), [`json`] (JSON read strictly: a member named twice is refused),
//! [`priority`] (the exchange thread's scheduling priority).
//!
//! # The path of an exchange
//!
//! [`Client::exchange_code_with_abort`] signs a request token (`exchange::request_token`) and the
//! body's Civic extension (`exchange::civic_ext`), then POSTs them (`http::client`, within
//! `exchange::retry`): `http::pool` sends the request over a connection `http::connector` made,
//! to the server or the proxy `http::proxy` chose, through `http::connect`, `http::tunnel` and
//! `http::tls`; `http::connection` meters the reads. `exchange::reply` reads the reply; a
//! processed payload is fetched with `get_payload`. `exchange::response_token` verifies the
//! response token (`crypto::jwt`, `crypto::es256`) and decrypts its user data
//! (`crypto::cipher`) into [`UserData`]. A failure on the way is an [`Error`], worded by
//! `http::failure` where the network gave it; every step goes to `exchange::debuglog`.

pub mod crypto;
pub mod error;
pub mod exchange;
pub mod http;
pub mod json;
pub mod node_words;
pub mod priority;
pub mod redact;

pub use error::{Error, ErrorKind};
pub use exchange::abort::Abort;
pub use exchange::client::{Client, ReplyOutcome, UserData};
pub use exchange::config::{Options, ProxyOptions};
