//! Why the exporter's user cannot read a file, and what fixes it, in words an operator can act on.
//!
//! The commonest first-run failure: CrowdSec's SQLite database is `0640 root:crowdsec` (or 0600) and the exporter
//! runs as its own user. Owner, group and mode come from `stat`; user and group names from `/etc/passwd` and
//! `/etc/group` (no NSS: names that live elsewhere are shown as numbers); the process' own ids from
//! `/proc/self/status`.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Who may read `path` and how to let the exporter do so, e.g. `owner root, group crowdsec, mode 0640; the
/// exporter (user exporter, groups exporter) cannot read it. Fix: add the exporter's user to the group ...`.
/// `path` is the file that could not be opened; when a folder on the way is the obstacle, that folder is named.
pub(crate) fn permission_hint(path: &Path) -> String {
    let (me, user) = process_user();
    let user = user.unwrap_or_else(|| "<exporter user>".to_owned());
    // A folder on the way without search permission: name the first one that stops us.
    if std::fs::metadata(path)
        .err()
        .is_some_and(|e| e.kind() == std::io::ErrorKind::PermissionDenied)
    {
        let chain: Vec<&Path> = path
            .ancestors()
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        let denied = |p: &Path| {
            std::fs::metadata(p)
                .err()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::PermissionDenied)
        };
        let blocking = chain
            .windows(2)
            .find(|w| std::fs::metadata(w[0]).is_ok() && denied(w[1]))
            .map(|w| w[0]);
        return match blocking.and_then(|d| std::fs::metadata(d).ok().map(|m| (d, m))) {
            Some((dir, m)) => format!(
                "the folder {} ({}) does not let {me} through: give it search permission for the exporter's user \
                 (e.g. chmod o+x, or add the exporter's user to the group `{}`)",
                dir.display(),
                describe(&m),
                group_name(m.gid()),
            ),
            None => format!("a folder on the way does not let {me} through: the exporter's user needs search (x) permission on every folder up to the file"),
        };
    }
    let Ok(m) = std::fs::metadata(path) else {
        return format!("{me} cannot read it");
    };
    let owner = user_name(m.uid());
    let group = group_name(m.gid());
    let mode = m.mode() & 0o777;
    let fix = if mode & 0o040 != 0 {
        format!(
            "add the exporter's user to the group `{group}` (e.g. `usermod -aG {group} {user}` or \
             SupplementaryGroups={group} in its systemd unit, then restart the exporter), or run the exporter as \
             `{owner}`, the file's owner"
        )
    } else {
        format!(
            "its group cannot read it: run the exporter as `{owner}`, the file's owner, or make it group-readable \
             (`chmod g+r`, CrowdSec's own mode is 0640) and add the exporter's user to the group `{group}`"
        )
    };
    format!("{}; {me} cannot read it. Fix: {fix}", describe(&m))
}

/// `owner root, group crowdsec, mode 0640`.
fn describe(m: &std::fs::Metadata) -> String {
    format!(
        "owner {}, group {}, mode {:04o}",
        user_name(m.uid()),
        group_name(m.gid()),
        m.mode() & 0o7777
    )
}

/// `the exporter (user nobody, groups nogroup)` and the user's name, or `the exporter` when /proc cannot tell.
fn process_user() -> (String, Option<String>) {
    let unknown = || ("the exporter".to_owned(), None);
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return unknown();
    };
    let field = |name: &str| -> Vec<u32> {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|rest| {
                rest.split_whitespace()
                    .filter_map(|n| n.parse().ok())
                    .collect()
            })
            .unwrap_or_default()
    };
    // Effective ids decide access: the second field of Uid:/Gid:.
    let (Some(&uid), Some(&gid)) = (field("Uid:").get(1), field("Gid:").get(1)) else {
        return unknown();
    };
    let mut groups = vec![gid];
    for g in field("Groups:") {
        if !groups.contains(&g) {
            groups.push(g);
        }
    }
    let groups: Vec<String> = groups.into_iter().map(group_name).collect();
    let user = user_name(uid);
    (
        format!("the exporter (user {user}, groups {})", groups.join(",")),
        Some(user),
    )
}

fn user_name(uid: u32) -> String {
    name_in("/etc/passwd", uid)
}

fn group_name(gid: u32) -> String {
    name_in("/etc/group", gid)
}

/// The name with that id in a `name:x:id:...` file, else the id itself.
fn name_in(file: &str, id: u32) -> String {
    std::fs::read_to_string(file)
        .ok()
        .and_then(|text| {
            text.lines().find_map(|l| {
                let mut f = l.split(':');
                let name = f.next()?;
                let num: u32 = f.nth(1)?.parse().ok()?;
                (num == id && !name.is_empty()).then(|| name.to_owned())
            })
        })
        .unwrap_or_else(|| id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_files_or_stay_numbers() {
        assert_eq!(user_name(0), "root");
        assert_eq!(group_name(0), "root");
        assert_eq!(name_in("/etc/group", 4_000_000_000), "4000000000");
        assert_eq!(name_in("/nonexistent", 0), "0");
    }

    #[test]
    fn a_readable_file_is_described_with_owner_group_and_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("db");
        std::fs::write(&f, "x").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o640)).unwrap();
        let hint = permission_hint(&f);
        assert!(hint.contains("mode 0640"), "{hint}");
        assert!(
            hint.contains("add the exporter's user to the group"),
            "{hint}"
        );
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        let hint = permission_hint(&f);
        assert!(hint.contains("its group cannot read it"), "{hint}");
    }
}
