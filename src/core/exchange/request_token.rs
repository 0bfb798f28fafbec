//! The request token: the ES256 JWT that signs the exchange's request (civic-sip-api's claims,
//! its `3m` lifetime, a fresh `jti` each time).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use super::civic_ext::AUTH_CODE_PATH;
use crate::core::crypto::es256::{RandomFailed, SigningKey};
use crate::core::crypto::jwt::ES256_HEADER;
use crate::core::json::json_string;

/// Lifetime of the request token: civic-sip-api's `3m`.
const REQUEST_LIFETIME_MS: u64 = 180_000;

/// The request token: `iss` = `sub` = appId, `aud` = the base URL, `iat`/`exp` as seconds with
/// milliseconds (civic-sip-api sends floats), `data` = the method and path being called.
/// Fails only if the system's random source does (each signature takes a fresh nonce).
pub fn sign_request_token(
    key: &SigningKey,
    app_id: &str,
    audience: &str,
    now_ms: u64,
    jti: &[u8; 16],
) -> Result<String, RandomFailed> {
    let app_id = json_string(app_id);
    let claims = format!(
        r#"{{"jti":"{}","iat":{},"exp":{},"iss":{app_id},"aud":{},"sub":{app_id},"data":{{"method":"POST","path":"{AUTH_CODE_PATH}"}}}}"#,
        uuid_v4(jti),
        seconds(now_ms),
        seconds(now_ms + REQUEST_LIFETIME_MS),
        json_string(audience),
    );
    let mut token = String::with_capacity(ES256_HEADER.len() + claims.len() * 4 / 3 + 90);
    token.push_str(ES256_HEADER);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(claims, &mut token);
    let signature = key.try_sign(token.as_bytes())?;
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(signature.to_bytes(), &mut token);
    Ok(token)
}

/// Milliseconds as JS prints `ms / 1000`: `1519931717.035`, `1519931717.1`, `1519931717`.
fn seconds(ms: u64) -> String {
    let (s, frac) = (ms / 1000, ms % 1000);
    if frac == 0 {
        return s.to_string();
    }
    let digits = format!("{frac:03}");
    format!("{s}.{}", digits.trim_end_matches('0'))
}

/// Formats 16 random bytes as a version-4 UUID, in one allocation (it is built per exchange).
fn uuid_v4(random: &[u8; 16]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut b = *random;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let mut uuid = String::with_capacity(36);
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            uuid.push('-');
        }
        uuid.push(char::from(DIGITS[usize::from(byte >> 4)]));
        uuid.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    uuid
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::crypto::jwt::tests::{key, PRV};
    use crate::core::crypto::jwt::verify_response_token;

    #[test]
    fn request_token_round_trips_with_the_claims_civic_expects() {
        let k = key(PRV);
        let token = sign_request_token(
            &k,
            "HyhaWO1SG",
            "https://api.civic.com/sip/",
            1_519_931_717_035,
            &[0xab; 16],
        )
        .expect("signs");
        let claims =
            verify_response_token(&token, k.verifying_key(), 1_519_931_717).expect("verifies");
        assert_eq!(claims["iss"], "HyhaWO1SG");
        assert_eq!(claims["sub"], "HyhaWO1SG");
        assert_eq!(claims["aud"], "https://api.civic.com/sip/");
        assert_eq!(claims["iat"].as_f64(), Some(1_519_931_717.035));
        assert_eq!(claims["exp"].as_f64(), Some(1_519_931_897.035));
        assert_eq!(
            claims["data"],
            serde_json::json!({"method": "POST", "path": "scopeRequest/authCode"})
        );
        assert_eq!(claims["jti"], "abababab-abab-4bab-abab-abababababab");
        assert!(token.starts_with("eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9."));
    }

    #[test]
    fn jti_is_a_version_4_uuid_of_the_random_bytes_in_order() {
        let bytes: [u8; 16] = std::array::from_fn(|i| i as u8 * 17);
        assert_eq!(uuid_v4(&bytes), "00112233-4455-4677-8899-aabbccddeeff");
        assert_eq!(uuid_v4(&[0xff; 16]), "ffffffff-ffff-4fff-bfff-ffffffffffff");
    }

    #[test]
    fn seconds_print_as_js_numbers() {
        assert_eq!(seconds(1_519_931_717_035), "1519931717.035");
        assert_eq!(seconds(1_519_931_717_100), "1519931717.1");
        assert_eq!(seconds(1_519_931_717_000), "1519931717");
    }
}
