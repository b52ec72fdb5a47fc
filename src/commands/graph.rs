//! `wfc graph NAME|FILE`: the state machine of one workflow as a Mermaid or dot diagram.

use std::process::ExitCode;

use wfc_compiler::ir::graph;

use super::{load_workflow, print_out};

pub(crate) fn run(workflow: &str, format: graph::Format) -> ExitCode {
    match load_workflow(workflow) {
        Ok(compiled) => print_out(&graph::render(&compiled.machines, format)),
        Err(code) => code,
    }
}
