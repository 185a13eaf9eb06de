//! What a web config protects, reduced to what a reload may not weaken: TLS on or off, the lowest TLS version,
//! the client-certificate requirement, and basic auth on or off.
//!
//! exporter-toolkit re-reads its file per TLS handshake (prometheus/exporter-toolkit `web/tls_config.go`, `Serve`:
//! `GetConfigForClient`; at start `errNoTLSConfig` means plain HTTP) and per request for the users
//! (`web/handler.go`, `ServeHTTP`: `len(c.Users) == 0` serves without authentication), so there an empty or
//! truncated file turns authentication off at once. This exporter instead refuses a reload that protects less, as it
//! refuses broken YAML: the running configuration stays (see [`super::reload`]). Turning TLS or authentication off
//! takes a restart.

use super::server_tls::{ClientAuth, TlsVersion};

/// The security-relevant part of a loaded web config, compared between the running and a reloaded file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Policy {
    /// `Some` when the port speaks TLS.
    pub tls: Option<TlsPolicy>,
    /// `basic_auth_users` holds at least one user.
    pub basic_auth: bool,
}

/// The TLS settings whose lowering weakens the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TlsPolicy {
    pub min_version: TlsVersion,
    pub client_auth: ClientAuth,
}

impl Policy {
    /// No file: plain HTTP, no authentication.
    pub(crate) const OPEN: Policy = Policy {
        tls: None,
        basic_auth: false,
    };

    /// Why `new` protects less than `self`, or `None` when it protects at least as much.
    ///
    /// Weaker is: TLS dropped; basic auth dropped (no user left); `min_version` lowered (TLS13 to TLS12);
    /// `client_auth_type` lowered (RequireAndVerifyClientCert > VerifyClientCertIfGiven > NoClientCert).
    /// Not weaker (allowed on reload): other, more or fewer users (one at least), new hashes, a new certificate,
    /// key or client CA, `max_version`, cipher suites and curves (rustls offers only AEAD suites and safe groups),
    /// response headers, and any strengthening (plain HTTP to TLS, auth turned on).
    pub(crate) fn weakened_by(&self, new: &Policy) -> Option<String> {
        let mut why = Vec::new();
        match (&self.tls, &new.tls) {
            (Some(_), None) => {
                why.push("it turns TLS off (no tls_server_config certificate)".to_owned())
            }
            (Some(old), Some(new)) => {
                if new.min_version < old.min_version {
                    why.push(format!(
                        "it lowers tls_server_config.min_version from {} to {}",
                        version(old.min_version),
                        version(new.min_version)
                    ));
                }
                if rank(new.client_auth) < rank(old.client_auth) {
                    why.push(format!(
                        "it lowers tls_server_config.client_auth_type from {} to {}",
                        client_auth(old.client_auth),
                        client_auth(new.client_auth)
                    ));
                }
            }
            (None, _) => {}
        }
        if self.basic_auth && !new.basic_auth {
            why.push("it turns basic authentication off (no basic_auth_users)".to_owned());
        }
        (!why.is_empty()).then(|| why.join("; "))
    }
}

fn rank(c: ClientAuth) -> u8 {
    match c {
        ClientAuth::None => 0,
        ClientAuth::VerifyIfGiven => 1,
        ClientAuth::Require => 2,
    }
}

fn version(v: TlsVersion) -> &'static str {
    match v {
        TlsVersion::Tls12 => "TLS12",
        TlsVersion::Tls13 => "TLS13",
    }
}

fn client_auth(c: ClientAuth) -> &'static str {
    match c {
        ClientAuth::None => "NoClientCert",
        ClientAuth::VerifyIfGiven => "VerifyClientCertIfGiven",
        ClientAuth::Require => "RequireAndVerifyClientCert",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tls(min_version: TlsVersion, client_auth: ClientAuth) -> Option<TlsPolicy> {
        Some(TlsPolicy {
            min_version,
            client_auth,
        })
    }

    #[test]
    fn dropping_or_lowering_any_part_is_weaker_and_raising_is_not() {
        let full = Policy {
            tls: tls(TlsVersion::Tls13, ClientAuth::Require),
            basic_auth: true,
        };
        for (new, want) in [
            (Policy::OPEN, "turns TLS off"),
            (Policy { tls: None, ..full }, "turns TLS off"),
            (
                Policy {
                    basic_auth: false,
                    ..full
                },
                "basic authentication off",
            ),
            (
                Policy {
                    tls: tls(TlsVersion::Tls12, ClientAuth::Require),
                    ..full
                },
                "min_version from TLS13 to TLS12",
            ),
            (
                Policy {
                    tls: tls(TlsVersion::Tls13, ClientAuth::VerifyIfGiven),
                    ..full
                },
                "from RequireAndVerifyClientCert to VerifyClientCertIfGiven",
            ),
        ] {
            let why = full.weakened_by(&new).expect("weaker");
            assert!(why.contains(want), "{new:?}: {why}");
        }
        assert_eq!(full.weakened_by(&full), None);
        assert_eq!(
            Policy::OPEN.weakened_by(&full),
            None,
            "strengthening is allowed"
        );
        assert_eq!(Policy::OPEN.weakened_by(&Policy::OPEN), None);
        let why = full.weakened_by(&Policy::OPEN).unwrap();
        assert!(
            why.contains("TLS off") && why.contains("authentication off"),
            "{why}"
        );
    }
}
