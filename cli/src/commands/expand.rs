//! `wfc expand NAME|FILE`: the Rust a workflow compiles to, formatted — what `build.rs` puts in
//! the binary for it.

use std::process::ExitCode;

use wfc_compiler::codegen;
use wfc_runtime::catalog::Entry;

use super::{load_workflow, print_out};

pub(crate) fn run(catalog: &[Entry], workflow: &str) -> ExitCode {
    let lowered = match load_workflow(catalog, workflow) {
        Ok(compiled) => compiled.machines,
        Err(code) => return code,
    };
    match codegen::expand(&lowered) {
        Ok(text) => print_out(&text),
        Err(error) => {
            eprintln!("wfc: {error}");
            ExitCode::from(1)
        }
    }
}
