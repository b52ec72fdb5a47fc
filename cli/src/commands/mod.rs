//! One module per subcommand, and what several of them share.

pub(crate) mod check;
pub(crate) mod config;
pub(crate) mod eval;
pub(crate) mod explain;
pub(crate) mod history;
pub(crate) mod profile;
pub(crate) mod expand;
pub(crate) mod graph;
pub(crate) mod new;
pub(crate) mod reload;
pub(crate) mod run;
pub(crate) mod schema;
pub(crate) mod serve;
pub(crate) mod startup_pages;
pub(crate) mod status;

use std::process::ExitCode;

use wfc_compiler::{Compiled, Source, check_paths, compile_source, definition_hash};
use wfc_runtime::engine::store::HistoryEvent;
use wfc_runtime::engine::{Definition, Store, Stored, stored_history};

use wfc_runtime::catalog::Entry;

/// Prints `text` to stdout. A closed pipe (`wfc expand x | head`) ends the output quietly.
pub(crate) fn print_out(text: &str) -> ExitCode {
    use std::io::Write as _;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("wfc: cannot write the output: {error}");
            ExitCode::from(2)
        }
    }
}

/// A workflow named on the command line, through the pipeline: a file if one exists at that
/// path, otherwise a workflow of the embedded catalog. Diagnostics and "not found" go to
/// stderr; the error is the exit code to return.
pub(crate) fn load_workflow(catalog: &[Entry], name_or_path: &str) -> Result<Compiled, ExitCode> {
    let path = std::path::Path::new(name_or_path);
    let (workflow, diagnostics) = if path.is_file() {
        let report = check_paths(&[path.to_path_buf()]).map_err(|error| {
            eprintln!("wfc: cannot read {name_or_path}: {error}");
            ExitCode::from(2)
        })?;
        let file = report.files.into_iter().next().expect("a file path yields one checked file");
        (file.compiled, file.diagnostics)
    } else if let Some(entry) = wfc_runtime::catalog::find(catalog, name_or_path) {
        compile_source(&Source::new(entry.path, entry.source))
    } else {
        let names: Vec<&str> = catalog.iter().map(|e| e.name).collect();
        eprintln!("wfc: `{name_or_path}` is neither a file nor a workflow of the catalog ({})", names.join(", "));
        return Err(ExitCode::from(2));
    };
    workflow.ok_or_else(|| {
        eprint!("{}", diagnostics.render_plain());
        ExitCode::from(1)
    })
}

/// A workflow to run or explain: a catalog entry (compiled) or a file (checked and
/// interpreted). Diagnostics go to stderr; the error is the exit code.
pub(crate) fn load_definition(catalog: &'static [Entry], name_or_path: &str) -> Result<Definition, ExitCode> {
    if !std::path::Path::new(name_or_path).is_file()
        && let Some(entry) = wfc_runtime::catalog::find(catalog, name_or_path)
    {
        return Ok(Definition::compiled(entry));
    }
    let compiled = load_workflow(catalog, name_or_path)?;
    let source = std::fs::read_to_string(name_or_path).unwrap_or_default();
    Ok(Definition::new(&compiled.machines, "file", name_or_path, &definition_hash(&source)))
}

/// Where `wfc status` and `wfc history` find the store a server wrote.
#[derive(clap::Args)]
pub(crate) struct StoreLocation {
    /// The SQLite file (default: .wfc/state.db under the project root).
    #[arg(long, value_name = "PATH")]
    store: Option<std::path::PathBuf>,
    /// The project root the default store is under (default: $MCP_FILE_ROOT, else the current
    /// directory).
    #[arg(long)]
    root: Option<std::path::PathBuf>,
}

impl StoreLocation {
    /// The store, which must exist; a problem is reported on stderr, the error is the exit code.
    pub(crate) fn open(self) -> Result<(wfc_runtime::engine::Sqlite, std::path::PathBuf), ExitCode> {
        let project_root = serve::project_root(self.root)?;
        let path = self.store.unwrap_or_else(|| project_root.join(".wfc").join("state.db"));
        if !path.is_file() {
            eprintln!("wfc: no store at {} (start `wfc serve` there first, or pass --store)", path.display());
            return Err(ExitCode::from(2));
        }
        let store = serve::open_store(path.to_str(), &project_root)?;
        Ok((store, path))
    }
}

/// Instance `id` as the store at `location` holds it, with its whole history (`wfc history`,
/// `wfc profile`); a problem is reported on stderr, and the exit code is the error.
pub(crate) fn instance_history(id: &str, location: StoreLocation) -> Result<(Stored, Vec<HistoryEvent>), ExitCode> {
    let (store, path) = location.open()?;
    let instance = store.get(id).map_err(|e| store_failed(&e))?;
    let instance = instance.ok_or_else(|| store_failed(&format!("no instance `{id}` in {}", path.display())))?;
    let events = stored_history(&store, &instance, None, 0).map_err(|e| store_failed(&e))?;
    Ok((instance, events))
}

/// Reports a store error on stderr; the exit code.
pub(crate) fn store_failed(error: &impl std::fmt::Display) -> ExitCode {
    eprintln!("wfc: {error}");
    ExitCode::from(2)
}
