//! Every diagnostic the syntax stage emits, one constructor each, so the wording of any of
//! them can be found with a single search.

use crate::diagnostic::{Code, Diagnostic};
use crate::span::Span;
use crate::suggest::did_you_mean;

pub(crate) fn yaml_syntax(span: Span, message: &str) -> Diagnostic {
    Diagnostic::new(Code::YamlSyntax, format!("invalid YAML: {message}"), span).with_label("here")
}

pub(crate) fn duplicate_key(span: Span, key: &str, first: Span) -> Diagnostic {
    Diagnostic::new(Code::YamlSyntax, format!("invalid YAML: the key `{key}` appears twice in the same mapping"), span)
        .with_label("second time")
        .with_secondary(first, "first time")
        .with_help("remove one of them; YAML mappings cannot repeat a key")
}

pub(crate) fn input_limit(span: Span, message: &str) -> Diagnostic {
    Diagnostic::new(Code::InputLimit, format!("the file exceeds an input limit: {message}"), span)
        .with_help("workflows are small; split this file or remove the repetition that makes it this big")
}

pub(crate) fn file_too_large(size: u64, limit: usize) -> Diagnostic {
    Diagnostic::new(
        Code::InputLimit,
        format!("the file is {size} bytes, more than the {limit}-byte limit for a workflow"),
        Span::default(),
    )
    .with_help("workflows are small; this is probably not a workflow file")
}

pub(crate) fn not_utf8(offset: usize) -> Diagnostic {
    Diagnostic::new(Code::NotUtf8, format!("the file is not UTF-8 text (invalid byte at offset {offset})"), Span::default())
        .with_help("save the workflow as UTF-8")
}

pub(crate) fn empty_document(span: Span) -> Diagnostic {
    Diagnostic::new(Code::EmptyDocument, "the file holds no workflow", span)
        .with_help("a workflow is a mapping with at least `name`, `description`, `version` and `steps`")
}

pub(crate) fn unknown_field(span: Span, field: &str, owner: &str, candidates: &[&str]) -> Diagnostic {
    Diagnostic::new(Code::UnknownField, format!("unknown field `{field}` in {owner}"), span)
        .with_label("not a field of the format")
        .with_help_opt(did_you_mean(field, candidates.iter().copied()))
        .with_note(format!("{owner} takes: {}", candidates.join(", ")))
}

pub(crate) fn field_not_allowed(span: Span, field: &str, step_type: &str, kinds: &[&str]) -> Diagnostic {
    let diagnostic = Diagnostic::new(Code::FieldNotAllowed, format!("`{field}` is not a field of `{step_type}` steps"), span)
        .with_label(format!("not allowed on {step_type}"))
        .with_help(format!("`{field}` belongs to {} steps", kinds.join(", ")));
    match (field, step_type) {
        // The reference accepts it here and silently drops the write.
        ("state_update" | "state_updates", "user_message" | "agent_prompt" | "conditional" | "wait_step") => diagnostic.with_note(
            "AroMCP accepts it here and never applies it; to change state at this point, add an `mcp_call` step to `workflow_state_update` with these updates",
        ),
        _ => diagnostic,
    }
}

pub(crate) fn missing_field(span: Span, field: &str, owner: &str) -> Diagnostic {
    Diagnostic::new(Code::MissingField, format!("{owner} is missing the required field `{field}`"), span)
        .with_label(format!("`{field}` is required here"))
}

pub(crate) fn wrong_type(span: Span, field: &str, expected: &str, found: &str) -> Diagnostic {
    Diagnostic::new(Code::WrongType, format!("{field} must be {expected}, found {found}"), span)
        .with_label(format!("this is {found}"))
}

pub(crate) fn invalid_value(span: Span, field: &str, found: &str, options: &[&str]) -> Diagnostic {
    Diagnostic::new(Code::InvalidValue, format!("{field} cannot be `{found}`"), span)
        .with_label("not an allowed value")
        .with_help(match did_you_mean(found, options.iter().copied()) {
            Some(hint) => format!("{hint} (allowed: {})", options.join(", ")),
            None => format!("allowed: {}", options.join(", ")),
        })
}

pub(crate) fn unknown_step_type(span: Span, found: &str) -> Diagnostic {
    let names: Vec<&str> = super::step_kind::StepKind::ALL.iter().map(|k| k.name()).collect();
    let help = super::step_kind::removed_step_type_advice(found)
        .map(str::to_owned)
        .or_else(|| did_you_mean(found, names.iter().copied()))
        .unwrap_or_else(|| format!("the step types are: {}", names.join(", ")));
    Diagnostic::new(Code::UnknownStepType, format!("unknown step type `{found}`"), span)
        .with_label("not a step type")
        .with_help(help)
}

pub(crate) fn invalid_name(span: Span, what: &str, found: &str, rule: &str) -> Diagnostic {
    Diagnostic::new(Code::InvalidName, format!("{what} `{found}` is not valid"), span)
        .with_label("invalid name")
        .with_help(rule.to_owned())
}

pub(crate) fn out_of_range(span: Span, field: &str, bound: &str, found: &str) -> Diagnostic {
    Diagnostic::new(Code::OutOfRange, format!("{field} must be {bound}, found {found}"), span).with_label("out of range")
}

pub(crate) fn too_few_items(span: Span, field: &str, minimum: u64) -> Diagnostic {
    Diagnostic::new(Code::OutOfRange, format!("{field} must have at least {minimum} item(s)"), span)
        .with_label("empty list")
}

pub(crate) fn task_body(span: Span, task: &str, both: bool) -> Diagnostic {
    let message = if both {
        format!("sub-agent task `{task}` has both `prompt_template` and `steps`")
    } else {
        format!("sub-agent task `{task}` has neither `prompt_template` nor `steps`")
    };
    Diagnostic::new(Code::TaskBody, message, span)
        .with_label("this task")
        .with_help("give the task exactly one of them: `steps` for a task the server drives, `prompt_template` for a free-form sub-agent")
}

pub(crate) fn shape_mismatch(span: Span, field: &str, detail: &str) -> Diagnostic {
    Diagnostic::new(Code::WrongType, format!("{field} does not have the expected shape: {detail}"), span)
}
