//! The wfc compiler: AroMCP-format workflow YAML in, checked workflow models out (and, in later
//! stages, Rust state machines).
//!
//! The pipeline is one stage per module, data flowing one way:
//! [`syntax::parse`] (text to `Raw*` structs with spans) → [`check::check`] (references, ids,
//! loops, computed-field graph) → `ir` → `codegen`. Every stage reports all the problems it
//! finds as [`Diagnostics`], never just the first, and never panics on input.
//!
//! ```no_run
//! let report = wfc_compiler::Config::new().workflows_dir("workflows").check_all()?;
//! for file in &report.files {
//!     eprint!("{}", file.diagnostics.render_plain());
//! }
//! # Ok::<(), std::io::Error>(())
//! ```
#![deny(unreachable_pub)]
#![warn(missing_docs)]

pub mod check;
pub mod codegen;
mod config;
pub mod playground;
pub mod diagnostic;
pub mod expr;
pub mod interp;
pub mod ir;
pub mod source;
pub mod span;
mod suggest;
pub mod syntax;

pub use config::{CheckReport, CheckedFile, Compiled, Config, check_paths, check_source, compile_source, definition_hash, workflow_files, write_if_changed};
pub use diagnostic::{Code, Diagnostic, Diagnostics, Severity, sarif};
pub use source::Source;
pub use span::{Span, Spanned};
