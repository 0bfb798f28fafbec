//! civic-sip-native: the Civic SIP auth-code exchange for Node.js, in Rust.

#[cfg(feature = "node")]
mod binding;
pub mod core;
