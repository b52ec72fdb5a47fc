//! `wfc schema`: the format's JSON Schema, generated from the compiler's syntax types.

use std::process::ExitCode;

pub(crate) fn run() -> ExitCode {
    let schema = wfc_compiler::syntax::format_schema();
    match serde_json::to_string_pretty(schema) {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("wfc: cannot print the schema: {error}");
            ExitCode::from(1)
        }
    }
}
