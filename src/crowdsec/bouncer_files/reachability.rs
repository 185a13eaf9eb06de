//! Check `endpoint_reachable`: which endpoint a file's bouncer talks to, and how its answer is recorded. The
//! request itself (TCP, TLS, HTTP, never a key) is made by the `bouncer_config` source
//! (`crate::sources::endpoint_probe`); nothing here touches the network.

use serde::Serialize;

use super::blaas::SERVICE_API_HOST;
use super::checks::{fail, pass, Check, Inspection, Status};

/// What kind of server the file's URL names: it decides the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EndpointKind {
    /// A CrowdSec LAPI: `GET <api_url>/health` (no key; `{"status":"up"}`).
    Lapi,
    /// A Blocklist-as-a-Service integration at `admin.api.crowdsec.net`: `HEAD` of the host root, as CrowdSec's
    /// troubleshooting page "Remediation Component Integration Offline" tells the operator to run
    /// (`curl -I https://admin.api.crowdsec.net/`; crowdsecurity/crowdsec-docs,
    /// crowdsec-docs/unversioned/troubleshooting/issue_integration_rc_offline.md at 1ab42340). Never the
    /// integration's own route: a request there counts as a pull.
    ServiceApi,
}

/// The endpoint to probe for one file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Endpoint {
    /// A LAPI or the Service API's host.
    pub kind: EndpointKind,
    /// LAPI: the normalised base URL (one trailing `/`); Service API: the host root, `https://<host>[:port]/`.
    pub url: reqwest::Url,
    /// How the bouncer verifies the server's certificate (LAPI: its file's `ca_cert_path`,
    /// `insecure_skip_verify`, `SSL_VERIFY`; the Service API: the system's roots).
    pub trust: super::Trust,
}

/// The root of a Blocklist-as-a-Service URL's host (path, query, user info and fragment dropped: nothing of the
/// integration, no credential); `None` for any other URL.
pub fn service_api_root(api_url: &str) -> Option<reqwest::Url> {
    let url = reqwest::Url::parse(api_url.trim()).ok()?;
    if url.host_str() != Some(SERVICE_API_HOST) || !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    let mut root = url;
    root.set_path("/");
    root.set_query(None);
    root.set_fragment(None);
    root.set_username("").ok()?;
    root.set_password(None).ok()?;
    Some(root)
}

impl Inspection {
    /// The endpoint `endpoint_reachable` probes: the LAPI whose `/health` `lapi_reachable` asks, or the host of a
    /// Blocklist-as-a-Service URL; `None` when api_url did not pass (nothing trustworthy to ask).
    pub fn endpoint(&self) -> Option<Endpoint> {
        if let Some(base) = self.health_url() {
            return Some(Endpoint {
                kind: EndpointKind::Lapi,
                url: base.clone(),
                trust: self.trust.clone(),
            });
        }
        let url_passed = self
            .report
            .check(Check::ApiUrl)
            .is_some_and(|c| c.status == Status::Pass);
        let root = self.report.api_url.as_deref().and_then(service_api_root)?;
        url_passed.then_some(Endpoint {
            kind: EndpointKind::ServiceApi,
            url: root,
            trust: super::Trust::default(),
        })
    }

    /// Records the probe's answer: `Ok(what answered)` or `Err(the failing layer and why)`, e.g.
    /// `tcp: connection refused by 127.0.0.1:8080`.
    pub fn endpoint_reachable(&mut self, endpoint: &Endpoint, answer: &Result<String, String>) {
        let result = match answer {
            Ok(what) => pass(Check::EndpointReachable, what.clone()),
            Err(why) => fail(Check::EndpointReachable, why.clone(), fix(endpoint, why)),
        };
        self.report.checks.push(result);
    }
}

/// What to try, by kind and by the layer that failed (the detail starts with `dns:`, `tcp:`, `tls:` or `http:`).
fn fix(endpoint: &Endpoint, why: &str) -> String {
    let layer = why.split(':').next().unwrap_or_default();
    match (endpoint.kind, layer) {
        (EndpointKind::ServiceApi, "http") => "the Service API's host answers with a server error: retry later, or check the proxy between this host and admin.api.crowdsec.net".into(),
        (EndpointKind::ServiceApi, _) => "allow outbound HTTPS (443) to admin.api.crowdsec.net from this host (firewall, proxy, DNS) and test with `curl -I https://admin.api.crowdsec.net/`, as CrowdSec's troubleshooting page says".into(),
        (EndpointKind::Lapi, "dns") => "the LAPI's host name does not resolve here: fix DNS or /etc/hosts, or write its address in the URL, then restart the bouncer".into(),
        (EndpointKind::Lapi, "tls") => "the LAPI's TLS does not verify from here: check its certificate (name, expiry, issuer) and the bouncer's ca_cert_path; `curl -v <api_url>/health` shows the handshake".into(),
        (EndpointKind::Lapi, "http") => "something answers at this URL but not as a CrowdSec LAPI: check the port and path of the URL against api.server.listen_uri".into(),
        (EndpointKind::Lapi, _) => "start CrowdSec (`systemctl status crowdsec`), check api.server.listen_uri in its config matches this URL, and that no firewall or proxy stands between the bouncer and the LAPI".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_api_root_keeps_only_scheme_host_and_port() {
        let root = |u| service_api_root(u).map(|u| u.to_string());
        assert_eq!(
            root("https://admin.api.crowdsec.net/v1/integrations/0123456789abcdef01234567")
                .as_deref(),
            Some("https://admin.api.crowdsec.net/")
        );
        assert_eq!(
            root("https://user:pw@admin.api.crowdsec.net:8443/v1/integrations/x?k=v#f").as_deref(),
            Some("https://admin.api.crowdsec.net:8443/")
        );
        assert_eq!(root("http://127.0.0.1:8080/"), None);
        assert_eq!(root("ftp://admin.api.crowdsec.net/"), None);
    }

    #[test]
    fn the_fix_follows_the_failing_layer() {
        let lapi = Endpoint {
            kind: EndpointKind::Lapi,
            url: reqwest::Url::parse("http://127.0.0.1:8080/").unwrap(),
            trust: Default::default(),
        };
        assert!(fix(&lapi, "tcp: connection refused").contains("systemctl status crowdsec"));
        assert!(fix(&lapi, "tls: invalid peer certificate").contains("ca_cert_path"));
        assert!(fix(&lapi, "dns: x does not resolve").contains("DNS"));
        assert!(fix(&lapi, "http: answered 404").contains("listen_uri"));
        let blaas = Endpoint {
            kind: EndpointKind::ServiceApi,
            url: reqwest::Url::parse("https://admin.api.crowdsec.net/").unwrap(),
            trust: Default::default(),
        };
        assert!(fix(&blaas, "tcp: timeout").contains("curl -I https://admin.api.crowdsec.net/"));
    }
}
