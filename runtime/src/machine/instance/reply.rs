//! Checking what a client reported for a step: answers against their rules, replies against
//! their response schema, shell output against its exit code.

use crate::machine::answer::{self, Rules as AnswerRulesRef};
use crate::machine::program::{Handling, OnFailure, Rules, Update};
use crate::machine::{ShellOutput, Strategy};
use crate::value::{RegExp, Value};

/// Runs `check` with a step's answer rules in the form the answer checker takes.
pub(super) fn with_rules<T>(rules: &Rules, check: impl FnOnce(&AnswerRulesRef) -> Result<T, String>) -> Result<T, String> {
    let choices: Vec<Value> = rules.choices.iter().map(Value::from).collect();
    let allowed: Vec<Value> = rules.allowed_values.iter().map(Value::from).collect();
    let pattern = rules.pattern.as_deref().map(|p| RegExp::new(p, "")).transpose().map_err(|e| e.to_string())?;
    // Checked against the meta-schema at build time; its `pattern`s bounded as a reply's are.
    let items = rules
        .items
        .as_ref()
        .map(|schema| jsonschema::options().with_pattern_options(jsonschema::PatternOptions::fancy_regex().backtrack_limit(RESPONSE_PATTERN_STEPS)).build(schema))
        .transpose()
        .map_err(|e| format!("the validation's `items` schema does not compile: {e}"))?;
    check(&AnswerRulesRef {
        required: rules.required,
        choices: &choices,
        allowed_values: &allowed,
        pattern: pattern.as_ref(),
        bounds: rules.bounds,
        items: items.as_ref(),
        message: rules.message.as_deref(),
    })
}

/// Backtracking steps a response schema's `pattern` may take on one reply.
pub(super) const RESPONSE_PATTERN_STEPS: usize = 1_000_000;

/// Whether an agent's reply fits the step's response schema and answer rules; the reason if not.
pub(super) fn check_reply(schema: Option<&serde_json::Value>, rules: &Rules, reply: &Value) -> Result<(), String> {
    if let Some(schema) = schema {
        let json = reply.to_json().unwrap_or_default();
        // The schema is the author's, the reply an agent's: its `pattern`s run in fancy-regex,
        // linear where the pattern allows and within this many backtracking steps where not.
        let patterns = jsonschema::PatternOptions::fancy_regex().backtrack_limit(RESPONSE_PATTERN_STEPS);
        let validator = jsonschema::options()
            .with_pattern_options(patterns)
            .build(schema)
            .map_err(|e| format!("the response schema does not compile: {e}"))?;
        let problems: Vec<String> = validator.iter_errors(&json).map(|e| format!("{} (at `{}`)", e, e.instance_path())).collect();
        if !problems.is_empty() {
            return Err(format!("the response does not match the response schema: {}", problems.join("; ")));
        }
    }
    with_rules(rules, |r| answer::validate(reply, r))
}

/// Why a shell command's output fails its step (a timeout, a non-zero exit), if it does.
pub(super) fn shell_failure(output: &ShellOutput) -> Option<String> {
    match (&output.failure, output.exit_code) {
        (Some(failure), _) => Some(failure.clone()),
        (None, Some(0)) => None,
        (None, Some(code)) => {
            let stderr = output.stderr.trim();
            Some(if stderr.is_empty() { format!("the command exited with code {code}") } else { format!("the command exited with code {code}: {stderr}") })
        }
        (None, None) => Some("the command was killed".to_owned()),
    }
}

/// A client step's `error_handling`, and the updates its fallback value goes through.
pub(super) fn failure_handling<X>(handling: &Handling<X>) -> (&OnFailure, &[Update<X>]) {
    static FAIL: OnFailure = OnFailure { strategy: Strategy::Fail, max_retries: 0, retry_delay: 0.0, fallback: None, message: None };
    match handling {
        Handling::Nothing => (&FAIL, &[]),
        Handling::ToolResult { on_failure, updates, .. }
        | Handling::Reply { on_failure, updates, .. }
        | Handling::ShellOutput { on_failure, updates } => (on_failure, updates),
        Handling::Answer(rules) => (&rules.on_failure, &rules.updates),
    }
}
