//! The exchange: a client's configuration, the request it signs, the reply it reads, the response
//! token it verifies and decrypts, and what it records for `NODE_DEBUG`.

pub mod abort;
pub mod civic_ext;
pub mod client;
pub mod config;
pub mod debuglog;
pub mod reply;
pub mod request_token;
pub(crate) mod response_token;
pub(crate) mod retry;
