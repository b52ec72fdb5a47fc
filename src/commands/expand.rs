//! `wfc expand NAME|FILE`: the Rust a workflow compiles to, formatted — what `build.rs` puts in
//! the binary for it.

use std::process::ExitCode;

use wfc_compiler::{codegen, ir};

use super::{load_workflow, print_out};

pub(crate) fn run(workflow: &str) -> ExitCode {
    let checked = match load_workflow(workflow) {
        Ok(checked) => checked,
        Err(code) => return code,
    };
    let generated = ir::lower(&checked).map_err(|e| e.to_string()).and_then(|lowered| {
        let module = codegen::workflow_module(&codegen::module_name(&lowered.name), &lowered, &quote::quote!(::wfc_runtime));
        codegen::format(module).map_err(|e| format!("generated code does not parse (a bug in wfc): {e}"))
    });
    match generated {
        Ok(text) => print_out(&text),
        Err(error) => {
            eprintln!("wfc: {error}");
            ExitCode::from(1)
        }
    }
}
