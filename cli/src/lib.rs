//! The `wfc` command line as a library: everything the `wfc` binary does (check, serve, run,
//! status, history, profile, explain, graph, expand, eval, schema, new) over a catalog the
//! calling crate embeds, in one call from its `main`.
//!
//! ```ignore
//! // src/main.rs of a team's catalog crate (what `wfc new` writes); build.rs compiles
//! // workflows/ with wfc_compiler::Config.
//! mod catalog {
//!     include!(concat!(env!("OUT_DIR"), "/catalog.rs"));
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     wfc_cli::main(catalog::WORKFLOWS)
//! }
//! ```
//!
//! Exit codes: 0 when everything is valid, 1 when a workflow has errors, 2 on a usage error
//! (bad arguments, a path that cannot be read).

mod commands;
mod settings;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use wfc_runtime::catalog::Entry;

/// The allocator `wfc` uses, for a catalog binary's `#[global_allocator]`: workflows allocate
/// many small, short-lived values (split pieces, objects, arrays), which glibc's allocator
/// serves slowly once its per-thread cache is full (`cargo bench -p wfc-fixtures --bench
/// transforms` shows the difference).
pub use mimalloc::MiMalloc as Allocator;

#[derive(Parser)]
#[command(name = "wfc", version, about = "Compile workflow YAML into native state machines and serve them over MCP")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check workflow files: schema, ids, references, loops, computed fields.
    Check {
        /// Files or directories (searched recursively for *.yaml and *.yml).
        #[arg(default_value = "workflows")]
        paths: Vec<PathBuf>,
        /// Output format for diagnostics.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
        /// When to colour human output.
        #[arg(long, value_enum, default_value_t = Color::Auto)]
        color: Color,
    },
    /// Serve the embedded workflows to an agent over MCP (stdio, or streamable HTTP with --http).
    Serve {
        /// Speak streamable HTTP at http://ADDR/mcp instead of stdio (a loopback address, e.g.
        /// 127.0.0.1:8080, unless --allow-remote).
        #[arg(long, value_name = "ADDR")]
        http: Option<std::net::SocketAddr>,
        /// Allow --http to bind a non-loopback address; a bearer token is then required
        /// (--auth-token-file or WFC_AUTH_TOKEN).
        #[arg(long, requires = "http")]
        allow_remote: bool,
        #[command(flatten)]
        http_limits: commands::serve::HttpArgs,
        /// The directory shell steps run in (default: $MCP_FILE_ROOT, else the current directory).
        #[arg(long)]
        root: Option<PathBuf>,
        /// Bytes kept of each of a shell command's stdout and stderr.
        #[arg(long, default_value_t = wfc_runtime::engine::shell::DEFAULT_OUTPUT_CAP)]
        shell_output_cap: usize,
        /// Serve the workflows of this directory through the interpreter, re-reading them when
        /// they change, instead of the embedded catalog.
        #[arg(long, value_name = "DIR", conflicts_with = "workflows")]
        dev: Option<PathBuf>,
        /// Serve the workflows of this directory through the interpreter, checked once at
        /// start (a file with errors keeps the server from starting), instead of the embedded
        /// catalog: a team's catalog without a Rust build.
        #[arg(long, value_name = "DIR")]
        workflows: Option<PathBuf>,
        /// Where instances are kept across restarts: a SQLite file (default: .wfc/state.db
        /// under the project root), or `memory` to keep nothing.
        #[arg(long, value_name = "PATH|memory")]
        store: Option<String>,
        #[command(flatten)]
        limits: commands::serve::LimitArgs,
        /// Hand sub-agent tasks to the main agent one step at a time instead of asking it to
        /// start sub-agents, one step per answer (also AROMCP_WORKFLOW_DEBUG=serial).
        #[arg(long)]
        serial: bool,
        /// The configuration file: its `[serve]` table sets any of these flags by name
        /// (default: wfc.toml in the current directory, if there is one). Flags win over
        /// WFC_* environment variables (WFC_MAX_ACTIVE_INSTANCES for --max-active-instances),
        /// which win over the file. SIGHUP re-reads it.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// What to log, as a tracing filter (`info`, `debug`, `wfc_runtime=debug,info`;
        /// default: RUST_LOG, else info). SIGHUP re-reads it.
        #[arg(long, value_name = "FILTER")]
        log_level: Option<String>,
    },
    /// Print the settings `wfc serve` would run with, given these serve flags: each with its
    /// value and where it came from (flag, WFC_* variable, wfc.toml, default).
    Config {
        /// The serve flags, as for `wfc serve`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        serve_args: Vec<std::ffi::OsString>,
    },
    /// Print an instance's execution history from the store, as a timeline.
    History {
        /// The instance id (`wf_…`).
        id: String,
        #[command(flatten)]
        store: commands::StoreLocation,
        /// How to print it: a timeline, the workflow_history answer (`json`), or one JSON
        /// object per entry with the instance's id and workflow (`jsonl`, for audit pipelines).
        #[arg(long, value_enum, default_value_t = commands::history::HistoryFormat::Text, conflicts_with = "json")]
        format: commands::history::HistoryFormat,
        /// The same as `--format json`.
        #[arg(long)]
        json: bool,
    },
    /// Show where an instance spent its time: per step, commands versus the agent versus the
    /// person, and each loop's slowest iterations (from the store's history).
    Profile {
        /// The instance id (`wf_…`).
        id: String,
        #[command(flatten)]
        store: commands::StoreLocation,
        /// Print JSON (what the workflow_profile tool answers).
        #[arg(long)]
        json: bool,
    },
    /// List the instances a store holds that have not ended (what `wfc serve` would continue).
    Status {
        #[command(flatten)]
        store: commands::StoreLocation,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Drive one workflow in the terminal: messages printed, shell steps run, answers asked
    /// of you (or read from --answers).
    Run {
        /// A workflow of the embedded catalog (`release:checklist`) or a YAML file.
        #[arg(required_unless_present = "resume")]
        workflow: Option<String>,
        /// An input, NAME=VALUE (VALUE is JSON if it parses, else text); repeatable.
        #[arg(long = "input", value_name = "NAME=VALUE")]
        inputs: Vec<String>,
        /// A JSON object from step id to its answer (a list for a step asked several times).
        #[arg(long, value_name = "FILE")]
        answers: Option<PathBuf>,
        /// The directory shell steps run in (default: $MCP_FILE_ROOT, else the current directory).
        #[arg(long)]
        root: Option<PathBuf>,
        /// Continue instance ID (of an interrupted run, or one `wfc serve` started) instead of
        /// starting one.
        #[arg(long, value_name = "ID")]
        resume: Option<String>,
        /// Where instances are kept: a SQLite file, or `memory` for nothing kept (default:
        /// .wfc/state.db under the project root, as `wfc serve` keeps them).
        #[arg(long, value_name = "PATH|memory")]
        store: Option<String>,
    },
    /// Create a catalog crate of your own in DIR: your workflows compiled into your own
    /// binary, with this whole command line over them, a snapshot test, CI and an MCP config.
    New {
        /// The directory to create (or an empty one).
        dir: PathBuf,
        /// The crate's and binary's name (default: the directory's name).
        #[arg(long)]
        name: Option<String>,
        /// Depend on the wfc crates by this version from the registry instead of by path to
        /// the source this binary was built from.
        #[arg(long, value_name = "VERSION")]
        wfc_version: Option<String>,
    },
    /// Print the workflow format's JSON Schema.
    Schema,
    /// Evaluate one expression, e.g. `wfc eval 'input.length' --input '[1,2]'`.
    Eval {
        /// The expression (bare, or wrapped in `{{ }}`); it may start with `-` (`wfc eval -0`).
        #[arg(allow_hyphen_values = true)]
        expression: String,
        /// JSON bound to `input` (as in a computed field's transform).
        #[arg(long, default_value = "null")]
        input: String,
        /// A JSON object of roots: `this`, `inputs`, `global`, `loop`, or any name (`stdout`).
        #[arg(long, default_value = "{}")]
        scope: String,
    },
    /// Show what a workflow would run, without running it: steps in order (client or server),
    /// loop caps, sub-agent fan-out, what each step reads and writes, computed fields.
    Explain {
        /// A workflow of the embedded catalog (`dev:test-fix-loop`) or a YAML file.
        workflow: String,
        /// Print the plan as JSON (what the workflow_explain_plan tool answers).
        #[arg(long)]
        json: bool,
    },
    /// Print the Rust a workflow compiles to (formatted).
    Expand {
        /// A workflow of the embedded catalog (`dev:test-fix-loop`) or a YAML file.
        workflow: String,
    },
    /// Print a workflow's state machine as a diagram (steps, branches, loops, sub-agents).
    Graph {
        /// A workflow of the embedded catalog (`dev:test-fix-loop`) or a YAML file.
        workflow: String,
        /// The diagram language.
        #[arg(long, value_enum, default_value_t = GraphFormat::Mermaid)]
        format: GraphFormat,
    },
}

/// How `wfc graph` draws.
#[derive(Clone, Copy, ValueEnum)]
enum GraphFormat {
    /// Mermaid flowchart (renders in GitHub Markdown).
    Mermaid,
    /// Graphviz dot.
    Dot,
}

/// How `wfc check` prints diagnostics.
#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// rustc-style reports on stderr.
    Human,
    /// One JSON document on stdout, for editors and CI.
    Json,
    /// GitHub Actions annotations (workflow commands) on stdout, the summary on stderr.
    Github,
    /// A SARIF 2.1.0 log on stdout (for code-scanning uploads), the summary on stderr.
    Sarif,
}

/// Whether human output is coloured.
#[derive(Clone, Copy, ValueEnum)]
enum Color {
    /// When stderr is a terminal and NO_COLOR is unset.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// What SIGHUP can change in a running `wfc serve`, from its arguments resolved again: its
/// limits, log filter and served directory, with every setting as resolved (to tell what
/// changed but needs a restart).
pub(crate) struct Reloadable {
    pub(crate) limits: commands::serve::LimitArgs,
    pub(crate) log_level: Option<String>,
    pub(crate) workflows: Option<PathBuf>,
    pub(crate) settings: Vec<settings::Setting>,
}

/// `wfc serve`'s arguments `serve_args` resolved and parsed again, as at start.
pub(crate) fn reparse_serve(serve_args: Vec<std::ffi::OsString>) -> Result<Reloadable, String> {
    let resolved = settings::resolve(serve_args)?;
    let args = ["wfc".into(), "serve".into()].into_iter().chain(resolved.args);
    match Cli::try_parse_from(args).map_err(|e| e.to_string())?.command {
        Command::Serve { limits, log_level, workflows, .. } => Ok(Reloadable { limits, log_level, workflows, settings: resolved.settings }),
        _ => Err("not a serve command".to_owned()),
    }
}

/// Runs the command line (`std::env::args`) over `catalog`, the workflows the calling binary
/// embeds (`WORKFLOWS` of the `catalog.rs` that [`wfc_compiler::Config::compile_for_build`]
/// writes): `serve` serves them, and `run`, `explain`, `expand` and `graph` find them by name.
/// Usage, help and errors name the binary as it was started.
pub fn main(catalog: &'static [Entry]) -> ExitCode {
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // `wfc serve` with what the environment and wfc.toml set (see `settings`); its own
    // arguments are kept to resolve them again on SIGHUP, and the settings it starts with to
    // tell what a reload changed.
    let (mut serve_args, mut started) = (Vec::new(), Vec::new());
    if args.get(1).is_some_and(|command| command == "serve") {
        serve_args = args.split_off(2);
        match settings::resolve(serve_args.clone()) {
            Ok(resolved) => {
                args.extend(resolved.args);
                started = resolved.settings;
            }
            Err(message) => {
                eprintln!("wfc: {message}");
                return ExitCode::from(2);
            }
        }
    }
    let cli = Cli::parse_from(args);
    match cli.command {
        Command::Check { paths, format, color } => commands::check::run(&paths, format, color),
        Command::Serve { http, allow_remote, http_limits, root, shell_output_cap, dev, workflows, store, limits, serial, config: _, log_level } => {
            let transport = match http {
                Some(address) => commands::serve::Transport::Http { address, allow_remote, limits: http_limits },
                None => commands::serve::Transport::Stdio,
            };
            let options = commands::serve::Options { transport, project_root: root, shell_output_cap, dev, workflows, store, limits, serial, log_level, serve_args, started };
            commands::serve::run(catalog, options)
        }
        Command::Status { store, json } => commands::status::run(store, json),
        Command::History { id, store, format, json } => {
            commands::history::run(&id, store, if json { commands::history::HistoryFormat::Json } else { format })
        }
        Command::Profile { id, store, json } => commands::profile::run(&id, store, json),
        Command::Run { workflow, inputs, answers, root, resume, store } => {
            commands::run::run(catalog, commands::run::Options { workflow, inputs, answers, project_root: root, resume, store })
        }
        Command::New { dir, name, wfc_version } => commands::new::run(commands::new::Options { dir, name, wfc_version }),
        Command::Config { serve_args } => commands::config::run(serve_args),
        Command::Schema => commands::schema::run(),
        Command::Eval { expression, input, scope } => commands::eval::run(&expression, &input, &scope),
        Command::Expand { workflow } => commands::expand::run(catalog, &workflow),
        Command::Explain { workflow, json } => commands::explain::run(catalog, &workflow, json),
        Command::Graph { workflow, format } => {
            let format = match format {
                GraphFormat::Mermaid => wfc_compiler::ir::graph::Format::Mermaid,
                GraphFormat::Dot => wfc_compiler::ir::graph::Format::Dot,
            };
            commands::graph::run(catalog, &workflow, format)
        }
    }
}
