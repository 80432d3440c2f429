//! `claimtrail backup FILE`: a consistent copy of a SQLite database, made
//! while the server runs, and checked before it is given its name.
//!
//! SQLite's `VACUUM INTO` reads the database in one read transaction (a
//! snapshot; in WAL mode writers go on meanwhile) and writes a compact copy.
//! The copy is written beside the target as `FILE.partial`, checked
//! (`PRAGMA integrity_check`, `PRAGMA foreign_key_check`, the records of
//! each kind counted), flushed to disk, and only then renamed to `FILE`: a
//! file at `FILE` is always a whole, checked backup. PostgreSQL has its own
//! tools for this (`pg_dump`, `pg_basebackup`; see the README).

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use diesel::prelude::*;
use diesel::sql_types::Text;

use crate::db::schema::{agents, api_keys, attributions, claims, reviews, revisions, sources};
use crate::db::{Backend, DbConnection, establish};
use crate::transfer::Counts;

/// What a backup holds.
#[derive(Debug)]
pub struct BackupReport {
    pub path: PathBuf,
    pub bytes: u64,
    pub counts: Counts,
}

impl fmt::Display for BackupReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.counts;
        write!(
            f,
            "{} ({:.1} MiB): {} agents, {} sources, {} claims, {} attributions, {} API keys; \
             integrity_check ok, foreign_key_check ok",
            self.path.display(),
            self.bytes as f64 / (1024.0 * 1024.0),
            c.agents,
            c.sources,
            c.claims,
            c.attributions,
            c.keys
        )
    }
}

#[derive(QueryableByName)]
struct Line {
    #[diesel(sql_type = Text)]
    line: String,
}

/// Copies the SQLite database at `database_url` to `target`, which must not
/// exist yet, and checks the copy.
pub fn backup(database_url: &str, target: &Path) -> anyhow::Result<BackupReport> {
    if Backend::of_url(database_url) != Backend::Sqlite {
        bail!("`backup` copies a SQLite database; for PostgreSQL use pg_dump or pg_basebackup (see the README)");
    }
    if !Path::new(database_url).exists() {
        bail!("there is no database at {database_url}");
    }
    if target.exists() {
        bail!("{} already exists; a backup never overwrites a file", target.display());
    }
    let mut partial = target.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let _ = std::fs::remove_file(&partial);
    let result = copy_and_check(database_url, &partial);
    match result {
        Ok(counts) => {
            std::fs::rename(&partial, target).with_context(|| format!("naming the backup {}", target.display()))?;
            sync_directory(target);
            let bytes = std::fs::metadata(target)?.len();
            Ok(BackupReport { path: target.to_path_buf(), bytes, counts })
        }
        Err(error) => {
            let _ = std::fs::remove_file(&partial);
            Err(error)
        }
    }
}

fn copy_and_check(database_url: &str, partial: &Path) -> anyhow::Result<Counts> {
    let mut source = establish(database_url)?;
    let path = partial.to_str().context("the backup's path must be UTF-8")?;
    diesel::sql_query("VACUUM INTO ?")
        .bind::<Text, _>(path)
        .execute(&mut source)
        .with_context(|| format!("copying {database_url} to {}", partial.display()))?;
    drop(source);
    std::fs::File::open(partial)?.sync_all().context("flushing the backup to disk")?;
    let mut copy = establish(path)?;
    check(&mut copy).with_context(|| format!("checking the copy {}", partial.display()))
}

/// The copy's integrity, its references, and its records counted.
fn check(conn: &mut DbConnection) -> anyhow::Result<Counts> {
    let integrity: Vec<Line> =
        diesel::sql_query("SELECT integrity_check AS line FROM pragma_integrity_check").load(conn)?;
    if integrity.len() != 1 || integrity[0].line != "ok" {
        let problems: Vec<String> = integrity.into_iter().take(10).map(|l| l.line).collect();
        bail!("integrity_check found: {}", problems.join("; "));
    }
    let dangling: Vec<Line> = diesel::sql_query(
        "SELECT \"table\" || ' row ' || rowid || ' -> ' || parent AS line FROM pragma_foreign_key_check",
    )
    .load(conn)?;
    if !dangling.is_empty() {
        let problems: Vec<String> = dangling.into_iter().take(10).map(|l| l.line).collect();
        bail!("foreign_key_check found references to nothing: {}", problems.join("; "));
    }
    let count = |n: i64| u64::try_from(n).unwrap_or_default();
    Ok(Counts {
        agents: count(agents::table.count().get_result(conn)?),
        sources: count(sources::table.count().get_result(conn)?),
        claims: count(claims::table.count().get_result(conn)?),
        attributions: count(attributions::table.count().get_result(conn)?),
        reviews: count(reviews::table.count().get_result(conn)?),
        keys: count(api_keys::table.count().get_result(conn)?),
        revisions: count(revisions::table.count().get_result(conn)?),
    })
}

/// Makes the rename itself durable; best effort where directories cannot
/// be opened.
fn sync_directory(file: &Path) {
    let dir = file.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if let Ok(dir) = std::fs::File::open(dir) {
        let _ = dir.sync_all();
    }
}
