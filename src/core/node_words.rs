//! Which Node line's words a client's messages use. Node's messages for the same failure differ
//! between lines (OpenSSL's verify reasons gained a hint, llhttp reworded its parse errors), so
//! the binding hands the running Node's versions (`process.versions.node` and `.llhttp`) to
//! each client, and the messages are worded for them. Measured on Node 18.20.8, 20.0.0, 20.20.2,
//! 22.23.5, 23.10.0, 23.11.0, 24.22.3 and 26.12.1 against servers on 127.0.0.1.

/// The versions that choose the words; [`NodeWords::default`] is Node 20.20's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeWords {
    /// `process.versions.node` as (major, minor).
    node: (u32, u32),
    /// `process.versions.llhttp` as (major, minor).
    llhttp: (u32, u32),
    /// `process.versions.openssl` as (major, minor).
    openssl: (u32, u32),
    /// `require('node:http').maxHeaderSize`: see [`NodeWords::max_header_size`].
    max_header_size: usize,
}

impl Default for NodeWords {
    fn default() -> Self {
        NodeWords {
            node: (20, 20),
            llhttp: (9, 3),
            openssl: (3, 0),
            max_header_size: DEFAULT_MAX_HEADER_SIZE,
        }
    }
}

/// Node's `http.maxHeaderSize` when no `--max-http-header-size` sets it.
pub const DEFAULT_MAX_HEADER_SIZE: usize = 16 * 1024;

/// `"20.20.2"` as (20, 20); what does not read as numbers is `None`.
fn major_minor(version: &str) -> Option<(u32, u32)> {
    let mut parts = version.trim_start_matches('v').split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next().map_or(Some(0), |m| m.parse().ok())?;
    Some((major, minor))
}

impl NodeWords {
    /// The words of the Node whose `process.versions.node`, `.llhttp` and `.openssl` these are;
    /// a version absent or unreadable keeps the default's part.
    pub fn of(node: Option<&str>, llhttp: Option<&str>, openssl: Option<&str>) -> NodeWords {
        let default = NodeWords::default();
        NodeWords {
            node: node.and_then(major_minor).unwrap_or(default.node),
            llhttp: llhttp.and_then(major_minor).unwrap_or(default.llhttp),
            openssl: openssl.and_then(major_minor).unwrap_or(default.openssl),
            max_header_size: default.max_header_size,
        }
    }

    /// These words with Node's `http.maxHeaderSize` (bytes; `--max-http-header-size`, default
    /// 16384) as the bound on a response head; `None` keeps the default.
    pub fn with_max_header_size(self, bytes: Option<usize>) -> NodeWords {
        NodeWords {
            max_header_size: bytes.unwrap_or(self.max_header_size),
            ..self
        }
    }

    /// The bound on a response head, in bytes as Node's HTTP parser counts them (see
    /// `http::client::head_size`): a head that reaches it is `Parse Error: Header overflow`.
    pub fn max_header_size(&self) -> usize {
        self.max_header_size
    }

    /// OpenSSL's reason for a received alert of the SSL 3 set (handshake failure, bad certificate,
    /// certificate expired, illegal parameter...) starts `ssl/tls alert` in the OpenSSL 3.5 of
    /// Node 22.23, 24 and 26, `sslv3 alert` in the 3.0 of Node 18 and 20 (no Node line was
    /// seen with the versions between).
    pub(crate) fn ssl_tls_alerts(&self) -> bool {
        self.openssl >= (3, 5)
    }

    /// Node 23.11 and later append a hint to three OpenSSL verify reasons
    /// (`UNABLE_TO_VERIFY_LEAF_SIGNATURE`, `DEPTH_ZERO_SELF_SIGNED_CERT`,
    /// `UNABLE_TO_GET_ISSUER_CERT`; nodejs/node#57362, `GetValidationErrorReason`); 22.23.5 and
    /// 23.10.0 do not.
    pub(crate) fn system_ca_hint(&self) -> bool {
        self.node >= (23, 11)
    }

    /// The text after `Parse Error: ` when a reply does not start as HTTP (`HPE_INVALID_CONSTANT`):
    /// llhttp 9.3 added RTSP and ICE to the message (Node 20.20's 9.3.1 has them; 23.10's 9.2.1
    /// and Node 18's 6.1.1 do not).
    pub fn not_http(&self) -> &'static str {
        if self.llhttp >= (9, 3) {
            "Expected HTTP/, RTSP/ or ICE/"
        } else {
            "Expected HTTP/"
        }
    }

    /// The text after `Parse Error: ` for a status line whose code is not a number
    /// (`HPE_INVALID_STATUS`): `Invalid status code` from llhttp 9 (9.2.1 has it), `Invalid
    /// response status` before (Node 18's 6.1.1, Node 20.0's 8.1.0).
    pub fn invalid_status(&self) -> &'static str {
        if self.llhttp >= (9, 0) {
            "Invalid status code"
        } else {
            "Invalid response status"
        }
    }
}

/// Node's hint after the verify reasons named in [`NodeWords::system_ca_hint`].
pub(crate) const SYSTEM_CA_HINT: &str =
    "; if the root CA is installed locally, try running Node.js with --use-system-ca";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_line_gets_its_own_words() {
        let node = |n, l| NodeWords::of(Some(n), Some(l), None);
        let v18 = node("18.20.8", "6.1.1");
        let v20_0 = node("20.0.0", "8.1.0");
        let v23_10 = node("23.10.0", "9.2.1");
        let v24 = node("24.22.3", "9.4.4");
        assert_eq!(NodeWords::default(), node("20.20.2", "9.3.1"));
        assert!(!v18.system_ca_hint() && !v23_10.system_ca_hint());
        assert!(node("23.11.0", "9.2.1").system_ca_hint() && v24.system_ca_hint());
        assert!(node("26.12.1", "9.4.3").system_ca_hint());
        assert_eq!(v18.not_http(), "Expected HTTP/");
        assert_eq!(v23_10.not_http(), "Expected HTTP/");
        assert_eq!(v24.not_http(), "Expected HTTP/, RTSP/ or ICE/");
        assert_eq!(v18.invalid_status(), "Invalid response status");
        assert_eq!(v20_0.invalid_status(), "Invalid response status");
        assert_eq!(v23_10.invalid_status(), "Invalid status code");
        assert!(!NodeWords::of(None, None, Some("3.0.19")).ssl_tls_alerts());
        assert!(NodeWords::of(None, None, Some("3.5.9")).ssl_tls_alerts());
    }

    #[test]
    fn the_head_bound_is_nodes_setting_or_its_default() {
        assert_eq!(NodeWords::default().max_header_size(), 16384);
        let flagged = NodeWords::default().with_max_header_size(Some(32768));
        assert_eq!(flagged.max_header_size(), 32768);
        assert_eq!(flagged.with_max_header_size(None).max_header_size(), 32768);
    }

    #[test]
    fn unreadable_versions_keep_the_default() {
        assert_eq!(NodeWords::of(None, None, None), NodeWords::default());
        let unreadable = NodeWords::of(Some("x.y"), Some(""), Some("three"));
        assert_eq!(unreadable, NodeWords::default());
        assert_eq!(NodeWords::of(Some("v24"), None, None).node, (24, 0));
        // Node 18's OpenSSL is "3.0.16+quic" on some builds: the suffix is past the minor.
        assert_eq!(
            NodeWords::of(None, None, Some("3.0.16+quic")).openssl,
            (3, 0)
        );
    }
}
