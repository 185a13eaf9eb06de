//! End to end (issue 15, host evidence): the checks `running` and `log` and `crowdsec_bouncer_log_errors` against
//! the real CrowdSec 1.4.6 LAPI and Debian 12's real crowdsec-firewall-bouncer 0.0.25 (iptables mode, stub
//! `iptables`/`ipset` first in its PATH, as tests/e2e_bouncer_oracle.rs runs it) and crowdsec-custom-bouncer
//! 0.0.15, both with `log_mode: file` and `log_dir` in a temp folder, so their own log files are the evidence.
//!
//! Phases: both pull (running 1, log 1, no errors); the firewall bouncer stopped (running 0, `diagnose` says "not
//! running"); both keys deleted and re-registered under other keys (the firewall bouncer, restarted, logs the 403
//! and exits; the custom one keeps running and logs a 403 each pull: log 0, class auth); the LAPI stopped (class
//! connect); and the exporter in its own PID namespace (`unshare --pid --mount-proc`), where no systemd runs:
//! running is skipped with the why, never a guess. This machine has no systemd, so the unit evidence is proven by
//! the parser's unit tests (src/crowdsec/host_evidence/systemd.rs) only.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::real::*;
use crate::common::*;

const FW_KEY: &str = "e2eHostFwKey0123456789abcdefABCD";
const CU_KEY: &str = "e2eHostCuKey0123456789abcdefABCD";

fn stubs(dir: &Path) -> PathBuf {
    let bin = dir.join("stub-bin");
    std::fs::create_dir_all(&bin).unwrap();
    for name in ["iptables", "ip6tables", "ipset"] {
        let p = bin.join(name);
        std::fs::write(&p, "#!/bin/sh\nexit 0\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    bin
}

struct Setup {
    dir: PathBuf,
    logs: PathBuf,
    fw: PathBuf,
    custom: PathBuf,
    stub_bin: PathBuf,
}

impl Setup {
    fn fw_proc(&self) -> Proc {
        let mut cmd = Command::new(part("crowdsec-firewall-bouncer"));
        cmd.arg("-c").arg(&self.fw).env(
            "PATH",
            format!("{}:/usr/sbin:/usr/bin:/sbin:/bin", self.stub_bin.display()),
        );
        Proc::spawn(&mut cmd, self.dir.join("fw.stderr"))
    }

    fn custom_proc(&self) -> Proc {
        Proc::spawn(
            Command::new(part("crowdsec-custom-bouncer"))
                .arg("-c")
                .arg(&self.custom),
            self.dir.join("custom.stderr"),
        )
    }
}

fn diagnose(args: &[&str], wrap: &[&str]) -> (String, serde_json::Value) {
    let exe = env!("CARGO_BIN_EXE_crowdsec-bouncer-exporter");
    let run = |output: &str| {
        let mut cmd = match wrap.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(exe);
                c
            }
            None => Command::new(exe),
        };
        let out = cmd
            .args(args)
            .args(["diagnose", "--output", output])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    let text = run("text");
    let json = run("json");
    (
        text,
        serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}")),
    )
}

fn file_json<'a>(report: &'a serde_json::Value, path: &Path) -> &'a serde_json::Value {
    report["config_files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == path.display().to_string())
        .unwrap_or_else(|| panic!("no report for {}: {report:#}", path.display()))
}

#[test]
fn running_and_log_from_the_real_bouncers() {
    let started = Instant::now();
    let mut lapi = Lapi::start();
    lapi.add_bouncer("fw", FW_KEY);
    lapi.add_bouncer("custom", CU_KEY);
    let dir = lapi.dir.path().join("host");
    let bouncers = dir.join("bouncers");
    let logs = dir.join("logs");
    std::fs::create_dir_all(&bouncers).unwrap();
    std::fs::create_dir_all(&logs).unwrap();
    let url = lapi.url();
    let common = format!(
        "api_url: {url}\nupdate_frequency: 1s\nlog_mode: file\nlog_dir: {}\nlog_level: info\n",
        logs.display()
    );
    let s = Setup {
        fw: bouncers.join("crowdsec-firewall-bouncer.yaml"),
        custom: bouncers.join("crowdsec-custom-bouncer.yaml"),
        stub_bin: stubs(&dir),
        logs: logs.clone(),
        dir: dir.clone(),
    };
    std::fs::write(
        &s.fw,
        format!("{common}api_key: {FW_KEY}\nmode: iptables\ndisable_ipv6: true\niptables_chains:\n  - CSBE_HOST\npid_dir: {}\n", dir.display()),
    )
    .unwrap();
    std::fs::write(
        &s.custom,
        format!(
            "{common}api_key: {CU_KEY}\nbin_path: /bin/true\npiddir: {}\n",
            dir.display()
        ),
    )
    .unwrap();
    for f in [&s.fw, &s.custom] {
        std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let fw_path = s.fw.display().to_string();
    let cu_path = s.custom.display().to_string();
    let config = lapi.config.display().to_string();
    let bouncers_s = bouncers.display().to_string();
    let args = [
        "--crowdsec.config",
        &config,
        "--lapi.name",
        "e2e",
        "--lapi.cache-interval",
        "1s",
        "--bouncers.config-dir",
        &bouncers_s,
        "--bouncers.check-interval",
        "1s",
    ];

    // 1. Both bouncers pull: running 1, log 1, every class 0.
    let mut fw = s.fw_proc();
    let mut custom = s.custom_proc();
    let exporter = ExporterProc::start(&args, &dir);
    let samples = || parse_samples(&exporter.metrics());
    let check = |path: &str, check: &str| {
        value(
            &samples(),
            "crowdsec_bouncer_config_check",
            &[("path", path), ("check", check)],
        )
    };
    let errors = |path: &str, class: &str| {
        value(
            &samples(),
            "crowdsec_bouncer_log_errors",
            &[("path", path), ("class", class)],
        )
    };
    let wait = |what: &str, ok: &dyn Fn() -> bool| {
        wait_until(what, Duration::from_secs(20), ok);
    };
    wait("both bouncers running with clean logs", &|| {
        [&fw_path, &cu_path]
            .iter()
            .all(|p| check(p, "running") == Some(1.0) && check(p, "log") == Some(1.0))
    });
    for p in [&fw_path, &cu_path] {
        for class in ["auth", "tls", "connect", "config"] {
            assert_eq!(errors(p, class), Some(0.0), "{p} {class}");
        }
    }
    assert!(
        logs.join("crowdsec-firewall-bouncer.log").exists()
            && logs.join("crowdsec-custom-bouncer.log").exists(),
        "the bouncers write their own logs"
    );

    // 2. The firewall bouncer stopped: running 0, and diagnose says so with a fix.
    fw.kill();
    wait("running 0 for the stopped bouncer", &|| {
        check(&fw_path, "running") == Some(0.0)
    });
    assert_eq!(check(&cu_path, "running"), Some(1.0));
    let (text, json) = diagnose(&args, &[]);
    assert!(
        text.contains("not running: none of the")
            && text.contains(&format!("runs with `-c {fw_path}`")),
        "{text}"
    );
    // A stopped bouncer's correct file is no invalid file.
    assert!(
        !text.contains(&format!("configuration {fw_path} is invalid")),
        "{text}"
    );
    let running = file_json(&json, &s.fw)["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "running")
        .unwrap()
        .clone();
    assert_eq!(running["status"], "fail", "{running:#}");
    assert!(running["fix"].as_str().unwrap().contains("start it"));

    // 3. Both re-registered under other keys: LAPI refuses the files' keys (403 "access forbidden").
    for (name, key) in [
        ("fw", "e2eHostOtherFw0123456789abcdef"),
        ("custom", "e2eHostOtherCu0123456789abcdef"),
    ] {
        lapi.cscli(&["bouncers", "delete", name]);
        lapi.add_bouncer(name, key);
    }
    fw = s.fw_proc();
    // Debian's 0.0.25 logs the 403 at start-up and exits (tomb "stream api init failed"), status 0.
    wait_until(
        "the firewall bouncer to exit on the 403",
        Duration::from_secs(15),
        || fw.child.try_wait().ok().flatten().is_some(),
    );
    let fw_log = std::fs::read_to_string(logs.join("crowdsec-firewall-bouncer.log")).unwrap();
    assert!(fw_log.contains("API error: access forbidden"), "{fw_log}");
    wait("log 0 with class auth for both", &|| {
        [&fw_path, &cu_path]
            .iter()
            .all(|p| check(p, "log") == Some(0.0) && errors(p, "auth").unwrap_or(0.0) >= 1.0)
    });
    // The custom bouncer keeps running on a refused key: running alone would not tell.
    assert_eq!(check(&cu_path, "running"), Some(1.0));
    assert_eq!(check(&fw_path, "running"), Some(0.0));
    let (text, json) = diagnose(&args, &[]);
    let fw_json = file_json(&json, &s.fw);
    assert!(
        fw_json["log_errors"]["auth"].as_u64().unwrap() >= 1,
        "{fw_json:#}"
    );
    let log_check = fw_json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "log")
        .unwrap();
    assert!(
        log_check["detail"]
            .as_str()
            .unwrap()
            .contains("access forbidden")
            && log_check["fix"]
                .as_str()
                .unwrap()
                .contains("cscli bouncers add"),
        "{log_check:#}"
    );
    // No key in any output (a key in a log line would be redacted; these logs hold none, the files do).
    let metrics_text = exporter.metrics();
    for out in [&text, &json.to_string(), &metrics_text] {
        assert!(!out.contains(FW_KEY) && !out.contains(CU_KEY));
    }
    // promtool's linter accepts the exposition with the new family.
    assert!(metrics_text.contains("crowdsec_bouncer_log_errors{"));
    assert_promtool_check_metrics_clean(&metrics_text);

    // 4. The LAPI stopped (keys valid again): class connect in both logs.
    for (name, key) in [("fw", FW_KEY), ("custom", CU_KEY)] {
        lapi.cscli(&["bouncers", "delete", name]);
        lapi.add_bouncer(name, key);
    }
    lapi.stop();
    fw = s.fw_proc();
    wait("class connect in both logs", &|| {
        [&fw_path, &cu_path]
            .iter()
            .all(|p| errors(p, "connect").unwrap_or(0.0) >= 1.0 && check(p, "log") == Some(0.0))
    });
    let fw_log = std::fs::read_to_string(logs.join("crowdsec-firewall-bouncer.log")).unwrap();
    assert!(fw_log.contains("connect: connection refused"), "{fw_log}");

    // 5. Own PID namespace, no systemd: no process visible but its own, so `running` is skipped with the why (no
    //    series), while `log` still reads the files.
    let (_, json) = diagnose(&args, &["unshare", "--pid", "--fork", "--mount-proc"]);
    let cu_json = file_json(&json, &s.custom);
    assert!(
        cu_json["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["check"] != "running"),
        "{cu_json:#}"
    );
    let why = cu_json["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "running")
        .unwrap_or_else(|| panic!("{cu_json:#}"))["why"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        why.contains("own PID namespace") && why.contains("systemd does not run here"),
        "{why}"
    );
    assert!(cu_json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["check"] == "log"));

    custom.kill();
    fw.kill();
    eprintln!("host checks e2e took {:?}", started.elapsed());
    let _ = &s.logs;
}

/// A binary of the extracted Debian parts under `usr/sbin` (nginx, apache2).
fn sbin(name: &str) -> PathBuf {
    let root = std::env::var_os("PARTS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/parts"));
    let p = root.join("root/usr/sbin").join(name);
    assert!(
        p.exists(),
        "{} is missing: run scripts/fetch-parts.sh",
        p.display()
    );
    p
}

/// The parts' shared libraries (libpcre3 ships in /lib, the others in /usr/lib).
fn parts_lib() -> String {
    let root = sbin("nginx")
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .to_owned();
    format!(
        "{}:{}",
        root.join("usr/lib/x86_64-linux-gnu").display(),
        root.join("lib/x86_64-linux-gnu").display()
    )
}

fn reports(file: &Path) -> crowdsec_bouncer_exporter::crowdsec::bouncer_files::checks::FileReport {
    use crowdsec_bouncer_exporter::sources::bouncer_config::BouncerConfigSource;
    let source = std::sync::Arc::new(
        BouncerConfigSource::new(
            vec![],
            vec![file.to_owned()],
            vec![],
            Duration::from_secs(2),
        )
        .unwrap(),
    );
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(source.read())
        .unwrap()
        .files
        .remove(0)
}

fn running_of(
    r: &crowdsec_bouncer_exporter::crowdsec::bouncer_files::checks::FileReport,
) -> (String, String) {
    use crowdsec_bouncer_exporter::crowdsec::bouncer_files::checks::Check;
    match r.check(Check::Running) {
        Some(c) => (format!("{:?}", c.status), c.detail.clone()),
        None => (
            "Skipped".into(),
            r.skipped(Check::Running)
                .map(|s| s.why.clone())
                .unwrap_or_default(),
        ),
    }
}

/// Debian 12's real nginx 1.22 with its real Lua module (libnginx-mod-http-lua), started on 127.0.0.1 with a
/// temp prefix: without the CrowdSec include, `running` is 0 ("module not loaded"); with an included
/// `crowdsec_nginx.conf` whose init_by_lua_block calls `cs.init("<the bouncer file>")` (the shape of
/// cs-nginx-bouncer b1c37a9a nginx/crowdsec_nginx.conf), `running` is 1. The CrowdSec Lua library itself is not
/// in Debian (it needs lua-resty-http, which Debian does not ship), so the block loads it with `pcall`: what is
/// proven is the process and configuration reading, not that the library works. Debian's apache2 runs without
/// the module (running 0), its conf-enabled folder included through `${CS_CONF_DIR}` of its environment; with the
/// module, apache would refuse to start, since no mod_crowdsec exists here.
#[test]
fn module_bouncers_in_real_web_servers() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let lib = parts_lib();
    let modules = sbin("nginx")
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("lib/nginx/modules");
    let bouncer = d.join("crowdsec-nginx-bouncer.conf");
    std::fs::write(
        &bouncer,
        "API_URL=http://127.0.0.1:1\nAPI_KEY=e2eNginxKey0123456789abcdef\n",
    )
    .unwrap();
    std::fs::create_dir_all(d.join("conf/conf.d")).unwrap();
    std::fs::create_dir_all(d.join("logs")).unwrap();
    let port = free_port();
    let conf = d.join("conf/nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "load_module {m}/ndk_http_module.so;\nload_module {m}/ngx_http_lua_module.so;\npid {d}/nginx.pid;\nerror_log {d}/logs/error.log;\ndaemon off;\nevents {{ worker_connections 16; }}\nhttp {{\n  access_log off;\n  lua_package_path '{lua}/?.lua;;';\n  client_body_temp_path {d}/tmp; proxy_temp_path {d}/tmp; fastcgi_temp_path {d}/tmp; uwsgi_temp_path {d}/tmp; scgi_temp_path {d}/tmp;\n  include conf.d/*.conf;\n  server {{ listen 127.0.0.1:{port}; location / {{ return 200 ok; }} }}\n}}\n",
            m = modules.display(),
            d = d.display(),
            // lua-resty-core, which Debian's Lua module loads at start.
            lua = modules.parent().unwrap().parent().unwrap().parent().unwrap().join("share/lua/5.1").display()
        ),
    )
    .unwrap();
    let start = || {
        let p = Proc::spawn(
            Command::new(sbin("nginx"))
                .args([
                    "-p",
                    &d.display().to_string(),
                    "-c",
                    &conf.display().to_string(),
                    "-e",
                ])
                .arg(d.join("logs/error.log"))
                .env("LD_LIBRARY_PATH", &lib),
            d.join(format!("nginx-{}.out", free_port())),
        );
        wait_until("nginx to listen", Duration::from_secs(10), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        p
    };

    // Without the CrowdSec include.
    let mut nginx = start();
    let r = reports(&bouncer);
    let (status, detail) = running_of(&r);
    assert_eq!(status, "Fail", "{detail}");
    assert!(
        detail.starts_with("module not loaded: nginx runs"),
        "{detail}"
    );
    nginx.terminate(Duration::from_secs(5));

    // With it, included through the conf.d glob.
    std::fs::write(
        d.join("conf/conf.d/crowdsec_nginx.conf"),
        format!(
            "lua_shared_dict crowdsec_cache 1m;\ninit_by_lua_block {{\n        local ok, cs = pcall(require, \"crowdsec\")\n        if ok then cs.init(\"{}\", \"crowdsec-nginx-bouncer/e2e\") end\n}}\n",
            bouncer.display()
        ),
    )
    .unwrap();
    let mut nginx = start();
    let r = reports(&bouncer);
    let (status, detail) = running_of(&r);
    assert_eq!(status, "Pass", "{detail}");
    assert!(
        detail.contains("loads the CrowdSec module for this file: init_by_lua_block in")
            && detail.contains("crowdsec_nginx.conf"),
        "{detail}"
    );
    // Its error log is the module's log: read, no CrowdSec line in it.
    use crowdsec_bouncer_exporter::crowdsec::bouncer_files::checks::{Check, Status};
    let log = r.check(Check::Log).unwrap_or_else(|| panic!("{r:#?}"));
    assert_eq!(log.status, Status::Pass, "{log:?}");
    assert!(log.detail.contains("logs/error.log"), "{log:?}");
    nginx.terminate(Duration::from_secs(5));

    // Stopped: no nginx at all.
    let r = reports(&bouncer);
    let (status, detail) = running_of(&r);
    assert_eq!(status, "Fail", "{detail}");
    assert!(detail.contains("is nginx or openresty"), "{detail}");

    // apache2 without the module.
    let apache_file = d.join("crowdsec-apache2-bouncer.conf");
    std::fs::write(
        &apache_file,
        "CrowdsecURL http://127.0.0.1:1\nCrowdsecAPIKey e2eApacheKey0123456789abcdef\n",
    )
    .unwrap();
    let amods = sbin("apache2")
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("lib/apache2/modules");
    let aroot = d.join("apache");
    std::fs::create_dir_all(aroot.join("conf-enabled")).unwrap();
    let aport = free_port();
    std::fs::write(
        aroot.join("httpd.conf"),
        format!(
            "ServerRoot {r}\nLoadModule mpm_event_module {m}/mod_mpm_event.so\nLoadModule authz_core_module {m}/mod_authz_core.so\nListen 127.0.0.1:{aport}\nPidFile {r}/httpd.pid\nErrorLog {r}/error.log\nServerName localhost\nDocumentRoot {r}\nUser nobody\nGroup nogroup\nIncludeOptional ${{CS_CONF_DIR}}/*.conf\n",
            r = aroot.display(),
            m = amods.display()
        ),
    )
    .unwrap();
    // The bouncer file included, the module not loaded.
    std::fs::write(
        aroot.join("conf-enabled/crowdsec.conf"),
        format!("# Include {}\n", apache_file.display()),
    )
    .unwrap();
    let mut apache = Proc::spawn(
        Command::new(sbin("apache2"))
            .args([
                "-d",
                &aroot.display().to_string(),
                "-f",
                &aroot.join("httpd.conf").display().to_string(),
                "-DFOREGROUND",
            ])
            .env("LD_LIBRARY_PATH", &lib)
            .env("CS_CONF_DIR", aroot.join("conf-enabled")),
        d.join("apache.out"),
    );
    wait_until("apache to listen", Duration::from_secs(10), || {
        std::net::TcpStream::connect(("127.0.0.1", aport)).is_ok()
    });
    let r = reports(&apache_file);
    let (status, detail) = running_of(&r);
    assert_eq!(status, "Fail", "{detail}");
    assert!(
        detail.starts_with("module not loaded: apache2 runs"),
        "{detail}"
    );
    // Its include through `${CS_CONF_DIR}` resolved from the process's environment (/proc/<pid>/environ): the
    // one file there was read (unresolved, the answer would be "not checked").
    assert!(detail.contains("and the 1 files it includes"), "{detail}");
    apache.terminate(Duration::from_secs(5));
}

/// The files a walk read, each once, in the order first read (as `nginx -T` and apache's DUMP_INCLUDES list them).
fn first_reads(files: &[PathBuf]) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    for f in files {
        if !out.contains(f) {
            out.push(f.clone());
        }
    }
    out
}

/// The real nginx as the oracle of the walker's tokenizer (src/crowdsec/host_evidence/webserver.rs
/// `nginx_reads_words_as_ngx_conf_read_token`): `nginx -T` dumps every file it reads (`# configuration file
/// <path>:`, each once), and the walk reads the same files in the same order, through quoted `;`/`{`/`}`, a
/// quoted include path with `;`, unquoted ones with `#` and `}` (the walker once ended the word at `}` and lost
/// that include), a commented-out include and a quoted glob.
#[test]
fn nginx_includes_as_nginx_dumps_them() {
    use crowdsec_bouncer_exporter::sources::host_probes::{
        walk_on_disk, Start, WebServer as Server,
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("conf/conf.d")).unwrap();
    let conf = d.join("conf/nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "pid {d}/nginx.pid;\nerror_log {d}/error.log;\nevents {{ worker_connections 16; }}\nhttp {{\n  log_format j escape=json '{{' '\"t\":\"$time_iso8601\"' '}}';\n  map $uri $semi {{ default \";\"; }}\n  include \"conf.d/a;b.conf\";\n  include conf.d/x#y.conf; include conf.d/x}}y.inc; # include conf.d/never.inc;\n  include 'conf.d/*.conf';\n}}\n",
            d = d.display()
        ),
    )
    .unwrap();
    for (name, text) in [
        ("a;b.conf", "map $uri $z { default \"}\"; }\n"),
        ("x#y.conf", "add_header X \"{\";\n"),
        ("c.conf", "access_log off;\n"),
        ("x}y.inc", "access_log off;\n"),
        ("never.inc", "access_log off;\n"),
    ] {
        std::fs::write(d.join("conf/conf.d").join(name), text).unwrap();
    }
    let out = Command::new(sbin("nginx"))
        .arg("-T")
        .arg("-p")
        .arg(d)
        .arg("-c")
        .arg(&conf)
        .arg("-e")
        .arg(d.join("error.log"))
        .env("LD_LIBRARY_PATH", parts_lib())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dumped: Vec<PathBuf> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("# configuration file ")?.strip_suffix(':'))
        .map(PathBuf::from)
        .collect();
    assert_eq!(dumped.len(), 5, "{stdout}");
    let start = Start {
        main: conf.clone(),
        base: d.join("conf"),
        ..Start::default()
    };
    let walk = walk_on_disk(Server::Nginx, &start, Path::new("/none"));
    assert_eq!(first_reads(&walk.files), dumped);
}

/// The real apache2 as the oracle of the walker's conditional sections and `${VAR}`
/// (src/crowdsec/host_evidence/webserver.rs `apache_sections_as_apache_decides_them`,
/// `apache_variables_as_ap_resolve_env`): `apache2 -t -D DUMP_INCLUDES` lists every file it includes, in order,
/// and the walk reads the same files, for each set of `-D` defines and environment: `<IfModule>` by symbol and by
/// source name, negated, of a built-in module and of one loaded before, nested `<IfDefine>`, `Define`d and
/// environment variables, an undefined variable kept as written (nothing included), a quoted path with a space.
#[test]
fn apache_includes_as_apache_dumps_them() {
    use crowdsec_bouncer_exporter::sources::host_probes::{walk_on_disk, Env, Start, WebServer};
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("inc")).unwrap();
    for n in ["a", "b", "c", "d", "e", "f", "g", "h", "sp ace"] {
        std::fs::write(root.join(format!("inc/{n}.conf")), format!("# {n}\n")).unwrap();
    }
    let mods = sbin("apache2")
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("lib/apache2/modules");
    let conf = root.join("httpd.conf");
    std::fs::write(
        &conf,
        format!(
            "ServerRoot {r}\nLoadModule mpm_event_module {m}/mod_mpm_event.so\nLoadModule authz_core_module {m}/mod_authz_core.so\nListen 127.0.0.1:{port}\nPidFile {r}/httpd.pid\nErrorLog {r}/error.log\nServerName localhost\n\
<IfModule authz_core_module>\n  Include inc/a.conf\n</IfModule>\n<IfModule !authz_core_module>\n  Include inc/b.conf\n</IfModule>\n\
<IfModule ssl_module>\n  Include inc/c.conf\n</IfModule>\n<IfModule mod_version.c>\n  Include inc/d.conf\n  <IfDefine FOO>\n    Include inc/e.conf\n  </IfDefine>\n\
  <IfDefine !FOO>\n    Include inc/f.conf\n  </IfDefine>\n</IfModule>\nDefine BAR inc\nInclude ${{BAR}}/g.conf\nIncludeOptional ${{MYDIR}}/h.conf\nInclude \"inc/sp ace.conf\"\n",
            r = root.display(),
            m = mods.display(),
            port = free_port()
        ),
    )
    .unwrap();
    for (defines, env) in [
        (vec![], vec![]),
        (vec!["FOO"], vec![]),
        (
            vec![],
            vec![("MYDIR", root.join("inc").display().to_string())],
        ),
    ] {
        let mut cmd = Command::new(sbin("apache2"));
        cmd.arg("-d")
            .arg(root)
            .arg("-f")
            .arg(&conf)
            .args(["-t", "-D", "DUMP_INCLUDES"]);
        for d in &defines {
            cmd.args(["-D", d]);
        }
        let env: Vec<(String, String)> = env.into_iter().map(|(n, v)| (n.to_owned(), v)).collect();
        cmd.env_clear()
            .env("LD_LIBRARY_PATH", parts_lib())
            .envs(env.iter().cloned());
        let out = cmd.output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // `  (*) /main.conf`, then `    (<line>) /included.conf` for each include.
        let dumped: Vec<PathBuf> = stdout
            .lines()
            .filter_map(|l| {
                Some(PathBuf::from(
                    l.trim().strip_prefix('(')?.split_once(") ")?.1,
                ))
            })
            .collect();
        let mut vars = env.clone();
        vars.push(("LD_LIBRARY_PATH".into(), parts_lib()));
        let start = Start {
            main: conf.clone(),
            base: root.to_owned(),
            defines: defines.iter().map(|d| d.to_string()).collect(),
            debian_apache2: true,
            env: Env {
                vars,
                complete: true,
            },
        };
        let walk = walk_on_disk(WebServer::Apache, &start, Path::new("/none"));
        assert_eq!(walk.files, dumped, "-D {defines:?}, env {env:?}: {stdout}");
        assert!(walk.undecided.is_empty(), "{walk:?}");
    }
}
