//! Civic's cryptography: ES256 on ring, the JWT compact form, the user data's AES-CBC, and key
//! text read as civic-sip-api reads it into wiped buffers.

pub(crate) mod cipher;
pub(crate) mod es256;
pub(crate) mod hex;
pub(crate) mod jwt;
pub(crate) mod key_text;
