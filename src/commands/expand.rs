//! `wfc expand NAME|FILE`: the Rust a workflow compiles to, formatted — what `build.rs` puts in
//! the binary for it.

use std::process::ExitCode;

use wfc_compiler::codegen;

use super::{load_workflow, print_out};

pub(crate) fn run(workflow: &str) -> ExitCode {
    let lowered = match load_workflow(workflow) {
        Ok(compiled) => compiled.machines,
        Err(code) => return code,
    };
    let module = codegen::workflow_module(&codegen::module_name(&lowered.name), &lowered, &quote::quote!(::wfc_runtime));
    let generated = codegen::format(module).map_err(|e| format!("generated code does not parse (a bug in wfc): {e}"));
    match generated {
        Ok(text) => print_out(&text),
        Err(error) => {
            eprintln!("wfc: {error}");
            ExitCode::from(1)
        }
    }
}
