//! Trust and certificate failures: ring as the provider, roots parsed once per set, Node's words for alerts, altnames and verify errors.

use super::*;

#[test]
fn the_provider_is_rings() {
    let suites = |p: &CryptoProvider| format!("{:?}", p.cipher_suites);
    assert_eq!(
        suites(&provider()),
        format!(
            "{:?}",
            rustls::crypto::ring::default_provider().cipher_suites
        )
    );
    // ring's provider offers no post-quantum key exchange, aws-lc-rs's does (X25519MLKEM768).
    assert!(provider()
        .kx_groups
        .iter()
        .all(|g| !format!("{:?}", g.name()).contains("MLKEM")));
}

#[test]
fn altnames_are_worded_as_node_words_them() {
    let host = ServerName::try_from("example.test").expect("name");
    let presented = [
        "DnsName(\"localhost\")".to_owned(),
        "IpAddress(127.0.0.1)".to_owned(),
    ];
    assert_eq!(
        altname_words(&host, &presented),
        "Hostname/IP does not match certificate's altnames: Host: example.test. is not in \
         the cert's altnames: DNS:localhost, IP Address:127.0.0.1"
    );
    let ip = ServerName::try_from("127.0.0.2").expect("ip");
    assert_eq!(
        altname_words(&ip, &presented),
        "Hostname/IP does not match certificate's altnames: IP: 127.0.0.2 is not in the \
         cert's list: 127.0.0.1"
    );
}

#[test]
fn roots_are_parsed_once_when_first_needed_and_unusable_texts_are_left_out() {
    let ca = include_str!("../../../../__test__/fixtures/tls/ca.pem");
    let roots = Roots::new(vec![
        ca.to_owned(),
        "junk".to_owned(),
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".to_owned(),
    ]);
    assert!(!format!("{roots:?}").contains("parsed: true"));
    let before = Roots::sets_parsed();
    assert_eq!(roots.usable(), 1);
    assert_eq!(roots.usable(), 1);
    assert!(Roots::sets_parsed() - before >= 1);
    assert!(format!("{roots:?}").contains("parsed: true"));
}

#[test]
fn one_set_of_roots_is_one_value_while_it_is_held() {
    let ca = include_str!("../../../../__test__/fixtures/tls/ca.pem").to_owned();
    let a = Roots::shared(vec![ca.clone()]);
    let b = Roots::shared(vec![ca.clone()]);
    assert!(Arc::ptr_eq(&a, &b));
    let other = Roots::shared(vec![ca.clone(), ca.clone()]);
    assert!(!Arc::ptr_eq(&a, &other));
}

#[test]
fn an_empty_set_of_roots_trusts_no_server() {
    let server = include_str!("../../../../__test__/fixtures/tls/server.pem");
    let der = CertificateDer::from_pem_slice(server.as_bytes()).expect("a certificate");
    let name = ServerName::try_from("127.0.0.1").expect("name");
    let verdict = Roots::new(Vec::new()).verify_server_cert(&der, &[], &name, &[], UnixTime::now());
    assert!(matches!(
        verdict,
        Err(TlsError::InvalidCertificate(
            CertificateError::UnknownIssuer
        ))
    ));
    // Where the server's issuer is among them, its certificate is accepted.
    let ca = include_str!("../../../../__test__/fixtures/tls/ca.pem");
    let roots = Roots::new(vec![ca.to_owned()]);
    assert!(roots
        .verify_server_cert(&der, &[], &name, &[], UnixTime::now())
        .is_ok());
}

#[test]
fn alerts_are_worded_as_each_lines_openssl_words_them() {
    let alert = |a| node_words(&TlsError::AlertReceived(a)).expect("words");
    let v20 = NodeWords::of(Some("20.20.2"), None, Some("3.0.19"));
    let v24 = NodeWords::of(Some("24.22.3"), None, Some("3.5.9"));
    let failure = alert(rustls::AlertDescription::HandshakeFailure);
    assert_eq!(
        reason_on(&failure, v20),
        "write EPROTO sslv3 alert handshake failure"
    );
    assert_eq!(
        reason_on(&failure, v24),
        "write EPROTO ssl/tls alert handshake failure"
    );
    let unknown_ca = alert(rustls::AlertDescription::UnknownCA);
    assert_eq!(
        reason_on(&unknown_ca, v24),
        "write EPROTO tlsv1 alert unknown ca"
    );
    assert_eq!(
        reason_on("self-signed certificate", v24),
        format!("self-signed certificate{SYSTEM_CA_HINT}")
    );
    assert_eq!(
        reason_on("self-signed certificate", v20),
        "self-signed certificate"
    );
}

#[test]
fn node_words_come_through_the_rustls_error() {
    let e = node_error("self-signed certificate".into());
    assert_eq!(node_words(&e).as_deref(), Some("self-signed certificate"));
}
