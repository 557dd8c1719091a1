//! A private PostgreSQL cluster, started from the installed server binaries when no
//! `DATABASE_URL` is given (design decision 12).
//!
//! The cluster lives in a data folder that is kept between runs. It listens on
//! 127.0.0.1 only, on a port chosen when it is first created (and again if that port
//! is taken), with no Unix socket, and password authentication for its one
//! superuser; the password sits beside the data folder, readable by its owner only.
//! Run as root, the server runs as the unprivileged `postgres` user (or `nobody`),
//! since `initdb` and `postgres` refuse to run as root. When that user cannot enter
//! the folder the data folder is in (root's home, a `mktemp -d` folder: mode 700),
//! a new cluster is kept in a folder made for it under [`SHARED_ROOT`], named after
//! the data folder's canonical path, and the data folder becomes a link to it; an
//! existing cluster there is refused, naming the folder and `LEDGER_DATA_DIR`.
//!
//! Everything here blocks: call it from a blocking thread.

use std::fs;
use std::io::Write as _;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use nix::sys::signal::kill;
use nix::unistd::{Pid, User};

/// The cluster's superuser.
pub const SUPERUSER: &str = "ledger";
/// Our settings, included from `postgresql.conf`; its presence marks a finished init.
const LEDGER_CONF: &str = "ledger.conf";
/// Holds the pid of the process that manages the running server.
const OWNER_FILE: &str = "ledger.owner";
/// Where clusters go whose data folder the server user cannot reach, one folder
/// each (see [`ManagedCluster::start`]).
pub const SHARED_ROOT: &str = "/var/lib/ledgerd";
/// In a folder under [`SHARED_ROOT`]: the data folder (canonical path) it serves.
const SOURCE_FILE: &str = "source";

/// Why the managed cluster could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ManagedError {
    /// No `initdb` and `pg_ctl` were found.
    #[error(
        "PostgreSQL server binaries (initdb, pg_ctl) not found in LEDGER_PG_BIN, PATH, \
         `pg_config --bindir` or /usr/lib/postgresql/*/bin. Install the PostgreSQL server \
         package (Debian/Ubuntu: `apt-get install postgresql`), or set DATABASE_URL to use \
         an existing server"
    )]
    BinariesNotFound,
    /// Running as root, but no unprivileged user exists to run the server.
    #[error("running as root and neither the `postgres` nor the `nobody` user exists to run PostgreSQL as")]
    NoUnprivilegedUser,
    /// A file system operation failed.
    #[error("{context}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A server program exited with failure.
    #[error("`{command}` failed ({status}): {output}")]
    CommandFailed {
        /// The program and its first arguments.
        command: String,
        /// Its exit status.
        status: String,
        /// The end of what it printed, and of the server log.
        output: String,
    },
    /// Running as root, the server user cannot reach the data folder, and no
    /// folder it can reach could be used instead.
    #[error(
        "PostgreSQL runs as `{user}`, which cannot enter {blocked}, so it cannot reach the \
         data folder {data_dir} ({reason}). Set LEDGER_DATA_DIR to a folder `{user}` can \
         reach (e.g. under /var/lib), or let `{user}` enter {blocked} (chmod o+x)"
    )]
    Unreachable {
        /// The user the server runs as.
        user: String,
        /// The first folder on the way that the user cannot enter.
        blocked: PathBuf,
        /// The data folder asked for.
        data_dir: PathBuf,
        /// Why no other folder was used.
        reason: String,
        /// The failure that stopped it, if one did.
        #[source]
        source: Option<std::io::Error>,
    },
    /// The data folder is left from an interrupted `initdb`.
    #[error(
        "{0} holds a cluster whose creation was interrupted; remove the folder and start again"
    )]
    InterruptedInit(PathBuf),
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> ManagedError {
    let context = context.into();
    move |source| ManagedError::Io { context, source }
}

/// How to run a managed cluster.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// The cluster's data folder (PGDATA); created when missing.
    pub data_dir: PathBuf,
    /// `false` turns fsync off: for throw-away test clusters only.
    pub durable: bool,
    /// The folder of the server programs (`initdb`, `pg_ctl`), looked in first
    /// (`ledgerd`'s `pg_bin` setting, `LEDGER_PG_BIN`); `None` looks only where
    /// [`find_bin_dir`] looks by itself.
    pub bin_dir: Option<PathBuf>,
}

/// A running managed cluster.
#[derive(Debug)]
pub struct ManagedCluster {
    data_dir: PathBuf,
    bin_dir: PathBuf,
    port: u16,
    password: String,
    run_as: Option<User>,
    /// Whether this process started (or adopted an orphaned) server, and so stops it.
    owned: bool,
}

impl ManagedCluster {
    /// Creates the cluster if needed and starts it, or joins it when it already runs.
    ///
    /// Run as root, when the server user cannot enter the folder of
    /// `options.data_dir`, a new cluster is created in
    /// `SHARED_ROOT/<hash of the data folder's canonical path>/<its name>` instead,
    /// with its password beside it, and `options.data_dir` becomes a link to it (so
    /// later starts, and operators, find it); an existing data folder there is an
    /// [`ManagedError::Unreachable`] error, as is a shared folder that cannot be made.
    pub fn start(options: &ClusterOptions) -> Result<Self, ManagedError> {
        let bin_dir = find_bin_dir(options.bin_dir.as_deref())?;
        let run_as = unprivileged_user()?;
        let data_dir = absolute(&options.data_dir)?;
        let data_dir = match &run_as {
            Some(user) => reachable_data_dir(&data_dir, user, &bin_dir)?,
            None => data_dir,
        };
        let password_file = password_path(&data_dir);
        let mut cluster = Self {
            data_dir,
            bin_dir,
            port: 0,
            password: String::new(),
            run_as,
            owned: false,
        };
        if !cluster.data_dir.join(LEDGER_CONF).exists() {
            if cluster.data_dir.join("PG_VERSION").exists() {
                return Err(ManagedError::InterruptedInit(cluster.data_dir));
            }
            cluster.init(options.durable, &password_file)?;
        }
        cluster.password = fs::read_to_string(&password_file)
            .map_err(io(format!("reading {}", password_file.display())))?
            .trim()
            .to_owned();
        cluster.port = cluster.configured_port()?;

        if let Some(port) = cluster.running_port()? {
            cluster.port = port;
            cluster.owned = !cluster.owner_alive();
            tracing::info!(
                port,
                adopted = cluster.owned,
                "joined running managed PostgreSQL"
            );
        } else {
            cluster.launch()?;
            cluster.owned = true;
        }
        if cluster.owned {
            let owner = cluster.data_dir.join(OWNER_FILE);
            fs::write(&owner, std::process::id().to_string())
                .map_err(io(format!("writing {}", owner.display())))?;
        }
        Ok(cluster)
    }

    /// The server's TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The cluster's data folder.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// A connection URL for `database` as the cluster's superuser.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://{SUPERUSER}:{}@127.0.0.1:{}/{database}",
            self.password, self.port
        )
    }

    /// Whether this process stops the server when it is done with it.
    pub fn owned(&self) -> bool {
        self.owned
    }

    /// The PID of the running server (the postmaster).
    pub fn server_pid(&self) -> Option<i32> {
        read_pid_file(&self.data_dir).map(|(pid, _)| pid)
    }

    /// Stops the server (fast shutdown) if this process owns it.
    pub fn stop(&self) -> Result<(), ManagedError> {
        if !self.owned {
            return Ok(());
        }
        let data = self.data_dir.to_string_lossy().into_owned();
        self.run(
            "pg_ctl",
            &["stop", "-D", &data, "-m", "fast", "-w", "-t", "60"],
        )?;
        let _ = fs::remove_file(self.data_dir.join(OWNER_FILE));
        Ok(())
    }

    fn init(&self, durable: bool, password_file: &Path) -> Result<(), ManagedError> {
        let data = &self.data_dir;
        fs::create_dir_all(data).map_err(io(format!("creating {}", data.display())))?;
        fs::set_permissions(data, fs::Permissions::from_mode(0o700))
            .map_err(io(format!("setting the mode of {}", data.display())))?;
        self.give_to_server_user(data)?;

        let password = random_hex(24);
        write_private(password_file, &password)?;
        // initdb reads the password from a file the server user can read.
        let pwfile = data.with_file_name(format!(".pwfile-{}", std::process::id()));
        write_private(&pwfile, &password)?;
        self.give_to_server_user(&pwfile)?;
        let data_arg = data.to_string_lossy().into_owned();
        let pwfile_arg = format!("--pwfile={}", pwfile.display());
        let mut args = vec![
            "-D",
            &data_arg,
            "-U",
            SUPERUSER,
            &pwfile_arg,
            "--auth=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C",
        ];
        if !durable {
            args.push("--no-sync");
        }
        let result = self.run("initdb", &args);
        let _ = fs::remove_file(&pwfile);
        result?;

        let port = free_port()?;
        let mut conf = format!(
            "# Written by ledgerd for its managed cluster.\n\
             listen_addresses = '127.0.0.1'\n\
             unix_socket_directories = ''\n\
             port = {port}\n\
             max_connections = 200\n"
        );
        if !durable {
            conf.push_str("fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n");
        }
        self.append(
            &data.join("postgresql.conf"),
            &format!("include '{LEDGER_CONF}'\n"),
        )?;
        self.write_conf(&conf)
    }

    fn write_conf(&self, conf: &str) -> Result<(), ManagedError> {
        let path = self.data_dir.join(LEDGER_CONF);
        fs::write(&path, conf).map_err(io(format!("writing {}", path.display())))?;
        self.give_to_server_user(&path)
    }

    fn append(&self, path: &Path, line: &str) -> Result<(), ManagedError> {
        let mut file = fs::OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(io(format!("opening {}", path.display())))?;
        file.write_all(line.as_bytes())
            .map_err(io(format!("writing {}", path.display())))
    }

    fn configured_port(&self) -> Result<u16, ManagedError> {
        let path = self.data_dir.join(LEDGER_CONF);
        let conf = fs::read_to_string(&path).map_err(io(format!("reading {}", path.display())))?;
        Ok(conf
            .lines()
            .filter_map(|l| l.trim().strip_prefix("port = "))
            .find_map(|p| p.trim().parse().ok())
            .unwrap_or(5432))
    }

    /// The port of a server already running on this data folder, if any; removes a
    /// stale pid file left by a server that died.
    fn running_port(&self) -> Result<Option<u16>, ManagedError> {
        let Some((pid, port)) = read_pid_file(&self.data_dir) else {
            return Ok(None);
        };
        if process_alive(pid) && accepts_tcp(port) {
            return Ok(Some(port));
        }
        if !process_alive(pid) {
            tracing::warn!(pid, "removing the stale pid file of a PostgreSQL that died");
            let path = self.data_dir.join("postmaster.pid");
            fs::remove_file(&path).map_err(io(format!("removing {}", path.display())))?;
        }
        Ok(None)
    }

    fn owner_alive(&self) -> bool {
        fs::read_to_string(self.data_dir.join(OWNER_FILE))
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok())
            .is_some_and(|pid| pid as u32 != std::process::id() && process_alive(pid))
    }

    fn launch(&mut self) -> Result<(), ManagedError> {
        if !port_free(self.port) {
            self.port = free_port()?;
            let path = self.data_dir.join(LEDGER_CONF);
            let conf =
                fs::read_to_string(&path).map_err(io(format!("reading {}", path.display())))?;
            let conf: String = conf
                .lines()
                .map(|l| {
                    if l.trim().starts_with("port = ") {
                        format!("port = {}\n", self.port)
                    } else {
                        format!("{l}\n")
                    }
                })
                .collect();
            self.write_conf(&conf)?;
        }
        let data = self.data_dir.to_string_lossy().into_owned();
        let log = self
            .data_dir
            .join("server.log")
            .to_string_lossy()
            .into_owned();
        // The server must outlive a killed ledgerd only long enough to be adopted by
        // the next start; it is a new session so a terminal's ctrl-c reaches us, not it.
        self.run(
            "pg_ctl",
            &["start", "-D", &data, "-l", &log, "-w", "-t", "120", "-s"],
        )?;
        tracing::info!(port = self.port, data_dir = %data, "started managed PostgreSQL");
        Ok(())
    }

    fn give_to_server_user(&self, path: &Path) -> Result<(), ManagedError> {
        if let Some(user) = &self.run_as {
            std::os::unix::fs::chown(path, Some(user.uid.as_raw()), Some(user.gid.as_raw()))
                .map_err(io(format!(
                    "giving {} to user {}",
                    path.display(),
                    user.name
                )))?;
        }
        Ok(())
    }

    fn run(&self, program: &str, args: &[&str]) -> Result<Output, ManagedError> {
        let path = self.bin_dir.join(program);
        let mut command = Command::new(&path);
        command
            .args(args)
            .current_dir(self.data_dir.parent().unwrap_or(Path::new("/")));
        if let Some(user) = &self.run_as {
            command.uid(user.uid.as_raw()).gid(user.gid.as_raw());
            command.env("HOME", &user.dir).env("USER", &user.name);
        }
        // Not in our process group: a ctrl-c on the terminal is ours to handle.
        command.process_group(0);
        let output = command
            .output()
            .map_err(io(format!("running {}", path.display())))?;
        if output.status.success() {
            return Ok(output);
        }
        let mut text = String::from_utf8_lossy(&output.stderr).into_owned();
        text.push_str(&String::from_utf8_lossy(&output.stdout));
        if let Ok(log) = fs::read_to_string(self.data_dir.join("server.log")) {
            let tail: Vec<&str> = log.lines().rev().take(10).collect();
            text.push_str("\nserver log:\n");
            text.push_str(&tail.into_iter().rev().collect::<Vec<_>>().join("\n"));
        }
        Err(ManagedError::CommandFailed {
            command: format!("{program} {}", args.first().copied().unwrap_or_default()),
            status: output.status.to_string(),
            output: text,
        })
    }
}

/// Where the server binaries are: `preferred` (the `pg_bin` setting, which the
/// caller reads: nothing here reads settings from the environment), `PATH`,
/// `pg_config --bindir`, then the newest `/usr/lib/postgresql/*/bin`.
pub fn find_bin_dir(preferred: Option<&Path>) -> Result<PathBuf, ManagedError> {
    let has_tools = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    let mut candidates: Vec<PathBuf> = Vec::new();
    candidates.extend(preferred.map(Path::to_path_buf));
    // The program search path, as a shell would use it: not a setting of ours.
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path));
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        if out.status.success() {
            candidates.push(String::from_utf8_lossy(&out.stdout).trim().into());
        }
    }
    if let Ok(entries) = fs::read_dir("/usr/lib/postgresql") {
        let mut versions: Vec<(u32, PathBuf)> = entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                let version = e.file_name().to_string_lossy().parse::<u32>().ok()?;
                Some((version, e.path().join("bin")))
            })
            .collect();
        versions.sort_by_key(|(version, _)| std::cmp::Reverse(*version));
        candidates.extend(versions.into_iter().map(|(_, dir)| dir));
    }
    candidates
        .into_iter()
        .find(|dir| has_tools(dir))
        .ok_or(ManagedError::BinariesNotFound)
}

fn unprivileged_user() -> Result<Option<User>, ManagedError> {
    if !nix::unistd::geteuid().is_root() {
        return Ok(None);
    }
    for name in ["postgres", "nobody"] {
        if let Ok(Some(user)) = User::from_name(name) {
            return Ok(Some(user));
        }
    }
    Err(ManagedError::NoUnprivilegedUser)
}

/// Where the data folder `data_dir` is when the server runs as `user`: `data_dir`
/// when `user` can enter the folder it is in, else a folder made for it under
/// [`SHARED_ROOT`], linked from `data_dir` (and followed on later starts).
fn reachable_data_dir(
    data_dir: &Path,
    user: &User,
    bin_dir: &Path,
) -> Result<PathBuf, ManagedError> {
    let parent = data_dir.parent().unwrap_or(Path::new("/"));
    fs::create_dir_all(parent).map_err(io(format!("creating {}", parent.display())))?;
    if fs::symlink_metadata(data_dir).is_ok_and(|m| m.file_type().is_symlink()) {
        let target = fs::read_link(data_dir)
            .map_err(io(format!("reading the link {}", data_dir.display())))?;
        let target = parent.join(target);
        tracing::info!(
            data_dir = %data_dir.display(),
            cluster = %target.display(),
            "the managed cluster's data folder is a link"
        );
        return Ok(target);
    }
    let Some(blocked) = first_unenterable(parent, user, bin_dir)? else {
        return Ok(data_dir.to_owned());
    };
    let unreachable = |reason: String, source: Option<std::io::Error>| ManagedError::Unreachable {
        user: user.name.clone(),
        blocked: blocked.clone(),
        data_dir: data_dir.to_owned(),
        reason,
        source,
    };
    if data_dir.exists() {
        // A cluster is not moved behind the operator's back.
        return Err(unreachable(
            "it exists already, and is not moved".to_owned(),
            None,
        ));
    }
    let name = data_dir.file_name().unwrap_or(std::ffi::OsStr::new("pg"));
    let canonical = fs::canonicalize(parent)
        .map_err(io(format!("resolving {}", parent.display())))?
        .join(name);
    let key = {
        use sha2::Digest as _;
        use std::os::unix::ffi::OsStrExt as _;
        let digest = sha2::Sha256::digest(canonical.as_os_str().as_bytes());
        hex::encode(&digest[..8])
    };
    let home = Path::new(SHARED_ROOT).join(key);
    let made = make_shared_home(&home, &canonical);
    if let Err(err) = made {
        return Err(unreachable(
            format!("no folder could be made for it in {}", home.display()),
            Some(err),
        ));
    }
    if let Some(also) = first_unenterable(&home, user, bin_dir)? {
        return Err(unreachable(
            format!(
                "nor can it enter {}, where its cluster would go instead",
                also.display()
            ),
            None,
        ));
    }
    let target = home.join(name);
    std::os::unix::fs::symlink(&target, data_dir).map_err(io(format!(
        "linking {} to {}",
        data_dir.display(),
        target.display()
    )))?;
    tracing::warn!(
        user = %user.name,
        blocked = %blocked.display(),
        cluster = %target.display(),
        data_dir = %data_dir.display(),
        "PostgreSQL cannot enter the data folder's folder: the managed cluster's data is kept \
         in a folder made for it, linked from the data folder"
    );
    Ok(target)
}

/// Makes `home` (and [`SHARED_ROOT`]) enterable by all, noting the data folder it
/// serves; reused when it exists (the same data folder asked again).
fn make_shared_home(home: &Path, serves: &Path) -> std::io::Result<()> {
    for dir in [Path::new(SHARED_ROOT), home] {
        if !dir.exists() {
            fs::create_dir(dir)?;
            fs::set_permissions(dir, fs::Permissions::from_mode(0o755))?;
        }
    }
    let mut line = serves.as_os_str().to_owned();
    line.push("\n");
    fs::write(
        home.join(SOURCE_FILE),
        std::os::unix::ffi::OsStrExt::as_bytes(line.as_os_str()),
    )
}

/// The first folder from `/` down to `dir` that `user` cannot enter, if any: tried
/// by running `pg_ctl --version` there as `user`, the way [`ManagedCluster`] runs
/// the server programs (a child that cannot change into its folder fails to start).
fn first_unenterable(
    dir: &Path,
    user: &User,
    bin_dir: &Path,
) -> Result<Option<PathBuf>, ManagedError> {
    if can_enter(dir, user, bin_dir)? {
        return Ok(None);
    }
    let mut ancestors: Vec<&Path> = dir.ancestors().collect();
    ancestors.reverse();
    for folder in ancestors {
        if !can_enter(folder, user, bin_dir)? {
            return Ok(Some(folder.to_owned()));
        }
    }
    Ok(Some(dir.to_owned()))
}

fn can_enter(dir: &Path, user: &User, bin_dir: &Path) -> Result<bool, ManagedError> {
    let program = bin_dir.join("pg_ctl");
    let status = Command::new(&program)
        .arg("--version")
        .current_dir(dir)
        .uid(user.uid.as_raw())
        .gid(user.gid.as_raw())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
    match status {
        Ok(_) => Ok(true),
        Err(err) if err.kind() == std::io::ErrorKind::PermissionDenied => Ok(false),
        Err(err) => Err(io(format!(
            "running {} in {} as {}",
            program.display(),
            dir.display(),
            user.name
        ))(err)),
    }
}

fn absolute(path: &Path) -> Result<PathBuf, ManagedError> {
    std::path::absolute(path).map_err(io(format!("resolving {}", path.display())))
}

/// The password file of the cluster in `data_dir`: beside it, not inside.
fn password_path(data_dir: &Path) -> PathBuf {
    let name = data_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "pg".into());
    data_dir.with_file_name(format!("{name}.password"))
}

fn write_private(path: &Path, content: &str) -> Result<(), ManagedError> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(io(format!("creating {}", path.display())))?;
    file.write_all(content.as_bytes())
        .map_err(io(format!("writing {}", path.display())))
}

fn random_hex(bytes: usize) -> String {
    use rand::RngCore as _;
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    hex::encode(buf)
}

/// `postmaster.pid`: line 1 the PID, line 4 the port.
fn read_pid_file(data_dir: &Path) -> Option<(i32, u16)> {
    let text = fs::read_to_string(data_dir.join("postmaster.pid")).ok()?;
    let mut lines = text.lines();
    let pid = lines.next()?.trim().parse().ok()?;
    let port = lines.nth(2)?.trim().parse().ok()?;
    Some((pid, port))
}

fn process_alive(pid: i32) -> bool {
    !matches!(
        kill(Pid::from_raw(pid), None),
        Err(nix::errno::Errno::ESRCH)
    )
}

fn accepts_tcp(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_ok()
}

fn port_free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

fn free_port() -> Result<u16, ManagedError> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).map_err(io("finding a free port"))?;
    let port = listener
        .local_addr()
        .map_err(io("finding a free port"))?
        .port();
    Ok(port)
}
