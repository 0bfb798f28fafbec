//! The exchange through a client: Civic's recorded reply, processPayload's messages, what Debug shows, the shared HTTP client, aborts.

use super::*;
use crate::core::error::code;
use crate::core::exchange::config::CIVIC_PUBLIC_KEY;
use serde_json::Value;

/// Civic's recorded 2018 reply (__test__/fixtures/civic-recorded-2018.json, from shared/vectors), at its own time.
fn vector() -> Value {
    let text = include_str!("../../../../__test__/fixtures/civic-recorded-2018.json");
    serde_json::from_str(text).expect("vector JSON")
}

fn recorded_client(v: &Value) -> Client {
    let app = &v["app"];
    let s = |k: &str| app[k].as_str().map(str::to_owned);
    Client::new(Options {
        app_id: s("appId"),
        app_secret: s("appSecret"),
        prv_key: s("prvKey"),
        ..Options::default()
    })
    .expect("client")
    // 2018-03-01T19:35:00Z, inside the token's validity.
    .with_clock(|| 1_519_932_900)
}

#[test]
fn a_response_token_verifies_under_any_of_the_configured_civic_keys() {
    let v = vector();
    let app = &v["app"];
    let s = |k: &str| app[k].as_str().map(str::to_owned);
    // Two well-formed P-256 points that are not Civic's: the generator G and 2G.
    let g = "046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c2964fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5";
    let g2 = "047cf27b188d034f7e8a52380304b51ac3c08969e277f21b35a60b48fc4766997807775510db8ed040293d9ac69f7430dbba7dade63ce982299e04b79d227873d1";
    let with_keys = |keys: &[&str]| {
        Client::new(Options {
            app_id: s("appId"),
            app_secret: s("appSecret"),
            prv_key: s("prvKey"),
            civic_public_keys: Some(keys.iter().map(|k| (*k).to_owned()).collect()),
            ..Options::default()
        })
        .expect("client")
        .with_clock(|| 1_519_932_900)
    };
    let reply = v["reply"].to_string();
    let outcome = |keys: &[&str]| with_keys(keys).process_payload(200, Some(&reply));
    for keys in [
        &[g, CIVIC_PUBLIC_KEY][..],
        &[CIVIC_PUBLIC_KEY, g2],
        &[g, g2, CIVIC_PUBLIC_KEY],
    ] {
        assert!(
            matches!(outcome(keys), Ok(ReplyOutcome::Ready(_))),
            "{keys:?}"
        );
    }
    for keys in [&[g][..], &[g, g2]] {
        let err = outcome(keys).expect_err("a key that did not sign it");
        assert_eq!(err.code(), code::VERIFICATION, "{keys:?}");
        assert_eq!(err.rejected(), Some(&Rejected::Signature), "{keys:?}");
    }
    let empty = with_keys(&[]).process_payload(200, Some(&reply));
    assert_eq!(
        empty.expect_err("no key").to_string(),
        "civicPublicKey must name at least one P-256 public key (an empty list names none)"
    );
    let bad = with_keys(&[g, "04zz"]).process_payload(200, Some(&reply));
    assert_eq!(
        bad.expect_err("a bad key").to_string(),
        "civicPublicKey[1] must be a P-256 public key in hex (SEC1, compressed or uncompressed)"
    );
}

#[test]
fn civics_recorded_reply_verifies_with_the_built_in_key_and_decrypts() {
    let v = vector();
    let client = recorded_client(&v);
    let body = v["reply"].to_string();
    let Ok(ReplyOutcome::Ready(user)) = client.process_payload(200, Some(&body)) else {
        panic!("the recorded reply must open");
    };
    let data: Value = serde_json::from_str(&user.data).expect("JSON");
    assert_eq!(data, v["expected"]["data"]);
    assert_eq!(
        user.user_id.as_deref(),
        Some(v["expected"]["userId"].to_string().as_str())
    );
}

#[test]
fn whitespace_around_the_response_token_is_ignored_inside_it_refused() {
    let v = vector();
    let client = recorded_client(&v);
    let token = v["reply"]["data"].as_str().expect("token").to_owned();
    let with = |data: String| {
        let mut reply = v["reply"].clone();
        reply["data"] = Value::String(data);
        client.process_payload(200, Some(&reply.to_string()))
    };
    for around in ["\n", "\r\n", " ", "\t", "\u{0b}\u{0c}", " \r\n\t "] {
        assert!(
            matches!(
                with(format!("{around}{token}{around}")),
                Ok(ReplyOutcome::Ready(_))
            ),
            "{around:?}"
        );
    }
    let (signed, signature) = token.rsplit_once('.').expect("three parts");
    for inside in [
        format!("{signed}. {signature}"),
        format!("{signed}.{}\n{}", &signature[..4], &signature[4..]),
        token.replacen('.', ". ", 1),
        format!("{token}\u{a0}"),
        format!("{token}\0"),
    ] {
        let err = with(inside.clone()).expect_err("refused");
        assert_eq!(err.code(), code::VERIFICATION, "{inside:?}");
    }
}

#[test]
fn the_recorded_reply_is_refused_today() {
    let v = vector();
    let client = recorded_client(&v).with_clock(system_seconds);
    let err = client
        .process_payload(200, Some(&v["reply"].to_string()))
        .expect_err("expired");
    assert_eq!(err.code(), code::VERIFICATION);
    assert_eq!(
        err.to_string(),
        "JWT Token containing encrypted data could not be verified"
    );
    // Its exp is in 2018, after the clock of `recorded_client`.
    assert!(
        matches!(err.rejected(), Some(Rejected::Expired { exp }) if (1_519_932_900.0..1.6e9).contains(exp)),
        "{:?}",
        err.rejected()
    );
}

#[test]
fn process_payload_messages_match_civic_sip_api() {
    let v = vector();
    let client = recorded_client(&v);
    let err = |status: u16, body: Option<&str>| {
        client
            .process_payload(status, body)
            .expect_err("error")
            .to_string()
    };
    assert_eq!(err(400, Some("x")), "400 x");
    // What a JS caller may give: a status that is not the number 200, printed as JS does.
    for (given, message) in [("200", "200 x"), ("undefined", "undefined x")] {
        let e = client
            .process_payload(ReplyStatus::Other(given.into()), Some("x"))
            .expect_err("refused");
        assert_eq!(
            (e.to_string().as_str(), e.code()),
            (message, code::HTTP_STATUS)
        );
    }
    let e = client
        .process_payload(ReplyStatus::Other("500".into()), None)
        .expect_err("refused");
    assert_eq!(e.to_string(), "500 undefined");
    assert_eq!(
        err(200, Some(r#"{"processed":true,"data":""}"#)),
        r#"Invalid response body or body data not found: {"processed":true,"data":""}"#
    );
    assert_eq!(
        err(200, None),
        "Invalid response body or body data not found: undefined"
    );
    assert_eq!(
        err(200, Some("oops")),
        r#"Invalid response body or body data not found: "oops""#
    );
    assert_eq!(
        err(200, Some(r#"{"data":0}"#)),
        r#"Invalid response body or body data not found: {"data":0}"#
    );
    assert!(matches!(
        client.process_payload(200, Some(r#"{"processed":1,"data":"http://x/"}"#)),
        Ok(ReplyOutcome::Processed(PendingPayload {
            encrypted: false,
            ..
        }))
    ));
}

#[test]
fn key_material_is_wiped_when_the_client_is_dropped() {
    // Each secret the client holds is of a type that zeroes its memory on drop.
    fn wiped_on_drop<T: zeroize::ZeroizeOnDrop>(_: &T) {}
    let client = recorded_client(&vector());
    let config = client.config();
    wiped_on_drop(&config.app_secret);
    wiped_on_drop(config.signing_key.as_ref().expect("signing key"));
    wiped_on_drop(config.aes_key.as_ref().expect("AES key"));
    // And so is what each exchange derives from them: the AES round keys, and the two
    // SHA-256 states an HMAC keyed with the appSecret holds (hmac's own type has no marker,
    // but the states wipe themselves).
    fn derived_state_is_wiped<T: zeroize::ZeroizeOnDrop>() {}
    derived_state_is_wiped::<cbc::Decryptor<aes::Aes128>>();
    derived_state_is_wiped::<cbc::Decryptor<aes::Aes192>>();
    derived_state_is_wiped::<cbc::Decryptor<aes::Aes256>>();
    derived_state_is_wiped::<sha2::block_api::Sha256VarCore>();
}

#[test]
fn debug_output_never_shows_a_secret() {
    let v = vector();
    let client = recorded_client(&v);
    let shown = format!("{client:?} {:#?}", client.config());
    for secret in ["appSecret", "prvKey"] {
        let value = v["app"][secret].as_str().expect("secret");
        assert!(!shown.contains(value), "{secret} in {shown}");
        assert!(
            !shown.contains(&value.to_uppercase()),
            "{secret} in {shown}"
        );
    }
    assert!(shown.contains("[redacted]"), "{shown}");
}

#[test]
fn debug_output_never_shows_user_data_a_token_or_a_pre_signed_url() {
    let v = vector();
    let client = recorded_client(&v);
    let reply = v["reply"].to_string();
    let ready = client
        .process_payload(ReplyStatus::Ok, Some(&reply))
        .expect("opens");
    let shown = format!("{ready:?} {ready:#?}");
    let token = v["reply"]["data"].as_str().expect("token");
    assert!(!shown.contains(&token[..40]), "{shown}");
    for record in v["expected"]["data"].as_array().expect("records") {
        let value = record["value"].as_str().expect("value");
        assert!(!shown.contains(value), "{value} in {shown}");
    }
    let user_id = v["expected"]["userId"].as_str().expect("userId");
    assert!(!shown.contains(user_id), "{shown}");
    assert!(shown.contains("[redacted, "), "{shown}");
    let url = "https://bucket.example/payloads/p1?X-Amz-Signature=0123abcd&X-Amz-Credential=AKIA";
    let processed = client
        .process_payload(
            ReplyStatus::Ok,
            Some(&format!(
                r#"{{"processed":true,"data":"{url}","userId":"u-42"}}"#
            )),
        )
        .expect("processed");
    let shown = format!("{processed:?}");
    assert!(shown.contains("bucket.example"), "{shown}");
    for hidden in ["payloads/p1", "X-Amz", "0123abcd", "u-42"] {
        assert!(!shown.contains(hidden), "{hidden} in {shown}");
    }
}

#[test]
fn clients_share_one_http_client_per_set_of_roots_and_keep_no_failure() {
    use crate::core::exchange::config::ProxyOptions;
    let v = vector();
    let a = recorded_client(&v);
    let b = recorded_client(&v);
    let roots = Arc::new(Roots::new(Vec::new()));
    a.use_default_roots(Arc::clone(&roots));
    b.use_default_roots(Arc::clone(&roots));
    let first = a.http().expect("http");
    assert!(
        Arc::ptr_eq(&first, &b.http().expect("http")),
        "one pool per set"
    );
    assert!(
        Arc::ptr_eq(&first, &a.http().expect("http")),
        "kept while the set is"
    );
    // Another set (tls.setDefaultCACertificates()): another HTTP client, for both.
    let other = Arc::new(Roots::new(Vec::new()));
    a.use_default_roots(Arc::clone(&other));
    let second = a.http().expect("http");
    assert!(!Arc::ptr_eq(&first, &second));
    b.use_default_roots(other);
    assert!(Arc::ptr_eq(&second, &b.http().expect("http")));
    // A client that cannot make its HTTP client keeps no failure: each call tries again.
    let app = &v["app"];
    let s = |k: &str| app[k].as_str().map(str::to_owned);
    let bad = Client::new(Options {
        app_id: s("appId"),
        app_secret: s("appSecret"),
        prv_key: s("prvKey"),
        proxy: Some(ProxyOptions {
            url: Some("htp://127.0.0.1:1".to_owned()),
            reject_unauthorized: None,
        }),
        ..Options::default()
    })
    .expect("client");
    for _ in 0..2 {
        let e = bad.http().expect_err("a bad proxy URL");
        assert_eq!(e.to_string(), "Error: Invalid protocol: htp:");
        assert!(lock(&bad.http).is_none(), "the failure is not kept");
    }
}

#[tokio::test]
async fn abort_before_or_during_an_exchange_rejects_with_aborted() {
    let client = recorded_client(&vector());
    let abort = Abort::default();
    abort.abort();
    let err = client
        .exchange_code_with_abort("code", &abort, Observer::OFF)
        .await
        .expect_err("aborted");
    assert_eq!(err.code(), code::ABORTED);
    assert_eq!(
        err.to_string(),
        "Error exchanging code for data: AbortError: The operation was aborted"
    );
}
