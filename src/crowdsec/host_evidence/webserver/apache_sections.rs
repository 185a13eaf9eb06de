//! What apache's reading of its configuration depends on beyond the files, read as apache 2.4 reads it
//! (apache/httpd `server/core.c`, `server/config.c`):
//! - `<IfModule [!]NAME>` (`start_ifmod`, `find_module`): NAME is a module's source file name (`mod_ssl.c`, what
//!   `ap_find_linked_module` compares) or its symbol (`ssl_module`: the built-in modules' `ap_prelinked_module_symbols`,
//!   then those `LoadModule` loaded). Both run while the configuration is read (`EXEC_ON_READ`), so a module counts
//!   from its `LoadModule` on. A section whose condition fails is skipped unread (`ap_soak_end_container`): its
//!   `Include`s are not followed, its `LoadModule`s not loaded.
//! - `<IfDefine [!]NAME>` (`start_ifdefine`, `ap_exists_config_define`): the command line's `-D NAME`, and `Define`
//!   / `UnDefine` read before.
//! - `${VAR}` (`ap_resolve_env`, applied to each line as it is read): a `Define`d value, else the process's
//!   environment; undefined, apache warns ("Config variable ${VAR} is not defined") and keeps `${VAR}` as written.
//!
//! What the walker cannot know it does not guess: a module named by its source file (`foo.c`) that is not
//! built in, once any module was loaded (its source name is inside its `.so`); a module not loaded by a server
//! whose built-in modules are not known (other than Debian's `apache2`); `<IfVersion>`, `<IfFile>`,
//! `<IfDirective>`, `<IfSection>`. Such a section is read as "maybe" ([`Known::Maybe`]).

use std::path::Path;

use super::{Env, Start};

/// Debian's apache2 2.4 built-in modules, as `apache2 -l` lists them (source file, symbol): nothing else is
/// linked in, so a module neither here nor loaded is not there. The first three are in every apache.
pub const DEBIAN_BUILTIN: &[(&str, &str)] = &[
    ("core.c", "core_module"),
    ("mod_so.c", "so_module"),
    ("http_core.c", "http_module"),
    ("mod_watchdog.c", "watchdog_module"),
    ("mod_log_config.c", "log_config_module"),
    ("mod_logio.c", "logio_module"),
    ("mod_version.c", "version_module"),
    ("mod_unixd.c", "unixd_module"),
];

/// What the walker knows of a condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Known {
    Yes,
    No,
    Maybe,
}

/// The conditional sections apache decides while reading (their lowercased opening word, and as written).
const SECTIONS: &[(&str, &str)] = &[
    ("<ifmodule", "<IfModule"),
    ("<ifdefine", "<IfDefine"),
    ("<ifversion", "<IfVersion"),
    ("<iffile", "<IfFile"),
    ("<ifdirective", "<IfDirective"),
    ("<ifsection", "<IfSection"),
];

/// A name known for sure or only maybe (set inside a section the walker could not decide).
struct Named {
    name: String,
    value: Option<String>,
    sure: bool,
}

/// What apache knows at a point of its reading.
pub(super) struct State {
    /// The sections open, innermost last.
    open: Vec<Known>,
    /// Modules loaded by `LoadModule` (their symbols).
    modules: Vec<Named>,
    defines: Vec<Named>,
    /// The built-in modules are known whole (Debian's apache2); else only the first three are sure.
    debian: bool,
    env: Env,
}

impl State {
    pub(super) fn new(start: &Start) -> Self {
        let defines = start.defines.iter().map(|d| Named {
            name: d.clone(),
            value: None,
            sure: true,
        });
        State {
            open: Vec::new(),
            modules: Vec::new(),
            defines: defines.collect(),
            debian: start.debian_apache2,
            env: start.env.clone(),
        }
    }

    /// Whether what is read now counts for sure (no undecided section is open).
    pub(super) fn sure(&self) -> bool {
        !self.open.contains(&Known::Maybe)
    }

    pub(super) fn depth(&self) -> usize {
        self.open.len()
    }

    pub(super) fn close_to(&mut self, depth: usize) {
        self.open.truncate(depth);
    }

    /// Reads one directive: `${VAR}` resolved, sections opened and closed, `LoadModule`/`Define`/`UnDefine`
    /// noted. The directive as apache sees it, or `None` when it is a section's edge or inside a skipped one.
    /// A section it cannot decide is added to `undecided`.
    pub(super) fn read(
        &mut self,
        name: String,
        args: Vec<String>,
        file: &Path,
        undecided: &mut Vec<String>,
    ) -> Option<(String, Vec<String>)> {
        let name = self.resolve(&name).to_ascii_lowercase();
        let args: Vec<String> = args.iter().map(|a| self.resolve(a)).collect();
        if let Some((_, written)) = SECTIONS.iter().find(|(n, _)| *n == name) {
            let known = if self.open.contains(&Known::No) {
                Known::No
            } else {
                self.section(&name, &args)
            };
            if known == Known::Maybe {
                undecided.push(format!(
                    "{written} {} in {}",
                    args.join(" "),
                    file.display()
                ));
            }
            self.open.push(known);
            return None;
        }
        if name.starts_with("</if")
            && SECTIONS
                .iter()
                .any(|(n, _)| name == format!("</{}>", &n[1..]))
        {
            self.open.pop();
            return None;
        }
        if self.open.contains(&Known::No) {
            return None;
        }
        self.note(&name, &args);
        Some((name, args))
    }

    /// `LoadModule`, `Define`, `UnDefine`: what later conditions and variables see.
    fn note(&mut self, name: &str, args: &[String]) {
        let sure = self.sure();
        let Some(first) = args.first() else {
            return;
        };
        match name {
            "loadmodule" => self.modules.push(Named {
                name: first.clone(),
                value: None,
                sure,
            }),
            "define" => self.defines.push(Named {
                name: first.clone(),
                value: args.get(1).cloned(),
                sure,
            }),
            "undefine" if sure => self.defines.retain(|d| d.name != *first),
            "undefine" => self
                .defines
                .iter_mut()
                .filter(|d| d.name == *first)
                .for_each(|d| d.sure = false),
            _ => {}
        }
    }

    /// A section's condition: its argument up to the last `>`, a leading `!` negating it.
    fn section(&self, name: &str, args: &[String]) -> Known {
        let arg = args.join(" ");
        let arg = arg
            .rfind('>')
            .map_or(arg.as_str(), |end| &arg[..end])
            .trim();
        let (not, arg) = match arg.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, arg),
        };
        let known = match name {
            "<ifmodule" => self.module(arg),
            "<ifdefine" => find(&self.defines, arg),
            _ => Known::Maybe,
        };
        match (known, not) {
            (Known::Yes, true) => Known::No,
            (Known::No, true) => Known::Yes,
            (k, _) => k,
        }
    }

    /// Whether module `name` (source file or symbol) is there, as `find_module` looks it up.
    fn module(&self, name: &str) -> Known {
        let builtin = if self.debian {
            DEBIAN_BUILTIN
        } else {
            &DEBIAN_BUILTIN[..3]
        };
        if builtin
            .iter()
            .any(|(file, sym)| *file == name || *sym == name)
        {
            return Known::Yes;
        }
        match find(&self.modules, name) {
            Known::No if name.ends_with(".c") && !self.modules.is_empty() => Known::Maybe,
            Known::No if !self.debian => Known::Maybe,
            k => k,
        }
    }

    /// A word with each `${VAR}` replaced as `ap_resolve_env` does: a `Define`d value, else the environment's;
    /// else kept as written.
    fn resolve(&self, word: &str) -> String {
        let mut out = String::new();
        let mut rest = word;
        while let Some(at) = rest.find("${") {
            out.push_str(&rest[..at]);
            let Some(len) = rest[at + 2..].find('}') else {
                break;
            };
            let var = &rest[at + 2..at + 2 + len];
            let defined = self.defines.iter().rev().find(|d| d.name == var);
            let value = defined.and_then(|d| d.value.as_deref()).or_else(|| {
                self.env
                    .vars
                    .iter()
                    .rev()
                    .find(|(n, _)| n == var)
                    .map(|(_, v)| v.as_str())
            });
            match value {
                Some(v) => out.push_str(v),
                None => out.push_str(&rest[at..at + 3 + len]),
            }
            rest = &rest[at + 3 + len..];
        }
        out.push_str(rest);
        out
    }
}

/// Whether `name` is among `names`: the last one said, sure or maybe.
fn find(names: &[Named], name: &str) -> Known {
    match names.iter().rev().find(|n| n.name == name) {
        Some(n) if n.sure => Known::Yes,
        Some(_) => Known::Maybe,
        None => Known::No,
    }
}

/// The variables Debian's `envvars` (sourced by `apache2ctl` before it starts apache2) exports, for a server whose
/// ServerRoot is `confdir`: its plain `export NAME=value` lines, `$SUFFIX` as its own `if` sets it
/// (`-NAME` for `/etc/apache2-NAME`, else empty), other `$VAR`/`${VAR}` from those before. A line that uses
/// anything else is left out (unknown, not guessed). `APACHE_CONFDIR` is apache2ctl's own.
pub fn debian_envvars(text: &str, confdir: &Path) -> Vec<(String, String)> {
    let confdir = confdir.to_string_lossy().into_owned();
    let suffix = confdir
        .strip_prefix("/etc/apache2-")
        .map(|s| format!("-{s}"))
        .unwrap_or_default();
    let mut vars = vec![
        ("APACHE_CONFDIR".to_owned(), confdir),
        ("SUFFIX".to_owned(), suffix),
    ];
    for line in text.lines().map(str::trim) {
        let Some((name, value)) = line.strip_prefix("export ").and_then(|l| l.split_once('='))
        else {
            continue;
        };
        let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if let (true, Some(value)) = (valid, shell_value(value, &vars)) {
            vars.push((name.to_owned(), value));
        }
    }
    vars.retain(|(n, _)| n != "SUFFIX");
    vars
}

/// A shell word made of plain characters and `$VAR`/`${VAR}` of `vars`; `None` for anything else (quotes,
/// commands, an unknown variable).
fn shell_value(value: &str, vars: &[(String, String)]) -> Option<String> {
    let mut out = String::new();
    let mut rest = value;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let (var, next) = match after.strip_prefix('{') {
            Some(braced) => {
                let end = braced.find('}')?;
                (&braced[..end], &braced[end + 1..])
            }
            None => {
                let end = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(after.len());
                (&after[..end], &after[end..])
            }
        };
        out.push_str(&vars.iter().rev().find(|(n, _)| n == var)?.1);
        rest = next;
    }
    out.push_str(rest);
    let plain = out.chars().all(|c| {
        !c.is_whitespace() && !matches!(c, '"' | '\'' | '`' | ';' | '&' | '|' | '(' | ')')
    });
    plain.then_some(out)
}
