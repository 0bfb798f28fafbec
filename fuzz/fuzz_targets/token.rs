//! Token verification: `jwt::verify_response_token` over arbitrary token strings.
//!
//! Input: one mode byte, then UTF-8 text.
//! - even mode: the text is the token, checked against the stand-in Civic key;
//! - odd mode: `<header>\n<claims>`, base64url-encoded and signed by that key, so the header and
//!   claims checks behind the signature see mutated JSON. A token signed by the key must never
//!   fail on its signature.
#![no_main]

use civic_sip_native::core::crypto::jwt::{verify_response_token, Rejected};
use civic_sip_native_fuzz::{mode_and_text, sign, CIVIC_PUBLIC, NOW};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let Some((mode, text)) = mode_and_text(input) else {
        return;
    };
    let key = &*CIVIC_PUBLIC;
    if mode & 1 == 0 {
        let _ = verify_response_token(text, key, NOW);
    } else {
        let (header, claims) = text.split_once('\n').unwrap_or((text, ""));
        let verdict = verify_response_token(&sign(header, claims), key, NOW);
        assert_ne!(verdict, Err(Rejected::Signature));
        if let Ok(verified) = verdict {
            // What verified is what was signed: an object with a numeric exp.
            assert!(verified
                .get("exp")
                .is_some_and(serde_json::Value::is_number));
        }
    }
});
