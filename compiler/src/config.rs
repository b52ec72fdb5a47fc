//! `Config`: the one set of options shared by `build.rs`, the `include_workflow!` macro and the
//! CLI (prost-build's shape). Reading files lives here; the stages never touch the file system.

use std::io;
use std::path::{Path, PathBuf};

use crate::check::{self, Workflow};
use crate::diagnostic::Diagnostics;
use crate::source::Source;
use crate::syntax;

/// Options for finding and checking workflows.
///
/// ```no_run
/// // build.rs
/// fn main() {
///     if let Err(message) = wfc_compiler::Config::new().workflows_dir("workflows").check_for_build() {
///         eprintln!("{message}");
///         std::process::exit(1);
///     }
/// }
/// ```
#[derive(Clone, Debug, Default)]
pub struct Config {
    pub(crate) workflows_dir: Option<PathBuf>,
}

/// Longest directory chain followed when looking for workflow files.
const MAX_DIRECTORY_DEPTH: usize = 32;

impl Config {
    /// The default options: workflows in `workflows/` relative to the current directory.
    pub fn new() -> Self {
        Config::default()
    }

    /// Where the workflow files are (searched recursively for `*.yaml` and `*.yml`).
    ///
    /// ```no_run
    /// wfc_compiler::Config::new().workflows_dir("ci/workflows");
    /// ```
    pub fn workflows_dir(&mut self, dir: impl Into<PathBuf>) -> &mut Self {
        self.workflows_dir = Some(dir.into());
        self
    }

    fn dir(&self) -> PathBuf {
        self.workflows_dir.clone().unwrap_or_else(|| PathBuf::from("workflows"))
    }

    /// Checks every workflow file under the workflows directory.
    pub fn check_all(&self) -> io::Result<CheckReport> {
        check_paths(&[self.dir()])
    }

    /// What a build script wants: tells Cargo to rerun when the directory or any workflow in it
    /// changes, prints every warning, and returns every error rendered as plain text.
    pub fn check_for_build(&self) -> Result<(), String> {
        let dir = self.dir();
        println!("cargo::rerun-if-changed={}", dir.display());
        let report = check_paths(&[dir.clone()]).map_err(|e| format!("cannot read workflows in {}: {e}", dir.display()))?;
        for file in &report.files {
            println!("cargo::rerun-if-changed={}", file.path.display());
            for line in file.diagnostics.render_plain().lines().filter(|_| !file.diagnostics.has_errors()) {
                println!("cargo::warning={line}");
            }
        }
        if report.error_count() == 0 {
            return Ok(());
        }
        let rendered: String = report.files.iter().map(|f| f.diagnostics.render_plain()).collect();
        Err(format!("{rendered}\n{}", report.summary()))
    }
}

/// The result of checking a set of files.
#[derive(Debug, Default)]
pub struct CheckReport {
    /// One entry per file, in path order.
    pub files: Vec<CheckedFile>,
}

/// One checked file.
#[derive(Debug)]
pub struct CheckedFile {
    /// The path as found.
    pub path: PathBuf,
    /// Its diagnostics (errors and warnings), sorted.
    pub diagnostics: Diagnostics,
    /// The checked workflow, if it had no errors.
    pub workflow: Option<Workflow>,
}

impl CheckReport {
    /// Errors in all files.
    pub fn error_count(&self) -> usize {
        self.files.iter().map(|f| f.diagnostics.error_count()).sum()
    }

    /// Warnings in all files.
    pub fn warning_count(&self) -> usize {
        self.files.iter().map(|f| f.diagnostics.warning_count()).sum()
    }

    /// "3 workflows, 0 errors, 2 warnings".
    pub fn summary(&self) -> String {
        let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
        format!(
            "{}, {}, {}",
            plural(self.files.len(), "workflow"),
            plural(self.error_count(), "error"),
            plural(self.warning_count(), "warning")
        )
    }
}

/// Checks one workflow held in memory: the whole front end, syntax then check.
pub fn check_source(source: &Source) -> (Option<Workflow>, Diagnostics) {
    match syntax::parse(source).and_then(|raw| check::check(source, &raw)) {
        Ok(checked) => (Some(checked.workflow), checked.warnings),
        Err(diagnostics) => (None, diagnostics),
    }
}

/// Checks the workflow files named by `paths` (files, or directories searched recursively).
/// Fails only when a path cannot be read at all; a bad workflow is a diagnostic, not an error.
pub fn check_paths(paths: &[PathBuf]) -> io::Result<CheckReport> {
    let mut files = Vec::new();
    for path in paths {
        collect_workflow_files(path, 0, &mut files)?;
    }
    files.sort();
    files.dedup();
    let files = files
        .into_iter()
        .map(|path| {
            // A file over the size limit is refused after reading one byte past the limit,
            // not after reading all of it.
            let file = std::fs::File::open(&path)?;
            let file_size = file.metadata()?.len();
            let mut bytes = Vec::new();
            io::Read::read_to_end(&mut io::Read::take(file, syntax::MAX_FILE_BYTES as u64 + 1), &mut bytes)?;
            let name = path.display().to_string();
            let (workflow, diagnostics) = match syntax::decode(&name, bytes, file_size) {
                Ok(source) => check_source(&source),
                Err(diagnostics) => (None, diagnostics),
            };
            Ok(CheckedFile { path, diagnostics, workflow })
        })
        .collect::<io::Result<_>>()?;
    Ok(CheckReport { files })
}

fn is_workflow_file(path: &Path) -> bool {
    matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
}

/// A file named directly is taken whatever its extension; directories are searched for
/// `*.yaml`/`*.yml`, without following symbolic links to directories (no cycles).
fn collect_workflow_files(path: &Path, depth: usize, out: &mut Vec<PathBuf>) -> io::Result<()> {
    let metadata = std::fs::metadata(path)?;
    if !metadata.is_dir() {
        out.push(path.to_path_buf());
        return Ok(());
    }
    if depth > MAX_DIRECTORY_DEPTH {
        return Ok(());
    }
    for entry in std::fs::read_dir(path)? {
        let entry = entry?;
        let entry_path = entry.path();
        let file_type = entry.file_type()?;
        if file_type.is_dir() {
            collect_workflow_files(&entry_path, depth + 1, out)?;
        } else if is_workflow_file(&entry_path) && (file_type.is_file() || entry_path.is_file()) {
            out.push(entry_path);
        }
    }
    Ok(())
}
