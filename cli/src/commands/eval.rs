//! `wfc eval`: one expression, evaluated as a workflow would, printed as JSON.

use std::process::ExitCode;

use wfc_compiler::playground::{EvalFailure, display, evaluate};
use wfc_runtime::value::json;

pub(crate) fn run(expression: &str, input: &str, scope: &str) -> ExitCode {
    let input = match json::parse(input) {
        Ok(value) => value,
        Err(error) => {
            eprintln!("wfc: --input is not JSON: {}", error.message);
            return ExitCode::from(2);
        }
    };
    let scope = match serde_json::from_str::<serde_json::Value>(scope) {
        Ok(serde_json::Value::Object(map)) => map,
        Ok(_) => {
            eprintln!("wfc: --scope must be a JSON object, e.g. '{{\"this\": {{\"n\": 1}}}}'");
            return ExitCode::from(2);
        }
        Err(error) => {
            eprintln!("wfc: --scope is not JSON: {error}");
            return ExitCode::from(2);
        }
    };
    match evaluate(expression, input, &scope) {
        Ok(value) => {
            println!("{}", display(&value));
            ExitCode::SUCCESS
        }
        Err(EvalFailure::Compile(diagnostics)) => {
            eprint!("{}", diagnostics.render_plain());
            ExitCode::from(1)
        }
        Err(EvalFailure::Runtime(error)) => {
            eprintln!("Uncaught {error}");
            ExitCode::from(1)
        }
    }
}
