//! [`Bantin`]: the one way the tests run the binary (after ripgrep's
//! `TestCommand`). Every run starts from the same clean environment: no
//! `BANTIN_*` variable of the test run leaks in, and `RUST_LOG` is `warn`
//! unless the test asks for another level (only `serve` logs). The store
//! and site are flags set once: the command line is put together when the
//! command runs, `--store URL --site FILE` before the test's arguments,
//! so a test that changes either never passes one twice.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use crate::support::site_file;

/// The `bantin` binary cargo built for this test run (found by
/// `assert_cmd`, as STYLE.md has CLI tests do).
pub fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("bantin")
}

/// A `bantin` command line being put together; see the module doc.
#[derive(Debug, Clone)]
pub struct Bantin {
    store: Option<String>,
    site: Option<PathBuf>,
    args: Vec<OsString>,
    dir: Option<PathBuf>,
    env: Vec<(OsString, OsString)>,
    log: String,
    ulimit: Option<String>,
}

impl Bantin {
    /// `bantin` with no global flags.
    pub fn bare() -> Bantin {
        Bantin {
            store: None,
            site: None,
            args: Vec::new(),
            dir: None,
            env: Vec::new(),
            log: "warn".into(),
            ulimit: None,
        }
    }

    /// `bantin --store URL --site feeds/site.toml`.
    pub fn on(store: &str) -> Bantin {
        let mut cmd = Bantin::bare();
        cmd.store(store).site(&site_file());
        cmd
    }

    /// `--store URL`.
    pub fn store(&mut self, url: &str) -> &mut Bantin {
        self.store = Some(url.to_string());
        self
    }

    /// `--site FILE` instead of the one set so far.
    pub fn site(&mut self, file: &Path) -> &mut Bantin {
        self.site = Some(file.to_path_buf());
        self
    }

    /// No `--site` flag (bantin's default, or `BANTIN_SITE`).
    pub fn no_site(&mut self) -> &mut Bantin {
        self.site = None;
        self
    }

    /// One more argument after the global flags.
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Bantin {
        self.args.push(arg.as_ref().to_os_string());
        self
    }

    /// More arguments after the global flags.
    pub fn args<I, A>(&mut self, args: I) -> &mut Bantin
    where
        I: IntoIterator<Item = A>,
        A: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_os_string()));
        self
    }

    /// The working directory (default: the test process's).
    pub fn dir(&mut self, dir: &Path) -> &mut Bantin {
        self.dir = Some(dir.to_path_buf());
        self
    }

    /// An environment variable, on top of the clean environment.
    pub fn env(&mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut Bantin {
        self.env
            .push((key.as_ref().to_os_string(), value.as_ref().to_os_string()));
        self
    }

    /// `RUST_LOG` for `serve` (default `warn`).
    pub fn log(&mut self, level: &str) -> &mut Bantin {
        self.log = level.to_string();
        self
    }

    /// Run under an open-file limit of `files`, soft and hard (so that
    /// bantin cannot raise it), set by a shell that then `exec`s bantin.
    pub fn file_limit(&mut self, files: u32) -> &mut Bantin {
        self.ulimit = Some(format!("-n {files}"));
        self
    }

    /// Run under a soft open-file limit of `files`, the hard one left as
    /// it is (which bantin may raise the soft one to).
    pub fn soft_file_limit(&mut self, files: u32) -> &mut Bantin {
        self.ulimit = Some(format!("-Sn {files}"));
        self
    }

    /// The command as `std::process::Command`, for a test that points the
    /// streams elsewhere or spawns it. Standard input is closed.
    pub fn command(&self) -> Command {
        let mut cmd = match &self.ulimit {
            None => Command::new(bin()),
            Some(limit) => {
                let mut sh = Command::new("bash");
                sh.arg("-c")
                    .arg(format!("ulimit {limit} && exec \"$0\" \"$@\""))
                    .arg(bin());
                sh
            }
        };
        if let Some(store) = &self.store {
            cmd.arg("--store").arg(store);
        }
        if let Some(site) = &self.site {
            cmd.arg("--site").arg(site);
        }
        cmd.args(&self.args);
        self.environment(&mut cmd);
        cmd
    }

    /// The clean environment, working directory and closed stdin, on
    /// `cmd` (bantin, or a program that runs it).
    fn environment(&self, cmd: &mut Command) {
        cmd.env_remove("BANTIN_STORE")
            .env_remove("BANTIN_SITE")
            .env_remove("BANTIN_LISTEN")
            .env_remove("BANTIN_LOG_FORMAT")
            .env("RUST_LOG", &self.log)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null());
        if let Some(dir) = &self.dir {
            cmd.current_dir(dir);
        }
    }

    /// The command run by `script`, which gives bantin a terminal and
    /// writes what bantin shows on it to `transcript`.
    pub fn in_terminal(&self, transcript: &Path) -> Command {
        let cmd = self.command();
        let line = std::iter::once(cmd.get_program())
            .chain(cmd.get_args())
            .map(|word| format!("'{}'", word.to_string_lossy().replace('\'', "'\\''")))
            .collect::<Vec<_>>()
            .join(" ");
        let mut script = Command::new("script");
        script.args(["-qec", &line]).arg(transcript);
        self.environment(&mut script);
        script
    }

    /// Start it, with stdout and stderr piped.
    pub fn spawn(&self) -> Child {
        self.command()
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {self}: {e}"))
    }

    /// Run it to the end, whatever its exit.
    pub fn output(&self) -> Output {
        self.command()
            .output()
            .unwrap_or_else(|e| panic!("running {self}: {e}"))
    }

    /// Run it to the end; panics with its stderr unless it exits 0.
    pub fn ok(&self) -> Output {
        let out = self.output();
        assert!(
            out.status.success(),
            "{self} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// [`Bantin::ok`] on a blocking thread, for async tests.
    pub async fn ok_async(&self) -> Output {
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.ok()).await.unwrap()
    }
}

/// The command line as a user would type it, for failure messages.
impl std::fmt::Display for Bantin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "bantin")?;
        if let Some(store) = &self.store {
            write!(f, " --store {store}")?;
        }
        if let Some(site) = &self.site {
            write!(f, " --site {}", site.display())?;
        }
        for a in &self.args {
            write!(f, " {}", a.to_string_lossy())?;
        }
        Ok(())
    }
}
