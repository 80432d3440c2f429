//! `claimtrail backup`: a consistent copy of a SQLite database while the
//! server runs and takes writes, which a server then starts from.

use std::collections::HashSet;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use claimtrail::db::Backend;
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::helpers::{TestApp, fresh_database, spawn_app_at};

fn claimtrail(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_claimtrail")).args(args).output().expect("the binary runs")
}

/// Creates claims until `stop`, recording the ids the server acknowledged.
async fn write_until(app: Arc<TestApp>, acknowledged: Arc<Mutex<Vec<String>>>, stop: Arc<AtomicBool>) {
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        let body = json!({"text": format!("Written during the backup, number {n}.")});
        let response = app.post("/v1/claims", &body).await;
        if response.status().as_u16() == 201 {
            let body: Value = response.json().await.expect("a claim");
            acknowledged.lock().expect("the list").push(body["id"].as_str().expect("an id").to_string());
        }
        n += 1;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_writes_is_consistent_checked_and_restores() {
    let (url, dir) = fresh_database(Backend::Sqlite);
    let app = Arc::new(spawn_app_at(Backend::Sqlite, url.clone(), dir, |s| s.no_seed = false).await);
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = JoinSet::new();
    for _ in 0..4 {
        writers.spawn(write_until(app.clone(), acknowledged.clone(), stop.clone()));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before: HashSet<String> = acknowledged.lock().expect("the list").iter().cloned().collect();
    let target = tempfile::tempdir().expect("a temp dir");
    let copy = target.path().join("backup.db");
    let copy_path = copy.to_string_lossy().into_owned();
    let output = tokio::task::spawn_blocking({
        let (url, copy_path) = (url.clone(), copy_path.clone());
        move || claimtrail(&["--database-url", &url, "backup", &copy_path])
    })
    .await
    .expect("the backup ran");
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    while writers.join_next().await.is_some() {}
    let after: HashSet<String> = acknowledged.lock().expect("the list").iter().cloned().collect();

    let said = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "backup failed: {}", String::from_utf8_lossy(&output.stderr));
    assert!(said.contains("integrity_check ok, foreign_key_check ok"), "{said}");
    assert!(!before.is_empty() && after.len() > before.len(), "writes went on around the backup");
    assert!(!target.path().join("backup.db.partial").exists());

    // Restore: a server started on the copy has every claim acknowledged
    // before the backup began, the seed data, and nothing that was never
    // acknowledged.
    let restored_dir = tempfile::tempdir().expect("a temp dir");
    let restored_path = restored_dir.path().join("restored.db");
    std::fs::copy(&copy, &restored_path).expect("the copy is put in place");
    let restored =
        spawn_app_at(Backend::Sqlite, restored_path.to_string_lossy().into_owned(), restored_dir, |_| {}).await;
    let ids: HashSet<String> =
        restored.list_all("/v1/claims").await.iter().map(|c| c["id"].as_str().expect("an id").to_string()).collect();
    let missing: Vec<&String> = before.iter().filter(|id| !ids.contains(*id)).collect();
    assert!(missing.is_empty(), "acknowledged before the backup, missing from it: {missing:?}");
    let seeded = claimtrail::seed::records().expect("the seed records").iter().filter(|r| r.kind == "claim").count();
    let written_in_copy = ids.len() - seeded;
    assert!(ids.iter().filter(|id| after.contains(*id)).count() == written_in_copy, "the copy holds only real writes");
    let counted = format!("{} claims", ids.len());
    assert!(said.contains(&counted), "the report counts the copy's claims ({counted}): {said}");
}

#[test]
fn a_backup_never_overwrites_and_points_postgresql_users_elsewhere() {
    let (url, _dir) = fresh_database(Backend::Sqlite);
    let migrated = claimtrail(&["--database-url", &url, "migrate"]);
    assert!(migrated.status.success());
    let target = tempfile::NamedTempFile::new().expect("a file that exists");
    let path = target.path().to_string_lossy().into_owned();
    let refused = claimtrail(&["--database-url", &url, "backup", &path]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("never overwrites"));
    let postgres = claimtrail(&["--database-url", "postgres://nobody@127.0.0.1:1/none", "backup", "/tmp/x.db"]);
    assert!(!postgres.status.success());
    assert!(String::from_utf8_lossy(&postgres.stderr).contains("pg_dump"));
}
