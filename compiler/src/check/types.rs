//! What a step's write stores, where the checker can tell, against the type its target
//! declares: a value that cannot match (a whole `agent_response` object into a `boolean`, the
//! text `"{{ a }} items"` into a `number`) is an error at build time rather than a refused write
//! at run time. Told apart: literals, templates with text around their `{{ }}` (always text),
//! and a step's own result by its keywords (`stdout`, `exit_code`, `input`, `response`,
//! `response.x` down its `response_schema`). Anything else (an expression, an `mcp_call`'s
//! result) is left to the run, as are writes below a field (`this.a.b`).

use super::Checker;
use super::diagnostics;
use super::expressions::ResultKind;
use super::model::{PathSegment, Scope, Step, StepBody, TaskBody, Workflow, WritePath, WriteScope, each_step};
use crate::syntax::{FieldType, InputType, Node, NodeValue, Operation};

/// Reports every write of `workflow` (and of its tasks) whose value cannot match its target.
pub(crate) fn check_writes(cx: &mut Checker, workflow: &Workflow) {
    steps(cx, &workflow.scope, &workflow.steps);
    for task in &workflow.tasks {
        if let TaskBody::Steps(task_steps) = &task.body {
            steps(cx, &task.scope, task_steps);
        }
    }
}

fn steps(cx: &mut Checker, scope: &Scope, steps_: &[Step]) {
    each_step(steps_, &mut |step| {
        let (updates, stored) = step.body.writes();
        for update in updates {
            let Some(value) = &update.value else { continue };
            let wanted = match update.operation {
                Operation::Set => declared(scope, &update.path),
                Operation::Increment | Operation::Decrement | Operation::Multiply => Some(FieldType::Number),
                _ => None,
            };
            if let (Some(wanted), Some((found, what))) = (wanted, value_type(&step.body, value)) {
                if !compatible(wanted, found) {
                    cx.report(diagnostics::write_type_mismatch(value.span, &update.path.text.value, wanted, found, &what, update.operation));
                }
            }
        }
        if let (Some(path), Some((found, what))) = (stored, whole_result(&step.body)) {
            if let Some(wanted) = declared(scope, path).filter(|wanted| !compatible(*wanted, found)) {
                cx.report(diagnostics::write_type_mismatch(path.text.span, &path.text.value, wanted, found, &what, Operation::Set));
            }
        }
    });
}

/// The type `path` declares: a field of `this` with a type in `state_schema`.
fn declared(scope: &Scope, path: &WritePath) -> Option<FieldType> {
    match (path.scope, path.segments.as_slice()) {
        (WriteScope::State, [PathSegment::Field(field)]) => scope.state_field(field).and_then(|f| f.value_type),
        _ => None,
    }
}

/// `null` may go anywhere (it is how a workflow says "not yet").
fn compatible(wanted: FieldType, found: Option<FieldType>) -> bool {
    found.is_none_or(|found| found == wanted)
}

/// The type of update value `value` of a step of `body`, and what the value is, in words; `None`
/// when the checker cannot tell. `Some((None, _))` is `null`.
fn value_type(body: &StepBody, value: &Node) -> Option<(Option<FieldType>, String)> {
    let literal = |t: FieldType| Some((Some(t), format!("the literal {}", value.to_json())));
    match &value.value {
        NodeValue::Null => Some((None, "null".to_owned())),
        NodeValue::Bool(_) => literal(FieldType::Boolean),
        NodeValue::Integer(_) | NodeValue::Float(_) => literal(FieldType::Number),
        NodeValue::Seq(_) => literal(FieldType::Array),
        NodeValue::Map(_) => literal(FieldType::Object),
        NodeValue::String(text) => {
            let trimmed = text.trim();
            let expression = trimmed.strip_prefix("{{").and_then(|t| t.strip_suffix("}}")).map(str::trim);
            match expression {
                // One whole `{{ }}`: its value keeps its type; told when it is the result.
                Some(inner) if !inner.contains("{{") && !inner.contains("}}") => result_type(body, inner),
                Some(_) => None,
                // Text around a `{{ }}` is text.
                None if text.contains("{{") => Some((Some(FieldType::String), format!("the text `{text}`"))),
                // A result keyword written bare (`value: stdout`, `value: result.ok`) reads the
                // result, whose type may be unknown; anything else is a literal.
                None if reads_result(body, trimmed) => result_type(body, trimmed),
                None => literal_text(text),
            }
        }
    }
}

/// Whether `text`, written bare as an update value, reads the step's result (as lowering reads
/// it: [`ResultKind::path_in`]).
fn reads_result(body: &StepBody, text: &str) -> bool {
    ResultKind::of(body).and_then(|result| result.path_in(text)).is_some()
}

/// A literal text: the value it spells for a `number` or `boolean` (YAML authors quote them),
/// so only text that spells neither is text.
fn literal_text(text: &str) -> Option<(Option<FieldType>, String)> {
    let trimmed = text.trim();
    if trimmed.parse::<f64>().is_ok() || trimmed.parse::<bool>().is_ok() {
        return None;
    }
    Some((Some(FieldType::String), format!("the text \"{text}\"")))
}

/// The type of `path` (`stdout`, `response.summary`) read from the result of a step of `body`.
fn result_type(body: &StepBody, path: &str) -> Option<(Option<FieldType>, String)> {
    let mut segments = path.split('.');
    let root = segments.next()?;
    let rest: Vec<&str> = segments.collect();
    if rest.iter().chain([&root]).any(|s| s.is_empty() || !s.chars().all(|c| c.is_alphanumeric() || c == '_')) {
        return None;
    }
    let named = |t: FieldType, why: &str| Some((Some(t), format!("`{path}`, {} {why}", a_type(t))));
    match (body, root, rest.as_slice()) {
        (StepBody::ShellCommand { .. }, "stdout" | "stderr" | "full_output", []) => named(FieldType::String, "(the command's output)"),
        (StepBody::ShellCommand { .. }, "exit_code" | "returncode", []) => named(FieldType::Number, "(the command's exit code)"),
        (StepBody::UserInput { input_type, .. }, "input", []) => {
            let t = match input_type {
                InputType::Number => FieldType::Number,
                InputType::Boolean => FieldType::Boolean,
                InputType::String | InputType::Choice => FieldType::String,
                InputType::Json => return None,
            };
            named(t, &format!("(the answer to a `{}` input)", input_type.name()))
        }
        (StepBody::AgentResponse { response_schema: Some(schema), .. }, "response", rest) => {
            let t = schema_type(schema, rest)?;
            named(t, "(by the step's `response_schema`)")
        }
        _ => None,
    }
}

/// What a step stores whole (`store_response`), when its type is known.
fn whole_result(body: &StepBody) -> Option<(Option<FieldType>, String)> {
    result_type(body, "response")
}

/// The type a JSON Schema gives at `path` below it (through `properties`), if it names one.
fn schema_type(schema: &Node, path: &[&str]) -> Option<FieldType> {
    let mut at = schema;
    for segment in path {
        at = at.get("properties")?.get(segment)?;
    }
    match at.get("type")?.as_str()? {
        "string" => Some(FieldType::String),
        "number" | "integer" => Some(FieldType::Number),
        "boolean" => Some(FieldType::Boolean),
        "object" => Some(FieldType::Object),
        "array" => Some(FieldType::Array),
        _ => None,
    }
}

/// `t` with its article: "an object", "a number".
pub(crate) fn a_type(t: FieldType) -> &'static str {
    match t {
        FieldType::String => "a string",
        FieldType::Number => "a number",
        FieldType::Boolean => "a boolean",
        FieldType::Object => "an object",
        FieldType::Array => "an array",
    }
}
