//! Basic authentication (`basic_auth_users`): bcrypt hashes checked off the async workers, and a cache of verified
//! credentials, as exporter-toolkit does, so a scrape does not pay bcrypt each time.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Mutex, PoisonError};

use aws_lc_rs::hmac;
use base64::Engine;
use hyper::header::{HeaderValue, WWW_AUTHENTICATE};
use hyper::{Response, StatusCode};

use super::routes::{text, Chunks};
use crate::values::secret::Secret;

/// Verified credentials remembered at most (a bound, not a tuning knob: a few users scrape).
const MAX_VERIFIED: usize = 1024;
/// bcrypt runs on the blocking pool; this many at once, so a flood of bad passwords cannot take every core.
const BCRYPT_AT_ONCE: usize = 2;
/// The highest bcrypt cost accepted. One check at cost 10 (the toolkit's documented `htpasswd -nBC 10`) measured
/// 0.14 s on the 2-core test machine under load, cost 12 0.50 s and cost 14 2.4 s; each step doubles, so cost 15 is
/// about 5 s and cost 16 about 10 s, Prometheus' default scrape timeout. 14 leaves room within that timeout for the
/// scrape itself and a second check queued behind the first ([`BCRYPT_AT_ONCE`]); on slower hardware a higher cost
/// would make every first scrape time out. A cost above it (bcrypt allows 31: about 30 hours per check) is refused
/// at start, by `--config.check` and on reload.
pub(crate) const MAX_BCRYPT_COST: u32 = 14;
const REALM: &str = "Basic realm=\"crowdsec-bouncer-exporter\", charset=\"UTF-8\"";

/// The file's users, checked: names without `:` (basic auth splits on the first one), values that are bcrypt
/// hashes. Returns user name -> hash.
///
/// # Errors
/// A message naming the user (never the value, which is a hash).
pub(super) fn check_users(
    users: impl IntoIterator<Item = (String, Secret)>,
) -> Result<BTreeMap<String, Secret>, String> {
    let mut out = BTreeMap::new();
    for (user, hash) in users {
        if user.contains(':') {
            return Err(format!(
                "user {user:?}: a basic auth user name cannot hold ':'"
            ));
        }
        let Ok(parts) = hash.expose().parse::<bcrypt::HashParts>() else {
            return Err(format!("user {user:?}: the password is not a bcrypt hash (make one with `htpasswd -nBC 10 \"\" | tr -d ':\\n'`)"));
        };
        let cost = parts.get_cost();
        if cost > MAX_BCRYPT_COST {
            return Err(format!(
                "user {user:?}: bcrypt cost {cost} is too high: one password check would take about {} on this \
                 machine ({}), longer than a scrape can wait; the limit is cost {MAX_BCRYPT_COST} (make a hash with \
                 `htpasswd -nBC 10 \"\" | tr -d ':\\n'`)",
                human(estimate(cost)),
                "estimated from one check at cost 4 measured now; each cost step doubles the time"
            ));
        }
        out.insert(user, hash);
    }
    Ok(out)
}

/// The time one bcrypt check at `cost` takes here: one check at the lowest cost (4) measured now (about 1 ms),
/// doubled for each step above it.
fn estimate(cost: u32) -> std::time::Duration {
    const PROBE: u32 = 4;
    // A fixed, public hash of the empty password at cost 4 (no secret involved).
    let hash = bcrypt::hash_with_salt("", PROBE, [0u8; 16])
        .map(|h| h.format_for_version(bcrypt::Version::TwoB))
        .unwrap_or_default();
    let started = std::time::Instant::now();
    let _ = bcrypt::verify("", &hash);
    let probe = started.elapsed();
    probe.saturating_mul(1u32 << cost.saturating_sub(PROBE).min(31))
}

/// A duration in the largest unit that keeps it above 1: `2.4 s`, `3.1 min`, `31 h`.
fn human(d: std::time::Duration) -> String {
    let s = d.as_secs_f64();
    if s < 60.0 {
        format!("{s:.1} s")
    } else if s < 3600.0 {
        format!("{:.1} min", s / 60.0)
    } else {
        format!("{:.0} h", s / 3600.0)
    }
}

/// Basic authentication with a cache of verified credentials, as exporter-toolkit does, so a scrape does not pay
/// bcrypt each time. The cache holds HMAC tags under a key drawn at start and never written anywhere: neither
/// passwords nor anything that helps guess them.
pub(crate) struct Auth {
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
    pub(crate) async fn authorized(
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

pub(super) fn unauthorized() -> Response<Chunks> {
    let mut r = text(
        StatusCode::UNAUTHORIZED,
        "text/plain; charset=utf-8",
        "401 Unauthorized\n".into(),
    );
    r.headers_mut()
        .insert(WWW_AUTHENTICATE, HeaderValue::from_static(REALM));
    r
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

    /// Issue 23 row 5: a `$2b$31$` hash made every request with credentials spin a core for hours. Refused when the
    /// file is loaded, saying the cost and the time; the limit itself is accepted.
    #[test]
    fn a_bcrypt_cost_that_cannot_be_checked_within_a_scrape_is_refused() {
        let cost4 = bcrypt::hash("pw", 4).unwrap();
        let cost31 = cost4.replacen("$04$", "$31$", 1);
        assert!(cost31.starts_with("$2b$31$"), "{cost31}");
        let e = check_users([("alice".to_owned(), Secret::new(cost31.clone()))]).unwrap_err();
        assert!(
            e.contains("alice")
                && e.contains("bcrypt cost 31")
                && e.contains(" h ")
                && e.contains("limit is cost 14"),
            "{e}"
        );
        assert!(!e.contains(&cost31[7..]), "the hash is not shown: {e}");
        let e = check_users([(
            "a".to_owned(),
            Secret::new(cost4.replacen("$04$", "$15$", 1)),
        )])
        .unwrap_err();
        assert!(e.contains("bcrypt cost 15"), "{e}");
        let at_limit = cost4.replacen("$04$", "$14$", 1);
        assert!(check_users([("a".to_owned(), Secret::new(at_limit))]).is_ok());
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
