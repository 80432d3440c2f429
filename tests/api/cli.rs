//! The command line as a user meets it: errors that name the file, address
//! or URL and say what to do, exit codes (0 done, 1 usage or input, 2 the
//! command could not be carried out), no backtraces, progress reports, and
//! imports that refuse files that are not exports.

use std::process::{Command, Output};

use claimtrail::db::Backend;
use reqwest::Method;
use serde_json::json;

use crate::helpers::{error_fields, fresh_database, problem};
use crate::on_both_backends;

/// Runs the binary with `RUST_BACKTRACE=1`, which must change nothing a user sees.
fn claimtrail(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_claimtrail"))
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .env_remove("CLAIMTRAIL_DATABASE_URL")
        .output()
        .expect("the binary runs")
}

/// Stderr of a run that failed with `code`, checked to be one `error:` line
/// without a backtrace.
fn failure(output: &Output, code: i32) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(code), "{stderr}");
    assert!(stderr.contains("error: "), "{stderr}");
    for dump in ["stack backtrace", "Stack backtrace", "panicked", "Backtrace"] {
        assert!(!stderr.contains(dump), "{dump} in: {stderr}");
    }
    stderr
}

#[test]
fn a_database_url_of_another_scheme_is_an_input_error_naming_it_without_its_password() {
    let output = claimtrail(&["--database-url", "mysql://app:s3cret@db.example/claims", "migrate"]);
    let stderr = failure(&output, 1);
    assert!(stderr.contains("mysql://app:***@db.example/claims"), "{stderr}");
    assert!(!stderr.contains("s3cret"), "{stderr}");
    assert!(stderr.contains("postgres://") && stderr.contains("--database-url"), "says what to do: {stderr}");
}

#[test]
fn a_sqlite_file_that_cannot_be_opened_is_named_with_what_to_check() {
    let output = claimtrail(&["--database-url", "/nonexistent-dir/claims.db", "migrate"]);
    let stderr = failure(&output, 2);
    assert!(stderr.contains("/nonexistent-dir/claims.db") && stderr.contains("directory exist"), "{stderr}");
}

#[test]
fn an_address_in_use_is_named_with_the_setting_that_chooses_another() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let (url, _dir) = fresh_database(Backend::Sqlite);
    let output = claimtrail(&["--database-url", &url, "--no-seed", "--bind", &address, "serve"]);
    let stderr = failure(&output, 2);
    assert!(stderr.contains(&format!("cannot listen on {address}")) && stderr.contains("--bind"), "{stderr}");
}

#[test]
fn usage_errors_exit_1_and_help_and_version_exit_0() {
    let stderr = failure(&claimtrail(&["--no-such-flag"]), 1);
    assert!(stderr.contains("--no-such-flag"), "{stderr}");
    failure(&claimtrail(&["--pool-size", "many", "migrate"]), 1);
    let help = claimtrail(&["--help"]);
    assert_eq!(help.status.code(), Some(0));
    let version = claimtrail(&["--version"]);
    assert_eq!(version.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&version.stdout).contains(env!("CARGO_PKG_VERSION")));
}

#[test]
fn import_names_a_missing_file_and_refuses_empty_and_headerless_files_writing_nothing() {
    let (url, dir) = fresh_database(Backend::Sqlite);
    let missing = dir.path().join("missing.ndjson");
    let stderr = failure(&claimtrail(&["--database-url", &url, "import", missing.to_str().unwrap()]), 1);
    assert!(stderr.contains("missing.ndjson") && stderr.contains("No such file"), "{stderr}");

    let empty = dir.path().join("empty.ndjson");
    std::fs::write(&empty, "\n\n").unwrap();
    let stderr = failure(&claimtrail(&["--database-url", &url, "import", empty.to_str().unwrap()]), 1);
    assert!(stderr.contains("empty.ndjson") && stderr.contains("the file is empty"), "{stderr}");

    let headerless = dir.path().join("records.ndjson");
    let agent =
        json!({"type": "agent", "data": {"id": "0193a7e0-7c1e-7000-8000-000000000001", "kind": "person", "name": "A"}});
    std::fs::write(&headerless, format!("{agent}\n")).unwrap();
    let stderr = failure(&claimtrail(&["--database-url", &url, "import", headerless.to_str().unwrap()]), 1);
    assert!(stderr.contains("records.ndjson: line 1") && stderr.contains("header"), "{stderr}");

    let export = claimtrail(&["--database-url", &url, "export"]);
    assert_eq!(export.status.code(), Some(0));
    assert!(!String::from_utf8_lossy(&export.stdout).contains("\"type\":\"agent\""), "something was imported");
}

#[test]
fn generate_export_and_import_report_progress_in_plain_lines_when_stderr_is_not_a_terminal() {
    let (url, dir) = fresh_database(Backend::Sqlite);
    let generated = claimtrail(&["--database-url", &url, "generate", "--claims", "300"]);
    let stderr = String::from_utf8_lossy(&generated.stderr);
    assert_eq!(generated.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("generate: 300/300 claims (100%), ") && stderr.contains("/s, done in"), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "terminal control codes in a pipe: {stderr:?}");

    let file = dir.path().join("out.ndjson");
    let exported = claimtrail(&["--database-url", &url, "export", "--output", file.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&exported.stderr);
    let lines = std::fs::read_to_string(&file).unwrap().lines().count();
    // Counts are written with thousands separators (1,898), as indicatif's
    // HumanCount writes them.
    let grouped = indicatif::HumanCount(lines as u64).to_string();
    assert!(stderr.contains(&format!("export: {grouped}/{grouped} records (100%)")), "{lines} lines; {stderr}");

    let (target, _target_dir) = fresh_database(Backend::Sqlite);
    claimtrail(&["--database-url", &target, "migrate"]);
    let imported = claimtrail(&["--database-url", &target, "import", file.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&imported.stderr);
    assert_eq!(imported.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("import: ") && stderr.contains("(100%)") && stderr.contains("done in"), "{stderr}");
}

/// `claimtrail import` takes a file no one else has open from the WAL for
/// a rollback journal while it runs. Killed halfway (here while it waits
/// for the rest of its input), it leaves that journal behind; the next
/// command to open the file rolls it back, finds nothing imported and the
/// file whole, and puts it in WAL mode again; the import then runs.
#[test]
fn an_import_killed_halfway_leaves_its_journal_and_the_next_start_rolls_it_back_in_wal_mode() {
    use std::io::Write;
    let (source, dir) = fresh_database(Backend::Sqlite);
    let generated = claimtrail(&["--database-url", &source, "generate", "--claims", "300"]);
    assert_eq!(generated.status.code(), Some(0), "{}", String::from_utf8_lossy(&generated.stderr));
    let file = dir.path().join("out.ndjson");
    claimtrail(&["--database-url", &source, "export", "--output", file.to_str().unwrap()]);
    let text = std::fs::read_to_string(&file).expect("the export");
    let (records, end) = text.trim_end().rsplit_once('\n').expect("an end line");
    assert!(end.contains("\"type\":\"end\""), "{end}");

    let (target, _target_dir) = fresh_database(Backend::Sqlite);
    assert_eq!(claimtrail(&["--database-url", &target, "migrate"]).status.code(), Some(0));
    let journal = std::path::PathBuf::from(format!("{target}-journal"));
    let mut import = Command::new(env!("CARGO_BIN_EXE_claimtrail"))
        .args(["--database-url", &target, "import", "-"])
        .env_remove("CLAIMTRAIL_DATABASE_URL")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the import starts");
    let mut stdin = import.stdin.take().expect("its input");
    stdin.write_all(records.as_bytes()).and_then(|()| stdin.write_all(b"\n")).expect("the records are sent");
    stdin.flush().expect("sent");
    // Batches of records are written as they come: the journal appears with
    // the first, and the import then waits for the end line.
    let waited = std::time::Instant::now();
    while !journal.exists() {
        assert!(import.try_wait().expect("the import runs").is_none(), "the import ended before its end line");
        assert!(waited.elapsed() < std::time::Duration::from_secs(120), "no rollback journal appeared");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    import.kill().expect("the import is killed");
    import.wait().expect("it ends");
    drop(stdin);
    assert!(journal.exists(), "a killed import leaves its journal");

    let exported = claimtrail(&["--database-url", &target, "export"]);
    assert_eq!(exported.status.code(), Some(0), "{}", String::from_utf8_lossy(&exported.stderr));
    let lines = String::from_utf8_lossy(&exported.stdout).into_owned();
    assert!(!lines.contains("\"type\":\"agent\""), "the killed import wrote something: {lines}");
    assert!(!journal.exists(), "the journal is rolled back and gone");
    let db = claimtrail::db::Db::connect(&target, 1).expect("the file opens");
    assert_eq!(crate::helpers::lines_of(&db, "SELECT journal_mode AS line FROM pragma_journal_mode"), ["wal"]);
    assert_eq!(crate::helpers::lines_of(&db, "SELECT integrity_check AS line FROM pragma_integrity_check"), ["ok"]);
    drop(db);

    let imported = claimtrail(&["--database-url", &target, "import", file.to_str().unwrap()]);
    assert_eq!(imported.status.code(), Some(0), "{}", String::from_utf8_lossy(&imported.stderr));
    let again = claimtrail(&[
        "--database-url",
        &target,
        "export",
        "--output",
        dir.path().join("again.ndjson").to_str().unwrap(),
    ]);
    assert_eq!(again.status.code(), Some(0));
    assert_eq!(std::fs::read_to_string(dir.path().join("again.ndjson")).expect("the export"), text, "byte for byte");
}

/// On a terminal, the report is a bar with the rate and the time left.
#[test]
fn generate_draws_a_progress_bar_with_rate_and_eta_on_a_terminal() {
    // util-linux `script` gives the command a pseudo-terminal.
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: `script` (util-linux) is not installed, so no terminal can be faked");
        return;
    }
    let (url, _dir) = fresh_database(Backend::Sqlite);
    let command = format!("{} --database-url {url} generate --claims 2000", env!("CARGO_BIN_EXE_claimtrail"));
    let output = Command::new("script").args(["-qec", &command, "/dev/null"]).output().expect("script runs");
    let screen = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{screen}");
    assert!(screen.contains("2,000/2,000 claims"), "{screen}");
    assert!(screen.contains("ETA") && screen.contains("/s"), "{screen}");
    assert!(!screen.contains("generate: 2,000/2,000 claims (100%)"), "plain lines on a terminal: {screen}");
}

on_both_backends! {
    async fn importing_an_empty_or_headerless_body_is_a_422_naming_line_1(app: TestApp) {
        for (body, message) in [("", "the file is empty"), ("\n", "the file is empty"), ("{\"type\":\"agent\",\"data\":{}}\n", "is not a `header` line")] {
            let response = app
                .anonymous(Method::POST, "/v1/import")
                .bearer_auth(&app.admin_key)
                .header("content-type", "application/x-ndjson")
                .body(body)
                .send()
                .await
                .unwrap();
            let refused = problem(response, 422).await;
            assert_eq!(error_fields(&refused), ["line 1"], "{refused}");
            assert!(refused["errors"][0]["message"].as_str().unwrap().contains(message), "{refused}");
        }
    }
}
