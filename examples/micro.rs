//! Micro-benchmark of the two halves of an exchange in the Rust core, for `npm run bench`:
//! building the Authorization header, and verifying + decrypting a reply.
//! Reads `{"config": {...}, "reply": "<reply body>"}` on stdin, prints one JSON line.

use std::io::Read;
use std::time::Instant;

use civic_sip_native::core::exchange::civic_ext::{
    authorization_header, civic_extension, request_body,
};
use civic_sip_native::core::exchange::request_token;
use civic_sip_native::core::ReplyOutcome;
use civic_sip_native::core::{Client, Options};
use serde_json::Value;

fn per_op_us(iterations: u32, mut op: impl FnMut()) -> f64 {
    for _ in 0..iterations / 10 {
        op();
    }
    let start = Instant::now();
    for _ in 0..iterations {
        op();
    }
    start.elapsed().as_secs_f64() * 1e6 / f64::from(iterations)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input)?;
    let input: Value = serde_json::from_str(&input)?;
    let text = |k: &str| input["config"][k].as_str().map(str::to_owned);
    let client = Client::new(Options {
        app_id: text("appId"),
        app_secret: text("appSecret"),
        prv_key: text("prvKey"),
        api: text("api"),
        civic_public_keys: text("civicPublicKey").map(|key| vec![key]),
        ..Options::default()
    })?;
    let auth_code = input["authCode"].as_str().ok_or("authCode")?;
    let reply = input["reply"].as_str().ok_or("reply")?;
    let config = client.config();
    let key = config.signing_key.as_ref().map_err(|e| e.to_string())?;

    let header_us = per_op_us(2000, || {
        let token = request_token::sign_request_token(
            key,
            &config.app_id,
            &config.audience,
            1_700_000_000_123,
            &[7; 16],
        )
        .expect("the system random source");
        let body = request_body(auth_code);
        std::hint::black_box(authorization_header(
            &token,
            &civic_extension(&body, &config.app_secret),
        ));
    });
    let open_us = per_op_us(1000, || match client.process_payload(200, Some(reply)) {
        Ok(ReplyOutcome::Ready(user)) => {
            std::hint::black_box(user);
        }
        _ => panic!("the reply must open"),
    });
    println!("{{\"authorizationHeaderUs\":{header_us:.1},\"verifyDecryptUs\":{open_us:.1}}}");
    Ok(())
}
