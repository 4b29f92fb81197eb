//! Issue 20, SPEC "Command line": `serve` and `import` migrate; `bantin
//! migrate` does it alone and names what it applied ("no migration" when
//! up to date, exit 0); `dump`, `check` and `build` only read:
//!
//! - on a SQLite file opened read only (SQLite's own flag: these tests run
//!   as root, who ignores file modes) not a byte of the file changes, even
//!   with a site file whose limits differ from the store's (they used to be
//!   written into `bantin_limits`); as an unprivileged user the file and
//!   its folder read-only, they still read it;
//! - with a PostgreSQL role granted SELECT only, they succeed;
//! - where the schema is behind, each says "run `bantin migrate`" in one
//!   line and exits 1, changing nothing; after `bantin migrate` they work.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sha2::{Digest, Sha256};

use crate::support::{Bantin, Sandbox, assert_one_line_error, assert_success, site_file};

/// The read-only commands, with `build`'s folder under `out`.
fn read_only_commands(out: &Path) -> Vec<Vec<String>> {
    vec![
        vec!["dump".into(), "--format".into(), "json".into()],
        vec!["check".into()],
        vec!["build".into(), "--out".into(), out.display().to_string()],
    ]
}

/// The sample site file with `max_names_per_article = 15`: limits the
/// store does not hold, so a command that adopted them would write.
fn site_with_other_limits(sb: &Sandbox) -> PathBuf {
    let sample = std::fs::read_to_string(site_file()).unwrap();
    sb.write("site.toml", format!("max_names_per_article = 15\n{sample}"))
}

fn sha256(path: &Path) -> Vec<u8> {
    Sha256::digest(std::fs::read(path).unwrap()).to_vec()
}

fn limits_row(db: &Path) -> Vec<i64> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    conn.query_row("SELECT * FROM bantin_limits", [], |r| {
        (0..r.as_ref().column_count()).map(|i| r.get(i)).collect()
    })
    .unwrap()
}

/// `setpriv` running `bantin` as `nobody`, where there is one and this
/// process may switch users.
fn as_nobody(args: &[&str]) -> Option<Output> {
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(crate::support::bin())
        .args(args)
        .output()
        .ok()?;
    let err = String::from_utf8_lossy(&out.stderr);
    (!err.contains("setpriv:")).then_some(out)
}

#[test]
fn read_only_commands_change_no_byte_of_a_sqlite_file() {
    let sb = Sandbox::with_sample();
    sb.checkpoint();
    let site = site_with_other_limits(&sb);
    let db = sb.db();
    let limits = limits_row(&db);
    let before = sha256(&db);
    let mut mode = std::fs::metadata(&db).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut mode, 0o444);
    std::fs::set_permissions(&db, mode).unwrap();
    for args in read_only_commands(&sb.path("site")) {
        let out = sb.bantin().site(&site).args(&args).output();
        assert_success(&out, &args.join(" "));
    }
    assert!(sb.path("site/feeds/all.rss").exists());
    assert_eq!(sha256(&db), before, "the store file changed");
    assert_eq!(limits_row(&db), limits, "bantin_limits written");
    let wal = sb.path("store.db-wal");
    assert!(
        !wal.exists() || std::fs::metadata(&wal).unwrap().len() == 0,
        "pages written to the WAL"
    );
}

/// Without root's privilege, where SQLite can't make the `-shm` file a
/// WAL-mode store needs: the file and its folder read-only.
#[test]
fn an_unprivileged_user_dumps_and_checks_a_read_only_file_in_a_read_only_folder() {
    use std::os::unix::fs::PermissionsExt;
    let sb = Sandbox::with_sample();
    sb.checkpoint();
    let folder = sb.path("ro");
    std::fs::create_dir(&folder).unwrap();
    let db = folder.join("store.db");
    std::fs::copy(sb.db(), &db).unwrap();
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o444)).unwrap();
    std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o555)).unwrap();
    std::fs::set_permissions(sb.dir(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let store = format!("sqlite:{}", db.display());
    let site = site_file();
    let site = site.to_str().unwrap();
    let Some(out) = as_nobody(&["--store", &store, "--site", site, "dump"]) else {
        eprintln!("SKIPPED: setpriv can't run bantin as nobody here");
        return;
    };
    assert_success(&out, "dump as nobody");
    assert_eq!(out.stdout, sb.dump(&[]), "not the store's feed");
    let out = as_nobody(&["--store", &store, "--site", site, "check"]).unwrap();
    assert_success(&out, "check as nobody");
    // And it may not write: `remove` is refused.
    let out = as_nobody(&["--store", &store, "--site", site, "remove", "x"]).unwrap();
    assert!(!out.status.success());
    assert_eq!(std::fs::read_dir(&folder).unwrap().count(), 1, "files made");
}

/// A store made by an older bantin (at migration 10, its triggers older
/// than this one's): each read-only command says to migrate and changes
/// nothing; `migrate`
/// names what it applied, then "no migration"; the commands then work.
#[test]
fn a_sqlite_store_behind_is_left_to_bantin_migrate() {
    let sb = Sandbox::new();
    let db = sb.path("old.db");
    let old = rusqlite::Connection::open(&db).unwrap();
    old.execute_batch(include_str!("fixtures/sqlite/schema_v10.sql"))
        .unwrap();
    old.pragma_update(None, "user_version", 10).unwrap();
    drop(old);
    let before = sha256(&db);
    let url = format!("sqlite:{}", db.display());
    for args in read_only_commands(&sb.path("site")) {
        let out = Bantin::on(&url).args(&args).output();
        assert_one_line_error(&out, &["run `bantin migrate`", "at migration 10 of"]);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
    }
    assert_eq!(sha256(&db), before, "a read-only command changed the file");
    let out = Bantin::on(&url).arg("migrate").output();
    assert_success(&out, "migrate");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{url}: applied 011_audience\n")
    );
    let out = Bantin::on(&url).arg("migrate").output();
    assert_success(&out, "migrate again");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("no migration to apply"),
        "{out:?}"
    );
    for args in read_only_commands(&sb.path("site")) {
        assert_success(&Bantin::on(&url).args(&args).output(), &args.join(" "));
    }
}

#[test]
fn migrate_makes_a_new_sqlite_store_naming_every_migration() {
    let sb = Sandbox::new();
    let url = format!("sqlite:{}", sb.path("new.db").display());
    // Read only, a missing file is not made.
    let out = Bantin::on(&url).arg("dump").output();
    assert_one_line_error(&out, &["no such file"]);
    assert!(!sb.path("new.db").exists());
    let out = Bantin::on(&url).arg("migrate").output();
    assert_success(&out, "migrate");
    let said = String::from_utf8_lossy(&out.stdout);
    let files = std::fs::read_dir(crate::support::root().join("migrations/sqlite"))
        .unwrap()
        .count();
    assert!(
        said.starts_with(&format!("{url}: applied 001_init, ")),
        "{said}"
    );
    assert_eq!(said.matches(", ").count() + 1, files, "{said}");
}

/// A role granted SELECT only reads every command's way; a database whose
/// schema is behind is left to `bantin migrate`, run by the owner.
#[test]
fn a_select_only_postgres_role_reads_and_a_database_behind_is_left_to_migrate() {
    let Some(url) = crate::support::pg_cluster::database_with_sample() else {
        return;
    };
    let db = url.rsplit('/').next().unwrap().to_string();
    let port = crate::support::pg_cluster::port().unwrap();
    let role = format!("select_only_{db}");
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    admin
        .batch_execute(&format!(
            "CREATE ROLE {role} LOGIN;
             GRANT USAGE ON SCHEMA public TO {role};
             GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role};"
        ))
        .unwrap();
    let limits = |admin: &mut postgres::Client| -> String {
        admin
            .query_one("SELECT bantin_limits::text FROM bantin_limits", &[])
            .unwrap()
            .get(0)
    };
    let held = limits(&mut admin);
    let sb = Sandbox::new();
    let site = site_with_other_limits(&sb);
    let as_role = format!("postgres://{role}@127.0.0.1:{port}/{db}");
    for args in read_only_commands(&sb.path("site")) {
        let out = Bantin::on(&as_role).site(&site).args(&args).output();
        assert_success(&out, &format!("{} as a SELECT-only role", args.join(" ")));
    }
    assert!(sb.path("site/feeds/all.json").exists());
    assert_eq!(limits(&mut admin), held, "bantin_limits written");
    // The role really can't write: a command that does is refused.
    let out = Bantin::on(&as_role).args(["remove", "x"]).output();
    assert!(!out.status.success());

    // A database at migration 9: told to migrate, then migrated.
    let behind = crate::support::pg_cluster::database().unwrap();
    postgres::Client::connect(&behind, postgres::NoTls)
        .unwrap()
        .batch_execute(&crate::postgres::schema_of_version(9))
        .unwrap();
    let out = Bantin::on(&behind).arg("dump").output();
    assert_one_line_error(&out, &["migration 9 of", "run `bantin migrate`"]);
    assert_eq!(out.status.code(), Some(1));
    let out = Bantin::on(&behind).arg("migrate").output();
    assert_success(&out, "migrate");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("applied 010_search_visible_text, 011_"),
        "{said}"
    );
    assert_success(
        &Bantin::on(&behind).arg("dump").output(),
        "dump after migrate",
    );
    let out = Bantin::on(&behind).arg("migrate").output();
    assert!(String::from_utf8_lossy(&out.stdout).contains("no migration to apply"));
}
