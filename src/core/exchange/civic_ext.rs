//! The `Authorization: Civic <requestToken>.<civicExtension>` header and the body it covers.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::core::json::json_string;

/// The path the exchange is POSTed to, and the `data.path` claim of the request token.
pub(crate) const AUTH_CODE_PATH: &str = "scopeRequest/authCode";

/// The exchange body with its keys already sorted, so these exact bytes are both what is sent and
/// what json-stable-stringify would produce: a server that HMACs either form agrees.
pub fn request_body(auth_code: &str) -> String {
    format!(
        r#"{{"allowS3UploadedPayload":true,"authToken":{}}}"#,
        json_string(auth_code)
    )
}

/// base64 of HMAC-SHA256 over the body, keyed with the appSecret string's UTF-8 bytes (not its
/// hex-decoded bytes).
pub fn civic_extension(body: &str, app_secret: &str) -> String {
    // HMAC takes a key of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(app_secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of every length"));
    mac.update(body.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

pub fn authorization_header(request_token: &str, civic_extension: &str) -> String {
    format!("Civic {request_token}.{civic_extension}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_is_key_sorted_and_escaped() {
        assert_eq!(
            request_body("a.b.c"),
            r#"{"allowS3UploadedPayload":true,"authToken":"a.b.c"}"#
        );
        assert_eq!(
            request_body("q\"\n"),
            r#"{"allowS3UploadedPayload":true,"authToken":"q\"\n"}"#
        );
    }

    #[test]
    fn extension_is_hmac_sha256_keyed_with_the_secret_text() {
        // Reference value from node:crypto and from civic-sip-api's own CryptoJS + json-stable-stringify:
        // createHmac('sha256', '44bbae32d1e02bf481074177002bbdef')
        //   .update('{"allowS3UploadedPayload":true,"authToken":"a.b.c"}').digest('base64')
        assert_eq!(
            civic_extension(&request_body("a.b.c"), "44bbae32d1e02bf481074177002bbdef"),
            "YD1CZEwtc6+vEF66B8lYoid3eWTfvQ8XtXLvavrm1KQ="
        );
        assert_eq!(authorization_header("t", "e"), "Civic t.e");
    }
}
