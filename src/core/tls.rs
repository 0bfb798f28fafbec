//! The TLS crypto provider, chosen in this one place (and by the Cargo features of `rustls` and
//! `reqwest`): ring, the library whose P-256 also signs and verifies the tokens (`es256`), so one
//! implementation of the curve is linked, not two (AWS-LC's would add 2.5 MB to the addon).

use std::sync::{Arc, OnceLock};

use rustls::crypto::CryptoProvider;

/// The provider every TLS connection of the client uses: rustls's ring provider with its
/// defaults (TLS 1.3 and 1.2, AES-GCM and ChaCha20-Poly1305, X25519 and the NIST curves).
pub fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    Arc::clone(PROVIDER.get_or_init(|| Arc::new(rustls::crypto::ring::default_provider())))
}

/// Makes [`provider`] rustls's process default, which reqwest (built without a provider of its
/// own) takes when it builds a client. Idempotent; where the embedding program installed a
/// provider first, that one stays and is used.
pub fn install_default() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        // Err only when a default is already there, which is then kept.
        let _ = CryptoProvider::install_default(CryptoProvider::clone(&provider()));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_provider_is_rings() {
        install_default();
        let installed = CryptoProvider::get_default().expect("installed");
        let ours = provider();
        let suites = |p: &CryptoProvider| format!("{:?}", p.cipher_suites);
        assert_eq!(suites(installed), suites(&ours));
        assert_eq!(
            suites(&ours),
            format!(
                "{:?}",
                rustls::crypto::ring::default_provider().cipher_suites
            )
        );
        // ring's provider offers no post-quantum key exchange, aws-lc-rs's does (X25519MLKEM768).
        assert!(ours
            .kx_groups
            .iter()
            .all(|g| !format!("{:?}", g.name()).contains("MLKEM")));
    }
}
