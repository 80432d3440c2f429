//! Things a test owns and breaks on purpose: a PostgreSQL cluster of its own
//! that it can stop and start under a running server, and a small tmpfs
//! that fills up.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use diesel::{Connection, RunQueryDsl};

/// A throwaway PostgreSQL cluster, stopped and removed when dropped.
pub struct Cluster {
    bin: PathBuf,
    user: Option<String>,
    dir: tempfile::TempDir,
    port: u16,
}

impl Cluster {
    /// Starts a new cluster with the binaries `scripts/test.sh` names; `None`
    /// (with a message) when the tests run without them.
    pub fn start_new() -> Option<Cluster> {
        let Some(bin) = std::env::var_os("CLAIMTRAIL_TEST_PG_BIN").map(PathBuf::from) else {
            eprintln!("skipped: CLAIMTRAIL_TEST_PG_BIN is not set (run the tests with scripts/test.sh)");
            return None;
        };
        let user = std::env::var("CLAIMTRAIL_TEST_PG_USER").ok().filter(|u| !u.is_empty());
        let dir = tempfile::tempdir().expect("a temp dir");
        if let Some(user) = &user {
            let status = Command::new("chown").arg(user).arg(dir.path()).status().expect("chown runs");
            assert!(status.success(), "chown {user} {}", dir.path().display());
        }
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let cluster = Cluster { bin, user, dir, port };
        let data = cluster.data();
        cluster.pg(
            "initdb",
            &[
                "-D",
                &data,
                "-A",
                "trust",
                "-U",
                "claimtrail",
                "--no-sync",
                "--no-instructions",
                "--locale=C",
                "--encoding=UTF8",
            ],
        );
        cluster.start();
        Some(cluster)
    }

    fn data(&self) -> String {
        self.dir.path().join("data").to_string_lossy().into_owned()
    }

    /// Runs a PostgreSQL binary, as the cluster's user, and checks it worked.
    fn pg(&self, program: &str, args: &[&str]) {
        let program = self.bin.join(program);
        let mut command = match &self.user {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&program);
                c
            }
            None => Command::new(&program),
        };
        let output = command.args(args).current_dir(self.dir.path()).output().expect("a PostgreSQL binary runs");
        assert!(
            output.status.success(),
            "{} {args:?} failed: {}{}",
            program.display(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    pub fn start(&self) {
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=off -c max_connections=50",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("postgres.log").to_string_lossy().into_owned();
        self.pg("pg_ctl", &["-D", &self.data(), "-l", &log, "-w", "-t", "60", "-o", &options, "start"]);
    }

    /// Stops the server (`-m fast`: sessions are ended, as in a restart).
    pub fn stop(&self) {
        self.pg("pg_ctl", &["-D", &self.data(), "-m", "fast", "-w", "stop"]);
    }

    /// A URL of a new database in this cluster.
    pub fn new_database(&self, name: &str) -> String {
        let admin = format!("postgres://claimtrail@127.0.0.1:{}/postgres", self.port);
        let mut conn = diesel::PgConnection::establish(&admin).expect("the cluster answers");
        diesel::sql_query(format!("CREATE DATABASE {name}")).execute(&mut conn).expect("a database");
        format!("postgres://claimtrail@127.0.0.1:{}/{name}", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if Path::new(&self.data()).join("postmaster.pid").exists() {
            let program = self.bin.join("pg_ctl");
            let mut command = match &self.user {
                Some(user) => {
                    let mut c = Command::new("runuser");
                    c.args(["-u", user, "--"]).arg(&program);
                    c
                }
                None => Command::new(&program),
            };
            let _ = command.args(["-D", &self.data(), "-m", "immediate", "-w", "stop"]).output();
        }
    }
}

/// A tmpfs of a few MiB, unmounted when dropped.
pub struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    /// Mounts one (`options` beyond the size, e.g. `uid=…`); `None`, with a
    /// message, where this machine does not let the tests mount.
    pub fn mount(size_kib: u64, options: &str) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().expect("a temp dir");
        let options =
            if options.is_empty() { format!("size={size_kib}k") } else { format!("size={size_kib}k,{options}") };
        let output = Command::new("mount").args(["-t", "tmpfs", "-o", &options, "tmpfs"]).arg(dir.path()).output();
        match output {
            Ok(output) if output.status.success() => Some(SmallDisk { dir }),
            Ok(output) => {
                eprintln!("skipped: cannot mount a tmpfs here: {}", String::from_utf8_lossy(&output.stderr).trim());
                None
            }
            Err(e) => {
                eprintln!("skipped: cannot run mount: {e}");
                None
            }
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Fills the disk with a file of zeros, to the last byte it takes.
    pub fn fill(&self) -> PathBuf {
        use std::io::Write;
        let path = self.dir.path().join("filler");
        let mut file = std::fs::File::create(&path).expect("a filler file");
        let block = vec![0u8; 4096];
        while file.write_all(&block).is_ok() {}
        while file.write_all(&block[..512]).is_ok() {}
        let _ = file.sync_all();
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}
