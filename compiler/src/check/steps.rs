//! Steps: unique ids, `break`/`continue` placement, sub-agent task references, state-update
//! paths, response schemas and answer validation, with every default applied.

use std::collections::HashMap;

use super::Checker;
use super::diagnostics as diag;
use super::model::{defaults, STATE_UPDATE_TOOL, ErrorHandling, PathSegment, Scope, StateUpdate, Step, StepBody, Validation, WritePath, WriteScope};
use super::paths::{first_field, parse_path};
use crate::span::{Span, Spanned};
use crate::syntax::{
    ExecutionContext, InputType, MessageFormat, MessageType, Node, Operation, RawErrorHandling, RawObject, RawStateUpdate, RawStep,
    RawValidation, StepKind, Strategy,
};

/// What the steps of one workflow or one task are checked against.
pub(crate) struct StepContext<'a> {
    /// "the workflow" or "sub-agent task `x`", for messages.
    pub(crate) within: String,
    pub(crate) scope: &'a Scope,
    pub(crate) task_names: &'a [&'a str],
    /// The workflow's `config.max_retries`, the default for `strategy: retry`.
    pub(crate) default_retries: u32,
    ids: HashMap<String, Span>,
}

impl<'a> StepContext<'a> {
    pub(crate) fn new(within: String, scope: &'a Scope, task_names: &'a [&'a str], default_retries: u32) -> Self {
        StepContext { within, scope, task_names, default_retries, ids: HashMap::new() }
    }
}

pub(crate) fn check_steps(cx: &mut Checker, sc: &mut StepContext, raw: &[RawStep], loop_depth: usize) -> Vec<Step> {
    raw.iter().filter_map(|step| check_step(cx, sc, step, loop_depth)).collect()
}

fn check_step(cx: &mut Checker, sc: &mut StepContext, raw: &RawStep, loop_depth: usize) -> Option<Step> {
    match sc.ids.get(&raw.id.value) {
        Some(first) => cx.report(diag::duplicate_step_id(raw.id.span, &raw.id.value, *first, &sc.within)),
        None => {
            sc.ids.insert(raw.id.value.clone(), raw.id.span);
        }
    }
    // The shape check has already reported an unknown type; nothing more to say about it.
    let kind = StepKind::from_name(&raw.kind.value)?;
    let text = |field: &Option<Spanned<String>>| field.clone().unwrap_or_default();
    if kind != StepKind::ShellCommand
        && let Some(context) = raw.execution_context
    {
        cx.report(diag::field_without_effect(context.span, "execution_context", kind.name(), "only a shell_command runs on the server or the client; remove the field"));
    }
    let mut body = match kind {
        StepKind::UserMessage => StepBody::UserMessage {
            message: text(&raw.message),
            message_type: raw.message_type.map_or(MessageType::Info, |m| m.value),
            format: raw.format.map_or(MessageFormat::Text, |f| f.value),
            title: raw.title.clone(),
        },
        StepKind::McpCall => StepBody::McpCall {
            tool: text(&raw.tool),
            parameters: object(&raw.parameters),
            store_result: raw.store_result.as_ref().and_then(|p| check_write_path(cx, sc.scope, p)),
            updates: check_updates(cx, sc.scope, raw),
            timeout: raw.timeout.map(|t| t.value),
            error_handling: error_handling(sc, raw.error_handling.as_ref()),
        },
        StepKind::UserInput => {
            let input_type = raw.input_type.map_or(InputType::String, |t| t.value);
            let choices = raw.choices.clone().unwrap_or_default();
            if input_type == InputType::Choice && choices.is_empty() {
                let span = raw.input_type.map_or(raw.id.span, |t| t.span);
                cx.report(diag::missing_choices(span, &raw.id.value));
            }
            let mut validation = check_validation(cx, raw.validation.as_ref());
            if let Some(pattern) = &raw.validation_pattern {
                check_pattern(cx, pattern);
                validation.pattern = Some(pattern.clone());
            }
            if let Some(message) = &raw.validation_message {
                validation.message = Some(message.clone());
            }
            StepBody::UserInput {
                prompt: text(&raw.prompt),
                instructions: raw.instructions.clone(),
                input_type,
                choices,
                validation,
                required: raw.required.is_none_or(|r| r.value),
                default: raw.default.clone(),
                max_retries: retries(raw),
                variable_name: raw.variable_name.clone(),
                updates: check_updates(cx, sc.scope, raw),
                error_handling: error_handling(sc, raw.error_handling.as_ref()),
            }
        }
        StepKind::AgentPrompt => StepBody::AgentPrompt {
            prompt: text(&raw.prompt),
            context: object(&raw.context),
            expected_response: check_response_schema(cx, &raw.expected_response, "expected_response"),
            timeout: raw.timeout.map_or(defaults::AGENT_TIMEOUT, |t| t.value),
            max_retries: retries(raw),
        },
        StepKind::AgentResponse => StepBody::AgentResponse {
            response_schema: check_response_schema(cx, &raw.response_schema, "response_schema"),
            updates: check_updates(cx, sc.scope, raw),
            store_response: raw.store_response.as_ref().and_then(|p| check_write_path(cx, sc.scope, p)),
            validation: {
                if let Some(expression) = raw.validation.as_ref().and_then(|v| v.expression.as_ref()) {
                    cx.report(diag::field_without_effect(expression.span, "validation.expression", "agent_response", "a condition over an answer is a `user_input`'s; describe a reply with `response_schema`"));
                }
                check_validation(cx, raw.validation.as_ref())
            },
            error_handling: error_handling(sc, raw.error_handling.as_ref()),
            reply_retries: raw.error_handling.as_ref().and_then(|r| r.max_retries).map_or(defaults::MAX_RETRIES, |m| m.value),
        },
        StepKind::ParallelForeach => {
            let task_name = text(&raw.sub_agent_task);
            let task = sc.task_names.iter().position(|t| *t == task_name.value);
            if task.is_none() {
                cx.report(diag::unknown_sub_agent_task(task_name.span, &task_name.value, sc.task_names));
            }
            StepBody::ParallelForeach {
                items: text(&raw.items),
                task: task.unwrap_or(usize::MAX),
                max_parallel: raw.max_parallel.map_or(defaults::MAX_PARALLEL, |m| m.value),
                timeout_seconds: raw.timeout_seconds.map(|t| t.value),
                wait_for_all: raw.wait_for_all.is_none_or(|w| w.value),
                store_result: raw.store_result.as_ref().and_then(|p| check_write_path(cx, sc.scope, p)),
            }
        }
        StepKind::ShellCommand => StepBody::ShellCommand {
            command: text(&raw.command),
            working_directory: raw.working_directory.clone(),
            timeout: raw.timeout.map_or(defaults::SHELL_TIMEOUT, |t| t.value),
            updates: check_updates(cx, sc.scope, raw),
            error_handling: error_handling(sc, raw.error_handling.as_ref()),
            execution_context: raw.execution_context.map_or(ExecutionContext::Server, |e| e.value),
        },
        StepKind::Conditional => StepBody::Conditional {
            condition: text(&raw.condition),
            then_steps: check_steps(cx, sc, raw.then_steps.as_deref().unwrap_or_default(), loop_depth),
            else_steps: check_steps(cx, sc, raw.else_steps.as_deref().unwrap_or_default(), loop_depth),
        },
        StepKind::WhileLoop => StepBody::WhileLoop {
            condition: text(&raw.condition),
            body: check_steps(cx, sc, raw.body.as_deref().unwrap_or_default(), loop_depth + 1),
            max_iterations: raw.max_iterations.map_or(defaults::MAX_ITERATIONS, |m| m.value),
            fail_at_limit: raw.error_handling.as_ref().and_then(|e| e.strategy).is_some_and(|s| s.value == Strategy::Fail),
        },
        StepKind::Foreach => StepBody::Foreach {
            items: text(&raw.items),
            variable_name: raw.variable_name.as_ref().map_or_else(|| "item".to_owned(), |v| v.value.clone()),
            index_name: raw.index_name.as_ref().map_or_else(|| "index".to_owned(), |v| v.value.clone()),
            body: check_steps(cx, sc, raw.body.as_deref().unwrap_or_default(), loop_depth + 1),
        },
        StepKind::Break | StepKind::Continue => {
            if loop_depth == 0 {
                cx.report(diag::loop_control_outside_loop(raw.kind.span, kind.name()));
            }
            if kind == StepKind::Break { StepBody::Break } else { StepBody::Continue }
        }
        StepKind::WaitStep => {
            StepBody::WaitStep { message: raw.message.clone(), timeout_seconds: raw.timeout_seconds.map(|t| t.value) }
        }
    };
    if let StepBody::McpCall { tool, parameters, updates, .. } = &mut body
        && tool.value == STATE_UPDATE_TOOL
    {
        // Its writes are data, not a request: read and checked here like any step's
        // `state_update`, so a bad path fails the build, not the run.
        match parameters.as_ref().and_then(|p| p.get("updates")).map(|u| &u.value) {
            Some(crate::syntax::NodeValue::Seq(items)) => {
                for item in items {
                    if let Some(raw) = crate::syntax::read_state_update(item, |diagnostic| cx.report(diagnostic)) {
                        updates.extend(check_update(cx, sc.scope, &raw));
                    }
                }
            }
            _ => cx.report(diag::state_update_without_updates(tool.span)),
        }
    }
    Some(Step { id: raw.id.clone(), description: raw.description.as_ref().map(|d| d.value.clone()), long_message: raw.long_message.map(|l| l.value).unwrap_or_default(), body })
}

fn object(raw: &Option<RawObject>) -> Option<Node> {
    raw.as_ref().map(|o| o.0.clone())
}

fn retries(raw: &RawStep) -> u32 {
    match (raw.max_retries, raw.max_attempts) {
        (Some(retries), _) => retries.value,
        (None, Some(attempts)) => attempts.value.saturating_sub(1),
        (None, None) => defaults::MAX_RETRIES,
    }
}

fn error_handling(sc: &StepContext, raw: Option<&RawErrorHandling>) -> ErrorHandling {
    ErrorHandling {
        strategy: raw.and_then(|r| r.strategy).map_or(Strategy::Fail, |s| s.value),
        max_retries: raw.and_then(|r| r.max_retries).map_or(sc.default_retries, |m| m.value),
        retry_delay: raw.and_then(|r| r.retry_delay).map_or(defaults::RETRY_DELAY, |d| d.value),
        fallback_value: raw.and_then(|r| r.fallback_value.clone()),
        error_message: raw.and_then(|r| r.error_message.clone()),
    }
}

fn check_updates(cx: &mut Checker, scope: &Scope, raw: &RawStep) -> Vec<StateUpdate> {
    raw.state_update.iter().chain(raw.state_updates.iter().flatten()).filter_map(|u| check_update(cx, scope, u)).collect()
}

fn check_update(cx: &mut Checker, scope: &Scope, raw: &RawStateUpdate) -> Option<StateUpdate> {
    let operation = raw.operation.map_or(Operation::Set, |o| o.value);
    if raw.value.is_none() && operation.needs_value() {
        let span = raw.operation.map_or(raw.path.span, |o| o.span);
        let name = raw.operation.map_or("set", |_| operation.name());
        cx.report(diag::missing_update_value(span, name));
    }
    let path = check_write_path(cx, scope, &raw.path)?;
    Some(StateUpdate { path, value: raw.value.clone(), operation })
}


/// Checks a path a step writes to: a known writable tier, a field below it, no empty
/// segments, not a computed field, and (a warning) a declared field.
pub(crate) fn check_write_path(cx: &mut Checker, scope: &Scope, path: &Spanned<String>) -> Option<WritePath> {
    let text = path.value.as_str();
    let parsed = match parse_path(text) {
        Ok(parsed) => parsed,
        Err(reason) => {
            cx.report(diag::invalid_write_path(path.span, text, &reason, None));
            return None;
        }
    };
    let write_scope = match parsed.root.as_str() {
        "this" => WriteScope::State,
        "state" => {
            cx.report(diag::legacy_prefix(cx.locate(Spanned::new(text, path.span), 0.."state".len()), "state", "this"));
            WriteScope::State
        }
        "global" => WriteScope::Global,
        "inputs" | "raw" => {
            cx.report(diag::write_to_input(path.span, text));
            return None;
        }
        "computed" => {
            let field = first_field(&parsed.segments).unwrap_or("?");
            cx.report(diag::write_to_computed(path.span, text, field));
            return None;
        }
        "loop" => {
            cx.report(diag::invalid_write_path(path.span, text, "loop variables are read-only", None));
            return None;
        }
        other => {
            let help = crate::suggest::did_you_mean(other, ["this", "global"])
                .map(|hint| format!("{hint} (writable scopes: `this`, `global`)"));
            cx.report(diag::invalid_write_path(path.span, text, &format!("`{other}` is not a writable scope"), help));
            return None;
        }
    };
    if parsed.segments.is_empty() {
        cx.report(diag::invalid_write_path(path.span, text, "it names a whole scope, not a field in it", None));
        return None;
    }
    if write_scope == WriteScope::State
        && let Some(field) = first_field(&parsed.segments)
    {
        if scope.computed_field(field).is_some() {
            cx.report(diag::write_to_computed(path.span, text, field));
            return None;
        }
        if scope.state_field(field).is_none() {
            cx.report(diag::undeclared_write(path.span, text, field));
        }
    }
    let segments: Vec<PathSegment> = parsed.segments;
    Some(WritePath { text: path.clone(), scope: write_scope, segments })
}

pub(super) fn check_validation(cx: &mut Checker, raw: Option<&RawValidation>) -> Validation {
    let Some(raw) = raw else { return Validation::default() };
    if let Some(pattern) = &raw.pattern {
        check_pattern(cx, pattern);
    }
    Validation {
        pattern: raw.pattern.clone(),
        message: raw.message.clone(),
        bounds: crate::ir::Bounds {
            min_length: raw.min_length.map(|v| v.value),
            max_length: raw.max_length.map(|v| v.value),
            min: raw.min.map(|v| v.value),
            max: raw.max.map(|v| v.value),
            exclusive_min: raw.exclusive_min.map(|v| v.value),
            exclusive_max: raw.exclusive_max.map(|v| v.value),
            multiple_of: raw.multiple_of.map(|v| v.value),
            unique_items: raw.unique_items.is_some_and(|v| v.value),
            min_items: raw.min_items.map(|v| v.value),
            max_items: raw.max_items.map(|v| v.value),
        },
        allowed_values: raw.allowed_values.clone(),
        items: check_response_schema(cx, &raw.items, "validation.items"),
        expression: raw.expression.clone(),
    }
}

fn check_pattern(cx: &mut Checker, pattern: &Spanned<String>) {
    if let Err(error) = regress::Regex::new(&pattern.value) {
        cx.report(diag::invalid_pattern(pattern.span, &error.to_string()));
    }
}

fn check_response_schema(cx: &mut Checker, raw: &Option<RawObject>, field: &str) -> Option<Node> {
    let node = &raw.as_ref()?.0;
    if let Err(error) = jsonschema::meta::validate(&node.to_json()) {
        // Point at the offending part of the schema, not the whole of it.
        let at = error.instance_path().segments().try_fold(node, |node, segment| match segment {
            jsonschema::paths::LocationSegment::Property(key) => node.get(&key),
            jsonschema::paths::LocationSegment::Index(i) => match &node.value {
                crate::syntax::NodeValue::Seq(items) => items.get(i),
                _ => None,
            },
        });
        let at = at.unwrap_or(node);
        let json_types = ["string", "number", "integer", "boolean", "object", "array", "null"];
        let diagnostic = match (error.instance_path().as_str().ends_with("/type"), at.as_str()) {
            (true, Some(found)) => diag::invalid_response_schema(at.span, field, &format!("`{found}` is not a JSON type"))
                .with_help_opt(crate::suggest::did_you_mean(found, json_types)),
            _ => diag::invalid_response_schema(at.span, field, &error.to_string()),
        };
        cx.report(diagnostic);
    }
    Some(node.clone())
}
