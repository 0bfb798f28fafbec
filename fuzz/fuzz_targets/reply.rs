//! The response parser: `Client::process_payload` over arbitrary 200 bodies.
//!
//! Input: one mode byte, then UTF-8 text.
//! - even mode: the text is the body, read by the recorded app's client (Civic's production key,
//!   clock in 2018), so Civic's recorded reply goes all the way through verify and decrypt;
//! - odd mode: `<body template>\n<claims>`: the claims are signed by the stand-in Civic key and
//!   the first `TOKEN` in the template is replaced by that token, so mutated claims and reply
//!   fields get past the signature. Mode bits 1-2 pick the AES key length.
#![no_main]

use civic_sip_native::core::error::code;
use civic_sip_native::core::Client;
use civic_sip_native::core::ReplyOutcome;
use civic_sip_native_fuzz::{mode_and_text, sign, ES256_HEADER, RECORDED, SIGNED};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let Some((mode, text)) = mode_and_text(input) else {
        return;
    };
    if mode & 1 == 0 {
        read(&RECORDED, text);
    } else {
        let (template, claims) = text.split_once('\n').unwrap_or((text, ""));
        let body = template.replacen("TOKEN", &sign(ES256_HEADER, claims), 1);
        read(&SIGNED[usize::from(mode >> 1 & 3).min(2)], &body);
    }
});

fn read(client: &Client, body: &str) {
    match client.process_payload(200, Some(body)) {
        Ok(ReplyOutcome::Ready(user)) => {
            // What the binding hands to JSON.parse: checked to be JSON.
            assert!(serde_json::from_str::<serde::de::IgnoredAny>(&user.data).is_ok());
            if let Some(user_id) = &user.user_id {
                assert!(serde_json::from_str::<serde::de::IgnoredAny>(user_id).is_ok());
            }
        }
        Ok(ReplyOutcome::Processed(pending)) => drop(format!("{pending:?}")),
        Err(error) => {
            // The message is built from the body too (its JSON rendering).
            let message = error.to_string();
            assert!(!message.is_empty());
            assert!(matches!(
                error.code(),
                code::INVALID_RESPONSE | code::VERIFICATION | code::DECRYPTION
            ));
        }
    }
}
