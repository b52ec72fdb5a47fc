//! `wfc serve`: the embedded catalog over MCP — on stdio, or streamable HTTP on a loopback
//! address — for an agent to run; or, with `--dev DIR`, the workflows of a directory through
//! the interpreter, re-read when they change.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use wfc_compiler::ir::graph;
use wfc_compiler::playground::{EvalFailure, evaluate};
use wfc_compiler::{Source, check_paths, check_source, compile_source, definition_hash, workflow_files};
use wfc_runtime::engine::shell::DEFAULT_MAX_PROCESSES;
use wfc_runtime::engine::store::DEFAULT_HISTORY_LIMIT;
use wfc_runtime::engine::answers::Validation;
use wfc_runtime::engine::audit::AuditLog;
use wfc_runtime::engine::{Authoring, Catalog, DEFAULT_ANSWER_WITHIN, Definition, Engine, Limits, ShellSettings, Sqlite, Store};
use wfc_runtime::machine::DEFAULT_SERVER_STEP_BUDGET;
use wfc_runtime::mcp::{HttpSettings, Server};
use wfc_runtime::value::{Value, budget};

use wfc_runtime::catalog::Entry;

/// Where MCP is spoken.
pub(crate) enum Transport {
    /// stdin and stdout (what agent configs start).
    Stdio,
    /// Streamable HTTP at `http://<address>/mcp`.
    Http {
        /// Where to listen.
        address: std::net::SocketAddr,
        /// Whether a non-loopback address may be bound.
        allow_remote: bool,
        /// Authentication and the bounds on clients.
        limits: HttpArgs,
    },
}

/// How `wfc serve --http` faces its clients (see [`HttpSettings`] and docs/security.md).
#[derive(clap::Args)]
pub(crate) struct HttpArgs {
    /// A file holding the bearer token every request must carry (`Authorization: Bearer
    /// TOKEN`; the probes `/healthz`, `/livez` and `/readyz` excepted); the WFC_AUTH_TOKEN environment variable is read when this
    /// is not given. Required with --allow-remote.
    #[arg(long, value_name = "FILE", requires = "http")]
    auth_token_file: Option<PathBuf>,
    /// A browser origin allowed to call the server besides loopback ones
    /// (`https://app.example.com`); repeat for more.
    #[arg(long, value_name = "ORIGIN", requires = "http")]
    allowed_origin: Vec<String>,
    /// Connections open at once; more are closed when accepted.
    #[arg(long, default_value_t = HttpSettings::default().max_connections)]
    max_connections: usize,
    /// MCP sessions open at once; a new one beyond it is refused with 503.
    #[arg(long, default_value_t = HttpSettings::default().max_sessions)]
    max_sessions: usize,
    /// Seconds a session may go without a request before it is closed.
    #[arg(long, value_name = "SECONDS", default_value_t = HttpSettings::default().session_idle.as_secs_f64())]
    session_idle_timeout: f64,
    /// Seconds a client may take to send a request's headers (and an idle connection stays).
    #[arg(long, value_name = "SECONDS", default_value_t = HttpSettings::default().header_timeout.as_secs_f64())]
    header_timeout: f64,
    /// Seconds a client may take to send a request's body.
    #[arg(long, value_name = "SECONDS", default_value_t = HttpSettings::default().body_timeout.as_secs_f64())]
    body_timeout: f64,
}

impl HttpArgs {
    /// The settings, with the token read from its file or the environment. A refusal is a
    /// message for stderr.
    fn settings(&self, remote: bool) -> Result<HttpSettings, String> {
        let token = match &self.auth_token_file {
            Some(path) => Some(std::fs::read_to_string(path).map_err(|e| format!("cannot read the token file {}: {e}", path.display()))?),
            None => std::env::var("WFC_AUTH_TOKEN").ok(),
        };
        let token = token.map(|t| t.trim().to_owned());
        if token.as_deref().is_some_and(|t| t.len() < 16) {
            return Err("the bearer token is shorter than 16 characters; use a long random one (e.g. `openssl rand -hex 32`)".to_owned());
        }
        if remote && token.is_none() {
            return Err("--allow-remote needs a bearer token: pass --auth-token-file FILE or set WFC_AUTH_TOKEN (the workflows run shell commands)".to_owned());
        }
        let seconds = |s: f64, flag: &str| {
            std::time::Duration::try_from_secs_f64(s).ok().filter(|d| !d.is_zero()).ok_or_else(|| format!("--{flag} must be a positive number of seconds"))
        };
        Ok(HttpSettings {
            remote,
            auth_token: token,
            allowed_origins: self.allowed_origin.clone(),
            max_connections: self.max_connections.max(1),
            max_sessions: self.max_sessions.max(1),
            session_idle: seconds(self.session_idle_timeout, "session-idle-timeout")?,
            header_timeout: seconds(self.header_timeout, "header-timeout")?,
            body_timeout: seconds(self.body_timeout, "body-timeout")?,
            ..HttpSettings::default()
        })
    }
}

/// How `wfc serve` was asked to run.
pub(crate) struct Options {
    /// Where MCP is spoken.
    pub(crate) transport: Transport,
    /// What `working_directory` of shell steps is relative to.
    pub(crate) project_root: Option<PathBuf>,
    /// Bytes kept of each shell stream.
    pub(crate) shell_output_cap: usize,
    /// Serve this directory's workflows, interpreted and re-read as they change, instead of
    /// the embedded catalog.
    pub(crate) dev: Option<PathBuf>,
    /// Serve this directory's workflows, interpreted, checked once at start.
    pub(crate) workflows: Option<PathBuf>,
    /// `--store`: a SQLite file, or `memory`.
    pub(crate) store: Option<String>,
    /// The server's limits.
    pub(crate) limits: LimitArgs,
    /// `--serial`: sub-agent tasks go to the main agent, one step at a time.
    pub(crate) serial: bool,
    /// `--log-level`: a tracing filter.
    pub(crate) log_level: Option<String>,
    /// The serve arguments as given, resolved again on SIGHUP.
    pub(crate) serve_args: Vec<std::ffi::OsString>,
    /// The settings as resolved at start.
    pub(crate) started: Vec<crate::settings::Setting>,
}

/// The limits `wfc serve` takes on the command line (see [`Limits`]).
#[derive(clap::Args)]
pub(crate) struct LimitArgs {
    /// Instances running at once; a start beyond it is refused (LIMIT_EXCEEDED).
    #[arg(long, default_value_t = Limits::default().max_active_instances)]
    max_active_instances: u64,
    /// Bytes of one instance's state, its tasks' included, as JSON; a step that would grow it
    /// past this is refused (STATE_TOO_LARGE) and the instance stays where it was.
    #[arg(long, default_value_t = Limits::default().max_state_bytes)]
    max_state_bytes: usize,
    /// Sub-agent tasks one parallel_foreach may start; more fail the step.
    #[arg(long, default_value_t = Limits::default().max_tasks_per_step)]
    max_tasks_per_step: usize,
    /// Seconds an ended (completed, failed, cancelled) instance is kept before it is removed.
    #[arg(long, value_name = "SECONDS", default_value_t = Limits::default().keep_finished_seconds)]
    keep_finished: f64,
    /// Shell commands running at once across all instances; a command waits for a slot within
    /// its own timeout.
    #[arg(long, default_value_t = DEFAULT_MAX_PROCESSES)]
    max_shell_processes: usize,
    /// Server-side operations one request may run before a client step; a loop of server steps
    /// that goes past it fails its workflow.
    #[arg(long, default_value_t = DEFAULT_SERVER_STEP_BUDGET)]
    max_server_steps: u32,
    /// The share of a time limit (a workflow's timeout_seconds, a parallel_foreach's) after
    /// which the next answer warns of it, with the time left (1 or more: never).
    #[arg(long, value_name = "FRACTION", default_value_t = Limits::default().limit_warning_at)]
    limit_warning_at: f64,
    /// Bytes of a user_message or prompt handed out in one piece; a longer one is split into
    /// parts handed out in order, or truncated with a note, as its step's long_message says.
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_message_bytes as u64, value_parser = clap::value_parser!(u64).range(256..))]
    max_message_bytes: u64,
    /// History entries kept per instance; older ones are folded into a summary entry.
    #[arg(long, default_value_t = DEFAULT_HISTORY_LIMIT)]
    history_limit: u64,
    /// Keep no execution history (workflow_history answers with none).
    #[arg(long)]
    no_history: bool,
    /// Append every history entry of every instance to FILE as a JSON line as it is committed,
    /// with its actor (the client, session, transport, address), for audit pipelines; the
    /// file is never rotated by the server.
    #[arg(long, value_name = "FILE", conflicts_with = "no_history")]
    audit_log: Option<PathBuf>,
    /// Operations one evaluation of an expression may take (callback calls, items visited,
    /// 64-byte blocks of text scanned, regular-expression steps); past it the expression
    /// throws a RangeError naming this limit.
    #[arg(long, default_value_t = budget::Limits::DEFAULT.operations)]
    max_eval_operations: u64,
    /// Bytes of strings and arrays one evaluation of an expression may build.
    #[arg(long, default_value_t = budget::Limits::DEFAULT.bytes)]
    max_eval_bytes: u64,
    /// Seconds a step request waits for server-side work (a long shell command); past it the
    /// answer says the command is running (status running, its last output lines) and the
    /// command goes on; the next request picks up where it stands.
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_ANSWER_WITHIN.as_secs_f64(), value_parser = positive_seconds)]
    answer_within: f64,
}

/// A number of seconds above zero.
fn positive_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(seconds) if seconds > 0.0 && seconds.is_finite() && seconds <= 86_400.0 => Ok(seconds),
        _ => Err(format!("`{text}` is not a number of seconds between 0 and 86400")),
    }
}

impl LimitArgs {
    /// The engine's limits.
    pub(crate) fn limits(&self) -> Limits {
        Limits {
            max_active_instances: self.max_active_instances,
            max_state_bytes: self.max_state_bytes,
            max_tasks_per_step: self.max_tasks_per_step,
            keep_finished_seconds: self.keep_finished,
            max_server_steps: self.max_server_steps,
            limit_warning_at: self.limit_warning_at,
            max_message_bytes: usize::try_from(self.max_message_bytes).unwrap_or(usize::MAX),
        }
    }

    /// What one evaluation of an expression may take.
    pub(crate) fn eval_limits(&self) -> budget::Limits {
        budget::Limits { operations: self.max_eval_operations, bytes: self.max_eval_bytes }
    }
}

/// The store a server or `wfc status` uses: `memory`, a path, or `.wfc/state.db` under the
/// project root — a directory that ignores itself (`.wfc/.gitignore`), so the store never
/// shows up in the project's `git status`, which workflows often check. A problem is reported
/// on stderr; the error is the exit code.
pub(crate) fn open_store(given: Option<&str>, project_root: &Path) -> Result<Sqlite, ExitCode> {
    let opened = match given {
        Some("memory") => Sqlite::in_memory(),
        Some(path) => Sqlite::open(Path::new(path)),
        None => {
            let dir = project_root.join(".wfc");
            let ignore = dir.join(".gitignore");
            if !ignore.exists() {
                let written = std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&ignore, "*\n"));
                if let Err(error) = written {
                    eprintln!("wfc: cannot create {}: {error}", ignore.display());
                    return Err(ExitCode::from(2));
                }
            }
            Sqlite::open(&dir.join("state.db"))
        }
    };
    opened.map_err(|error| {
        eprintln!("wfc: {error}");
        ExitCode::from(2)
    })
}

/// Where shell steps run: `given`, else `$MCP_FILE_ROOT` (AroMCP's name), else the current
/// directory. A problem is reported on stderr; the error is the exit code.
pub(crate) fn project_root(given: Option<PathBuf>) -> Result<PathBuf, ExitCode> {
    match given.or_else(|| std::env::var_os("MCP_FILE_ROOT").map(PathBuf::from)).map_or_else(std::env::current_dir, Ok) {
        Ok(root) if root.is_dir() => Ok(root),
        Ok(root) => {
            eprintln!("wfc: the project root {} is not a directory", root.display());
            Err(ExitCode::from(2))
        }
        Err(error) => {
            eprintln!("wfc: no current directory: {error}");
            Err(ExitCode::from(2))
        }
    }
}

pub(crate) fn run(embedded: &'static [Entry], options: Options) -> ExitCode {
    let log_filter = match super::reload::init_logging(options.log_level.as_deref()) {
        Ok(handle) => handle,
        Err(message) => {
            eprintln!("wfc: {message}");
            return ExitCode::from(2);
        }
    };
    let project_root = match project_root(options.project_root) {
        Ok(root) => root,
        Err(code) => return code,
    };
    let mut directory = None;
    let catalog: Box<dyn Catalog> = match (options.dev, options.workflows) {
        (Some(dir), _) | (None, Some(dir)) if !dir.is_dir() => {
            eprintln!("wfc: {} is not a directory", dir.display());
            return ExitCode::from(2);
        }
        (Some(dir), _) => Box::new(DevCatalog { dir, loaded: Mutex::default() }),
        (None, Some(dir)) => match directory_catalog(&dir) {
            Ok(workflows) => {
                let served = Arc::new(DirectoryCatalog { served: std::sync::RwLock::new((dir, 0, workflows)) });
                directory = Some(Arc::clone(&served));
                Box::new(served)
            }
            Err(code) => return code,
        },
        (None, None) => Box::new(embedded.iter().map(|entry| Arc::new(Definition::compiled(entry))).collect::<Vec<_>>()),
    };
    let store = match open_store(options.store.as_deref(), &project_root) {
        Ok(store) => store.with_history_limit(options.limits.history_limit),
        Err(code) => return code,
    };
    match store.running_count() {
        Ok(0) => {}
        Ok(running) => tracing::info!(running, "the store holds unfinished instances; they continue on their next request"),
        Err(error) => {
            eprintln!("wfc: {error}");
            return ExitCode::from(2);
        }
    }
    let limits = options.limits.limits();
    let keep_finished = limits.keep_finished_seconds;
    budget::configure(options.limits.eval_limits());
    let shell = ShellSettings::new(project_root, options.shell_output_cap, options.limits.max_shell_processes);
    // AroMCP's switch for the same mode.
    let serial = options.serial || std::env::var("AROMCP_WORKFLOW_DEBUG").is_ok_and(|mode| mode == "serial");
    if serial {
        tracing::info!("serial mode: sub-agent tasks are handed to the main agent one step at a time");
    }
    let mut engine = Engine::new(catalog, shell, Box::new(store))
        .with_limits(limits)
        .with_serial(serial)
        .with_history(!options.limits.no_history)
        .with_answer_within(std::time::Duration::from_secs_f64(options.limits.answer_within));
    if let Some(path) = &options.limits.audit_log {
        match AuditLog::open(path) {
            Ok(audit) => engine = engine.with_audit_log(audit),
            Err(error) => {
                eprintln!("wfc: cannot open the audit log {}: {error}", path.display());
                return ExitCode::from(2);
            }
        }
    }
    let engine = Arc::new(engine.with_authoring(Arc::new(CompilerTools { embedded })));
    // One client on stdio, and every thread handoff is on its round trip: one thread serves it
    // (the authoring tools compile and evaluate on blocking threads; shell commands run as
    // child processes). Over HTTP, many clients: a worker per core.
    let mut builder = match options.transport {
        Transport::Stdio => tokio::runtime::Builder::new_current_thread(),
        Transport::Http { .. } => tokio::runtime::Builder::new_multi_thread(),
    };
    let runtime = match builder.enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("wfc: cannot start the async runtime: {error}");
            return ExitCode::from(2);
        }
    };
    let server = Server::new(Arc::clone(&engine));
    let inside_runtime = runtime.enter();
    runtime.spawn(sweep(Arc::clone(&engine), keep_finished));
    runtime.spawn(super::reload::on_hangup(super::reload::Reload { engine: Arc::clone(&engine), directory, log_filter, serve_args: options.serve_args, started: options.started }));
    let released = super::startup_pages::release();
    tracing::debug!(released_bytes = released, "start-up's pages of the executable released");
    let served = match options.transport {
        Transport::Stdio => {
            tracing::info!("serving MCP over stdio");
            runtime.block_on(server.serve_stdio(shutdown_signal()))
        }
        Transport::Http { address, allow_remote, limits } => {
            if !address.ip().is_loopback() && !allow_remote {
                eprintln!("wfc: {address} is not a loopback address; pass --allow-remote (with a bearer token) to bind it anyway");
                return ExitCode::from(2);
            }
            let settings = match limits.settings(allow_remote) {
                Ok(settings) => settings,
                Err(message) => {
                    eprintln!("wfc: {message}");
                    return ExitCode::from(2);
                }
            };
            let server = match server.with_metrics() {
                Ok(server) => server,
                Err(error) => {
                    eprintln!("wfc: {error}");
                    return ExitCode::from(2);
                }
            };
            runtime.block_on(async {
                // Listening for SIGTERM before the address is told: a client that has it may
                // stop the server at once.
                let shutdown = shutdown_signal();
                let listener = tokio::net::TcpListener::bind(address).await?;
                let bound = listener.local_addr()?;
                // The one line on stdout in HTTP mode: where to connect (the port may have
                // been chosen by the system, with :0).
                println!("http://{bound}/mcp");
                tracing::info!(%bound, "serving MCP over streamable HTTP");
                server.serve_http(listener, settings, shutdown).await
            })
        }
    };
    // A read of stdin may still block a runtime thread; it must not hold the exit.
    drop(inside_runtime);
    runtime.shutdown_background();
    if let Err(error) = engine.flush() {
        eprintln!("wfc: the last history entries were not saved: {}", error.message);
    }
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("wfc: the MCP connection failed: {error}");
            ExitCode::from(1)
        }
    }
}

/// Removes ended instances once they are older than `keep_finished` seconds: at start, then
/// every tenth of that time (at least every second, at most every five minutes).
async fn sweep(engine: Arc<Engine>, keep_finished: f64) {
    let period = std::time::Duration::from_secs_f64((keep_finished / 10.0).clamp(1.0, 300.0));
    let mut every = tokio::time::interval(period);
    loop {
        every.tick().await;
        match engine.sweep() {
            Ok(0) => {}
            Ok(removed) => tracing::info!(removed, "removed ended instances past their keep time"),
            Err(error) => tracing::warn!(cause = %error.message, "the sweep of ended instances failed"),
        }
    }
}

/// Completes on SIGTERM or SIGINT (Ctrl-C): the server stops taking requests, answers those in
/// flight, and exits 0. The handlers are installed at once (inside the runtime), before the
/// server says where it listens, so an early signal is not the default kill.
fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    use tokio::signal::unix::{SignalKind, signal};
    let handlers = [SignalKind::terminate(), SignalKind::interrupt()].map(|kind| {
        signal(kind).inspect_err(|error| tracing::warn!(%error, "cannot listen for a shutdown signal")).ok()
    });
    async move {
        let [terminate, interrupt] = handlers;
        let wait = |handler: Option<tokio::signal::unix::Signal>| async move {
            match handler {
                Some(mut handler) => drop(handler.recv().await),
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = wait(terminate) => {}
            () = wait(interrupt) => {}
        }
        tracing::info!("shutting down");
    }
}

/// Logs go to stderr (stdout carries MCP); `RUST_LOG` picks what is logged (default `info`).
/// A directory's workflows, checked and lowered for the interpreter, re-read whenever a file
/// in it is added, removed or modified. A file with errors is not served; its diagnostics are.
struct DevCatalog {
    dir: PathBuf,
    loaded: Mutex<Loaded>,
}

#[derive(Default)]
struct Loaded {
    /// Each file's modification time and size when it was read.
    fingerprint: Vec<(PathBuf, Option<SystemTime>, u64)>,
    workflows: Vec<Arc<Definition>>,
    broken: Vec<(String, String)>,
    /// How many times the directory was read: what clients are told changed.
    revision: u64,
}

impl DevCatalog {
    fn current(&self) -> std::sync::MutexGuard<'_, Loaded> {
        let mut loaded = self.loaded.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let fingerprint = fingerprint(&self.dir);
        if loaded.fingerprint != fingerprint || loaded.fingerprint.is_empty() {
            let revision = loaded.revision + 1;
            *loaded = load(&self.dir, "dev");
            loaded.fingerprint = fingerprint;
            loaded.revision = revision;
        }
        loaded
    }
}

impl Catalog for DevCatalog {
    fn workflows(&self) -> Vec<Arc<Definition>> {
        self.current().workflows.clone()
    }

    fn broken(&self) -> Vec<(String, String)> {
        self.current().broken.clone()
    }

    fn revision(&self) -> Option<u64> {
        Some(self.current().revision)
    }
}

/// The workflows of `dir` for `--workflows`: every file checked once, now; one with errors keeps
/// the server from starting (its diagnostics on stderr, exit code 1), as `wfc check` would.
fn directory_catalog(dir: &Path) -> Result<Vec<Arc<Definition>>, ExitCode> {
    match valid_directory(dir) {
        Ok(workflows) => {
            tracing::info!(count = workflows.len(), dir = %dir.display(), "serving a directory of workflows");
            Ok(workflows)
        }
        Err(Refused::Broken(broken)) => {
            for (path, diagnostics) in &broken {
                eprintln!("{diagnostics}");
                eprintln!("wfc: {path} has errors");
            }
            eprintln!("wfc: not serving {}: {} of its workflow files have errors", dir.display(), broken.len());
            Err(ExitCode::from(1))
        }
        Err(Refused::Empty) => {
            eprintln!("wfc: {} holds no workflow files (*.yaml, *.yml)", dir.display());
            Err(ExitCode::from(2))
        }
    }
}

/// Why a directory's workflows are not served.
enum Refused {
    /// These files have errors: each path with its diagnostics.
    Broken(Vec<(String, String)>),
    /// It holds no workflow files.
    Empty,
}

/// The workflows of `dir`, if it holds some and every one of its files is valid.
fn valid_directory(dir: &Path) -> Result<Vec<Arc<Definition>>, Refused> {
    let loaded = load(dir, "directory");
    if !loaded.broken.is_empty() {
        return Err(Refused::Broken(loaded.broken));
    }
    if loaded.workflows.is_empty() {
        return Err(Refused::Empty);
    }
    Ok(loaded.workflows)
}

/// `--workflows DIR`: the directory's workflows as checked at start, and checked again on
/// SIGHUP (from the directory the configuration names then): a directory with errors is not
/// taken, and what was served stays.
pub(crate) struct DirectoryCatalog {
    /// The directory, a number that changes with each reload, and its workflows.
    served: std::sync::RwLock<(PathBuf, u64, Vec<Arc<Definition>>)>,
}

impl DirectoryCatalog {
    /// Checks `dir` (or the directory served, if `None`) and serves its workflows if every file
    /// is valid: how many; the diagnostics if not.
    pub(crate) fn reload(&self, dir: Option<&Path>) -> Result<(PathBuf, usize), String> {
        let dir = dir.map_or_else(|| self.served.read().unwrap_or_else(std::sync::PoisonError::into_inner).0.clone(), Path::to_path_buf);
        let workflows = valid_directory(&dir).map_err(|refused| match refused {
            Refused::Broken(broken) => {
                let diagnostics: String = broken.iter().map(|(_, rendered)| rendered.as_str()).collect();
                format!("{} has {} workflow file(s) with errors; still serving the workflows checked before\n{diagnostics}", dir.display(), broken.len())
            }
            Refused::Empty => format!("{} holds no workflow files; still serving the workflows checked before", dir.display()),
        })?;
        let count = workflows.len();
        let mut served = self.served.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        *served = (dir.clone(), served.1 + 1, workflows);
        Ok((dir, count))
    }
}

impl Catalog for DirectoryCatalog {
    fn workflows(&self) -> Vec<Arc<Definition>> {
        self.served.read().unwrap_or_else(std::sync::PoisonError::into_inner).2.clone()
    }

    fn revision(&self) -> Option<u64> {
        Some(self.served.read().unwrap_or_else(std::sync::PoisonError::into_inner).1)
    }
}

/// Each workflow file's path, modification time and size: what changes when a file does.
fn fingerprint(dir: &Path) -> Vec<(PathBuf, Option<SystemTime>, u64)> {
    workflow_files(&[dir.to_path_buf()])
        .unwrap_or_default()
        .into_iter()
        .map(|path| {
            let metadata = std::fs::metadata(&path).ok();
            let (modified, size) = metadata.map_or((None, 0), |m| (m.modified().ok(), m.len()));
            (path, modified, size)
        })
        .collect()
}

/// The workflows of `dir`, checked and lowered for the interpreter, each marked as served from
/// `source` (`dev`, `directory`); the files with errors, with their diagnostics.
fn load(dir: &Path, source: &'static str) -> Loaded {
    let report = match check_paths(&[dir.to_path_buf()]) {
        Ok(report) => report,
        Err(error) => return Loaded { broken: vec![(dir.display().to_string(), error.to_string())], ..Loaded::default() },
    };
    let mut loaded = Loaded::default();
    for file in report.files {
        let path = file.path.display().to_string();
        let lowered = file.compiled.as_ref().map(|compiled| &compiled.machines).ok_or_else(|| file.diagnostics.render_plain());
        match lowered {
            Ok(workflow) => {
                let text = std::fs::read_to_string(&file.path).unwrap_or_default();
                tracing::info!(workflow = %workflow.name, %path, "loaded");
                loaded.workflows.push(Arc::new(Definition::new(&workflow, source, &path, &definition_hash(&text))));
            }
            Err(diagnostics) => {
                tracing::warn!(%path, "not served: the workflow has errors");
                loaded.broken.push((path, diagnostics));
            }
        }
    }
    loaded
}

/// The tools that need the compiler.
struct CompilerTools {
    /// The embedded catalog, whose workflows `graph` draws by name.
    embedded: &'static [Entry],
}

impl Authoring for CompilerTools {
    fn validate(&self, yaml: &str) -> Validation {
        let (_, diagnostics) = check_source(&Source::new("workflow.yaml", yaml));
        Validation { valid: !diagnostics.has_errors(), diagnostics: diagnostics.to_json() }
    }

    fn test_transformation(&self, transform: &str, input: &serde_json::Value) -> Result<serde_json::Value, String> {
        match evaluate(transform, Value::from(input), &serde_json::Map::new()) {
            Ok(value) => Ok(value.to_json().unwrap_or(serde_json::Value::Null)),
            Err(EvalFailure::Compile(diagnostics)) => Err(diagnostics.render_plain()),
            Err(EvalFailure::Runtime(error)) => Err(format!("Uncaught {error}")),
        }
    }

    fn graph(&self, workflow: &str) -> Result<String, String> {
        let source = match wfc_runtime::catalog::find(self.embedded, workflow) {
            Some(entry) => Source::new(entry.path, entry.source),
            None => Source::new("workflow.yaml", workflow),
        };
        let (compiled, diagnostics) = compile_source(&source);
        let compiled = compiled.ok_or_else(|| diagnostics.render_plain())?;
        Ok(graph::render(&compiled.machines, graph::Format::Mermaid))
    }

    fn format_schema(&self) -> &serde_json::Value {
        wfc_compiler::syntax::format_schema()
    }
}
