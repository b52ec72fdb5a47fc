//! `wfc serve`: the embedded catalog over MCP on stdio, for an agent to run.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use wfc_compiler::ir::{self, graph};
use wfc_compiler::playground::{EvalFailure, evaluate};
use wfc_compiler::{Source, check_source};
use wfc_runtime::engine::{Authoring, Definition, Engine, ShellSettings};
use wfc_runtime::mcp::Server;
use wfc_runtime::value::Value;

use crate::catalog::WORKFLOWS;

/// How `wfc serve` was asked to run.
pub(crate) struct Options {
    /// What `working_directory` of shell steps is relative to.
    pub(crate) project_root: Option<PathBuf>,
    /// Bytes kept of each shell stream.
    pub(crate) shell_output_cap: usize,
}

pub(crate) fn run(options: Options) -> ExitCode {
    init_logging();
    let project_root = match options.project_root.or_else(|| std::env::var_os("MCP_FILE_ROOT").map(PathBuf::from)).map_or_else(std::env::current_dir, Ok) {
        Ok(root) if root.is_dir() => root,
        Ok(root) => {
            eprintln!("wfc: the project root {} is not a directory", root.display());
            return ExitCode::from(2);
        }
        Err(error) => {
            eprintln!("wfc: no current directory: {error}");
            return ExitCode::from(2);
        }
    };
    let definitions = WORKFLOWS.iter().map(Definition::compiled).collect();
    let shell = ShellSettings { project_root, output_cap: options.shell_output_cap };
    let engine = Arc::new(Engine::new(definitions, shell).with_authoring(Box::new(CompilerTools)));
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("wfc: cannot start the async runtime: {error}");
            return ExitCode::from(2);
        }
    };
    tracing::info!(workflows = WORKFLOWS.len(), "serving over stdio");
    match runtime.block_on(Server::new(engine).serve_stdio()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("wfc: the MCP connection failed: {error}");
            ExitCode::from(1)
        }
    }
}

/// Logs go to stderr (stdout carries MCP); `RUST_LOG` picks what is logged (default `info`).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(false).init();
}

/// The tools that need the compiler.
struct CompilerTools;

impl Authoring for CompilerTools {
    fn validate(&self, yaml: &str) -> serde_json::Value {
        let (_, diagnostics) = check_source(&Source::new("workflow.yaml", yaml));
        serde_json::json!({"valid": !diagnostics.has_errors(), "diagnostics": diagnostics.to_json()})
    }

    fn test_transformation(&self, transform: &str, input: &serde_json::Value) -> Result<serde_json::Value, String> {
        match evaluate(transform, Value::from(input), &serde_json::Map::new()) {
            Ok(value) => Ok(value.to_json().unwrap_or(serde_json::Value::Null)),
            Err(EvalFailure::Compile(diagnostics)) => Err(diagnostics.render_plain()),
            Err(EvalFailure::Runtime(error)) => Err(format!("Uncaught {error}")),
        }
    }

    fn graph(&self, workflow: &str) -> Result<String, String> {
        let source = match wfc_runtime::catalog::find(WORKFLOWS, workflow) {
            Some(entry) => Source::new(entry.path, entry.source),
            None => Source::new("workflow.yaml", workflow),
        };
        let (checked, diagnostics) = check_source(&source);
        let checked = checked.ok_or_else(|| diagnostics.render_plain())?;
        let lowered = ir::lower(&checked).map_err(|e| e.to_string())?;
        Ok(graph::render(&lowered, graph::Format::Mermaid))
    }
}
