//! `wfc graph NAME|FILE`: the state machine of one workflow as a Mermaid or dot diagram.

use std::process::ExitCode;

use wfc_compiler::ir::{self, graph};

use super::{load_workflow, print_out};

pub(crate) fn run(workflow: &str, format: graph::Format) -> ExitCode {
    let checked = match load_workflow(workflow) {
        Ok(checked) => checked,
        Err(code) => return code,
    };
    match ir::lower(&checked) {
        Ok(lowered) => print_out(&graph::render(&lowered, format)),
        Err(error) => {
            eprintln!("wfc: {error}");
            ExitCode::from(1)
        }
    }
}
