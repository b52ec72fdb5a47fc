//! Evaluating one expression against data given by hand: `wfc eval` in the terminal, and the
//! MCP tool `workflow_test_transformation` (the same function), so an author can try a
//! transform or a condition without running a workflow.

use std::collections::HashMap;

use wfc_runtime::value::{EvalError, MapScope, Value, budget};

use crate::diagnostic::Diagnostics;
use crate::expr::{Names, Root, compile_wrapped, workflow_names};
use crate::interp::eval;
use crate::source::Source;

/// Why an evaluation produced no value.
#[derive(Debug)]
pub enum EvalFailure {
    /// The expression does not compile.
    Compile(Diagnostics),
    /// It compiled, and threw.
    Runtime(EvalError),
}

/// Evaluates `text` (bare, or wrapped in one `{{ }}`) with `input` bound to `input` and each
/// key of `scope` bound as a root: `this`, `global`, `inputs`, `loop` (whose keys become the
/// loop variables), the legacy `state`/`computed`/`raw`, or any other name (`stdout`, `item`).
pub fn evaluate(text: &str, input: Value, scope: &serde_json::Map<String, serde_json::Value>) -> Result<Value, EvalFailure> {
    let loop_names: Vec<String> = scope.get("loop").and_then(|l| l.as_object()).map(|l| l.keys().cloned().collect()).unwrap_or_default();
    let mut names: Names = workflow_names(if scope.contains_key("loop") { &loop_names } else { &[] });
    if scope.contains_key("loop") && loop_names.is_empty() {
        names = names.with("loop", Root::Loop);
    }
    let mut env = HashMap::from([("input".to_owned(), input)]);
    names = names.with("input", Root::Named("input".to_owned()));
    for (key, value) in scope {
        // `raw` is the legacy name of `inputs`; any other unknown key becomes a name of its own.
        let root = if key == "raw" { Root::Inputs } else { Root::from_name(key) };
        if let Root::Named(name) = &root {
            names = names.with(name, root.clone());
        }
        env.insert(root.name().to_owned(), Value::from(value));
    }
    let source = Source::new("<expression>", text);
    let mut issues = Vec::new();
    let compiled = compile_wrapped(text, &names, &mut issues);
    let mut diagnostics = Diagnostics::new(&source);
    for issue in issues.into_iter().filter(|i| i.kind.is_error()) {
        let span = crate::span::Span::new(issue.range.start as u32, issue.range.end as u32);
        diagnostics.push(crate::expr::diagnostics::issue(span, issue));
    }
    match compiled {
        Some(compiled) if !diagnostics.has_errors() => {
            let evaluation = budget::Evaluation::start();
            evaluation.finish(eval(&compiled, &MapScope(env))).map_err(EvalFailure::Runtime)
        }
        _ => Err(EvalFailure::Compile(diagnostics)),
    }
}

/// A value as `wfc eval` prints it: JSON (two-space indent), except `undefined`, `NaN`,
/// `±Infinity` and `-0`, which JSON cannot show, printed as node's console shows them.
pub fn display(value: &Value) -> String {
    match value {
        Value::Undefined => "undefined".to_owned(),
        Value::Number(n) if !n.is_finite() => value.to_js_string(),
        Value::Number(n) if *n == 0.0 && n.is_sign_negative() => "-0".to_owned(),
        other => wfc_runtime::value::json::stringify(other, "  ").unwrap_or_else(|| "undefined".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str, input: &str, scope: &str) -> String {
        let scope: serde_json::Map<String, serde_json::Value> = serde_json::from_str(scope).expect("scope");
        match evaluate(text, wfc_runtime::value::json::parse(input).expect("input"), &scope) {
            Ok(value) => display(&value),
            Err(EvalFailure::Runtime(e)) => e.to_string(),
            Err(EvalFailure::Compile(d)) => d.iter().map(|d| d.code.id()).collect::<Vec<_>>().join(","),
        }
    }

    #[test]
    fn evaluates_with_input_and_scope() {
        assert_eq!(run("input * 2", "21", "{}"), "42");
        assert_eq!(run("{{ this.n + loop.index }}", "null", r#"{"this": {"n": 1}, "loop": {"index": 2}}"#), "3");
        assert_eq!(run("stdout.trim()", "null", r#"{"stdout": " hi\n"}"#), "\"hi\"");
        assert_eq!(run("input.x", "null", "{}"), "TypeError: Cannot read properties of null (reading 'x')");
        assert_eq!(run("thsi.n", "null", "{}"), "E0303");
        assert_eq!(run("input.missing", "{}", "{}"), "undefined");
    }

    #[test]
    fn hostile_expressions_are_clear_errors_not_crashes() {
        // Each of these overflowed a worker's stack or ran without bound before.
        assert_eq!(run(&format!("{}1{}", "[".repeat(1_500), "]".repeat(1_500)), "null", "{}"), "E0307");
        assert_eq!(run(&"!".repeat(5_000), "null", "{}"), "E0307");
        assert_eq!(run(&format!("1{}", "+1".repeat(20_000)), "null", "{}"), "E0307");
        let spent = |text: &str| run(text, "null", "{}");
        assert!(spent("Array.from({length: 1e9})").contains("evaluation budget of"), "{}", spent("Array.from({length: 1e9})"));
        assert!(spent("Array.from({length: 1000}, () => 'x'.repeat(1e7)).length").contains("bytes"));
        assert!(spent("/(a+)+$/.test('a'.repeat(40) + 'b')").contains("regular expression"));
        assert!(spent("'a'.repeat(40).split(/(a+)+b/)").contains("regular expression"));
        let big = "Array.from({length: 2000}, () => 'y'.repeat(100000))";
        assert!(spent(&format!("JSON.stringify(Array.from({{length: 1000}}, () => {big})).length")).contains("evaluation budget"));
        assert!(spent(&format!("String(Array.from({{length: 1000}}, () => {big})).length")).contains("evaluation budget"));
        assert_eq!(spent("/(a+)+$/.test('aaaa')"), "true", "the budget leaves ordinary matching alone");
    }

    #[test]
    fn an_expression_at_the_nesting_limit_runs_on_a_small_stack() {
        // The deepest expression the checker lets through, compiled and evaluated on a stack
        // of half a tokio worker's (debug build: the largest frames).
        let half = crate::expr::MAX_NESTING / 2;
        let text = format!("{}input{}", "[(".repeat(half), ")]".repeat(half));
        let deepest = std::thread::Builder::new()
            .stack_size(1024 * 1024)
            .spawn(move || run(&text, "1", "{}"))
            .expect("thread")
            .join()
            .expect("no stack overflow");
        assert!(deepest.starts_with('['), "{deepest}");
    }
}
