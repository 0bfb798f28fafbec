//! civic-sip-native: the Civic SIP auth-code exchange for Node.js, in Rust.

mod binding;
pub mod core;
