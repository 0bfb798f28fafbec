//! Civic's response token: verified under the configured keys, then its user data decrypted.

use serde_json::{Map, Value};

use super::config::Config;
use super::error::{Error, ErrorKind};
use super::json;
use super::jwt;
use super::key_text::is_js_ascii_whitespace;

/// Deepest nesting of arrays and objects accepted in the user data (serde_json's own limit).
const MAX_USER_DATA_DEPTH: usize = 128;

/// Verifies the response token under any of the configured Civic keys at `now` (seconds since
/// the epoch) and returns the user data's clear text, checked to be JSON. Whitespace around the
/// token (a payload body ending in a newline) is not part of the signed bytes, so it is ignored;
/// inside the token it is refused.
pub(crate) fn verify_and_decrypt(
    config: &Config,
    token: &str,
    encrypted: bool,
    now: i64,
) -> Result<String, Error> {
    let token = token.trim_matches(is_js_ascii_whitespace);
    let civic_keys = config.civic_keys.as_ref().map_err(Clone::clone)?;
    // Under any of the configured keys (more than one while Civic rotates its key).
    let claims = civic_keys
        .iter()
        .find_map(|key| jwt::verify_response_token(token, key, now).ok())
        .ok_or_else(|| Error::new(ErrorKind::Verification))?;
    user_data_text(&claims, encrypted, config)
}

fn user_data_text(
    claims: &Map<String, Value>,
    encrypted: bool,
    config: &Config,
) -> Result<String, Error> {
    let fail = |why| Error::new(ErrorKind::Decryption(why));
    let data = claims
        .get("data")
        .and_then(Value::as_str)
        .ok_or_else(|| fail("the token's data claim is not a string"))?;
    let clear = if encrypted {
        config
            .aes_key
            .as_ref()
            .map_err(Clone::clone)?
            .decrypt(data)
            .map_err(fail)?
    } else {
        data.to_owned()
    };
    // civic-sip-api resolved with `data: undefined` here; a clear error is more useful.
    // Records are two levels deep; hostile nesting would only overflow the app's stack later.
    if json::nests_deeper_than(&clear, MAX_USER_DATA_DEPTH) {
        return Err(fail("the clear text is nested too deeply"));
    }
    serde_json::from_str::<serde::de::IgnoredAny>(&clear)
        .map_err(|_| fail("the clear text is not JSON"))?;
    Ok(clear)
}
