//! A PostgreSQL cluster of the test's own: `initdb` into a temporary directory, a server on a
//! free loopback port, and the faults a test needs — a clean stop, an immediate shutdown (crash
//! recovery on the next start), `SIGKILL` of the server and its backends — then a restart on
//! the same port and data. Other tests, and the shared server of `scripts/test`, are never
//! disturbed. Removed when dropped.
//!
//! Only `std`: any test crate can include it by path, for example from
//! `crates/<crate>/tests/<test>.rs`:
//!
//! ```ignore
//! #[path = "../../stripe-pulsora-store/tests/support/pg_cluster.rs"]
//! mod pg_cluster;
//!
//! let Some(mut pg) = pg_cluster::PgCluster::start() else { return }; // skipped (not in CI)
//! let url = pg.url();
//! // … connect, run, then in an async test (multi-thread runtime), so servers keep running:
//! tokio::task::block_in_place(|| pg.stop());
//! tokio::task::block_in_place(|| pg.restart());
//! ```
//!
//! Binaries: `STRIPE_PULSORA_TEST_POSTGRES_BIN` (set by `scripts/test`), else the newest
//! `/usr/lib/postgresql/<version>/bin` (Debian's packages), else `initdb` on `PATH`. None found:
//! the test is skipped with a note, or fails when `CI` is set. As root (`scripts/test` in CI)
//! every server command runs as the `postgres` system user, since `initdb` and `postgres`
//! refuse to run as root.
//!
//! Every method blocks (each waits for the server, bounded by [`WAIT`]).
#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Longest any start or stop may take before the test fails (`pg_ctl -t`).
pub const WAIT: Duration = Duration::from_secs(30);

/// A throwaway PostgreSQL server; see the module docs.
#[derive(Debug)]
pub struct PgCluster {
    bin: PathBuf,
    /// Data directory, socket and log live under it.
    root: PathBuf,
    port: u16,
    running: bool,
}

impl PgCluster {
    /// `initdb` and start a server on a free loopback port. `None` (a skip) when PostgreSQL's
    /// binaries are not installed, unless `CI` is set: then it panics.
    pub fn start() -> Option<Self> {
        let Some(bin) = binaries() else {
            unavailable(
                "no PostgreSQL binaries (set STRIPE_PULSORA_TEST_POSTGRES_BIN or install \
                 Debian's postgresql package; scripts/test does)",
            );
            return None;
        };
        let root = std::env::temp_dir().join(unique("stripe-pulsora-pg"));
        std::fs::create_dir(&root).expect("create the cluster directory");
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755))
            .expect("chmod the cluster directory");
        if is_root() {
            let chown = run(Command::new("chown").arg("postgres:").arg(&root), "chown");
            assert!(chown.status.success(), "chown postgres: {}", root.display());
        }
        let mut cluster = Self {
            bin,
            root,
            port: free_port(),
            running: false,
        };
        let data = cluster.data_dir();
        let mut initdb = cluster.command("initdb");
        cluster.checked(
            initdb
                .arg("-D")
                .arg(&data)
                .args(["-U", "postgres", "--auth=trust", "-E", "UTF8"])
                .args(["--no-locale", "--no-sync"]),
            "initdb",
        );
        cluster.restart();
        Some(cluster)
    }

    /// `postgres://postgres@127.0.0.1:<port>/postgres` (trust authentication, no password).
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// The server's port (kept across restarts).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.root.join("data")
    }

    /// Whether the server was started and not stopped since.
    pub fn is_running(&self) -> bool {
        self.running
    }

    /// A clean shutdown (`pg_ctl stop -m fast`): open sessions are cut, transactions in
    /// progress roll back, committed data stays. Returns once the server is gone.
    pub fn stop(&mut self) {
        self.pg_ctl_stop("fast");
    }

    /// An immediate shutdown (`pg_ctl stop -m immediate`, `SIGQUIT`): no checkpoint, the next
    /// start runs crash recovery. What a power cut does to the server, without losing what the
    /// operating system already holds.
    pub fn crash(&mut self) {
        self.pg_ctl_stop("immediate");
    }

    /// `SIGKILL` to the server process and every backend, as the OOM killer or `kill -9` would;
    /// returns once none is left. The next [`restart`](Self::restart) runs crash recovery.
    pub fn kill(&mut self) {
        let Some(postmaster) = self.postmaster_pid() else {
            panic!("kill: no postmaster.pid in {}", self.data_dir().display());
        };
        let mut victims = children_of(postmaster);
        victims.insert(0, postmaster);
        let mut kill = Command::new("kill");
        kill.arg("-KILL").args(victims.iter().map(u32::to_string));
        // Some backends may already be gone: the exit status does not matter, the wait does.
        let _ = kill.output();
        let deadline = Instant::now() + WAIT;
        while victims.iter().any(|pid| alive(*pid)) {
            assert!(
                Instant::now() < deadline,
                "kill: processes {victims:?} outlived SIGKILL"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        // The lock files name a dead process now (a zombie, if nobody reaps it, still looks
        // alive to the next postmaster's check): remove them, and the socket they guard.
        let _ = std::fs::remove_file(self.data_dir().join("postmaster.pid"));
        for file in [
            format!(".s.PGSQL.{}.lock", self.port),
            format!(".s.PGSQL.{}", self.port),
        ] {
            let _ = std::fs::remove_file(self.root.join(file));
        }
        self.running = false;
    }

    /// Starts the server (again) on the same port and data, and waits until it accepts
    /// connections; after [`crash`](Self::crash) or [`kill`](Self::kill) that includes recovery.
    pub fn restart(&mut self) {
        assert!(!self.running, "restart: the server is running");
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off \
             -c max_connections=200 -c shared_buffers=32MB",
            self.port,
            self.root.display()
        );
        let wait = WAIT.as_secs().to_string();
        let mut pg_ctl = self.command("pg_ctl");
        pg_ctl
            .arg("-D")
            .arg(self.data_dir())
            .arg("-l")
            .arg(self.log_file())
            .args(["-w", "-t", &wait, "-o", &options, "start"]);
        self.checked(&mut pg_ctl, "pg_ctl start");
        let deadline = Instant::now() + WAIT;
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            assert!(
                Instant::now() < deadline,
                "PostgreSQL started but does not listen on {addr}\n{}",
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        self.running = true;
    }

    /// The last lines of the server's log, for failure messages.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.log_file()).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    fn log_file(&self) -> PathBuf {
        self.root.join("postgres.log")
    }

    fn pg_ctl_stop(&mut self, mode: &str) {
        assert!(self.running, "stop: the server is not running");
        let wait = WAIT.as_secs().to_string();
        let mut pg_ctl = self.command("pg_ctl");
        pg_ctl
            .arg("-D")
            .arg(self.data_dir())
            .args(["-m", mode, "-w", "-t", &wait, "stop"]);
        self.checked(&mut pg_ctl, "pg_ctl stop");
        self.running = false;
    }

    fn postmaster_pid(&self) -> Option<u32> {
        let text = std::fs::read_to_string(self.data_dir().join("postmaster.pid")).ok()?;
        text.lines().next()?.trim().parse().ok()
    }

    /// `bin/<program>`, as the `postgres` user when this process is root.
    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if is_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path);
            command
        } else {
            Command::new(path)
        }
    }

    fn checked(&self, command: &mut Command, what: &str) -> Output {
        let output = run(command, what);
        if !output.status.success() {
            panic!(
                "{what} failed ({}): {}{}\n{}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr),
                self.log_tail()
            );
        }
        output
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if self.running {
            let mut pg_ctl = self.command("pg_ctl");
            pg_ctl
                .arg("-D")
                .arg(self.data_dir())
                .args(["-m", "immediate", "-w", "stop"]);
            let _ = pg_ctl.output();
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Missing test infrastructure: a failure when `CI` is set, a note and a skip otherwise (the
/// rule of every support module here; this file carries its own copy because other crates
/// include it by path).
fn unavailable(what: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("{what} (CI is set, so this is a failure, not a skip)");
    }
    eprintln!("skipped: {what}");
}

fn binaries() -> Option<PathBuf> {
    let has_tools = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Some(dir) = std::env::var_os("STRIPE_PULSORA_TEST_POSTGRES_BIN") {
        let dir = PathBuf::from(dir);
        // Set but wrong is a mistake to report, not a reason to look elsewhere.
        assert!(
            has_tools(&dir),
            "STRIPE_PULSORA_TEST_POSTGRES_BIN={} has no initdb and pg_ctl",
            dir.display()
        );
        return Some(dir);
    }
    let debian = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version: u32 = entry.file_name().to_str()?.parse().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .filter(|(_, bin)| has_tools(bin))
        .max_by_key(|(version, _)| *version)
        .map(|(_, bin)| bin);
    debian.or_else(|| std::env::split_paths(&std::env::var_os("PATH")?).find(|dir| has_tools(dir)))
}

fn is_root() -> bool {
    // /proc/self belongs to the process's effective user.
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

fn run(command: &mut Command, what: &str) -> Output {
    command
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run {command:?}: {e}"))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{prefix}-{}-{nanos}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// The process's parent pid and state from `/proc/<pid>/stat` (the name in parentheses may
/// hold spaces: parse after the last `)`).
fn stat(pid: u32) -> Option<(char, u32)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let parent = fields.next()?.parse().ok()?;
    Some((state, parent))
}

/// Running, or stopped: anything but gone or a zombie.
fn alive(pid: u32) -> bool {
    stat(pid).is_some_and(|(state, _)| state != 'Z' && state != 'X')
}

fn children_of(parent: u32) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| stat(*pid).is_some_and(|(_, ppid)| ppid == parent))
        .collect()
}
