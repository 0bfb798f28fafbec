//! Civic's cryptography: ES256 on ring, the JWT compact form, the user data's AES-CBC, and key
//! text read as civic-sip-api reads it into wiped buffers. Public for the fuzz targets, which
//! drive these directly.

pub mod cipher;
pub mod es256;
pub mod hex;
pub mod jwt;
pub(crate) mod key_text;
