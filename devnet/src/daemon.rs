//! One `keeperd run` owned by its caller (the devnet, the load benchmark, a test): started from a
//! command line built once, stopped with SIGTERM and a grace period or killed with SIGKILL,
//! restartable on the same files, and always killed when dropped. Its stderr goes to a log file;
//! a restart appends to it after a marker line, so offsets taken earlier stay valid.

use std::ffi::{OsStr, OsString};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use eyre::{eyre, WrapErr};

/// The log filter a daemon gets unless its builder says otherwise.
pub const DEFAULT_LOG_FILTER: &str = "warn,keeperd=info";

/// How to start a daemon: `[launcher…] keeperd run <args…>`, its environment and its log.
#[derive(Debug, Clone)]
pub struct DaemonBuilder {
    launcher: Vec<OsString>,
    binary: PathBuf,
    args: Vec<OsString>,
    env: Vec<(OsString, Option<OsString>)>,
    log: Option<PathBuf>,
    config: Option<PathBuf>,
}

impl DaemonBuilder {
    /// `keeperd run --config <config>`; its log defaults to `keeperd.log` beside the config.
    pub fn config(mut self, config: &Path) -> Self {
        self.args.extend([OsString::from("--config"), config.as_os_str().to_owned()]);
        self.config = Some(config.to_owned());
        self
    }

    /// One more argument of `keeperd run`.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(mut self, args: I) -> Self {
        self.args.extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Sets a variable (the defaults: `RUST_LOG` [`DEFAULT_LOG_FILTER`], `NO_COLOR=1`).
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.env.push((key.as_ref().to_owned(), Some(value.as_ref().to_owned())));
        self
    }

    /// Removes a variable the daemon would otherwise inherit (`KEEPER_KEYSTORE_PASSWORD` always is:
    /// a devnet's daemons read their password files).
    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Self {
        self.env.push((key.as_ref().to_owned(), None));
        self
    }

    /// Where stderr goes.
    pub fn log(mut self, path: &Path) -> Self {
        self.log = Some(path.to_owned());
        self
    }

    /// Runs keeperd through `program` (`ip netns exec <ns>` in a test bed; `ip` execs keeperd, so
    /// the child's pid is keeperd's).
    pub fn launcher<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(mut self, program: I) -> Self {
        self.launcher = program.into_iter().map(|a| a.as_ref().to_owned()).collect();
        self
    }

    /// Starts the daemon (its log created anew).
    pub fn spawn(self) -> eyre::Result<Daemon> {
        let log = match (&self.log, &self.config) {
            (Some(log), _) => log.clone(),
            (None, Some(config)) => config.parent().unwrap_or(Path::new(".")).join("keeperd.log"),
            (None, None) => return Err(eyre!("a daemon without --config needs a log path")),
        };
        std::fs::File::create(&log).wrap_err_with(|| format!("creating {}", log.display()))?;
        let mut daemon = Daemon { command: self, log, child: None, starts: 0 };
        daemon.start()?;
        Ok(daemon)
    }

    fn command(&self) -> Command {
        let mut command = match self.launcher.split_first() {
            Some((program, args)) => {
                let mut command = Command::new(program);
                command.args(args).arg(&self.binary);
                command
            }
            None => Command::new(&self.binary),
        };
        command
            .arg("run")
            .args(&self.args)
            .env("RUST_LOG", DEFAULT_LOG_FILTER)
            .env("NO_COLOR", "1")
            .env_remove("KEEPER_KEYSTORE_PASSWORD");
        for (key, value) in &self.env {
            match value {
                Some(value) => command.env(key, value),
                None => command.env_remove(key),
            };
        }
        command.stdin(Stdio::null()).stdout(Stdio::null());
        command
    }
}

/// A running (or stopped, restartable) `keeperd run`; SIGKILLed when dropped.
#[derive(Debug)]
pub struct Daemon {
    command: DaemonBuilder,
    log: PathBuf,
    child: Option<Child>,
    starts: u32,
}

impl Daemon {
    /// A daemon of `binary` to configure and [`DaemonBuilder::spawn`].
    pub fn builder(binary: &Path) -> DaemonBuilder {
        DaemonBuilder {
            launcher: Vec::new(),
            binary: binary.to_owned(),
            args: Vec::new(),
            env: Vec::new(),
            log: None,
            config: None,
        }
    }

    /// `binary run --config <config>` with the defaults.
    pub fn spawn(binary: &Path, config: &Path) -> eyre::Result<Self> {
        Self::builder(binary).config(config).spawn()
    }

    /// Starts it again with the same command line and files (after [`Daemon::kill9`] or
    /// [`Daemon::stop`]); the log is appended to.
    pub fn start(&mut self) -> eyre::Result<()> {
        if self.child.is_some() {
            return Err(eyre!("the daemon logging to {} is already running", self.log.display()));
        }
        let mut log = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.log)
            .wrap_err_with(|| format!("opening {}", self.log.display()))?;
        if self.starts > 0 {
            writeln!(log, "=== harness: start {} ===", self.starts)?;
        }
        let child = self
            .command
            .command()
            .stderr(log)
            .spawn()
            .wrap_err_with(|| format!("starting {}", self.command.binary.display()))?;
        self.child = Some(child);
        self.starts += 1;
        Ok(())
    }

    /// Stops it and starts it again on the same files: SIGTERM with `grace`, then SIGKILL.
    pub fn restart(&mut self, grace: Duration) -> eyre::Result<()> {
        self.stop(grace);
        self.start()
    }

    /// SIGKILL and reap: the process gets no chance to clean up.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
            if let Ok(mut log) = std::fs::OpenOptions::new().append(true).open(&self.log) {
                let _ = writeln!(log, "=== harness: SIGKILL ===");
            }
        }
    }

    /// SIGTERM, as a service manager stops it; SIGKILL if it has not exited within `grace`. Its
    /// exit status when it exited by itself (`None` if it had to be killed or was not running).
    pub fn stop(&mut self, grace: Duration) -> Option<ExitStatus> {
        let pid = self.pid()?;
        let _ = Command::new("kill").arg("-TERM").arg(pid.to_string()).status();
        let status = self.wait_exit(grace);
        if status.is_none() {
            self.kill9();
        }
        status
    }

    /// Waits up to `within` for it to exit by itself (no signal sent); its exit status if it did.
    pub fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                self.child = None;
                return Some(status);
            }
            if self.child.is_none() || Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Its exit status, if it has exited by itself.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.as_mut()?.try_wait().ok().flatten()
    }

    /// Whether it was started and has not exited.
    pub fn running(&mut self) -> bool {
        matches!(self.child.as_mut().map(Child::try_wait), Some(Ok(None)))
    }

    /// How many times it was started.
    pub fn starts(&self) -> u32 {
        self.starts
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The config it was started with, if any.
    pub fn config(&self) -> Option<&Path> {
        self.command.config.as_deref()
    }

    pub fn log_path(&self) -> &Path {
        &self.log
    }

    pub fn log_len(&self) -> u64 {
        std::fs::metadata(&self.log).map(|m| m.len()).unwrap_or(0)
    }

    pub fn log_text(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.log).unwrap_or_default()).into_owned()
    }

    /// The last `lines` lines of the log.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = self.log_text();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Whether the log, from byte `from` on, has a line containing `needle`.
    pub fn logged_since(&self, from: u64, needle: &str) -> bool {
        let Ok(mut file) = std::fs::File::open(&self.log) else { return false };
        if file.seek(SeekFrom::Start(from)).is_err() {
            return false;
        }
        let mut text = Vec::new();
        let _ = file.read_to_end(&mut text);
        String::from_utf8_lossy(&text).lines().any(|line| line.contains(needle))
    }

    /// Polls `ready` every `every` until it holds; an error (with the log's tail) if the daemon
    /// exits first or `timeout` passes.
    pub async fn wait_until(
        &mut self,
        what: &str,
        timeout: Duration,
        every: Duration,
        mut ready: impl FnMut(&Self) -> bool,
    ) -> eyre::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.exited() {
                return Err(eyre!("keeperd exited ({status}) before {what}:\n{}", self.log_tail(40)));
            }
            if ready(self) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(eyre!("keeperd not {what} within {timeout:?}:\n{}", self.log_tail(40)));
            }
            tokio::time::sleep(every).await;
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
