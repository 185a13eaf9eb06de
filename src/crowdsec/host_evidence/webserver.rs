//! Whether a web server's configuration loads the CrowdSec module for a bouncer file, read the way the server
//! reads it: from its main file through every include, globs expanded in sorted order, relative paths against the
//! server's prefix / ServerRoot. One walker ([`walk`]) for both servers; what differs is data ([`Syntax`]) and the
//! judgement of "loads" ([`Server::loads`]). Bounded: at most [`MAX_FILES`] files, [`MAX_DEPTH`] levels of
//! includes. The reading itself is the caller's ([`ConfFs`]). The servers' own parsers are the specification:
//! nginx's words as `ngx_conf_read_token` reads them ([`nginx_tokens`]); apache's conditional sections and
//! `${VAR}` as `server/core.c` decides them ([`apache_sections`]). Tests compare the files read with what the real
//! servers say they include (`nginx -T`, `apache2 -t -D DUMP_INCLUDES`, tests/it/e2e_host_checks.rs).
//!
//! What "loads the module for this file" means, from the bouncers' own files:
//! - nginx/openresty: cs-nginx-bouncer b1c37a9a `nginx/crowdsec_nginx.conf` (installed in
//!   `/etc/nginx/conf.d/`, which Debian's nginx.conf includes) runs `cs = require "crowdsec"` and
//!   `cs.init("/etc/crowdsec/bouncers/crowdsec-nginx-bouncer.conf", ...)` in an `init_by_lua_block`: the file is
//!   loaded when a Lua block (or directive) of the effective configuration names its path.
//! - apache: `LoadModule crowdsec_module <path>` and the bouncer file (its `CrowdsecURL`/`CrowdsecAPIKey`
//!   directives) included in the configuration.

use std::path::{Path, PathBuf};

use super::process::ProcessInfo;

pub mod apache_sections;

const MAX_FILES: usize = 256;
const MAX_DEPTH: usize = 16;

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
    /// The conditions the answer depends on and the walker could not decide (apache `<IfModule foo.c> in
    /// /etc/apache2/x.conf`); `loads` is `None` then, and means "unknown", not "not loaded".
    pub undecided: Vec<String>,
}

/// How a web server process was started: where its configuration is, and (apache) what its reading depends on
/// beyond the files.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Start {
    /// The main configuration file.
    pub main: PathBuf,
    /// The folder relative paths resolve against.
    pub base: PathBuf,
    /// apache: the `-D NAME` of its command line (`<IfDefine NAME>`).
    pub defines: Vec<String>,
    /// apache: the program is Debian's `apache2`, whose built-in modules are known ([`apache_sections::DEBIAN_BUILTIN`]).
    pub debian_apache2: bool,
    /// apache: its environment, for `${VAR}`.
    pub env: Env,
}

/// A process's environment as far as it is known.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Env {
    /// `NAME=value`, in order.
    pub vars: Vec<(String, String)>,
    /// `vars` is the whole environment (`/proc/<pid>/environ`); else a variable not in it may still be set.
    pub complete: bool,
}

/// The web servers a module bouncer runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    /// nginx or openresty.
    Nginx,
    /// apache2 or httpd.
    Apache,
}

/// A directive of the effective configuration: its name, its arguments, the file that holds it, whether it
/// counts for sure (apache: not inside a section the walker could not decide).
#[derive(Clone)]
struct Directive {
    name: String,
    args: Vec<String>,
    file: PathBuf,
    sure: bool,
}

/// A file's directives as `(name, arguments)`, in order.
type FileDirectives = Vec<(String, Vec<String>)>;

/// How a server writes its configuration.
struct Syntax {
    /// A file's directives.
    directives: fn(&str) -> FileDirectives,
    /// The directives that include files (first argument: a path or a glob, relative to the base folder).
    include: &'static [&'static str],
    /// The directive that names the error log (first argument).
    error_log: &'static str,
    /// apache's conditional sections, `LoadModule`, `Define` and `${VAR}` ([`apache_sections`]).
    conditional: bool,
    /// A relative error log is relative to the base folder (apache's ServerRoot). nginx's is relative to its
    /// prefix (`-p`), not to the configuration's folder: not followed rather than guessed (`stderr`, `syslog:`,
    /// `memory:` are no file either).
    relative_error_log: bool,
}

const NGINX: Syntax = Syntax {
    directives: nginx_directives,
    include: &["include"],
    error_log: "error_log",
    conditional: false,
    relative_error_log: false,
};

/// Apache's names are lowercased (apache ignores their case).
const APACHE: Syntax = Syntax {
    directives: apache_directives,
    include: &["include", "includeoptional"],
    error_log: "errorlog",
    conditional: true,
    relative_error_log: true,
};

impl Server {
    /// Its programs, as messages name them.
    pub fn names(self) -> &'static str {
        match self {
            Server::Nginx => "nginx or openresty",
            Server::Apache => "apache2 or httpd",
        }
    }

    fn syntax(self) -> &'static Syntax {
        match self {
            Server::Nginx => &NGINX,
            Server::Apache => &APACHE,
        }
    }

    /// Where the effective configuration (`directives`, from `files`) loads the module for `target`.
    /// - nginx: the first directive (a `*_by_lua*` one, or one naming `crowdsec`) with the file in an argument.
    /// - apache: the (last) `LoadModule crowdsec_module`, and the file itself among those read.
    fn loads(self, directives: &[Directive], files: &[PathBuf], target: &Path) -> Option<String> {
        match self {
            Server::Nginx => {
                let target = target.to_string_lossy();
                let names = |d: &Directive, s: &str| d.args.iter().any(|a| a.contains(s));
                let d = directives
                    .iter()
                    .filter(|d| d.name != NGINX.error_log)
                    .find(|d| {
                        !target.is_empty()
                            && names(d, &target)
                            && (d.name.contains("lua") || names(d, "crowdsec"))
                    })?;
                Some(format!("{} in {}", d.name, d.file.display()))
            }
            Server::Apache => {
                let module = directives.iter().rev().find(|d| {
                    d.name == "loadmodule" && d.args.first().is_some_and(|a| a == "crowdsec_module")
                })?;
                files.iter().any(|f| f == target).then(|| {
                    format!(
                        "LoadModule crowdsec_module in {}; {} included",
                        module.file.display(),
                        target.display()
                    )
                })
            }
        }
    }
}

/// Walks `server`'s configuration as `start` says it was started: from its main file, relative paths against its
/// base folder (nginx: the main file's folder, as `ngx_conf_full_name` with the configuration prefix; apache:
/// ServerRoot). `target` is the bouncer file.
///
/// apache's conditional sections are read as apache reads them ([`apache_sections`]): a section apache skips is not
/// read; one the walker cannot decide is read as "maybe", and the answer holds only if it does not depend on it:
/// loaded when the sure part loads the module, not loaded when even the maybe parts do not; else no answer and
/// [`Walk::undecided`] says why.
pub fn walk(server: Server, start: &Start, fs: &dyn ConfFs, target: &Path) -> Walk {
    let syntax = server.syntax();
    let mut r = Reader::new(syntax, start, fs);
    r.follow(&start.main, 0);
    let Reader {
        mut walk,
        directives,
        unsure_files,
        ..
    } = r;
    let sure: Vec<Directive> = directives.iter().filter(|d| d.sure).cloned().collect();
    let sure_files: Vec<PathBuf> = walk
        .files
        .iter()
        .filter(|f| !unsure_files.contains(f))
        .cloned()
        .collect();
    walk.loads = server.loads(&sure, &sure_files, target);
    if walk.loads.is_some() || server.loads(&directives, &walk.files, target).is_none() {
        walk.undecided.clear();
    }
    walk.error_logs = sure
        .iter()
        .filter(|d| d.name == syntax.error_log)
        .filter_map(|d| d.args.first())
        .filter(|p| syntax.relative_error_log || p.starts_with('/'))
        // An unresolved `${VAR}`: not a path the server writes to.
        .filter(|p| !p.contains("${"))
        .map(|p| start.base.join(p))
        .collect();
    walk
}

/// A walk under way: what is read so far, and (apache) the state its conditions depend on.
struct Reader<'a> {
    syntax: &'static Syntax,
    start: &'a Start,
    fs: &'a dyn ConfFs,
    walk: Walk,
    directives: Vec<Directive>,
    /// Files read inside a section the walker could not decide.
    unsure_files: Vec<PathBuf>,
    /// apache: the sections open, innermost last, and what it knows of modules, defines and variables.
    state: apache_sections::State,
}

impl<'a> Reader<'a> {
    fn new(syntax: &'static Syntax, start: &'a Start, fs: &'a dyn ConfFs) -> Self {
        Reader {
            syntax,
            start,
            fs,
            walk: Walk::default(),
            directives: Vec::new(),
            unsure_files: Vec::new(),
            state: apache_sections::State::new(start),
        }
    }

    /// Reads `file` and its directives, following includes in place.
    fn follow(&mut self, file: &Path, depth: usize) {
        if depth > MAX_DEPTH || self.walk.files.len() >= MAX_FILES {
            return;
        }
        let Some(text) = self.fs.read(file) else {
            self.walk.unreadable.push(file.to_owned());
            return;
        };
        self.walk.files.push(file.to_owned());
        if !self.state.sure() {
            self.unsure_files.push(file.to_owned());
        }
        // apache refuses a section left open at a file's end; what is open is closed with the file.
        let open = self.state.depth();
        for (name, args) in (self.syntax.directives)(&text) {
            self.directive(name, args, file, depth);
        }
        self.state.close_to(open);
    }

    fn directive(&mut self, name: String, args: Vec<String>, file: &Path, depth: usize) {
        let (name, args) = if self.syntax.conditional {
            match self.state.read(name, args, file, &mut self.walk.undecided) {
                Some(d) => d,
                None => return,
            }
        } else {
            (name, args)
        };
        if !self.syntax.include.contains(&name.as_str()) {
            self.directives.push(Directive {
                name,
                args,
                file: file.to_owned(),
                sure: self.state.sure(),
            });
            return;
        }
        let Some(pattern) = args.first() else {
            return;
        };
        if self.syntax.conditional && pattern.contains("${") && !self.start.env.complete {
            // A variable the walker cannot resolve: what the server includes there is unknown.
            self.walk.unreadable.push(pattern.into());
            return;
        }
        let pattern = self.start.base.join(pattern);
        let files = if pattern.to_string_lossy().contains(['*', '?', '[']) {
            self.fs.glob(&pattern)
        } else {
            vec![pattern]
        };
        for f in files {
            self.follow(&f, depth + 1);
        }
    }
}

/// nginx directives: words up to `;` or `{` (a block's contents are directives too); `}` ends a block. Only an
/// unquoted `;`/`{`/`}` does: a quoted or escaped one is part of a word ([`nginx_tokens`]).
fn nginx_directives(text: &str) -> FileDirectives {
    let mut out = Vec::new();
    let mut words: Vec<String> = Vec::new();
    for t in nginx_tokens(text) {
        match t {
            Token::Word(w) => words.push(w),
            Token::End | Token::Open if !words.is_empty() => {
                let name = words.remove(0);
                out.push((name, std::mem::take(&mut words)));
            }
            Token::End | Token::Open | Token::Close => words.clear(),
        }
    }
    out
}

/// An nginx token: a word, or one of the three characters that shape directives.
#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    /// `;`
    End,
    /// `{`
    Open,
    /// `}`
    Close,
}

/// nginx tokens, as nginx 1.22 `src/core/ngx_conf_file.c` `ngx_conf_read_token` reads them:
/// - where a token may start: whitespace is skipped; `;`, `{`, `}` are tokens; `#` starts a comment to the end
///   of the line; `"` or `'` starts a quoted word; anything else (a `\` too) starts a word;
/// - a quoted word runs to its closing quote (`;`, `{`, `}`, `#`, whitespace included); an unquoted one up to
///   whitespace, `;` or `{` (a `}` or `#` inside it is part of it);
/// - in both, `\` takes the next character into the word whatever it is; the word is then unescaped:
///   `\"`, `\'`, `\\` lose their `\`, `\t`/`\r`/`\n` become the control character, any other `\x` stays.
///
/// nginx expands no `${VAR}` while reading (variables are the directives' own business, at run time, and
/// `include` takes its argument as written). The body of a `*_by_lua_block` is one raw word (its Lua code), as
/// lua-nginx-module reads it with its own tokenizer.
fn nginx_tokens(text: &str) -> Vec<Token> {
    let b: Vec<char> = text.chars().collect();
    let mut out: Vec<Token> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        i = match c {
            c if nginx_space(c) => i + 1,
            '#' => line_end(&b, i),
            ';' | '}' => {
                out.push(if c == ';' { Token::End } else { Token::Close });
                i + 1
            }
            '{' if matches!(out.last(), Some(Token::Word(w)) if w.ends_with("_by_lua_block")) => {
                let (code, next) = lua_block(&b, i);
                // The code is the directive's argument, then the (empty) block.
                out.extend([Token::Word(code), Token::Open, Token::Close]);
                next
            }
            '{' => {
                out.push(Token::Open);
                i + 1
            }
            '"' | '\'' => {
                let (word, close) = take_until(&b, i + 1, |ch| ch == c);
                out.push(Token::Word(unescape(&word)));
                close + 1
            }
            _ => {
                let (word, end) =
                    take_until(&b, i, |ch| nginx_space(ch) || matches!(ch, ';' | '{'));
                out.push(Token::Word(unescape(&word)));
                end
            }
        };
    }
    out
}

/// nginx's whitespace: space, tab, CR, LF (`ngx_conf_read_token`).
fn nginx_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// A word's escapes resolved as `ngx_conf_read_token` resolves them.
fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        let next = chars.peek().copied();
        match (c, next) {
            ('\\', Some(e @ ('"' | '\'' | '\\'))) => out.push(e),
            ('\\', Some('t')) => out.push('\t'),
            ('\\', Some('r')) => out.push('\r'),
            ('\\', Some('n')) => out.push('\n'),
            _ => {
                out.push(c);
                continue;
            }
        }
        chars.next();
    }
    out
}

/// The characters from `i` up to the first `stop` (a `\` takes the next character, whatever it is, and is kept
/// for [`unescape`]), and the index of that stop (or the end).
fn take_until(b: &[char], mut i: usize, stop: impl Fn(char) -> bool) -> (String, usize) {
    let mut s = String::new();
    while i < b.len() && !stop(b[i]) {
        if b[i] == '\\' && i + 1 < b.len() {
            s.push(b[i]);
            i += 1;
        }
        s.push(b[i]);
        i += 1;
    }
    (s, i)
}

/// The index of the end of the line at `i`.
fn line_end(b: &[char], mut i: usize) -> usize {
    while i < b.len() && b[i] != '\n' {
        i += 1;
    }
    i
}

/// The raw Lua code of a block whose `{` is at `open`, up to the matching `}` (braces in Lua strings and `--`
/// comments skipped), and the index after that brace.
fn lua_block(b: &[char], open: usize) -> (String, usize) {
    let mut depth = 1;
    let mut i = open + 1;
    while i < b.len() && depth > 0 {
        match b[i] {
            '{' => depth += 1,
            '}' => depth -= 1,
            q @ ('"' | '\'') => {
                i += 1;
                while i < b.len() && b[i] != q {
                    i += if b[i] == '\\' { 2 } else { 1 };
                }
            }
            '-' if b.get(i + 1) == Some(&'-') => i = line_end(b, i),
            _ => {}
        }
        i += 1;
    }
    // Unterminated, the code runs to the end (a `\` as the last character must not reach past it).
    let end = i.saturating_sub(1).max(open + 1).min(b.len());
    (b[open + 1..end].iter().collect(), i)
}

/// Apache directives: one a line (a trailing `\` joins the next), `#` comments only at a line's start; names
/// lowercased; words as [`apache_words`] splits them.
fn apache_directives(text: &str) -> FileDirectives {
    text.replace("\\\n", " ")
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            let mut words = apache_words(line).into_iter();
            let name = words.next().unwrap_or_default().to_ascii_lowercase();
            (name, words.collect())
        })
        .collect()
}

/// A line's words as apache/httpd 2.4 `server/util.c` `ap_getword_conf` takes them: a word starting with `"` or
/// `'` runs to the same quote (a `\` before that quote or a `\` skips it), else up to whitespace; then
/// `substring_conf` drops the `\` of `\\` (and, in a quoted word, of `\<quote>`).
fn apache_words(line: &str) -> Vec<String> {
    let b: Vec<char> = line.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_whitespace() {
            i += 1;
            continue;
        }
        let quote = Some(b[i]).filter(|c| matches!(c, '"' | '\''));
        let start = if quote.is_some() { i + 1 } else { i };
        let mut end = start;
        while end < b.len() && quote.map_or(!b[end].is_whitespace(), |q| b[end] != q) {
            let escaped = b[end] == '\\'
                && quote.is_some()
                && matches!(b.get(end + 1), Some(&c) if c == '\\' || Some(c) == quote);
            end += if escaped { 2 } else { 1 };
        }
        let end = end.min(b.len());
        let mut word = String::new();
        let mut j = start;
        while j < end {
            let unescape =
                b[j] == '\\' && j + 1 < end && (b[j + 1] == '\\' || Some(b[j + 1]) == quote);
            j += usize::from(unescape);
            word.push(b[j]);
            j += 1;
        }
        out.push(word);
        // Past the closing quote.
        i = end + usize::from(quote.is_some());
    }
    out
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

/// How a web server process was started ([`Start`]), from its command line; `None` when the process is not a
/// master/parent process of `server`. Its environment is the caller's to add ([`Start::env`]).
/// - nginx/openresty: `-c FILE` (relative to `-p PREFIX`), else the compiled-in path (Debian:
///   `/etc/nginx/nginx.conf`; OpenResty: `/usr/local/openresty/nginx/conf/nginx.conf`); includes resolve against
///   the main file's folder. The master rewrites its title to `nginx: master process <original command line>`.
/// - apache2/httpd: `-f FILE` (relative to `-d SERVERROOT`), else Debian's `/etc/apache2/apache2.conf` or
///   `/etc/httpd/conf/httpd.conf` (RHEL); includes resolve against ServerRoot; `-D NAME` or `-DNAME` define
///   NAME (apache's `apr_getopt` takes both).
pub fn server_config(p: &ProcessInfo, server: Server) -> Option<Start> {
    let title = p.argv.first().map(String::as_str).unwrap_or("");
    let words: Vec<&str> = match title.split_once("master process ") {
        Some((_, command)) => command.split_whitespace().skip(1).collect(),
        None => p.argv.iter().skip(1).map(String::as_str).collect(),
    };
    // The argument after a flag; joining a relative path to an absolute one keeps the absolute one.
    let flag = |f: &str| {
        let i = words.iter().position(|w| *w == f)?;
        words.get(i + 1).map(PathBuf::from)
    };
    match (server, p.program()) {
        (Server::Nginx, program @ ("nginx" | "openresty")) => {
            if title.contains("worker process") || title.contains("cache ") {
                return None;
            }
            let conf = match flag("-c") {
                Some(c) => match flag("-p") {
                    Some(prefix) => prefix.join(c),
                    None => c,
                },
                None if program == "openresty" || title.contains("/openresty/") => {
                    "/usr/local/openresty/nginx/conf/nginx.conf".into()
                }
                None => "/etc/nginx/nginx.conf".into(),
            };
            let dir = conf.parent().map(Path::to_owned).unwrap_or_default();
            Some(Start {
                main: conf,
                base: dir,
                ..Start::default()
            })
        }
        (Server::Apache, program @ ("apache2" | "httpd")) => {
            let (root, conf) = if program == "httpd" {
                ("/etc/httpd", "conf/httpd.conf")
            } else {
                ("/etc/apache2", "apache2.conf")
            };
            let root = flag("-d").unwrap_or_else(|| root.into());
            let conf = root.join(flag("-f").unwrap_or_else(|| conf.into()));
            let defines =
                words
                    .iter()
                    .enumerate()
                    .filter_map(|(i, w)| match w.strip_prefix("-D")? {
                        "" => words.get(i + 1).map(|d| d.to_string()),
                        d => Some(d.to_owned()),
                    });
            Some(Start {
                main: conf,
                base: root,
                defines: defines.collect(),
                debian_apache2: program == "apache2",
                env: Env::default(),
            })
        }
        _ => None,
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

    fn walk_at(server: Server, main: &str, base: &str, fs: &Mem, target: &str) -> Walk {
        let start = Start {
            main: main.into(),
            base: base.into(),
            debian_apache2: true,
            ..Start::default()
        };
        walk(server, &start, fs, Path::new(target))
    }

    /// Debian's nginx: /etc/nginx/nginx.conf, includes relative to /etc/nginx.
    fn debian_nginx(fs: &Mem, target: &str) -> Walk {
        walk_at(
            Server::Nginx,
            "/etc/nginx/nginx.conf",
            "/etc/nginx",
            fs,
            target,
        )
    }

    /// Debian's apache: /etc/apache2/apache2.conf, ServerRoot /etc/apache2.
    fn debian_apache(fs: &Mem, target: &str) -> Walk {
        walk_at(
            Server::Apache,
            "/etc/apache2/apache2.conf",
            "/etc/apache2",
            fs,
            target,
        )
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
        let w = debian_nginx(&with, TARGET);
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
        let w = debian_nginx(&without, TARGET);
        assert_eq!(w.loads, None);
        assert_eq!(w.unreadable, vec![PathBuf::from("/etc/nginx/mime.types")]);
        // Another bouncer file's module does not count for this file.
        let w = debian_nginx(&with, "/other.conf");
        assert_eq!(w.loads, None);
        // Relative includes resolve against the main file's folder; a self-include stops at the depth bound.
        let rel = fs(&[
            (
                "/p/conf/nginx.conf",
                "include crowdsec.conf; include nginx.conf;",
            ),
            ("/p/conf/crowdsec.conf", CROWDSEC_NGINX),
        ]);
        let w = walk_at(Server::Nginx, "/p/conf/nginx.conf", "/p/conf", &rel, TARGET);
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
        let w = debian_apache(&fs(&files), target);
        assert!(
            w.loads.as_deref().unwrap().starts_with(
                "LoadModule crowdsec_module in /etc/apache2/mods-enabled/crowdsec.load"
            ),
            "{w:?}"
        );
        // Module without the file, or the file without the module: not loaded.
        let w = debian_apache(&fs(&files[..3]), target);
        assert_eq!(w.loads, None);
        let w = debian_apache(&fs(&[files[0], files[2], files[3]]), target);
        assert_eq!(w.loads, None);
    }

    /// apache's conditional sections, as apache/httpd 2.4 `server/core.c` decides them while reading
    /// (`start_ifmod` with `find_module`: a module's source name or symbol, built in or loaded by a `LoadModule`
    /// read before; `start_ifdefine` with `ap_exists_config_define`: `-D` and `Define`; a failed condition's
    /// section skipped by `ap_soak_end_container`, its includes not followed). The real apache2 agrees:
    /// tests/it/e2e_host_checks.rs `apache_includes_as_apache_dumps_them` compares with `apache2 -t -D
    /// DUMP_INCLUDES`.
    #[test]
    fn apache_sections_as_apache_decides_them() {
        let target = "/etc/crowdsec/bouncers/crowdsec-apache2-bouncer.conf";
        let load = "LoadModule crowdsec_module /usr/lib/apache2/modules/mod_crowdsec.so\n";
        let main = |body: &str| format!("{load}{body}");
        let with = |body: &str, defines: &[&str]| {
            let text = main(body);
            let files = fs(&[
                ("/etc/apache2/apache2.conf", text.as_str()),
                (target, "CrowdsecURL http://x\n"),
            ]);
            let start = Start {
                main: "/etc/apache2/apache2.conf".into(),
                base: "/etc/apache2".into(),
                defines: defines.iter().map(|d| d.to_string()).collect(),
                debian_apache2: true,
                ..Start::default()
            };
            walk(Server::Apache, &start, &files, Path::new(target))
        };
        let inc = format!("Include {target}\n");
        let loaded = |w: &Walk| w.loads.is_some();
        // Before: every section was read, so a skipped include counted.
        assert!(loaded(&with(
            &format!("<IfModule crowdsec_module>\n{inc}</IfModule>\n"),
            &[]
        )));
        assert!(!loaded(&with(
            &format!("<IfModule !crowdsec_module>\n{inc}</IfModule>\n"),
            &[]
        )));
        assert!(!loaded(&with(
            &format!("<IfModule ssl_module>\n{inc}</IfModule>\n"),
            &[]
        )));
        // Built in (Debian's `apache2 -l`), by source name or symbol; nested sections all count.
        let nested = format!(
            "<IfModule mod_version.c>\n<IfModule unixd_module>\n{inc}</IfModule>\n</IfModule>\n"
        );
        assert!(loaded(&with(&nested, &[])));
        // A module loaded after the section does not count (LoadModule runs as it is read).
        let late = fs(&[
            ("/etc/apache2/apache2.conf", "<IfModule crowdsec_module>\nInclude /b.conf\n</IfModule>\nLoadModule crowdsec_module /m.so\n"),
            ("/b.conf", ""),
        ]);
        assert_eq!(debian_apache(&late, "/b.conf").files.len(), 1);
        // IfDefine: `-D` from the command line, `Define` before, `UnDefine`.
        let ifdef = format!("<IfDefine CS>\n{inc}</IfDefine>\n");
        assert!(!loaded(&with(&ifdef, &[])));
        assert!(loaded(&with(&ifdef, &["CS"])));
        assert!(loaded(&with(&format!("Define CS\n{ifdef}"), &[])));
        assert!(!loaded(&with(&format!("UnDefine CS\n{ifdef}"), &["CS"])));
        assert!(loaded(&with(
            &format!("<IfDefine !CS>\n{inc}</IfDefine>\n"),
            &[]
        )));
        // A source name not built in, once a module was loaded, is in that module's .so: unknown, not a guess;
        // the walk says on what the answer depends.
        let w = with(&format!("<IfModule mod_foo.c>\n{inc}</IfModule>\n"), &[]);
        assert!(!loaded(&w));
        assert_eq!(
            w.undecided,
            ["<IfModule mod_foo.c> in /etc/apache2/apache2.conf"]
        );
        // ... and when the answer does not depend on it, no doubt is reported.
        let w = with(
            &format!("<IfModule mod_foo.c>\nServerName x\n</IfModule>\n{inc}"),
            &[],
        );
        assert!(loaded(&w) && w.undecided.is_empty(), "{w:?}");
        let w = with("<IfModule mod_foo.c>\nServerName x\n</IfModule>\n", &[]);
        assert!(!loaded(&w) && w.undecided.is_empty(), "{w:?}");
        // A section left open at a file's end closes with it.
        let files = fs(&[
            (
                "/etc/apache2/apache2.conf",
                "Include /open.conf\nInclude /b.conf\n",
            ),
            ("/open.conf", "<IfModule ssl_module>\n"),
            ("/b.conf", ""),
        ]);
        assert_eq!(debian_apache(&files, "/b.conf").files.len(), 3);
    }

    /// apache's words, from apache/httpd 2.4 `server/util.c` `ap_getword_conf` and `substring_conf`: quotes keep
    /// spaces; `\"` in a `"` word and `\\` anywhere lose their `\`; before, quotes were trimmed from whitespace-
    /// split words, so a quoted path with a space was two words.
    #[test]
    fn apache_words_as_ap_getword_conf() {
        assert_eq!(
            apache_words(r#"Include "/etc/my conf/x.conf" 'a b' c\\d "e\"f" g\h"#),
            [
                "Include",
                "/etc/my conf/x.conf",
                "a b",
                "c\\d",
                "e\"f",
                "g\\h"
            ]
        );
        assert_eq!(
            apache_words("<IfModule !ssl_module>"),
            ["<IfModule", "!ssl_module>"]
        );
        assert_eq!(
            apache_words("x \"unterminated \\"),
            ["x", "unterminated \\"]
        );
    }

    /// `${VAR}` as apache/httpd 2.4 `server/core.c` `ap_resolve_env` resolves it (each line as it is read): a
    /// `Define`d value first, then the process's environment; undefined, it stays as written (apache warns
    /// AH00111). With only part of the environment known (Debian's envvars), an include through an unknown
    /// variable is unknown, not skipped.
    #[test]
    fn apache_variables_as_ap_resolve_env() {
        let files = fs(&[
            ("/etc/apache2/apache2.conf", "Define D /d\nInclude ${D}/a.conf\nIncludeOptional ${E}/b.conf\nErrorLog ${APACHE_LOG_DIR}/error.log\n"),
            ("/d/a.conf", ""),
            ("/e/b.conf", ""),
        ]);
        let env = |vars: &[(&str, &str)], complete| Env {
            vars: vars
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            complete,
        };
        let start = |env: Env| Start {
            main: "/etc/apache2/apache2.conf".into(),
            base: "/etc/apache2".into(),
            debian_apache2: true,
            env,
            ..Start::default()
        };
        let w = walk(
            Server::Apache,
            &start(env(
                &[("E", "/e"), ("APACHE_LOG_DIR", "/var/log/apache2")],
                true,
            )),
            &files,
            Path::new("/x"),
        );
        assert_eq!(
            w.files,
            [
                PathBuf::from("/etc/apache2/apache2.conf"),
                "/d/a.conf".into(),
                "/e/b.conf".into()
            ]
        );
        assert_eq!(w.error_logs, [PathBuf::from("/var/log/apache2/error.log")]);
        // The whole environment known and E not in it: `${E}/b.conf` as written, which is no file.
        let w = walk(
            Server::Apache,
            &start(env(&[], true)),
            &files,
            Path::new("/x"),
        );
        assert_eq!(w.unreadable, [PathBuf::from("/etc/apache2/${E}/b.conf")]);
        assert!(w.error_logs.is_empty());
        // Only part of it known: unknown.
        let w = walk(
            Server::Apache,
            &start(env(&[], false)),
            &files,
            Path::new("/x"),
        );
        assert_eq!(w.unreadable, [PathBuf::from("${E}/b.conf")]);
        // Debian 12's /etc/apache2/envvars (apache2 2.4.71-1~deb12u1, abridged: its if/SUFFIX and export lines as
        // shipped, one command substitution added), as apache2ctl sources it for /etc/apache2 and /etc/apache2-two.
        let envvars = "unset HOME\nif [ \"${APACHE_CONFDIR##/etc/apache2-}\" != \"${APACHE_CONFDIR}\" ] ; then\n\tSUFFIX=\"-${APACHE_CONFDIR##/etc/apache2-}\"\nelse\n\tSUFFIX=\nfi\nexport APACHE_RUN_USER=www-data\nexport APACHE_PID_FILE=/var/run/apache2$SUFFIX/apache2.pid\nexport APACHE_LOG_DIR=/var/log/apache2$SUFFIX\nexport LANG=C\nexport LANG\nexport X=\"$(hostname)\"\n";
        let vars = apache_sections::debian_envvars(envvars, Path::new("/etc/apache2"));
        let get = |vars: &[(String, String)], n: &str| {
            vars.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone())
        };
        assert_eq!(
            get(&vars, "APACHE_LOG_DIR").as_deref(),
            Some("/var/log/apache2")
        );
        assert_eq!(
            get(&vars, "APACHE_CONFDIR").as_deref(),
            Some("/etc/apache2")
        );
        assert_eq!(get(&vars, "X"), None);
        let two = apache_sections::debian_envvars(envvars, Path::new("/etc/apache2-two"));
        assert_eq!(
            get(&two, "APACHE_PID_FILE").as_deref(),
            Some("/var/run/apache2-two/apache2.pid")
        );
        // Debian's apache2.conf line, through envvars only (the process's environment unreadable): its error log.
        let debian = fs(&[(
            "/etc/apache2/apache2.conf",
            "ErrorLog ${APACHE_LOG_DIR}/error.log\n",
        )]);
        let w = walk(
            Server::Apache,
            &start(Env {
                vars,
                complete: false,
            }),
            &debian,
            Path::new("/x"),
        );
        assert_eq!(w.error_logs, [PathBuf::from("/var/log/apache2/error.log")]);
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
            server_config(&master, Server::Nginx).map(|s| (s.main, s.base)),
            Some(("/tmp/n/nginx.conf".into(), "/tmp/n".into()))
        );
        assert_eq!(
            server_config(&p(&["nginx: worker process"]), Server::Nginx).map(|s| (s.main, s.base)),
            None
        );
        let debian = p(&["nginx: master process /usr/sbin/nginx -g daemon on; master_process on;"]);
        assert_eq!(
            server_config(&debian, Server::Nginx).map(|s| (s.main, s.base)),
            Some(("/etc/nginx/nginx.conf".into(), "/etc/nginx".into()))
        );
        let relative = p(&["/usr/sbin/nginx", "-p", "/srv/n", "-c", "conf/nginx.conf"]);
        assert_eq!(
            server_config(&relative, Server::Nginx).map(|s| (s.main, s.base)),
            Some(("/srv/n/conf/nginx.conf".into(), "/srv/n/conf".into()))
        );
        let apache = p(&["/usr/sbin/apache2", "-k", "start"]);
        assert_eq!(
            server_config(&apache, Server::Apache).map(|s| (s.main, s.base)),
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
            server_config(&own, Server::Apache).map(|s| (s.main, s.base)),
            Some(("/tmp/a/httpd.conf".into(), "/tmp/a".into()))
        );
        assert_eq!(
            server_config(&apache, Server::Nginx).map(|s| (s.main, s.base)),
            None
        );
    }

    #[test]
    fn an_unterminated_lua_block_ends_with_the_file() {
        // A `\` escaping past the end of an unclosed Lua string once sliced beyond the text.
        let w = walk_at(
            Server::Nginx,
            "/n.conf",
            "/",
            &fs(&[("/n.conf", "init_by_lua_block { cs.init(\"/t.conf\\")]),
            "/t.conf",
        );
        assert_eq!(w.files.len(), 1);
        let w = |s: &str| Token::Word(s.into());
        assert_eq!(
            nginx_tokens("a_by_lua_block { x }"),
            [w("a_by_lua_block"), w(" x "), Token::Open, Token::Close]
        );
    }

    /// nginx's tokenizer rules, from nginx 1.22 `src/core/ngx_conf_file.c` `ngx_conf_read_token`: a quoted `;`,
    /// `{`, `}` (and an escaped `\;`) is part of a word, not the end of a directive or a block (`d_quoted`/
    /// `s_quoted` end only at their quote; `quoted` takes any next character); an unquoted word ends at
    /// whitespace, `;` or `{` but not `}`; `#` starts a comment only where a token may start; a word's `\"`,
    /// `\'`, `\\` lose the `\`, `\t`/`\r`/`\n` become control characters, other escapes stay. The real nginx
    /// agrees: tests/it/e2e_host_checks.rs `nginx_includes_as_nginx_dumps_them` compares with `nginx -T`.
    #[test]
    fn nginx_reads_words_as_ngx_conf_read_token() {
        let d = |text: &str| nginx_directives(text);
        let one = |name: &str, args: &[&str]| {
            (
                name.to_owned(),
                args.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
            )
        };
        // A JSON log format: its quoted braces are words, the directive whole.
        assert_eq!(
            d("log_format j escape=json '{' '\"t\":\"$time_iso8601\"' '}'; include a.conf;"),
            [
                one(
                    "log_format",
                    &["j", "escape=json", "{", "\"t\":\"$time_iso8601\"", "}"]
                ),
                one("include", &["a.conf"])
            ]
        );
        // Quoted and escaped `;`: one directive each (an escaped `;` keeps its `\`); `}` inside an unquoted word is part of it.
        assert_eq!(
            d("set $a \";\"; set $b a\\;b; set $c x}y; include b.conf;"),
            [
                one("set", &["$a", ";"]),
                one("set", &["$b", "a\\;b"]),
                one("set", &["$c", "x}y"]),
                one("include", &["b.conf"])
            ]
        );
        // `#` in a word or a quote is no comment; at a token's start it is.
        assert_eq!(
            d("add_header X a#b; add_header Y \"#\"; # include c.conf;\ninclude d.conf;"),
            [
                one("add_header", &["X", "a#b"]),
                one("add_header", &["Y", "#"]),
                one("include", &["d.conf"])
            ]
        );
        // Escapes: `\"` `\\` lose their `\`, `\n` is a newline, `\d` stays.
        assert_eq!(d(r#"x "a\"b\\c\nd\d";"#), [one("x", &["a\"b\\c\nd\\d"])]);
        // Before: the quoted `}` cleared the words of a directive, so a quoted `*_by_lua` argument after it was lost.
        let text = format!("init_by_lua '}}' 'cs.init(\"{TARGET}\")';");
        assert_eq!(d(&text).len(), 1);
        let w = walk_at(
            Server::Nginx,
            "/n.conf",
            "/",
            &fs(&[("/n.conf", text.as_str())]),
            TARGET,
        );
        assert_eq!(w.loads.as_deref(), Some("init_by_lua in /n.conf"));
    }

    /// Pieces that steer the tokenizers: blocks, strings, escapes, comments, includes.
    const PIECES: &[&str] = &[
        "init_by_lua_block",
        "include",
        "Include",
        "x.conf",
        "error_log",
        "LoadModule",
        "crowdsec_module",
        "/c/x.conf",
        "{",
        "}",
        ";",
        "\"",
        "'",
        "\\",
        "#",
        "--",
        " ",
        "\n",
        "\\\n",
        "a",
        "<IfModule !crowdsec_module>",
        "<IfModule foo.c>",
        "</IfModule>",
        "<IfDefine A>",
        "</IfDefine>",
        "Define A ${A}/",
        "${",
        "$",
    ];

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 3000, failure_persistence: None, ..Default::default() })]
        /// Any configuration made of those pieces is walked without a panic and within bounds.
        #[test]
        fn any_configuration_is_walked(pieces in proptest::collection::vec(proptest::sample::select(PIECES), 0..30)) {
            let text = pieces.concat();
            let mem = fs(&[("/c/main.conf", text.as_str()), ("/c/x.conf", text.as_str())]);
            for server in [Server::Nginx, Server::Apache] {
                let w = walk_at(server, "/c/main.conf", "/c", &mem, "/c/x.conf");
                proptest::prop_assert!(!w.files.is_empty() && w.files.len() <= MAX_FILES);
                // A doubt is reported only when there is no answer.
                proptest::prop_assert!(w.undecided.is_empty() || w.loads.is_none());
            }
        }
    }

    #[test]
    fn lua_module_lines() {
        assert!(crowdsec_lua_line("2026/11/30 10:58:35 [error] 12#12: *3 [lua] stream.lua:228: stream_query_process(): HTTP error while request to Local API '403'"));
        assert!(crowdsec_lua_line("2026/11/30 10:58:35 [alert] 12#12: [lua] init_by_lua:8: [Crowdsec] Initialisation done"));
        assert!(!crowdsec_lua_line("2026/11/30 10:58:35 [error] 12#12: *1 open() \"/x\" failed (2: No such file or directory)"));
    }
}
