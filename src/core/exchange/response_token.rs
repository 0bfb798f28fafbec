//! Civic's response token: verified under the configured keys, then its user data decrypted.

use serde_json::{Map, Value};

use super::config::Config;
use super::debuglog::Observer;
use crate::core::crypto::es256::VerifyingKey;
use crate::core::crypto::jwt;
use crate::core::crypto::key_text::is_js_ascii_whitespace;
use crate::core::error::{Error, ErrorKind, Rejected};
use crate::core::json;

/// Deepest nesting of arrays and objects accepted in the user data (serde_json's own limit).
const MAX_USER_DATA_DEPTH: usize = 128;

/// Verifies the response token under any of the configured Civic keys at `now` (seconds since
/// the epoch) and returns the user data's clear text, checked to be JSON. Whitespace around the
/// token (a payload body ending in a newline) is not part of the signed bytes, so it is ignored;
/// inside the token it is refused. The outcome of each step goes to `observer`.
pub(crate) fn verify_and_decrypt(
    config: &Config,
    token: &str,
    encrypted: bool,
    now: i64,
    observer: Observer<'_>,
) -> Result<String, Error> {
    let token = token.trim_matches(is_js_ascii_whitespace);
    let civic_keys = config.civic_keys.as_ref().map_err(Clone::clone)?;
    let claims = verify_under_any(token, civic_keys, now).map_err(|why| {
        observer.record(|| format!("response token refused ({}): {why}", why.as_str()));
        Error::new(ErrorKind::Verification(why))
    })?;
    observer.record(|| "response token verified".to_owned());
    let clear = user_data_text(&claims, encrypted, config);
    observer.record(|| match (&clear, encrypted) {
        (Ok(text), true) => format!("user data decrypted: {} bytes of JSON", text.len()),
        (Ok(text), false) => format!(
            "user data read (not encrypted): {} bytes of JSON",
            text.len()
        ),
        (Err(e), _) => format!("user data not read: {} ({e})", e.code()),
    });
    clear
}

/// The claims of a token that verifies under one of `keys` (more than one while Civic rotates
/// its key). A wrong signature under one key says nothing of the next; any other reason (the
/// token's shape, or its times once a key's signature held) is the token's own, so it is final.
fn verify_under_any(
    token: &str,
    keys: &[VerifyingKey],
    now: i64,
) -> Result<Map<String, Value>, Rejected> {
    for key in keys {
        match jwt::verify_response_token(token, key, now) {
            Err(Rejected::Signature) => {}
            outcome => return outcome,
        }
    }
    Err(Rejected::Signature)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::crypto::jwt::tests::{key, sign, PRV};

    const NOW: i64 = 1_700_000_000;
    const HEADER: &str = r#"{"alg":"ES256","typ":"JWT"}"#;

    #[test]
    fn the_reason_is_the_tokens_own_once_a_key_signed_it() {
        let civic = key(PRV);
        let other = key("0000000000000000000000000000000000000000000000000000000000000007");
        let keys = [other.verifying_key().clone(), civic.verifying_key().clone()];
        let expired = sign(&civic, HEADER, &format!(r#"{{"exp":{}}}"#, NOW - 61));
        assert_eq!(
            verify_under_any(&expired, &keys, NOW).map(|_| ()),
            Err(Rejected::Expired {
                exp: (NOW - 61) as f64
            })
        );
        let foreign = sign(&other, HEADER, &format!(r#"{{"exp":{}}}"#, NOW + 60));
        assert_eq!(
            verify_under_any(&foreign, &keys[1..], NOW).map(|_| ()),
            Err(Rejected::Signature)
        );
        assert!(verify_under_any(&foreign, &keys, NOW).is_ok());
        assert_eq!(
            verify_under_any("a.b", &keys, NOW).map(|_| ()),
            Err(Rejected::Malformed)
        );
    }
}
