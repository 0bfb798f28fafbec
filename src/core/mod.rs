//! The Civic SIP exchange in plain Rust: no napi import anywhere below this folder.

pub mod abort;
pub mod cipher;
pub mod civic_ext;
pub mod client;
pub mod config;
pub mod error;
pub mod es256;
pub mod hex;
pub mod http;
pub mod json;
pub mod jwt;
pub mod key_text;
pub mod node_words;
pub mod priority;
pub mod proxy;
pub mod redact;
pub mod reply;
pub mod response_token;
pub mod retry;
pub mod steps;
pub mod tls;
pub mod verbatim;

pub use abort::Abort;
pub use client::{Client, ReplyOutcome, UserData};
pub use config::{Options, ProxyOptions};
pub use error::{Error, ErrorKind};
