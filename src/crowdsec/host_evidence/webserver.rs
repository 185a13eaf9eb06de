//! Whether a web server's configuration loads the CrowdSec module for a bouncer file, read the way the server
//! reads it: from its main file through every `include` (nginx) or `Include`/`IncludeOptional` (apache), globs
//! expanded in sorted order, relative paths against the server's prefix / ServerRoot. Bounded: at most
//! [`MAX_FILES`] files, [`MAX_DEPTH`] levels of includes. The reading itself is the caller's ([`ConfFs`]).
//!
//! What "loads the module for this file" means, from the bouncers' own files:
//! - nginx/openresty: cs-nginx-bouncer b1c37a9a `nginx/crowdsec_nginx.conf` (installed in
//!   `/etc/nginx/conf.d/`, which Debian's nginx.conf includes) runs `cs = require "crowdsec"` and
//!   `cs.init("/etc/crowdsec/bouncers/crowdsec-nginx-bouncer.conf", ...)` in an `init_by_lua_block`: the file is
//!   loaded when a Lua block (or directive) of the effective configuration names its path.
//! - apache: `LoadModule crowdsec_module <path>` and the bouncer file (its `CrowdsecURL`/`CrowdsecAPIKey`
//!   directives) included in the configuration.

use std::path::{Path, PathBuf};

pub const MAX_FILES: usize = 256;
pub const MAX_DEPTH: usize = 16;

/// The file reads a walk needs.
pub trait ConfFs {
    /// The file's text (`None`: missing or unreadable).
    fn read(&self, path: &Path) -> Option<String>;
    /// The files a pattern with `*`/`?`/`[` matches, sorted (nginx and apache both sort glob results).
    fn glob(&self, pattern: &Path) -> Vec<PathBuf>;
}

/// What a walk found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Walk {
    /// Files read, in order.
    pub files: Vec<PathBuf>,
    /// Included files that could not be read (the answer may be incomplete).
    pub unreadable: Vec<PathBuf>,
    /// Where the module is loaded for the bouncer file, e.g. `init_by_lua_block in /etc/nginx/conf.d/crowdsec_nginx.conf`.
    pub loads: Option<String>,
    /// nginx `error_log` paths (first argument), apache `ErrorLog`, in order met.
    pub error_logs: Vec<PathBuf>,
}

fn is_glob(p: &Path) -> bool {
    p.to_string_lossy().contains(['*', '?', '['])
}

fn absolute(base: &Path, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() {
        p.to_owned()
    } else {
        base.join(p)
    }
}

/// nginx tokens: words (quotes removed, `\` escapes kept as nginx keeps them), `;`, `{`, `}`; `#` starts a
/// comment where a token may start. The body of a `*_by_lua_block` is one raw token (its Lua code).
fn nginx_tokens(text: &str) -> Vec<String> {
    let b: Vec<char> = text.chars().collect();
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '#' {
            while i < b.len() && b[i] != '\n' {
                i += 1;
            }
        } else if c == ';' || c == '}' {
            out.push(c.to_string());
            i += 1;
        } else if c == '{' {
            // Lua block: raw text up to the matching brace, skipping Lua strings and comments.
            if out.last().is_some_and(|t| t.ends_with("_by_lua_block")) {
                let mut depth = 1;
                let start = i + 1;
                i += 1;
                while i < b.len() && depth > 0 {
                    match b[i] {
                        '{' => depth += 1,
                        '}' => depth -= 1,
                        q @ ('"' | '\'') => {
                            i += 1;
                            while i < b.len() && b[i] != q {
                                if b[i] == '\\' {
                                    i += 1;
                                }
                                i += 1;
                            }
                        }
                        '-' if b.get(i + 1) == Some(&'-') => {
                            while i < b.len() && b[i] != '\n' {
                                i += 1;
                            }
                        }
                        _ => {}
                    }
                    i += 1;
                }
                // The code is the directive's argument, then the (empty) block.
                out.push(b[start..i.saturating_sub(1).max(start)].iter().collect());
                out.push("{".into());
                out.push("}".into());
            } else {
                out.push("{".into());
                i += 1;
            }
        } else if c == '"' || c == '\'' {
            let mut s = String::new();
            i += 1;
            while i < b.len() && b[i] != c {
                if b[i] == '\\' && i + 1 < b.len() {
                    s.push(b[i]);
                    i += 1;
                }
                s.push(b[i]);
                i += 1;
            }
            i += 1;
            out.push(s);
        } else {
            let mut s = String::new();
            while i < b.len() && !b[i].is_whitespace() && !matches!(b[i], ';' | '{' | '}') {
                if b[i] == '\\' && i + 1 < b.len() {
                    s.push(b[i]);
                    i += 1;
                }
                s.push(b[i]);
                i += 1;
            }
            out.push(s);
        }
    }
    out
}

/// Walks an nginx configuration from `main`; relative includes resolve against `conf_dir` (nginx's
/// `ngx_conf_full_name` with the configuration prefix: the folder of the main file). `target` is the bouncer file.
pub fn nginx(main: &Path, conf_dir: &Path, fs: &dyn ConfFs, target: &Path) -> Walk {
    let mut walk = Walk::default();
    nginx_file(main, conf_dir, fs, &target.to_string_lossy(), &mut walk, 0);
    walk
}

fn nginx_file(
    file: &Path,
    conf_dir: &Path,
    fs: &dyn ConfFs,
    target: &str,
    walk: &mut Walk,
    depth: usize,
) {
    if depth > MAX_DEPTH || walk.files.len() >= MAX_FILES {
        return;
    }
    let Some(text) = fs.read(file) else {
        walk.unreadable.push(file.to_owned());
        return;
    };
    walk.files.push(file.to_owned());
    let tokens = nginx_tokens(&text);
    // Directives: words up to `;` or `{`.
    let mut directive: Vec<String> = Vec::new();
    for t in tokens {
        match t.as_str() {
            ";" | "{" => {
                if let Some((name, args)) = directive.split_first() {
                    if name == "include" {
                        if let Some(pat) = args.first() {
                            let pat = absolute(conf_dir, pat);
                            let files = if is_glob(&pat) {
                                fs.glob(&pat)
                            } else {
                                vec![pat]
                            };
                            for f in files {
                                nginx_file(&f, conf_dir, fs, target, walk, depth + 1);
                            }
                        }
                    } else if name == "error_log" {
                        // A relative error_log is relative to the prefix (`-p`), not to the configuration's
                        // folder: not followed rather than guessed. `stderr`, `syslog:`, `memory:` are no file.
                        if let Some(p) = args.first().filter(|p| p.starts_with('/')) {
                            walk.error_logs.push(PathBuf::from(p));
                        }
                    } else if walk.loads.is_none()
                        && !target.is_empty()
                        && args.iter().any(|a| a.contains(target))
                        && (name.contains("lua") || args.iter().any(|a| a.contains("crowdsec")))
                    {
                        walk.loads = Some(format!("{name} in {}", file.display()));
                    }
                }
                directive.clear();
            }
            "}" => directive.clear(),
            _ => directive.push(t),
        }
    }
}

/// Walks an apache configuration from `main`; relative paths resolve against `server_root`.
pub fn apache(main: &Path, server_root: &Path, fs: &dyn ConfFs, target: &Path) -> Walk {
    let mut walk = Walk::default();
    let mut module = None;
    let mut included = None;
    apache_file(
        main,
        server_root,
        fs,
        target,
        &mut walk,
        &mut module,
        &mut included,
        0,
    );
    if let (Some(m), Some(i)) = (module, included) {
        walk.loads = Some(format!("{m}; {i}"));
    }
    walk
}

#[allow(clippy::too_many_arguments)]
fn apache_file(
    file: &Path,
    root: &Path,
    fs: &dyn ConfFs,
    target: &Path,
    walk: &mut Walk,
    module: &mut Option<String>,
    included: &mut Option<String>,
    depth: usize,
) {
    if depth > MAX_DEPTH || walk.files.len() >= MAX_FILES {
        return;
    }
    let Some(text) = fs.read(file) else {
        walk.unreadable.push(file.to_owned());
        return;
    };
    walk.files.push(file.to_owned());
    if file == target {
        *included = Some(format!("{} included", target.display()));
    }
    // Lines joined at a trailing backslash; `#` comments only at a line's start.
    let joined = text.replace("\\\n", " ");
    for line in joined.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut words = line.split_whitespace();
        let name = words.next().unwrap_or("").to_ascii_lowercase();
        let args: Vec<&str> = words.map(|w| w.trim_matches('"')).collect();
        match name.as_str() {
            "include" | "includeoptional" => {
                if let Some(p) = args.first() {
                    let p = absolute(root, p);
                    let files = if is_glob(&p) { fs.glob(&p) } else { vec![p] };
                    for f in files {
                        apache_file(&f, root, fs, target, walk, module, included, depth + 1);
                    }
                }
            }
            "loadmodule" if args.first() == Some(&"crowdsec_module") => {
                *module = Some(format!("LoadModule crowdsec_module in {}", file.display()));
            }
            "errorlog" => {
                if let Some(p) = args.first() {
                    walk.error_logs.push(absolute(root, p));
                }
            }
            _ => {}
        }
    }
}

/// A line of a web server's error log written by the CrowdSec Lua module: nginx prefixes `ngx.log` lines with
/// `[lua] <file>.lua:<line>:` (lua-nginx-module), and the bouncer's blocks log `[Crowdsec] ...`
/// (crowdsec_nginx.conf).
pub fn crowdsec_lua_line(line: &str) -> bool {
    const FILES: &[&str] = &[
        "[lua] crowdsec.lua:",
        "[lua] stream.lua:",
        "[lua] live.lua:",
        "[lua] config.lua:",
        "[lua] ban.lua:",
        "[lua] captcha.lua:",
        "[lua] metrics.lua:",
        "[lua] utils.lua:",
    ];
    line.contains("[Crowdsec]") || FILES.iter().any(|f| line.contains(f))
}

/// The web servers a module bouncer runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    Nginx,
    Apache,
}

/// Where a web server process reads its configuration: `(main file, folder relative paths resolve against)`.
/// `None` when the process is not a master/parent process of `server`.
/// - nginx/openresty: `-c FILE` (relative to `-p PREFIX`), else the compiled-in path (Debian:
///   `/etc/nginx/nginx.conf`; OpenResty: `/usr/local/openresty/nginx/conf/nginx.conf`); includes resolve against
///   the main file's folder. The master rewrites its title to `nginx: master process <original command line>`.
/// - apache2/httpd: `-f FILE` (relative to `-d SERVERROOT`), else Debian's `/etc/apache2/apache2.conf` or
///   `/etc/httpd/conf/httpd.conf` (RHEL); includes resolve against ServerRoot.
pub fn server_config(
    p: &super::process::ProcessInfo,
    server: Server,
) -> Option<(PathBuf, PathBuf)> {
    let program = p.program();
    let first = p.argv.first().map(String::as_str).unwrap_or("");
    let words: Vec<String> = if let Some(rest) = first.split_once("master process ").map(|(_, r)| r)
    {
        rest.split_whitespace().skip(1).map(str::to_owned).collect()
    } else {
        p.argv.iter().skip(1).cloned().collect()
    };
    let flag = |f: &str| {
        words
            .iter()
            .position(|w| w == f)
            .and_then(|i| words.get(i + 1))
            .map(PathBuf::from)
    };
    match server {
        Server::Nginx => {
            if !matches!(program, "nginx" | "openresty")
                || first.contains("worker process")
                || first.contains("cache ")
            {
                return None;
            }
            let default = if program == "openresty" || first.contains("/openresty/") {
                "/usr/local/openresty/nginx/conf/nginx.conf"
            } else {
                "/etc/nginx/nginx.conf"
            };
            let conf = match (flag("-c"), flag("-p")) {
                (Some(c), Some(prefix)) if c.is_relative() => prefix.join(c),
                (Some(c), _) => c,
                (None, _) => PathBuf::from(default),
            };
            let dir = conf.parent().map(Path::to_owned).unwrap_or_default();
            Some((conf, dir))
        }
        Server::Apache => {
            if !matches!(program, "apache2" | "httpd") {
                return None;
            }
            let rhel = program == "httpd";
            let root = flag("-d")
                .unwrap_or_else(|| PathBuf::from(if rhel { "/etc/httpd" } else { "/etc/apache2" }));
            let conf = flag("-f").unwrap_or_else(|| {
                PathBuf::from(if rhel {
                    "conf/httpd.conf"
                } else {
                    "apache2.conf"
                })
            });
            let conf = if conf.is_relative() {
                root.join(conf)
            } else {
                conf
            };
            Some((conf, root))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    struct Mem(BTreeMap<PathBuf, String>);

    impl ConfFs for Mem {
        fn read(&self, p: &Path) -> Option<String> {
            self.0.get(p).cloned()
        }
        fn glob(&self, pattern: &Path) -> Vec<PathBuf> {
            // Enough for `dir/*.conf` and `dir/*`.
            let pat = pattern.to_string_lossy();
            let (dir, rest) = pat.rsplit_once('/').unwrap();
            let suffix = rest.trim_start_matches('*');
            self.0
                .keys()
                .filter(|k| {
                    k.parent() == Some(Path::new(dir)) && k.to_string_lossy().ends_with(suffix)
                })
                .cloned()
                .collect()
        }
    }

    fn fs(files: &[(&str, &str)]) -> Mem {
        Mem(files
            .iter()
            .map(|(p, t)| (PathBuf::from(p), t.to_string()))
            .collect())
    }

    const TARGET: &str = "/etc/crowdsec/bouncers/crowdsec-nginx-bouncer.conf";

    // cs-nginx-bouncer b1c37a9a nginx/crowdsec_nginx.conf, abridged.
    const CROWDSEC_NGINX: &str = r#"lua_package_path '/usr/local/lua/crowdsec/?.lua;;';
lua_shared_dict crowdsec_cache 50m;
init_by_lua_block {
        cs = require "crowdsec"
        local ok, err = cs.init("/etc/crowdsec/bouncers/crowdsec-nginx-bouncer.conf", "crowdsec-nginx-bouncer/v1.1.3")
        if ok == nil then
                ngx.log(ngx.ERR, "[Crowdsec] " .. err)   -- a } in a comment }
                error()
        end
}
access_by_lua_block {
	local cs = require "crowdsec"
	cs.Allow(ngx.var.remote_addr)
}
"#;

    // Debian 12's /etc/nginx/nginx.conf, abridged.
    const DEBIAN_NGINX: &str = "user www-data;\nerror_log /var/log/nginx/error.log;\ninclude /etc/nginx/modules-enabled/*.conf;\nevents { worker_connections 768; }\nhttp {\n\tinclude /etc/nginx/mime.types;\n\tinclude /etc/nginx/conf.d/*.conf;\n\tinclude /etc/nginx/sites-enabled/*;\n}\n";

    #[test]
    fn nginx_through_includes_and_globs() {
        let with = fs(&[
            ("/etc/nginx/nginx.conf", DEBIAN_NGINX),
            ("/etc/nginx/mime.types", "types { text/html html; }"),
            ("/etc/nginx/conf.d/crowdsec_nginx.conf", CROWDSEC_NGINX),
            ("/etc/nginx/sites-enabled/default", "server { listen 80; }"),
        ]);
        let w = nginx(
            Path::new("/etc/nginx/nginx.conf"),
            Path::new("/etc/nginx"),
            &with,
            Path::new(TARGET),
        );
        assert_eq!(
            w.loads.as_deref(),
            Some("init_by_lua_block in /etc/nginx/conf.d/crowdsec_nginx.conf")
        );
        assert_eq!(
            w.error_logs,
            vec![PathBuf::from("/var/log/nginx/error.log")]
        );
        // The include commented out: not loaded.
        let commented = DEBIAN_NGINX.replace(
            "include /etc/nginx/conf.d/*.conf;",
            "#include /etc/nginx/conf.d/*.conf;",
        );
        let without = fs(&[
            ("/etc/nginx/nginx.conf", commented.as_str()),
            ("/etc/nginx/conf.d/crowdsec_nginx.conf", CROWDSEC_NGINX),
        ]);
        let w = nginx(
            Path::new("/etc/nginx/nginx.conf"),
            Path::new("/etc/nginx"),
            &without,
            Path::new(TARGET),
        );
        assert_eq!(w.loads, None);
        assert_eq!(w.unreadable, vec![PathBuf::from("/etc/nginx/mime.types")]);
        // Another bouncer file's module does not count for this file.
        let w = nginx(
            Path::new("/etc/nginx/nginx.conf"),
            Path::new("/etc/nginx"),
            &with,
            Path::new("/other.conf"),
        );
        assert_eq!(w.loads, None);
        // Relative includes resolve against the main file's folder; a self-include stops at the depth bound.
        let rel = fs(&[
            (
                "/p/conf/nginx.conf",
                "include crowdsec.conf; include nginx.conf;",
            ),
            ("/p/conf/crowdsec.conf", CROWDSEC_NGINX),
        ]);
        let w = nginx(
            Path::new("/p/conf/nginx.conf"),
            Path::new("/p/conf"),
            &rel,
            Path::new(TARGET),
        );
        assert!(w.loads.is_some());
        assert!(w.files.len() <= MAX_FILES);
    }

    #[test]
    fn apache_needs_module_and_file() {
        let target = "/etc/crowdsec/bouncers/crowdsec-apache2-bouncer.conf";
        let files = [
            ("/etc/apache2/apache2.conf", "ErrorLog ${APACHE_LOG_DIR}/error.log\nIncludeOptional mods-enabled/*.load\nIncludeOptional conf-enabled/*.conf\n"),
            ("/etc/apache2/mods-enabled/crowdsec.load", "LoadModule crowdsec_module /usr/lib/apache2/modules/mod_crowdsec.so\n"),
            ("/etc/apache2/conf-enabled/crowdsec.conf", "Include /etc/crowdsec/bouncers/crowdsec-apache2-bouncer.conf\n"),
            (target, "CrowdsecURL http://127.0.0.1:8080\nCrowdsecAPIKey k\n"),
        ];
        let w = apache(
            Path::new("/etc/apache2/apache2.conf"),
            Path::new("/etc/apache2"),
            &fs(&files),
            Path::new(target),
        );
        assert!(
            w.loads.as_deref().unwrap().starts_with(
                "LoadModule crowdsec_module in /etc/apache2/mods-enabled/crowdsec.load"
            ),
            "{w:?}"
        );
        // Module without the file, or the file without the module: not loaded.
        let w = apache(
            Path::new("/etc/apache2/apache2.conf"),
            Path::new("/etc/apache2"),
            &fs(&files[..3]),
            Path::new(target),
        );
        assert_eq!(w.loads, None);
        let w = apache(
            Path::new("/etc/apache2/apache2.conf"),
            Path::new("/etc/apache2"),
            &fs(&[files[0], files[2], files[3]]),
            Path::new(target),
        );
        assert_eq!(w.loads, None);
    }

    #[test]
    fn server_command_lines() {
        use crate::crowdsec::host_evidence::process::ProcessInfo;
        let p = |argv: &[&str]| ProcessInfo {
            pid: 1,
            argv: argv.iter().map(|s| s.to_string()).collect(),
            cwd: None,
        };
        // Seen here: Debian 12's nginx 1.22 master after it rewrote its title.
        let master = p(&["nginx: master process /usr/sbin/nginx -p /tmp/n -c /tmp/n/nginx.conf -e /tmp/n/error.log"]);
        assert_eq!(
            server_config(&master, Server::Nginx),
            Some(("/tmp/n/nginx.conf".into(), "/tmp/n".into()))
        );
        assert_eq!(
            server_config(&p(&["nginx: worker process"]), Server::Nginx),
            None
        );
        let debian = p(&["nginx: master process /usr/sbin/nginx -g daemon on; master_process on;"]);
        assert_eq!(
            server_config(&debian, Server::Nginx),
            Some(("/etc/nginx/nginx.conf".into(), "/etc/nginx".into()))
        );
        let relative = p(&["/usr/sbin/nginx", "-p", "/srv/n", "-c", "conf/nginx.conf"]);
        assert_eq!(
            server_config(&relative, Server::Nginx),
            Some(("/srv/n/conf/nginx.conf".into(), "/srv/n/conf".into()))
        );
        let apache = p(&["/usr/sbin/apache2", "-k", "start"]);
        assert_eq!(
            server_config(&apache, Server::Apache),
            Some(("/etc/apache2/apache2.conf".into(), "/etc/apache2".into()))
        );
        let own = p(&[
            "/usr/sbin/apache2",
            "-d",
            "/tmp/a",
            "-f",
            "httpd.conf",
            "-k",
            "start",
        ]);
        assert_eq!(
            server_config(&own, Server::Apache),
            Some(("/tmp/a/httpd.conf".into(), "/tmp/a".into()))
        );
        assert_eq!(server_config(&apache, Server::Nginx), None);
    }

    #[test]
    fn lua_module_lines() {
        assert!(crowdsec_lua_line("2026/11/30 10:58:35 [error] 12#12: *3 [lua] stream.lua:228: stream_query_process(): HTTP error while request to Local API '403'"));
        assert!(crowdsec_lua_line("2026/11/30 10:58:35 [alert] 12#12: [lua] init_by_lua:8: [Crowdsec] Initialisation done"));
        assert!(!crowdsec_lua_line("2026/11/30 10:58:35 [error] 12#12: *1 open() \"/x\" failed (2: No such file or directory)"));
    }
}
