//! The TLS side of a client: which certificates it trusts, judged as Node's `tls` judges them,
//! and certificate failures worded as Node words them.
//!
//! Node (OpenSSL) trusts a certificate given in `ca` when the server presents exactly that
//! certificate, even one marked CA:TRUE (what `openssl req -x509` makes); webpki refuses a CA
//! certificate as an end entity (`CaUsedAsEndEntity`). The verifier here accepts that one case
//! and leaves every other judgement to rustls's own verifiers.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};

use crate::core::node_words::{NodeWords, SYSTEM_CA_HINT};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, Error as TlsError, OtherError,
    RootCertStore, SignatureScheme,
};

/// The crypto provider of every TLS connection: choosing another is this one line (and the
/// `rustls` features in Cargo.toml). ring, whose P-256 also signs and verifies the tokens
/// (`es256`): one implementation of the curve in the binary, not two (AWS-LC's added 2.1 MB).
pub(crate) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A set of trusted roots: the certificates Node's own `https` trusts in this process (index.js
/// reads them from Node, see trust.js), as PEM texts. They are parsed at the first TLS
/// connection that needs them, once for every client that shares the set: a process whose
/// exchanges are all plain HTTP never parses a certificate. A text that is not a certificate
/// rustls can read is left out (trusting less never lets a connection through that Node would
/// refuse).
pub struct Roots {
    pems: Vec<String>,
    parsed: OnceLock<Parsed>,
}

struct Parsed {
    /// `None` for a set with no usable root: every chain is then of an unknown issuer.
    verifier: Option<Arc<rustls::client::WebPkiServerVerifier>>,
    kept: usize,
}

/// How many sets of roots this process has parsed (for the tests of "once per set").
static ROOT_SETS_PARSED: AtomicUsize = AtomicUsize::new(0);

impl Roots {
    pub fn new(pems: Vec<String>) -> Roots {
        Roots {
            pems,
            parsed: OnceLock::new(),
        }
    }

    /// The one `Roots` of this process for these PEM texts: the same set given again (by
    /// another worker thread, or set back by `tls.setDefaultCACertificates()`) while some
    /// client still holds it is the same value, parsed once and sharing one connection pool.
    pub fn shared(pems: Vec<String>) -> Arc<Roots> {
        static SETS: Mutex<Vec<Weak<Roots>>> = Mutex::new(Vec::new());
        let mut sets = SETS.lock().unwrap_or_else(PoisonError::into_inner);
        sets.retain(|set| set.strong_count() > 0);
        if let Some(found) = sets
            .iter()
            .filter_map(Weak::upgrade)
            .find(|set| set.pems == pems)
        {
            return found;
        }
        let roots = Arc::new(Roots::new(pems));
        sets.push(Arc::downgrade(&roots));
        roots
    }

    /// How many sets of roots were parsed in this process so far.
    pub fn sets_parsed() -> usize {
        ROOT_SETS_PARSED.load(Ordering::Relaxed)
    }

    /// How many of the PEM texts are roots rustls can use; parses them if not yet done.
    pub fn usable(&self) -> usize {
        self.parsed().kept
    }

    fn parsed(&self) -> &Parsed {
        self.parsed.get_or_init(|| {
            ROOT_SETS_PARSED.fetch_add(1, Ordering::Relaxed);
            let ders = self.pems.iter().flat_map(|pem| {
                CertificateDer::pem_slice_iter(pem.as_bytes()).filter_map(Result::ok)
            });
            let mut store = RootCertStore::empty();
            let (kept, _unusable) = store.add_parsable_certificates(ders);
            let verifier = (kept > 0)
                .then(|| {
                    rustls::client::WebPkiServerVerifier::builder_with_provider(
                        Arc::new(store),
                        provider(),
                    )
                    .build()
                    .ok()
                })
                .flatten();
            Parsed { verifier, kept }
        })
    }
}

// By hand: a reader wants the size of the set, not hundreds of PEM texts.
impl fmt::Debug for Roots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Roots")
            .field("certificates", &self.pems.len())
            .field("parsed", &self.parsed.get().is_some())
            .finish()
    }
}

impl Roots {
    /// The chain judged against these roots (rustls's `WebPkiServerVerifier`), parsing them if
    /// not yet done; a set with no usable root knows no issuer. Signatures are `NodeVerifier`'s.
    pub(crate) fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, TlsError> {
        match &self.parsed().verifier {
            Some(v) => {
                v.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            }
            None => Err(TlsError::InvalidCertificate(
                CertificateError::UnknownIssuer,
            )),
        }
    }
}

/// Which server certificates a client accepts.
pub(crate) enum Trust {
    /// The roots Node trusts by default in this process (see [`Roots`]).
    Default(Arc<Roots>),
    /// Only these (Node's `ca` option), which must be valid certificates.
    Only(Vec<CertificateDer<'static>>),
    /// Any certificate (`rejectUnauthorized: false`); the handshake signature is still checked.
    Any,
}

/// Why a client could not be set up.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum SetupError {
    /// A `ca` entry is not a certificate rustls can read.
    BadCa,
    /// rustls refused the configuration (not seen with ring's provider).
    Config(String),
}

/// A client configuration for HTTP/1.1 (no ALPN, as Node's `https` sends none). Reads nothing
/// and parses no default root: that waits for the first handshake (see [`Roots`]).
pub(crate) fn client_config(trust: Trust) -> Result<ClientConfig, SetupError> {
    let provider = provider();
    let (inner, ca) = match trust {
        Trust::Any => (Inner::Any, Vec::new()),
        Trust::Only(ca) => {
            let mut roots = RootCertStore::empty();
            for cert in &ca {
                roots.add(cert.clone()).map_err(|_| SetupError::BadCa)?;
            }
            let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
                Arc::new(roots),
                provider.clone(),
            )
            .build()
            .map_err(|_| SetupError::BadCa)?;
            (Inner::Only(verifier), ca)
        }
        Trust::Default(roots) => (Inner::Default(roots), Vec::new()),
    };
    let verifier = NodeVerifier {
        inner,
        ca,
        provider: provider.clone(),
    };
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| SetupError::Config(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok(config)
}

/// A certificate failure in Node's words: OpenSSL's verify messages (`self-signed certificate`,
/// `certificate has expired`) and `tls.checkServerIdentity`'s (`Hostname/IP does not match
/// certificate's altnames: ...`). Carried inside the rustls error so the HTTP layer can show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NodeCertError(pub(crate) String);

impl fmt::Display for NodeCertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NodeCertError {}

/// Node's words for a TLS failure, where rustls gave one this module knows.
pub(crate) fn node_words(e: &TlsError) -> Option<String> {
    match e {
        TlsError::InvalidCertificate(CertificateError::Other(OtherError(other))) => {
            other.downcast_ref::<NodeCertError>().map(|n| n.0.clone())
        }
        // What a reply that is not TLS (a plain-HTTP server) gives; OpenSSL's reason is "wrong
        // version number" (Node prefixes OpenSSL's thread and error ids, which vary).
        TlsError::InvalidMessage(_) => Some("write EPROTO wrong version number".to_owned()),
        TlsError::AlertReceived(alert) => Some(format!("write EPROTO {}", alert_words(*alert))),
        TlsError::PeerIncompatible(_) | TlsError::PeerMisbehaved(_) => {
            Some("write EPROTO sslv3 alert handshake failure".to_owned())
        }
        TlsError::InvalidCertificate(_) => Some("certificate verify failed".to_owned()),
        _ => None,
    }
}

/// OpenSSL 3.0's reason for a received alert (Node 18 and 20): the SSL 3 alerts are `sslv3
/// alert ...`, the later ones `tlsv1 alert ...` (see [`reason_on`] for OpenSSL 3.5's).
fn alert_words(alert: rustls::AlertDescription) -> &'static str {
    use rustls::AlertDescription as A;
    match alert {
        A::HandshakeFailure => "sslv3 alert handshake failure",
        A::BadCertificate => "sslv3 alert bad certificate",
        A::CertificateExpired => "sslv3 alert certificate expired",
        A::CertificateUnknown => "sslv3 alert certificate unknown",
        A::IllegalParameter => "sslv3 alert illegal parameter",
        A::ProtocolVersion => "tlsv1 alert protocol version",
        A::UnknownCA => "tlsv1 alert unknown ca",
        A::AccessDenied => "tlsv1 alert access denied",
        A::InternalError => "tlsv1 alert internal error",
        A::DecodeError => "tlsv1 alert decode error",
        A::UnrecognisedName => "tlsv1 unrecognized name",
        _ => "tlsv1 alert alert",
    }
}

/// A TLS reason from [`node_words`] as the Node line `words` describes gives it: OpenSSL 3.5
/// calls the SSL 3 alerts `ssl/tls alert ...`, and Node 23.11+ adds its `--use-system-ca` hint
/// after the reasons [`takes_system_ca_hint`] names.
pub(crate) fn reason_on(reason: &str, words: NodeWords) -> String {
    let mut out = match reason.strip_prefix("write EPROTO sslv3 alert ") {
        Some(alert) if words.ssl_tls_alerts() => format!("write EPROTO ssl/tls alert {alert}"),
        _ => reason.to_owned(),
    };
    if words.system_ca_hint() && takes_system_ca_hint(reason) {
        out.push_str(SYSTEM_CA_HINT);
    }
    out
}

/// Who judges a chain before `NodeVerifier` words the verdict.
#[derive(Debug)]
enum Inner {
    /// `rejectUnauthorized: false`: any certificate.
    Any,
    /// rustls's verifier for the `ca` option's certificates.
    Only(Arc<rustls::client::WebPkiServerVerifier>),
    /// Node's default roots, parsed at the first handshake.
    Default(Arc<Roots>),
}

#[derive(Debug)]
struct NodeVerifier {
    inner: Inner,
    /// The `ca` certificates, any of which the server may present as its own.
    ca: Vec<CertificateDer<'static>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for NodeVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, TlsError> {
        let verdict = match &self.inner {
            Inner::Any => return Ok(ServerCertVerified::assertion()),
            Inner::Only(v) => {
                v.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            }
            Inner::Default(roots) => {
                roots.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            }
        };
        match verdict {
            Ok(verified) => Ok(verified),
            // webpki checks the dates before the basic constraints, so this error means the
            // certificate is within its dates; what is left to check is the name.
            // As OpenSSL without partial chains: only a self-issued certificate is its own root.
            Err(e)
                if is_ca_used_as_end_entity(&e)
                    && self_issued(end_entity)
                    && self.ca.iter().any(|c| c == end_entity) =>
            {
                check_name(end_entity, server_name)
            }
            Err(e) => Err(in_node_words(e, end_entity, intermediates, server_name)),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

fn is_ca_used_as_end_entity(e: &TlsError) -> bool {
    matches!(
        e,
        TlsError::InvalidCertificate(CertificateError::Other(OtherError(other)))
            if matches!(other.downcast_ref::<webpki::Error>(), Some(webpki::Error::CaUsedAsEndEntity))
    )
}

fn check_name(
    end_entity: &CertificateDer<'_>,
    server_name: &ServerName<'_>,
) -> Result<ServerCertVerified, TlsError> {
    let cert = webpki::EndEntityCert::try_from(end_entity)
        .map_err(|_| TlsError::InvalidCertificate(CertificateError::BadEncoding))?;
    match cert.verify_is_valid_for_subject_name(server_name) {
        Ok(()) => Ok(ServerCertVerified::assertion()),
        Err(webpki::Error::CertNotValidForName(context)) => {
            Err(node_error(altname_words(server_name, &context.presented)))
        }
        Err(_) => Err(node_error(altname_words(server_name, &[]))),
    }
}

fn node_error(words: String) -> TlsError {
    TlsError::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(
        NodeCertError(words),
    ))))
}

/// Rewords rustls's certificate errors as Node's; other errors pass unchanged.
fn in_node_words(
    e: TlsError,
    end_entity: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
    server_name: &ServerName<'_>,
) -> TlsError {
    let TlsError::InvalidCertificate(cert_error) = &e else {
        return e;
    };
    let words = match cert_error {
        CertificateError::UnknownIssuer => unknown_issuer_words(end_entity, intermediates),
        CertificateError::Other(_) if is_ca_used_as_end_entity(&e) => {
            unknown_issuer_words(end_entity, intermediates)
        }
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            "certificate has expired".to_owned()
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            "certificate is not yet valid".to_owned()
        }
        CertificateError::NotValidForNameContext { presented, .. } => {
            altname_words(server_name, presented)
        }
        CertificateError::NotValidForName => altname_words(server_name, &[]),
        CertificateError::Revoked => "certificate revoked".to_owned(),
        CertificateError::BadSignature => "certificate signature failure".to_owned(),
        _ => return e,
    };
    node_error(words)
}

/// OpenSSL's verdict on a chain whose root is not trusted, by the shape of the chain.
fn unknown_issuer_words(
    end_entity: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
) -> String {
    match intermediates.last() {
        None if self_issued(end_entity) => "self-signed certificate",
        None => "unable to verify the first certificate",
        Some(last) if self_issued(last) => "self-signed certificate in certificate chain",
        Some(_) => "unable to get local issuer certificate",
    }
    .to_owned()
}

/// Whether Node (from 23.11) follows this verify reason with its `--use-system-ca` hint:
/// `UNABLE_TO_VERIFY_LEAF_SIGNATURE`, `DEPTH_ZERO_SELF_SIGNED_CERT` and
/// `UNABLE_TO_GET_ISSUER_CERT` do; `SELF_SIGNED_CERT_IN_CHAIN` and
/// `UNABLE_TO_GET_ISSUER_CERT_LOCALLY` do not (seen on Node 24.22.3 and 26.12.1).
pub(crate) fn takes_system_ca_hint(reason: &str) -> bool {
    matches!(
        reason,
        "unable to verify the first certificate"
            | "self-signed certificate"
            | "unable to get issuer certificate"
    )
}

/// Whether a certificate names itself as its issuer (a self-signed root, or a lone leaf).
fn self_issued(der: &CertificateDer<'_>) -> bool {
    webpki::EndEntityCert::try_from(der).is_ok_and(|c| c.subject() == c.issuer())
}

/// `tls.checkServerIdentity`'s message; `presented` is webpki's list of the certificate's
/// subject alternative names (`DnsName("localhost")`, `IpAddress(127.0.0.1)`).
fn altname_words(server_name: &ServerName<'_>, presented: &[String]) -> String {
    let mut dns = Vec::new();
    let mut ips = Vec::new();
    let mut all = Vec::new();
    for name in presented {
        if let Some(d) = name
            .strip_prefix("DnsName(\"")
            .and_then(|s| s.strip_suffix("\")"))
        {
            dns.push(d.to_owned());
            all.push(format!("DNS:{d}"));
        } else if let Some(ip) = name
            .strip_prefix("IpAddress(")
            .and_then(|s| s.strip_suffix(')'))
        {
            ips.push(ip.to_owned());
            all.push(format!("IP Address:{ip}"));
        }
    }
    let reason = match server_name {
        ServerName::IpAddress(ip) => format!(
            "IP: {} is not in the cert's list: {}",
            std::net::IpAddr::from(*ip),
            ips.join(", ")
        ),
        ServerName::DnsName(host) if !all.is_empty() => format!(
            "Host: {}. is not in the cert's altnames: {}",
            host.as_ref(),
            all.join(", ")
        ),
        _ => "Cert does not contain a DNS name".to_owned(),
    };
    format!("Hostname/IP does not match certificate's altnames: {reason}")
}

#[cfg(test)]
mod tests;
