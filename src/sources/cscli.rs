//! Source `cscli`: a LAPI's bouncers from `cscli bouncers list -o json`, for deployments where only cscli is at
//! hand (a container: `docker exec crowdsec cscli ...`, `kubectl exec ...`).
//!
//! The command is split like a shell would split words, but no shell runs it. It runs in its own process group,
//! killed whole after its timeout (and when the read ends or is dropped), and the child is reaped. Its stderr is ignored (cscli warns there, e.g. about SQLite without WAL).
//! Both output shapes are read: 1.4.6 prints the raw rows (with the api_key hash, which is never deserialized,
//! so it is never stored nor logged), 1.6.3+ prints `last_pull` null until the first pull, `os` and `auto_created`.

use std::collections::HashSet;
use std::process::Stdio;
use std::time::Duration;

use serde::Deserialize;
use tokio::io::AsyncReadExt;

use crate::crowdsec::bouncers::{BouncerSnapshot, RawTime};
use crate::crowdsec::rows::{interpret, NameMap, RawRow, Schema};
use crate::sources::{Failure, Reason, SourceFailure};
use crate::values::time::parse_timestamp;

pub(crate) const SOURCE: &str = "cscli";

/// The command run when none is configured.
pub(crate) const DEFAULT_COMMAND: &str = "cscli bouncers list -o json";

/// Output larger than this is refused (10,000 bouncers print about 4 MB).
const MAX_OUTPUT: u64 = 64 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub(crate) enum CscliError {
    #[error("cannot run {program}: {kind}")]
    Spawn {
        program: String,
        kind: std::io::ErrorKind,
    },
    #[error("{program} did not finish within {timeout:?}; it was killed")]
    Timeout { program: String, timeout: Duration },
    #[error("{program} failed ({status}); its output is not shown as it may hold secrets")]
    Exit { program: String, status: String },
    #[error("{program} printed more than {MAX_OUTPUT} bytes")]
    TooLarge { program: String },
    // serde_json's messages can quote the offending value: only its position and category are kept.
    #[error("{program} did not print the JSON of `cscli bouncers list -o json` ({category} at line {line}, column {column})")]
    Parse {
        program: String,
        category: &'static str,
        line: usize,
        column: usize,
    },
    #[error("reading the output of {program} failed: {kind}")]
    Read {
        program: String,
        kind: std::io::ErrorKind,
    },
}

impl Failure for CscliError {
    fn reason(&self) -> Reason {
        match self {
            CscliError::Spawn { .. } => Reason::Spawn,
            CscliError::Timeout { .. } => Reason::Timeout,
            CscliError::Exit { .. } => Reason::Exit,
            CscliError::TooLarge { .. } | CscliError::Parse { .. } => Reason::Parse,
            CscliError::Read { .. } => Reason::Io,
        }
    }
}

/// Splits a command line into words without a shell: whitespace separates words, `'...'` is literal, `"..."`
/// honours `\"` and `\\`, and a backslash outside quotes escapes the next character.
///
/// # Errors
/// An empty line, an unterminated quote or a trailing backslash, said in words.
pub fn split_command(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err("unterminated ' quote in the command".to_owned()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\')) => word.push(c),
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err("unterminated \" quote in the command".to_owned()),
                        },
                        Some(c) => word.push(c),
                        None => return Err("unterminated \" quote in the command".to_owned()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(c) => word.push(c),
                    None => return Err("the command ends with a lone backslash".to_owned()),
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    if words.is_empty() {
        return Err("the cscli command is empty".to_owned());
    }
    Ok(words)
}

/// Runs the configured command and reads its bouncers.
#[derive(Debug, Clone)]
pub struct CscliSource {
    /// The `name` label (the LAPI's).
    name: String,
    argv: Vec<String>,
    timeout: Duration,
}

impl CscliSource {
    /// `argv` as returned by [`split_command`] (not empty).
    pub fn new(argv: Vec<String>, timeout: Duration) -> Self {
        CscliSource {
            name: String::new(),
            argv,
            timeout,
        }
    }

    /// Names the LAPI this command lists (the `name` label).
    pub(crate) fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The program's name for messages: its file name only (arguments may hold paths or tokens).
    fn program(&self) -> String {
        let p = self.argv.first().map(String::as_str).unwrap_or_default();
        p.rsplit('/').next().unwrap_or(p).to_owned()
    }

    /// Runs the command once.
    ///
    /// # Errors
    /// Reasons `spawn`, `exit`, `io`, `timeout` and `parse` (see the module's error type).
    pub async fn read(&self) -> Result<BouncerSnapshot, SourceFailure> {
        let out = self.run().await.map_err(|e| e.to_failure())?;
        parse_output(&out).map_err(|(category, line, column)| {
            CscliError::Parse {
                program: self.program(),
                category,
                line,
                column,
            }
            .to_failure()
        })
    }

    /// Runs the command; its stdout on success.
    async fn run(&self) -> Result<Vec<u8>, CscliError> {
        let program = self.program();
        let (first, rest) = self.argv.split_first().ok_or(CscliError::Spawn {
            program: String::new(),
            kind: std::io::ErrorKind::InvalidInput,
        })?;
        let mut child = tokio::process::Command::new(first)
            .args(rest)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            // Should this future be dropped (scrape cache timeout), the child still dies.
            .kill_on_drop(true)
            // Its own process group, killed whole below: what it starts dies with it.
            .process_group(0)
            .spawn()
            .map_err(|e| CscliError::Spawn {
                program: program.clone(),
                kind: e.kind(),
            })?;
        // Dropped before `child` (declared after it): the group dies, then the child is reaped.
        let mut group = super::process_group::GroupKill::led_by(child.id());
        let mut stdout = child.stdout.take().ok_or(CscliError::Read {
            program: program.clone(),
            kind: std::io::ErrorKind::BrokenPipe,
        })?;
        let work = async {
            let mut buf = Vec::new();
            (&mut stdout)
                .take(MAX_OUTPUT + 1)
                .read_to_end(&mut buf)
                .await?;
            let status = if buf.len() as u64 > MAX_OUTPUT {
                None
            } else {
                Some(child.wait().await?)
            };
            Ok::<_, std::io::Error>((buf, status))
        };
        let result = tokio::time::timeout(self.timeout, work).await;
        // Whatever the outcome, nothing the command started outlives the read.
        group.kill();
        match result {
            Err(_) => {
                // kill() also waits, so no zombie is left behind.
                let _ = child.kill().await;
                Err(CscliError::Timeout {
                    program,
                    timeout: self.timeout,
                })
            }
            Ok(Err(e)) => {
                let _ = child.kill().await;
                Err(CscliError::Read {
                    program,
                    kind: e.kind(),
                })
            }
            Ok(Ok((_, None))) => {
                let _ = child.kill().await;
                Err(CscliError::TooLarge { program })
            }
            Ok(Ok((_, Some(status)))) if !status.success() => Err(CscliError::Exit {
                program,
                status: status.to_string(),
            }),
            Ok(Ok((buf, Some(_)))) => Ok(buf),
        }
    }
}

/// One element of the output. Only the fields read are declared: `api_key` (1.4.6) is skipped unread.
#[derive(Debug, Deserialize)]
struct Row {
    name: Option<String>,
    ip_address: Option<String>,
    #[serde(rename = "type")]
    bouncer_type: Option<String>,
    version: Option<String>,
    auth_type: Option<String>,
    revoked: Option<bool>,
    last_pull: Option<String>,
    created_at: Option<String>,
    /// 1.6.3+: `osname/osversion`, `?` when unknown.
    os: Option<String>,
    auto_created: Option<bool>,
    /// 1.4.6 only (with `id` and `api_key`).
    until: Option<serde::de::IgnoredAny>,
}

fn time(text: Option<String>) -> RawTime {
    match text {
        None => RawTime::Null,
        Some(t) => parse_timestamp(&t).map_or(RawTime::Unparseable, RawTime::At),
    }
}

/// Parses the output; on error, serde's category and position (never its message, which may quote values).
///
/// # Errors
/// The output is not cscli's JSON list of bouncers: serde's error category, line and column.
pub fn parse_output(out: &[u8]) -> Result<BouncerSnapshot, (&'static str, usize, usize)> {
    let located = |e: serde_json::Error| {
        let category = match e.classify() {
            serde_json::error::Category::Io => "read error",
            serde_json::error::Category::Syntax => "syntax error",
            serde_json::error::Category::Data => "unexpected value",
            serde_json::error::Category::Eof => "truncated output",
        };
        (category, e.line(), e.column())
    };
    // 1.4.6 prints `null` when there is no bouncer.
    let rows: Option<Vec<Row>> = serde_json::from_slice(out).map_err(located)?;
    let rows = rows.unwrap_or_default();
    let mut columns: HashSet<String> = HashSet::new();
    // Old shape: raw rows, last_pull never null, created_at rewritten on each update.
    let old_shape = rows.iter().any(|r| r.until.is_some());
    let new_shape = rows.iter().any(|r| r.os.is_some());
    if new_shape {
        columns.insert("osname".to_owned());
    }
    if rows.iter().any(|r| r.auto_created.is_some()) && new_shape {
        columns.insert("auto_created".to_owned());
    }
    let schema = Schema {
        columns,
        last_pull_nullable: !old_shape && (new_shape || rows.iter().any(|r| r.last_pull.is_none())),
    };
    let raw = rows
        .into_iter()
        .map(|r| RawRow {
            name: r.name.map(Into::into),
            ip_address: r.ip_address.map(Into::into),
            bouncer_type: r.bouncer_type.map(Into::into),
            version: r.version.map(Into::into),
            auth_type: r.auth_type.map(Into::into),
            revoked: r.revoked,
            last_pull: Some(time(r.last_pull)),
            created_at: Some(time(r.created_at)),
            osname: r.os.filter(|os| os != "?").map(Into::into),
            osversion: None,
            auto_created: r.auto_created,
        })
        .collect();
    let (bouncers, bad_rows) = interpret(&schema, raw, &NameMap::default());
    Ok(BouncerSnapshot {
        bouncers,
        schema: schema.generation(),
        bad_rows,
        usage: None,
        autodelete: Vec::new(),
    })
}

impl crate::sources::Source for CscliSource {
    type Snapshot = BouncerSnapshot;
    fn source(&self) -> &'static str {
        SOURCE
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn lapi(&self) -> Option<&str> {
        Some(&self.name)
    }
    async fn read(self: std::sync::Arc<Self>) -> Result<BouncerSnapshot, SourceFailure> {
        CscliSource::read(&self).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_a_shell_without_one() {
        assert_eq!(
            split_command("cscli bouncers list -o json").unwrap(),
            ["cscli", "bouncers", "list", "-o", "json"]
        );
        assert_eq!(
            split_command(r#"  kubectl exec -n 'crowd sec' "pod \"1\"" -- a\ b ''  "#).unwrap(),
            [
                "kubectl",
                "exec",
                "-n",
                "crowd sec",
                "pod \"1\"",
                "--",
                "a b",
                ""
            ]
        );
        assert_eq!(
            split_command("a $(rm -rf /) ;|").unwrap(),
            ["a", "$(rm", "-rf", "/)", ";|"]
        );
        assert!(split_command("").is_err());
        assert!(split_command("   ").is_err());
        assert!(split_command("a 'b").is_err());
        assert!(split_command("a \"b").is_err());
        assert!(split_command("a \\").is_err());
    }

    #[test]
    fn empty_and_null_outputs_are_no_bouncers() {
        assert!(parse_output(b"null").unwrap().bouncers.is_empty());
        assert!(parse_output(b"[]\n").unwrap().bouncers.is_empty());
    }

    #[test]
    fn garbage_gives_a_position_not_the_content() {
        let (category, line, _) =
            parse_output(b"[\n{\"name\": \"x\", \"revoked\": \"hunter2\"}]").unwrap_err();
        assert_eq!((category, line), ("unexpected value", 2));
        assert_eq!(
            parse_output(b"level=fatal msg=boom").unwrap_err().0,
            "syntax error"
        );
        assert_eq!(parse_output(b"").unwrap_err().0, "truncated output");
    }
}
