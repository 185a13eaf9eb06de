//! Real database servers from Debian's packages (PostgreSQL 15, MariaDB 10.11), extracted by
//! scripts/fetch-parts.sh and started here on 127.0.0.1, on a free port, in a temp folder. PostgreSQL refuses to
//! run as root, so as root it runs as `nobody` (setpriv), owning its folder.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::real::{free_port, wait_until, Proc};
use crowdsec_bouncer_exporter::crowdsec::bouncers::{Bouncer, BouncerSnapshot, LastPull};

fn parts_root() -> PathBuf {
    std::env::var_os("PARTS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/parts"))
}

/// A binary under the extracted root (`usr/lib/postgresql/15/bin/postgres`); missing = failed test.
pub fn part_at(rel: &str) -> PathBuf {
    let p = parts_root().join("root").join(rel);
    assert!(
        p.exists(),
        "{} is missing: run scripts/fetch-parts.sh",
        p.display()
    );
    p
}

/// `PARTS_LD_LIBRARY_PATH` from target/parts/env.sh: libraries the host lacked, extracted next to the parts.
fn ld_library_path() -> String {
    let env = std::fs::read_to_string(parts_root().join("env.sh")).unwrap_or_default();
    env.lines()
        .find_map(|l| l.strip_prefix("PARTS_LD_LIBRARY_PATH="))
        .map(|v| v.trim_matches('\'').to_owned())
        .unwrap_or_default()
}

fn is_root() -> bool {
    // SAFETY-free way: `id -u` would spawn; the owner of /proc/self is our uid.
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(1)
        == 0
}

/// A command for a server part: as `nobody` when we are root, with the extracted libraries.
fn server_command(bin: &Path, owner_dir: &Path) -> Command {
    let mut cmd = if is_root() {
        use std::os::unix::fs::PermissionsExt;
        for dir in bin.ancestors().skip(1) {
            let mode = std::fs::metadata(dir).unwrap().permissions().mode();
            assert!(
                mode & 0o001 != 0,
                "the servers run as `nobody`, who cannot enter {} (mode {mode:o}): move the checkout or chmod o+x it",
                dir.display()
            );
        }
        std::os::unix::fs::chown(owner_dir, Some(65534), Some(65534)).unwrap();
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(bin);
        c
    } else {
        Command::new(bin)
    };
    cmd.env("LD_LIBRARY_PATH", ld_library_path())
        .env("TZ", "UTC")
        .env("LC_ALL", "C");
    cmd
}

/// A database server of engine `E` started for a test on 127.0.0.1, on a free port, in a temp folder (with
/// `tls/server.pem` + `tls/server.key` from a [`Pki`] when started with TLS). What PostgreSQL and MariaDB share;
/// each engine says how to initialise, run, probe and reload it ([`Engine`]).
pub struct Server<E: Engine> {
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub proc: Proc,
    engine: std::marker::PhantomData<E>,
}

/// How one engine is set up and run by [`Server`].
pub trait Engine: Sized {
    /// For messages: `PostgreSQL`.
    const NAME: &'static str;
    /// URL scheme of the exporter's `--lapi.db`.
    const SCHEME: &'static str;
    /// Creates the data folder under `d` and returns the server's command (listening on `port`, server time zone
    /// `zone`) and its log file name. With `tls`, the server's certificate is in `d/tls` and the CA in the `Pki`.
    fn init(d: &Path, zone: &str, port: u16, tls: Option<&Pki>) -> (Command, &'static str);
    /// Whether the server accepts an admin connection.
    fn ready(server: &Server<Self>) -> bool;
    /// Makes the running server reread its TLS files.
    fn reload_tls(server: &Server<Self>);
    /// Before the process is killed.
    fn stop(_server: &mut Server<Self>) {}
}

impl<E: Engine> Server<E> {
    /// Initialises and starts the server; its own time zone is `zone` (see the engine).
    pub fn start(zone: &str) -> Self {
        Self::start_with(zone, None)
    }

    /// As [`Server::start`], with TLS on (certificate `server` of `pki`); see the engine for who must use it.
    pub fn start_tls(zone: &str, pki: &Pki) -> Self {
        Self::start_with(zone, Some(pki))
    }

    fn start_with(zone: &str, pki: Option<&Pki>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        if let Some(pki) = pki {
            std::fs::create_dir(d.join("tls")).unwrap();
            pki.install_server_files(&d.join("tls"), "server");
        }
        let port = free_port();
        let (mut cmd, log) = E::init(d, zone, port, pki);
        let proc = Proc::spawn(&mut cmd, d.join(log));
        let server = Server {
            dir,
            port,
            proc,
            engine: std::marker::PhantomData,
        };
        wait_until(
            &format!("{} to accept connections", E::NAME),
            Duration::from_secs(30),
            || E::ready(&server),
        );
        server
    }

    /// The exporter's `--lapi.db` URL for `user` on database `db`.
    pub fn url(&self, user: &str, password: &str, db: &str) -> String {
        format!(
            "{}://{user}:{password}@127.0.0.1:{}/{db}",
            E::SCHEME,
            self.port
        )
    }

    /// Swaps in certificate `name` of `pki` (see [`Pki`]) and makes the server reread it.
    pub fn use_server_cert(&self, pki: &Pki, name: &str) {
        pki.install_server_files(&self.dir.path().join("tls"), name);
        E::reload_tls(self);
    }
}

impl<E: Engine> Drop for Server<E> {
    fn drop(&mut self) {
        E::stop(self);
    }
}

pub const PG_ADMIN_PASSWORD: &str = "admin-Pg-passw0rd";

/// A PostgreSQL 15 server: superuser `postgres` (password [`PG_ADMIN_PASSWORD`] over TCP). The server's own time
/// zone is a POSIX spec (no tz files needed). With TLS, pg_hba forces it for every role but the superuser: role
/// `certuser` logs in by client certificate (`cert` auth), others by password.
pub type Postgres = Server<Pg>;

/// [`Engine`] PostgreSQL 15.
pub struct Pg;

impl Engine for Pg {
    const NAME: &'static str = "PostgreSQL";
    const SCHEME: &'static str = "postgres";

    fn init(d: &Path, zone: &str, port: u16, pki: Option<&Pki>) -> (Command, &'static str) {
        let pwfile = d.join("pw");
        std::fs::write(&pwfile, PG_ADMIN_PASSWORD).unwrap();
        if is_root() {
            std::os::unix::fs::chown(&pwfile, Some(65534), Some(65534)).unwrap();
        }
        let out = server_command(&part_at("usr/lib/postgresql/15/bin/initdb"), d)
            .arg("-D")
            .arg(d.join("data"))
            .args([
                "-U",
                "postgres",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ])
            .arg(format!("--pwfile={}", pwfile.display()))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "initdb: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let mut tls_args = Vec::new();
        if let Some(pki) = pki {
            let tls = d.join("tls");
            std::fs::write(
                d.join("data/pg_hba.conf"),
                "local all all trust\n\
                 hostssl all certuser 127.0.0.1/32 cert\n\
                 hostssl all all 127.0.0.1/32 scram-sha-256\n\
                 host all postgres 127.0.0.1/32 scram-sha-256\n",
            )
            .unwrap();
            for (key, file) in [
                ("ssl_cert_file", tls.join("server.pem")),
                ("ssl_key_file", tls.join("server.key")),
                ("ssl_ca_file", pki.path("ca.pem")),
            ] {
                tls_args.push("-c".to_owned());
                tls_args.push(format!("{key}={}", file.display()));
            }
            tls_args.extend(["-c".to_owned(), "ssl=on".to_owned()]);
        }
        let mut cmd = server_command(&part_at("usr/lib/postgresql/15/bin/postgres"), d);
        cmd.args(&tls_args)
            .arg("-D")
            .arg(d.join("data"))
            .args(["-h", "127.0.0.1", "-p", &port.to_string()])
            .arg("-k")
            .arg(d)
            .args(["-c", "fsync=off", "-c"])
            .arg(format!("timezone={zone}"));
        (cmd, "postgres.log")
    }

    fn ready(pg: &Postgres) -> bool {
        block_on(pg.try_admin("postgres")).is_ok()
    }

    /// PostgreSQL rereads its TLS files on reload.
    fn reload_tls(pg: &Postgres) {
        pg.admin_sql("postgres", "SELECT pg_reload_conf()");
        // The postmaster reloads asynchronously; new connections after this see the new files.
        std::thread::sleep(Duration::from_millis(500));
    }

    /// Fast shutdown (SIGINT), so the server's own children exit with it.
    fn stop(pg: &mut Postgres) {
        let _ = Command::new("kill")
            .args(["-INT", &pg.proc.child.id().to_string()])
            .status();
        let _ = pg.proc.terminate(Duration::from_secs(5));
    }
}

impl Server<Pg> {
    async fn try_admin(&self, db: &str) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
        let (client, conn) = tokio_postgres::Config::new()
            .host("127.0.0.1")
            .port(self.port)
            .user("postgres")
            .password(PG_ADMIN_PASSWORD)
            .dbname(db)
            .connect(tokio_postgres::NoTls)
            .await?;
        tokio::spawn(conn);
        Ok(client)
    }

    /// Runs SQL statements as the superuser in database `db`.
    pub fn admin_sql(&self, db: &str, sql: &str) {
        block_on(async {
            let c = self.try_admin(db).await.unwrap();
            c.batch_execute(sql)
                .await
                .unwrap_or_else(|e| panic!("{e:?}: {sql}"));
        });
    }

    /// Creates database `db` owned by a new login role `user` with `password`, with the tables of `schema_file`
    /// (tests/fixtures/postgres/), created as that role, as CrowdSec would.
    pub fn create_crowdsec_db(&self, db: &str, user: &str, password: &str, schema_file: &str) {
        self.admin_sql(
            "postgres",
            &format!("CREATE ROLE {user} LOGIN PASSWORD '{password}'"),
        );
        self.admin_sql("postgres", &format!("CREATE DATABASE {db} OWNER {user}"));
        let schema = std::fs::read_to_string(
            Path::new(super::FIXTURES)
                .join("postgres")
                .join(schema_file),
        )
        .unwrap();
        let sql: String = schema
            .lines()
            .filter(|l| !l.trim_start().starts_with("--"))
            .collect::<Vec<_>>()
            .join("\n");
        self.admin_sql(db, &format!("SET ROLE {user};\n{sql}"));
    }
}

/// A MariaDB 10.11 server whose global time zone is `zone` (e.g. `+05:30`); `root` has no password over TCP.
/// With TLS, client certificates are checked against the `Pki`'s CA; users demand TLS with `REQUIRE SSL` /
/// `REQUIRE X509`.
pub type Mariadb = Server<Maria>;

/// [`Engine`] MariaDB 10.11.
pub struct Maria;

impl Engine for Maria {
    const NAME: &'static str = "MariaDB";
    const SCHEME: &'static str = "mysql";

    fn init(d: &Path, zone: &str, port: u16, pki: Option<&Pki>) -> (Command, &'static str) {
        let root = parts_root().join("root");
        // mariadb-install-db (a shell script around the server) failed once, unreproducibly, on a machine loaded
        // by parallel builds: one retry on a fresh data folder, the first failure printed for the record.
        let install = || {
            let _ = std::fs::remove_dir_all(d.join("data"));
            server_command(&part_at("usr/bin/mariadb-install-db"), d)
                .arg("--no-defaults")
                .arg(format!("--basedir={}", root.join("usr").display()))
                .arg(format!("--datadir={}", d.join("data").display()))
                .args([
                    "--auth-root-authentication-method=normal",
                    "--skip-test-db",
                    "--skip-name-resolve",
                    // Native AIO can fail with EAGAIN when other servers on the machine hold the kernel's aio slots.
                    "--innodb-use-native-aio=0",
                ])
                .output()
                .unwrap()
        };
        let mut out = install();
        if !out.status.success() {
            eprintln!(
                "mariadb-install-db failed, retrying once: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            out = install();
        }
        assert!(
            out.status.success(),
            "mariadb-install-db: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let mut tls_args = Vec::new();
        if let Some(pki) = pki {
            let tls = d.join("tls");
            tls_args = vec![
                format!("--ssl-cert={}", tls.join("server.pem").display()),
                format!("--ssl-key={}", tls.join("server.key").display()),
                format!("--ssl-ca={}", pki.path("ca.pem").display()),
            ];
        }
        let mut cmd = server_command(&part_at("usr/sbin/mariadbd"), d);
        cmd.arg("--no-defaults")
            .arg(format!("--datadir={}", d.join("data").display()))
            .arg(format!("--basedir={}", root.join("usr").display()))
            .arg(format!(
                "--lc-messages-dir={}",
                root.join("usr/share/mariadb").display()
            ))
            .arg(format!("--socket={}", d.join("mysqld.sock").display()))
            .arg(format!("--pid-file={}", d.join("mysqld.pid").display()))
            .args([
                "--bind-address=127.0.0.1",
                "--skip-name-resolve",
                "--innodb-use-native-aio=0",
            ])
            .arg(format!("--port={port}"))
            .arg(format!("--default-time-zone={zone}"))
            .args(&tls_args);
        (cmd, "mariadbd.log")
    }

    fn ready(db: &Mariadb) -> bool {
        block_on(db.try_admin()).is_ok()
    }

    /// `FLUSH SSL` rereads the files.
    fn reload_tls(db: &Mariadb) {
        db.admin_sql(&["FLUSH SSL"]);
    }
}

impl Server<Maria> {
    async fn try_admin(&self) -> Result<mysql_async::Conn, mysql_async::Error> {
        mysql_async::Conn::new(
            mysql_async::OptsBuilder::default()
                .ip_or_hostname("127.0.0.1")
                .tcp_port(self.port)
                .prefer_socket(false)
                .user(Some("root")),
        )
        .await
    }

    /// Runs SQL statements (`;`-separated, one per line or joined) as root, with `session` statements first.
    pub fn admin_sql(&self, statements: &[&str]) {
        use mysql_async::prelude::Queryable;
        block_on(async {
            let mut c = self.try_admin().await.unwrap();
            for sql in statements {
                c.query_drop(*sql)
                    .await
                    .unwrap_or_else(|e| panic!("{e}: {sql}"));
            }
            c.disconnect().await.unwrap();
        });
    }

    /// Creates database `db` and user `user`@`127.0.0.1` with `password` (all rights on `db`), and the tables of
    /// `schema_file` (tests/fixtures/mysql/).
    pub fn create_crowdsec_db(&self, db: &str, user: &str, password: &str, schema_file: &str) {
        let schema =
            std::fs::read_to_string(Path::new(super::FIXTURES).join("mysql").join(schema_file))
                .unwrap();
        let mut statements = vec![
            format!("CREATE DATABASE {db}"),
            format!("CREATE USER IF NOT EXISTS '{user}'@'127.0.0.1' IDENTIFIED BY '{password}'"),
            format!("GRANT ALL PRIVILEGES ON {db}.* TO '{user}'@'127.0.0.1'"),
            format!("USE {db}"),
        ];
        statements.extend(
            schema
                .lines()
                .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with("--"))
                .map(str::to_owned),
        );
        let refs: Vec<&str> = statements.iter().map(String::as_str).collect();
        self.admin_sql(&refs);
    }
}

/// Test certificates, made by rcgen: `ca.pem` (the CA), `other-ca.pem` (a CA that signed nothing here);
/// server certificates `server` (127.0.0.1, localhost), `mismatch` (db.example only), `expired` (127.0.0.1,
/// expired in 2021), as `NAME.pem` + `NAME.key`; client certificate `client.pem` + `client.key` (CN `certuser`).
pub struct Pki {
    pub dir: tempfile::TempDir,
}

impl Pki {
    pub fn new() -> Pki {
        use rcgen::{
            BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose,
            IsCa, KeyPair, KeyUsagePurpose,
        };
        let dir = tempfile::tempdir().unwrap();
        let put = |name: &str, text: String| std::fs::write(dir.path().join(name), text).unwrap();
        let ca = |cn: &str| {
            let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
            p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            p.distinguished_name.push(DnType::CommonName, cn);
            p.key_usages = vec![
                KeyUsagePurpose::KeyCertSign,
                KeyUsagePurpose::DigitalSignature,
            ];
            CertifiedIssuer::self_signed(p, KeyPair::generate().unwrap()).unwrap()
        };
        let issuer = ca("exporter test CA");
        put("ca.pem", issuer.pem());
        put("other-ca.pem", ca("some other CA").pem());
        let leaf = |name: &str, cn: &str, sans: &[&str], usage, expired: bool| {
            let mut p =
                CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                    .unwrap();
            p.distinguished_name.push(DnType::CommonName, cn);
            p.extended_key_usages = vec![usage];
            if expired {
                p.not_before = rcgen::date_time_ymd(2020, 1, 1);
                p.not_after = rcgen::date_time_ymd(2021, 1, 1);
            }
            let key = KeyPair::generate().unwrap();
            put(
                &format!("{name}.pem"),
                p.signed_by(&key, &issuer).unwrap().pem(),
            );
            put(&format!("{name}.key"), key.serialize_pem());
        };
        let server = ExtendedKeyUsagePurpose::ServerAuth;
        leaf(
            "server",
            "db",
            &["127.0.0.1", "localhost"],
            server.clone(),
            false,
        );
        leaf("mismatch", "db", &["db.example"], server.clone(), false);
        leaf("expired", "db", &["127.0.0.1"], server, true);
        leaf(
            "client",
            "certuser",
            &[],
            ExtendedKeyUsagePurpose::ClientAuth,
            false,
        );
        // The servers run as `nobody` when we are root: they read the CA from here.
        if is_root() {
            std::os::unix::fs::chown(dir.path(), Some(65534), Some(65534)).unwrap();
        }
        Pki { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Copies `NAME.pem` / `NAME.key` to `server.pem` / `server.key` in `to`, owned by the server's user, the key
    /// 0600 (PostgreSQL refuses a key others can read).
    pub fn install_server_files(&self, to: &Path, name: &str) {
        use std::os::unix::fs::PermissionsExt;
        for (from, file) in [
            (format!("{name}.pem"), "server.pem"),
            (format!("{name}.key"), "server.key"),
        ] {
            let dest = to.join(file);
            std::fs::copy(self.path(&from), &dest).unwrap();
            std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o600)).unwrap();
            if is_root() {
                std::os::unix::fs::chown(&dest, Some(65534), Some(65534)).unwrap();
                std::os::unix::fs::chown(to, Some(65534), Some(65534)).unwrap();
            }
        }
    }
}

/// Runs a future on a small runtime of its own (tests are plain `#[test]`s).
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// The same bouncers from two sources: labels equal, times equal to the microsecond.
pub fn assert_same_bouncers(sqlite: &BouncerSnapshot, other: &BouncerSnapshot) {
    assert_eq!(sqlite.schema, other.schema);
    assert_eq!(other.bad_rows, 0);
    assert_eq!(sqlite.bouncers.len(), other.bouncers.len());
    let close = |a: Option<f64>, b: Option<f64>, what: &str, name: &str| match (a, b) {
        (Some(a), Some(b)) => assert!((a - b).abs() < 2e-6, "{name} {what}: {a} vs {b}"),
        (a, b) => assert_eq!(a, b, "{name} {what}"),
    };
    for (s, o) in sqlite.bouncers.iter().zip(&other.bouncers) {
        let strip = |b: &Bouncer| Bouncer {
            last_pull: match b.last_pull {
                LastPull::At(_) => LastPull::At(0.0),
                x => x,
            },
            registered_at: None,
            last_usage_metrics: None,
            ..b.clone()
        };
        assert_eq!(strip(s), strip(o));
        close(
            s.last_pull_timestamp(),
            o.last_pull_timestamp(),
            "last_pull",
            s.name(),
        );
        close(s.registered_at, o.registered_at, "registered_at", s.name());
        close(
            s.last_usage_metrics,
            o.last_usage_metrics,
            "usage",
            s.name(),
        );
        let now = 1_704_200_000.0;
        close(s.age_seconds(now), o.age_seconds(now), "age", s.name());
    }
}

/// Bouncer configuration checks against a server database, through the exporter binary: a Go bouncer's file
/// whose key `register` put in the `bouncers` table (as the sha512 hex it is given) passes `key_registered`
/// and is matched to bouncer `keyed`; the same file with another key fails it.
pub fn assert_config_key_lookup(db_url: &str, register: impl FnOnce(&str)) {
    use sha2::{Digest, Sha512};
    const KEY: &str = "cfgKey-0123456789abcdefXYZ";
    let hash: String = Sha512::digest(KEY.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    register(&hash);
    let dir = tempfile::tempdir().unwrap();
    let bouncers = dir.path().join("bouncers");
    std::fs::create_dir(&bouncers).unwrap();
    let file = |key: &str| {
        format!("api_url: http://127.0.0.1:9/\napi_key: {key}\nupdate_frequency: 10s\n")
    };
    std::fs::write(bouncers.join("crowdsec-firewall-bouncer.yaml"), file(KEY)).unwrap();
    std::fs::write(
        bouncers.join("crowdsec-custom-bouncer.yaml"),
        file("not-the-registered-key"),
    )
    .unwrap();
    let args = [
        "--lapi.db",
        db_url,
        "--bouncers.config-dir",
        bouncers.to_str().unwrap(),
        "--lapi.url",
        "http://127.0.0.1:9/",
    ];
    let exporter = super::real::ExporterProc::start(&args, dir.path());
    let samples = super::parse_samples(&exporter.metrics());
    let check = |name: &str| {
        let path = bouncers.join(name).display().to_string();
        super::value(
            &samples,
            "crowdsec_bouncer_config_check",
            &[("path", path.as_str()), ("check", "key_registered")],
        )
    };
    assert_eq!(
        check("crowdsec-firewall-bouncer.yaml"),
        Some(1.0),
        "registered key found; exporter log:\n{}\nmetrics:\n{}",
        exporter.proc.log_text(),
        samples
            .iter()
            .filter(|s| s.name.starts_with("crowdsec_bouncer_config")
                || s.name.starts_with("crowdsec_exporter_source"))
            .map(|s| format!("{} {:?} {}", s.name, s.labels, s.value))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert_eq!(
        check("crowdsec-custom-bouncer.yaml"),
        Some(0.0),
        "unknown key not found"
    );
    let fw = bouncers
        .join("crowdsec-firewall-bouncer.yaml")
        .display()
        .to_string();
    assert!(
        samples
            .iter()
            .any(|s| s.name == "crowdsec_bouncer_config_valid"
                && s.labels.get("path") == Some(&fw)
                && s.labels.get("bouncer").map(String::as_str) == Some("keyed")),
        "the file is matched to its bouncer"
    );
    assert!(
        !exporter.proc.log_text().contains(&hash),
        "the key hash never reaches the logs"
    );
}
