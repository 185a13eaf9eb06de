//! What every request passes before the routes: the body limit, basic authentication, and the response headers
//! of the web config.

use std::collections::{BTreeMap, HashSet};
use std::convert::Infallible;
use std::sync::{Arc, Mutex, PoisonError};

use aws_lc_rs::hmac;
use base64::Engine;
use hyper::body::Incoming;
use hyper::header::{
    HeaderValue, AUTHORIZATION, CONNECTION, CONTENT_LENGTH, TRANSFER_ENCODING, WWW_AUTHENTICATE,
};
use hyper::{Request, Response, StatusCode};

use super::{text, Chunks, State};
use crate::secret::Secret;

/// Requests announcing a larger body are refused. The exporter never reads a body: this only makes the refusal
/// explicit, the body is never buffered.
pub const MAX_BODY_BYTES: u64 = 64 * 1024;
/// Verified credentials remembered at most (a bound, not a tuning knob: a few users scrape).
const MAX_VERIFIED: usize = 1024;
/// bcrypt runs on the blocking pool; this many at once, so a flood of bad passwords cannot take every core.
const BCRYPT_AT_ONCE: usize = 2;
const REALM: &str = "Basic realm=\"crowdsec-bouncer-exporter\", charset=\"UTF-8\"";

/// Basic authentication with a cache of verified credentials, as exporter-toolkit does, so a scrape does not pay
/// bcrypt each time. The cache holds HMAC tags under a key drawn at start and never written anywhere: neither
/// passwords nor anything that helps guess them.
pub struct Auth {
    key: hmac::Key,
    verified: Mutex<HashSet<[u8; 32]>>,
    bcrypt_slots: tokio::sync::Semaphore,
}

impl Default for Auth {
    fn default() -> Self {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        Auth {
            key: hmac::Key::generate(hmac::HMAC_SHA256, &rng).expect("the system RNG works"),
            verified: Mutex::new(HashSet::new()),
            bcrypt_slots: tokio::sync::Semaphore::new(BCRYPT_AT_ONCE),
        }
    }
}

impl Auth {
    fn tag(&self, user: &str, password: &str, hash: &str) -> [u8; 32] {
        let mut ctx = hmac::Context::with_key(&self.key);
        for part in [user, password, hash] {
            ctx.update(&(part.len() as u64).to_le_bytes());
            ctx.update(part.as_bytes());
        }
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.sign().as_ref());
        out
    }

    /// Whether the `Authorization` header names a user of `users` with the right password.
    pub async fn authorized(
        &self,
        header: Option<&HeaderValue>,
        users: &BTreeMap<String, Secret>,
    ) -> bool {
        let Some((user, password)) = header.and_then(parse_basic) else {
            return false;
        };
        let known = users.get(&user);
        // An unknown user costs one bcrypt too (against some user's hash, whose result is ignored), so the time
        // taken does not tell which users exist.
        let Some(hash) = known.or_else(|| users.values().next()) else {
            return false;
        };
        let hash = hash.clone();
        let tag = self.tag(&user, password.expose(), hash.expose());
        if known.is_some() && self.verified().contains(&tag) {
            return true;
        }
        let Ok(_slot) = self.bcrypt_slots.acquire().await else {
            return false;
        };
        let ok = tokio::task::spawn_blocking(move || {
            bcrypt::verify(password.expose(), hash.expose()).unwrap_or(false)
        })
        .await
        .unwrap_or(false);
        let ok = ok && known.is_some();
        if ok {
            let mut verified = self.verified();
            if verified.len() >= MAX_VERIFIED {
                verified.clear();
            }
            verified.insert(tag);
        }
        ok
    }

    fn verified(&self) -> std::sync::MutexGuard<'_, HashSet<[u8; 32]>> {
        self.verified.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// `Basic base64(user:password)`.
fn parse_basic(value: &HeaderValue) -> Option<(String, Secret)> {
    let value = value.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), Secret::new(password)))
}

fn unauthorized() -> Response<Chunks> {
    let mut r = text(
        StatusCode::UNAUTHORIZED,
        "text/plain; charset=utf-8",
        "401 Unauthorized\n".into(),
    );
    r.headers_mut()
        .insert(WWW_AUTHENTICATE, HeaderValue::from_static(REALM));
    r
}

fn body_too_large(req: &Request<Incoming>) -> Option<Response<Chunks>> {
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let chunked = req.headers().contains_key(TRANSFER_ENCODING);
    if !chunked && declared.is_none_or(|n| n <= MAX_BODY_BYTES) {
        return None;
    }
    let mut r = text(
        StatusCode::PAYLOAD_TOO_LARGE,
        "text/plain; charset=utf-8",
        "413 request body too large\n".into(),
    );
    r.headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    Some(r)
}

/// The body limit, then authentication, then the routes; the configured headers on every response.
pub(super) async fn guarded(
    req: Request<Incoming>,
    state: Arc<State>,
) -> Result<Response<Chunks>, Infallible> {
    let config = state.web_config.current();
    let mut response = match body_too_large(&req) {
        Some(r) => r,
        None => {
            let allowed = match &config.users {
                None => true,
                Some(users) => {
                    state
                        .auth
                        .authorized(req.headers().get(AUTHORIZATION), users)
                        .await
                }
            };
            if allowed {
                super::handle(req, state.clone()).await?
            } else {
                unauthorized()
            }
        }
    };
    for (name, value) in &config.headers {
        response.headers_mut().insert(name.clone(), value.clone());
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(user_password: &str) -> HeaderValue {
        let e = base64::engine::general_purpose::STANDARD.encode(user_password);
        HeaderValue::from_str(&format!("Basic {e}")).unwrap()
    }

    #[tokio::test]
    async fn verifies_bcrypt_and_caches_only_successes() {
        let users = BTreeMap::from([(
            "alice".to_owned(),
            Secret::new(bcrypt::hash("s3cret:x", 4).unwrap()),
        )]);
        let auth = Auth::default();
        assert!(
            auth.authorized(Some(&basic("alice:s3cret:x")), &users)
                .await
        );
        assert_eq!(auth.verified().len(), 1);
        assert!(
            auth.authorized(Some(&basic("alice:s3cret:x")), &users)
                .await
        );
        assert_eq!(auth.verified().len(), 1);
        for bad in ["alice:wrong", "bob:s3cret:x", "alice", "", "alice:"] {
            assert!(!auth.authorized(Some(&basic(bad)), &users).await, "{bad}");
        }
        assert!(!auth.authorized(None, &users).await);
        assert!(
            !auth
                .authorized(Some(&HeaderValue::from_static("Bearer abc")), &users)
                .await
        );
        assert_eq!(auth.verified().len(), 1, "failures are not cached");
    }

    #[test]
    fn the_cache_key_depends_on_user_password_and_hash() {
        let auth = Auth::default();
        let t = auth.tag("a", "b", "h");
        assert_ne!(
            t,
            auth.tag("a", "b", "h2"),
            "a changed hash needs a new bcrypt"
        );
        assert_ne!(t, auth.tag("ab", "", "h"));
        assert_ne!(t, Auth::default().tag("a", "b", "h"), "keyed per process");
    }
}
