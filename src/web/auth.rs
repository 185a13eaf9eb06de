//! Basic authentication (`basic_auth_users`): bcrypt hashes checked off the async workers, and a cache of verified
//! credentials, as exporter-toolkit does, so a scrape does not pay bcrypt each time.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

use aws_lc_rs::hmac;
use base64::Engine;
use hyper::header::{HeaderValue, WWW_AUTHENTICATE};
use hyper::{Response, StatusCode};

use super::routes::{text, Chunks};
use crate::values::secret::Secret;

/// Verified credentials remembered at most (a bound, not a tuning knob: a few users scrape).
const MAX_VERIFIED: usize = 1024;
/// bcrypt runs on the blocking pool; this many at once, so a flood of bad passwords cannot take every core. A check
/// holds its slot until bcrypt returns, even when its client has gone (a dropped request cannot free the slot of a
/// check still running).
const BCRYPT_AT_ONCE: usize = 2;
/// Password checks one client (an IPv4 address, an IPv6 /64) may have pending, running or waiting; more get `429`
/// at once. Each client's checks run one after another, so a client flooding bad passwords waits behind itself,
/// not in front of Prometheus scraping from another address.
const PENDING_PER_CLIENT: usize = 8;
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
    for (name, hash) in users {
        let user = Shown(&name);
        if name.contains(':') {
            return Err(format!(
                "user {user}: a basic auth user name cannot hold ':' (an htpasswd line `user:hash` goes as `user: 'hash'`)"
            ));
        }
        let Ok(parts) = hash.expose().parse::<bcrypt::HashParts>() else {
            return Err(format!("user {user}: the password is not a bcrypt hash (make one with `htpasswd -nBC 10 \"\" | tr -d ':\\n'`)"));
        };
        let cost = parts.get_cost();
        if cost > MAX_BCRYPT_COST {
            return Err(format!(
                "user {user}: bcrypt cost {cost} is too high: one password check would take about {} on this \
                 machine ({}), longer than a scrape can wait; the limit is cost {MAX_BCRYPT_COST} (make a hash with \
                 `htpasswd -nBC 10 \"\" | tr -d ':\\n'`)",
                human(estimate(cost)),
                "estimated from one check at cost 4 measured now; each cost step doubles the time"
            ));
        }
        out.insert(name, hash);
    }
    Ok(out)
}

/// A user name as an error shows it: up to its first ':' (what follows may be a hash or a password, as in a pasted
/// htpasswd line), and not at all when it holds a `$` (a bcrypt hash written where the name goes).
struct Shown<'a>(&'a str);

impl std::fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (head, cut) = match self.0.split_once(':') {
            Some((head, _)) => (head, true),
            None => (self.0, false),
        };
        if head.contains('$') {
            return f.write_str(
                "(name not shown: it looks like a bcrypt hash; name and hash swapped?)",
            );
        }
        write!(f, "{head:?}")?;
        if cut {
            f.write_str(" followed by ':' and more (not shown)")?;
        }
        Ok(())
    }
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
    bcrypt_slots: Arc<tokio::sync::Semaphore>,
    /// Per client: its turn (one check at a time) and how many of its checks are pending. An entry lives while a
    /// check of that client is pending, so the map holds at most one entry per pending check.
    clients: Arc<Clients>,
}

type Clients = Mutex<HashMap<IpAddr, (Arc<tokio::sync::Semaphore>, usize)>>;

/// What [`Auth::authorized`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The right password of a known user.
    Allowed,
    /// No, or wrong, credentials: `401`.
    Denied,
    /// This client already has [`PENDING_PER_CLIENT`] password checks pending: `429`, nothing checked.
    Busy,
    /// The exporter is shutting down: checks not started are given up, `503`.
    ShuttingDown,
}

/// The key under which a client's checks queue: its IPv4 address (an IPv4-mapped IPv6 one too), or its IPv6 /64
/// (one host usually holds a whole /64). No address known: one shared queue.
fn client_key(peer: Option<IpAddr>) -> IpAddr {
    match peer {
        None => IpAddr::from([0u8; 4]),
        Some(IpAddr::V4(a)) => IpAddr::V4(a),
        Some(IpAddr::V6(a)) => match a.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(a) & !((1u128 << 64) - 1)).into()),
        },
    }
}

/// One pending check of a client; its drop (the check done, or the request gone before its turn) frees the
/// client's place.
struct Pending {
    clients: Arc<Clients>,
    key: IpAddr,
}

impl Drop for Pending {
    fn drop(&mut self) {
        let mut clients = lock(&self.clients);
        if let Some(entry) = clients.get_mut(&self.key) {
            entry.1 -= 1;
            if entry.1 == 0 {
                clients.remove(&self.key);
            }
        }
    }
}

impl Default for Auth {
    fn default() -> Self {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        Auth {
            key: hmac::Key::generate(hmac::HMAC_SHA256, &rng).expect("the system RNG works"),
            verified: Mutex::new(HashSet::new()),
            bcrypt_slots: Arc::new(tokio::sync::Semaphore::new(BCRYPT_AT_ONCE)),
            clients: Arc::new(Mutex::new(HashMap::new())),
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

    /// Whether the `Authorization` header names a user of `users` with the right password; `peer` is the client's
    /// address, whose checks queue apart from other clients' ([`PENDING_PER_CLIENT`]).
    pub(crate) async fn authorized(
        &self,
        header: Option<&HeaderValue>,
        users: &BTreeMap<String, Secret>,
        peer: Option<IpAddr>,
    ) -> Outcome {
        let Some((user, password)) = header.and_then(parse_basic) else {
            return Outcome::Denied;
        };
        let known = users.get(&user);
        // An unknown user costs one bcrypt too (against some user's hash, whose result is ignored), so the time
        // taken does not tell which users exist.
        let Some(hash) = known.or_else(|| users.values().next()) else {
            return Outcome::Denied;
        };
        let hash = hash.clone();
        let tag = self.tag(&user, password.expose(), hash.expose());
        if known.is_some() && self.verified().contains(&tag) {
            return Outcome::Allowed;
        }
        let key = client_key(peer);
        let turn = {
            let mut clients = lock(&self.clients);
            if self.bcrypt_slots.is_closed() {
                return Outcome::ShuttingDown;
            }
            let entry = clients
                .entry(key)
                .or_insert_with(|| (Arc::new(tokio::sync::Semaphore::new(1)), 0));
            if entry.1 >= PENDING_PER_CLIENT {
                return Outcome::Busy;
            }
            entry.1 += 1;
            entry.0.clone()
        };
        let pending = Pending {
            clients: self.clients.clone(),
            key,
        };
        let Ok(turn) = turn.acquire_owned().await else {
            return Outcome::ShuttingDown;
        };
        let Ok(slot) = self.bcrypt_slots.clone().acquire_owned().await else {
            return Outcome::ShuttingDown;
        };
        // The permits and the pending place go with the check: if this request is dropped (its client gone), they
        // are released only when bcrypt returns, so at most BCRYPT_AT_ONCE checks ever run and a client's next check
        // waits for its last.
        let ok = tokio::task::spawn_blocking(move || {
            let ok = bcrypt::verify(password.expose(), hash.expose()).unwrap_or(false);
            drop((pending, turn, slot));
            ok
        })
        .await
        .unwrap_or(false);
        if !(ok && known.is_some()) {
            return Outcome::Denied;
        }
        let mut verified = self.verified();
        if verified.len() >= MAX_VERIFIED {
            verified.clear();
        }
        verified.insert(tag);
        Outcome::Allowed
    }

    /// Shutdown: checks waiting for their turn are given up at once ([`Outcome::ShuttingDown`]), so a queue of
    /// password checks cannot hold the graceful shutdown; the ones running (at most [`BCRYPT_AT_ONCE`]) finish.
    pub(crate) fn close(&self) {
        let clients = lock(&self.clients);
        self.bcrypt_slots.close();
        for (turn, _) in clients.values() {
            turn.close();
        }
    }

    fn verified(&self) -> std::sync::MutexGuard<'_, HashSet<[u8; 32]>> {
        self.verified.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn lock(
    clients: &Clients,
) -> std::sync::MutexGuard<'_, HashMap<IpAddr, (Arc<tokio::sync::Semaphore>, usize)>> {
    clients.lock().unwrap_or_else(PoisonError::into_inner)
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

/// `429` for a client with too many password checks pending: nothing was checked.
pub(super) fn too_many_checks() -> Response<Chunks> {
    let mut r = text(
        StatusCode::TOO_MANY_REQUESTS,
        "text/plain; charset=utf-8",
        "429 too many password checks pending from this address\n".into(),
    );
    r.headers_mut()
        .insert(hyper::header::RETRY_AFTER, HeaderValue::from_static("1"));
    r
}

/// `503` for a request whose password check was given up because the exporter is shutting down.
pub(super) fn shutting_down() -> Response<Chunks> {
    let mut r = text(
        StatusCode::SERVICE_UNAVAILABLE,
        "text/plain; charset=utf-8",
        "503 shutting down\n".into(),
    );
    r.headers_mut()
        .insert(hyper::header::CONNECTION, HeaderValue::from_static("close"));
    r
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
        let check = |h: Option<HeaderValue>| {
            let auth = &auth;
            let users = &users;
            async move { auth.authorized(h.as_ref(), users, None).await }
        };
        assert_eq!(check(Some(basic("alice:s3cret:x"))).await, Outcome::Allowed);
        assert_eq!(auth.verified().len(), 1);
        assert_eq!(check(Some(basic("alice:s3cret:x"))).await, Outcome::Allowed);
        assert_eq!(auth.verified().len(), 1);
        for bad in ["alice:wrong", "bob:s3cret:x", "alice", "", "alice:"] {
            assert_eq!(check(Some(basic(bad))).await, Outcome::Denied, "{bad}");
        }
        assert_eq!(check(None).await, Outcome::Denied);
        assert_eq!(
            check(Some(HeaderValue::from_static("Bearer abc"))).await,
            Outcome::Denied
        );
        assert_eq!(auth.verified().len(), 1, "failures are not cached");
        assert!(lock(&auth.clients).is_empty(), "no client left pending");
    }

    fn users(cost: u32) -> Arc<BTreeMap<String, Secret>> {
        Arc::new(BTreeMap::from([(
            "prometheus".to_owned(),
            Secret::new(bcrypt::hash("pw", cost).unwrap()),
        )]))
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    /// Attack on the live server: 40 requests with a wrong password to a cost-14 user, each dropped by its client
    /// after 200 ms, left 20 bcrypt checks running at once (20 threads at 100 % CPU for seconds) although at most two
    /// should: the slot was released when the request was dropped, not when bcrypt returned.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_dropped_request_keeps_its_bcrypt_slot_until_the_check_returns() {
        let users = users(10);
        let auth = Arc::new(Auth::default());
        for i in 0..6 {
            let h = basic(&format!("prometheus:bad{i}"));
            let peer = ip(&format!("10.0.0.{i}"));
            // The client gives up long before a cost-10 check (0.1 s or more) returns.
            let _ = tokio::time::timeout(
                std::time::Duration::from_millis(20),
                auth.authorized(Some(&h), &users, peer),
            )
            .await;
        }
        assert_eq!(
            auth.bcrypt_slots.available_permits(),
            0,
            "the checks still running hold both slots"
        );
        // Once they return, everything is released.
        let right = basic("prometheus:pw");
        assert_eq!(
            auth.authorized(Some(&right), &users, ip("10.0.0.9")).await,
            Outcome::Allowed
        );
        // The other dropped check may still be running; both slots come back when it returns.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while auth.bcrypt_slots.available_permits() < BCRYPT_AT_ONCE
            && std::time::Instant::now() < deadline
        {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert_eq!(auth.bcrypt_slots.available_permits(), BCRYPT_AT_ONCE);
        assert!(lock(&auth.clients).is_empty());
    }

    /// Attack on the live server: 100 concurrent wrong passwords for a cost-14 user, then Prometheus' first scrape
    /// with the right password (cost 10, not yet cached): it was still waiting after 60 s, queued behind every bad
    /// check. Now each client's checks queue on their own: the other client waits for one check at most.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_clients_flood_of_bad_passwords_does_not_hold_back_another_client() {
        let users = users(8);
        let auth = Arc::new(Auth::default());
        let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut flood = Vec::new();
        for i in 0..PENDING_PER_CLIENT + 4 {
            let (auth, users, done) = (auth.clone(), users.clone(), done.clone());
            flood.push(tokio::spawn(async move {
                let h = basic(&format!("prometheus:bad{i}"));
                let o = auth.authorized(Some(&h), &users, ip("192.0.2.1")).await;
                if o == Outcome::Denied {
                    done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
                o
            }));
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let right = basic("prometheus:pw");
        assert_eq!(
            auth.authorized(Some(&right), &users, ip("2001:db8::7"))
                .await,
            Outcome::Allowed
        );
        // The flooding client's checks run one after another on the other slot: the one running when the right
        // password arrived, and those finishing while its own check runs (one, or two when this thread is starved
        // on a loaded 2-core machine, where `<= 2` failed 1 run in 3). Queued in front of it, all 8 finished first.
        let finished_first = done.load(std::sync::atomic::Ordering::SeqCst);
        assert!(
            finished_first <= 3,
            "{finished_first} bad checks of the flooding client ran before the other client's"
        );
        let mut outcomes = Vec::new();
        for f in flood {
            outcomes.push(f.await.unwrap());
        }
        let busy = outcomes.iter().filter(|o| **o == Outcome::Busy).count();
        assert_eq!(busy, 4, "beyond {PENDING_PER_CLIENT} pending: 429 at once");
        assert_eq!(
            outcomes.iter().filter(|o| **o == Outcome::Denied).count(),
            PENDING_PER_CLIENT
        );
        assert!(lock(&auth.clients).is_empty(), "no entry left behind");
    }

    /// Attack on the live binary: SIGTERM with a flood of wrong passwords queued took 8 s (the whole graceful 5 s,
    /// then the 3 s given to blocking work), as the queued checks were requests in flight. Closing gives them up at
    /// once: only the check running finishes.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn closing_gives_up_the_queued_checks_at_once() {
        let users = users(10);
        let auth = Arc::new(Auth::default());
        let mut queued = Vec::new();
        for i in 0..PENDING_PER_CLIENT {
            let (auth, users) = (auth.clone(), users.clone());
            queued.push(tokio::spawn(async move {
                let h = basic(&format!("prometheus:bad{i}"));
                auth.authorized(Some(&h), &users, ip("192.0.2.1")).await
            }));
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        auth.close();
        let mut outcomes = Vec::new();
        for q in queued {
            outcomes.push(q.await.unwrap());
        }
        let given_up = outcomes
            .iter()
            .filter(|o| **o == Outcome::ShuttingDown)
            .count();
        assert!(given_up >= PENDING_PER_CLIENT - 1, "{outcomes:?}");
        let right = basic("prometheus:pw");
        assert_eq!(
            auth.authorized(Some(&right), &users, ip("192.0.2.9")).await,
            Outcome::ShuttingDown,
            "no new check after close"
        );
    }

    #[test]
    fn clients_are_ipv4_addresses_and_ipv6_slash_64s() {
        let key = |s: &str| client_key(ip(s));
        assert_eq!(key("192.0.2.1"), ip("192.0.2.1").unwrap());
        assert_eq!(key("::ffff:192.0.2.1"), ip("192.0.2.1").unwrap());
        assert_eq!(key("2001:db8:1:2:aaaa::1"), key("2001:db8:1:2:bbbb::9"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(client_key(None), client_key(None));
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

    /// Attack: `--config.check` and the reload log printed a bcrypt hash written where the user name goes, when
    /// name and hash were swapped (`'$2b$10$…': prometheus`) or an htpasswd line was pasted as the name
    /// (`prometheus:$2b$10$…:`). The name is shown up to its first ':', and not at all when it holds a `$`.
    #[test]
    fn a_hash_written_as_the_user_name_is_not_shown() {
        let hash = bcrypt::hash("pw", 4).unwrap();
        let salt_and_hash = &hash[7..];
        for (user, value, want) in [
            (hash.clone(), "prometheus".to_owned(), "not a bcrypt hash"),
            (
                format!("prometheus:{hash}"),
                String::new(),
                "\"prometheus\"",
            ),
            (
                format!("prometheus:{hash}"),
                hash.clone(),
                "cannot hold ':'",
            ),
            ("bob:hunter2".to_owned(), hash.clone(), "\"bob\""),
        ] {
            let e = check_users([(user.clone(), Secret::new(value))]).unwrap_err();
            assert!(e.contains(want), "{e}");
            assert!(!e.contains(salt_and_hash), "{e}");
            assert!(!e.contains("hunter2"), "{e}");
        }
        let e = check_users([("alice".to_owned(), Secret::new("x".to_owned()))]).unwrap_err();
        assert!(e.contains("user \"alice\""), "{e}");
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
