//! Why the exporter's user cannot read a file, and what fixes it, in words an operator can act on.
//!
//! The commonest first-run failure: CrowdSec's SQLite database is `0640 root:crowdsec` (or 0600) and the exporter
//! runs as its own user. Owner, group and mode come from `stat`; user and group names from `/etc/passwd` and
//! `/etc/group` (no NSS: names that live elsewhere are shown as numbers); the process' own ids from
//! `/proc/self/status`.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Who may read `path` and the one step that lets the exporter do so, e.g. `owner root, group root, mode 0640; the
/// exporter (user crowdsec-bouncer-exporter, groups crowdsec-bouncer-exporter) cannot read it. Fix, as root: setfacl
/// ... && setfacl ..., then restart the exporter (docs/install.md, "Permissions: one step at most")`.
/// `path` is the file that could not be opened; when a folder above the file's own is the obstacle, that folder is
/// named and given search permission first. CrowdSec's own owner, group and modes stay as they are (issue 25).
pub(crate) fn permission_hint(path: &Path) -> String {
    let (me, user) = process_user();
    let user = user.unwrap_or_else(|| "<exporter user>".to_owned());
    let step = step_command(&user, path);
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
            // The database's own folder: the step gives it search permission.
            Some((dir, m)) if Some(dir) == path.parent() => format!(
                "the folder {} ({}) does not let {me} through. {}",
                dir.display(),
                describe(&m),
                fix(&step)
            ),
            Some((dir, m)) => format!(
                "the folder {} ({}) does not let {me} through. {}",
                dir.display(),
                describe(&m),
                fix(&format!("setfacl -m u:{user}:x {} && {step}", dir.display()))
            ),
            None => format!(
                "a folder on the way does not let {me} through: the exporter's user needs search (x) permission on \
                 every folder up to the file. {}",
                fix(&step)
            ),
        };
    }
    let Ok(m) = std::fs::metadata(path) else {
        return format!("{me} cannot read it. {}", fix(&step));
    };
    format!("{}; {me} cannot read it. {}", describe(&m), fix(&step))
}

/// The one step, word for word as the Debian package prints it (debian/postinst, `step_command`) and
/// docs/install.md gives it: read for `user` on the database and its -wal/-shm files, search on their folder, and a
/// default ACL on the folder so the -wal/-shm files CrowdSec creates later inherit the read entry.
pub(crate) fn step_command(user: &str, db: &Path) -> String {
    let dir = db
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    format!(
        "setfacl -m u:{user}:x,d:u:{user}:r {} && setfacl -m u:{user}:r {}*",
        dir.display(),
        db.display()
    )
}

fn fix(step: &str) -> String {
    format!(
        "Fix, as root: {step} then restart the exporter (docs/install.md, \"Permissions: one step at most\"; \
         CrowdSec's own owner, group and modes stay as they are)"
    )
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

/// `the exporter (user nobody, groups nogroup)` and the user's name.
fn process_user() -> (String, Option<String>) {
    let unknown = || ("the exporter".to_owned(), None);
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        // No /proc (a chroot, a hardened mount): the effective ids from the kernel, without the supplementary
        // groups, so the step still names the user.
        let uid = rustix::process::geteuid().as_raw();
        let gid = rustix::process::getegid().as_raw();
        let user = user_name(uid);
        return (
            format!("the exporter (user {user}, group {})", group_name(gid)),
            Some(user),
        );
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
        let (_, user) = process_user();
        let step = step_command(&user.unwrap(), &f);
        assert!(
            hint.contains(&format!("Fix, as root: {step} then restart")),
            "{hint}"
        );
        assert!(
            !hint.contains("usermod") && !hint.contains("run the exporter as"),
            "{hint}"
        );
    }

    /// The step is the one debian/postinst prints and docs/install.md gives, for the package's user and CrowdSec's
    /// default database.
    #[test]
    fn the_step_is_the_packages_and_the_docs() {
        let step = step_command(
            "crowdsec-bouncer-exporter",
            Path::new("/var/lib/crowdsec/data/crowdsec.db"),
        );
        assert_eq!(
            step,
            "setfacl -m u:crowdsec-bouncer-exporter:x,d:u:crowdsec-bouncer-exporter:r /var/lib/crowdsec/data && \
             setfacl -m u:crowdsec-bouncer-exporter:r /var/lib/crowdsec/data/crowdsec.db*"
        );
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let install = std::fs::read_to_string(root.join("docs/install.md")).unwrap();
        assert!(
            install.contains(&format!("```sh\n{step}\n```")),
            "docs/install.md"
        );
        let postinst = std::fs::read_to_string(root.join("debian/postinst")).unwrap();
        assert!(
            postinst.contains(
                r#"echo "setfacl -m u:$USER_NAME:x,d:u:$USER_NAME:r $(dirname "$1") && setfacl -m u:$USER_NAME:r $1*""#
            ),
            "debian/postinst prints another step"
        );
    }
}
