//! Every diagnostic the check stage emits, one constructor each.

use crate::diagnostic::{Code, Diagnostic};
use crate::span::Span;
use crate::suggest::did_you_mean;
use crate::syntax::{FieldType, Operation};

pub(crate) fn duplicate_step_id(span: Span, id: &str, first: Span, within: &str) -> Diagnostic {
    Diagnostic::new(Code::DuplicateStepId, format!("step id `{id}` is used twice in {within}"), span)
        .with_label("second use")
        .with_secondary(first, "first used here")
        .with_help("give every step its own id: ids name steps in results, sub-agent step ids and loop bookkeeping")
}

pub(crate) fn too_many_namespaces(span: Span, name: &str) -> Diagnostic {
    Diagnostic::new(Code::InvalidWorkflowName, format!("workflow name `{name}` has more than one `:`"), span)
        .with_label("one `:` at most")
        .with_help("a workflow name is `namespace:name`, for example `code:review`")
}

pub(crate) fn name_without_namespace(span: Span, name: &str) -> Diagnostic {
    Diagnostic::new(Code::NameWithoutNamespace, format!("workflow name `{name}` has no namespace"), span)
        .with_label("no `namespace:`")
        .with_help(format!("names are `namespace:name`, for example `team:{name}`"))
}

pub(crate) fn non_semver_version(span: Span, version: &str) -> Diagnostic {
    Diagnostic::new(Code::NonSemverVersion, format!("version `{version}` is not `MAJOR.MINOR.PATCH`"), span)
        .with_label("not a semantic version")
        .with_help("write it as three numbers, for example `1.0.0`")
}

pub(crate) fn loop_control_outside_loop(span: Span, keyword: &str) -> Diagnostic {
    let code = if keyword == "break" { Code::BreakOutsideLoop } else { Code::ContinueOutsideLoop };
    Diagnostic::new(code, format!("`{keyword}` outside a loop"), span)
        .with_label("not inside a `while_loop` or `foreach`")
        .with_help(format!("`{keyword}` acts on the innermost `while_loop` or `foreach` around it (conditionals in between are fine); move it into a loop body or remove it"))
}

pub(crate) fn state_update_without_updates(span: Span) -> Diagnostic {
    Diagnostic::new(Code::StateUpdateWithoutUpdates, "`workflow_state_update` is called without `parameters.updates`", span)
        .with_label("applied on the server, so it needs its writes")
        .with_help("give `parameters: {updates: [{path: this.x, value: ...}]}`")
}

pub(crate) fn unknown_sub_agent_task(span: Span, name: &str, tasks: &[&str]) -> Diagnostic {
    let help = did_you_mean(name, tasks.iter().copied()).unwrap_or_else(|| {
        if tasks.is_empty() {
            "declare the task under `sub_agent_tasks`".to_owned()
        } else {
            format!("the tasks are: {}", tasks.join(", "))
        }
    });
    Diagnostic::new(Code::UnknownSubAgentTask, format!("no sub-agent task is called `{name}`"), span)
        .with_label("not in `sub_agent_tasks`")
        .with_help(help)
}

pub(crate) fn unknown_computed_source(span: Span, field: &str, path: &str, candidates: &[String]) -> Diagnostic {
    let help = did_you_mean(path, candidates.iter().map(String::as_str))
        .unwrap_or_else(|| "declare it under state_schema.state or default_state.state (or as an input)".to_owned());
    Diagnostic::new(Code::UnknownComputedSource, format!("computed field `{field}` reads `{path}`, which is not declared"), span)
        .with_label("nothing declares this")
        .with_help(help)
}

pub(crate) fn invalid_from_path(span: Span, field: &str, path: &str, reason: &str) -> Diagnostic {
    Diagnostic::new(Code::UnknownComputedSource, format!("computed field `{field}` reads `{path}`: {reason}"), span)
        .with_label("cannot be read")
        .with_help("use `this.<field>`, `inputs.<name>`, `global.<name>`, `loop.<name>` or a `{{ expression }}`")
}

pub(crate) fn computed_cycle(cycle: &[(String, Span)]) -> Diagnostic {
    let names: Vec<&str> = cycle.iter().map(|(n, _)| n.as_str()).chain(cycle.first().map(|(n, _)| n.as_str())).collect();
    let mut diagnostic = Diagnostic::new(
        Code::ComputedCycle,
        format!("computed fields depend on each other in a cycle: {}", names.join(" -> ")),
        cycle[0].1,
    )
    .with_label(format!("`{}` starts the cycle", cycle[0].0))
    .with_help("a computed field cannot depend on itself, directly or through others; break the cycle by reading a state field instead");
    for (name, span) in &cycle[1..] {
        diagnostic = diagnostic.with_secondary(*span, format!("`{name}` is part of it"));
    }
    diagnostic
}

pub(crate) fn missing_fallback(span: Span, field: &str) -> Diagnostic {
    Diagnostic::new(Code::MissingFallback, format!("computed field `{field}` says `on_error: use_fallback` but has no `fallback`"), span)
        .with_label("no fallback given")
        .with_help("add `fallback: <value>` (it may be `null`), or choose `on_error: propagate` or `ignore`")
}

pub(crate) fn default_type_mismatch(span: Span, what: &str, expected: &str, found: &str) -> Diagnostic {
    Diagnostic::new(Code::DefaultTypeMismatch, format!("{what} is {found}, but its declared type is `{expected}`"), span)
        .with_label(format!("not {expected}"))
        .with_help(format!("make the value {expected}, or change the declared type"))
}

pub(crate) fn write_to_input(span: Span, path: &str) -> Diagnostic {
    Diagnostic::new(Code::WriteToInput, format!("`{path}` writes to an input, and inputs are read-only after start"), span)
        .with_label("read-only")
        .with_help("store the value in state instead, e.g. `this.<name>`")
}

pub(crate) fn write_to_computed(span: Span, path: &str, field: &str) -> Diagnostic {
    Diagnostic::new(Code::WriteToComputed, format!("`{path}` writes to computed field `{field}`"), span)
        .with_label("computed fields are derived, not written")
        .with_help(format!("write to the state field(s) `{field}` is computed from instead"))
}

pub(crate) fn invalid_write_path(span: Span, path: &str, reason: &str, help: Option<String>) -> Diagnostic {
    Diagnostic::new(Code::InvalidWritePath, format!("invalid state path `{path}`: {reason}"), span)
        .with_label("cannot be written")
        .with_help(help.unwrap_or_else(|| "write to `this.<field>` (workflow state) or `global.<name>` (shared with sub-agents)".to_owned()))
}

pub(crate) fn missing_update_value(span: Span, operation: &str) -> Diagnostic {
    Diagnostic::new(Code::MissingUpdateValue, format!("this `{operation}` state update has no `value`"), span)
        .with_label("`value` missing")
        .with_help("only `increment`, `decrement` and `delete` can leave out `value`")
}

pub(crate) fn invalid_response_schema(span: Span, field: &str, reason: &str) -> Diagnostic {
    Diagnostic::new(Code::InvalidResponseSchema, format!("`{field}` is not a valid JSON Schema: {reason}"), span)
        .with_label("invalid schema")
}

pub(crate) fn missing_choices(span: Span, id: &str) -> Diagnostic {
    Diagnostic::new(Code::MissingChoices, format!("user_input `{id}` asks for a choice but lists no `choices`"), span)
        .with_label("`input_type: choice`")
        .with_help("add `choices: [..]`, or use another `input_type`")
}

pub(crate) fn invalid_pattern(span: Span, reason: &str) -> Diagnostic {
    Diagnostic::new(Code::InvalidPattern, format!("invalid regular expression: {reason}"), span)
        .with_label("not an ECMAScript regular expression")
}

pub(crate) fn legacy_prefix(span: Span, prefix: &str, replacement: &str) -> Diagnostic {
    Diagnostic::new(Code::LegacyPrefix, format!("`{prefix}.` is a legacy prefix"), span)
        .with_label(format!("uses `{prefix}.`"))
        .with_help(format!("write `{replacement}.` instead"))
}

pub(crate) fn legacy_default_state(span: Span) -> Diagnostic {
    Diagnostic::new(Code::LegacyDefaultState, "`default_state` uses the legacy flat form", span)
        .with_label("state fields directly under `default_state`")
        .with_help("nest them under `default_state.state`")
}

/// `field`, which the reference accepts on `step_type` steps and ignores; `help` says what to
/// do instead.
pub(crate) fn field_without_effect(span: Span, field: &str, step_type: &str, help: &str) -> Diagnostic {
    Diagnostic::new(Code::FieldWithoutEffect, format!("`{field}` has no effect on `{step_type}` steps"), span).with_label("ignored").with_help(help)
}

pub(crate) fn literal_looks_like_expression(span: Span, text: &str) -> Diagnostic {
    Diagnostic::new(Code::LiteralLooksLikeExpression, format!("this value is the text `{text}`, not its value"), span)
        .with_label("a literal, not evaluated")
        .with_help(format!("write `\"{{{{ {text} }}}}\"` to compute it (AroMCP evaluated such values as JavaScript)"))
}

/// A read of `field` (as `path`) below a level of a response schema that lists `known`.
/// The help for `name`, which is not among `known` (listed as `listed`): the closest of them
/// with the list, else what `otherwise` says given the list.
fn closest_or(name: &str, known: &[&str], listed: &str, otherwise: impl FnOnce(&str) -> String) -> String {
    match did_you_mean(name, known.iter().copied()) {
        Some(suggestion) => format!("{suggestion} ({listed})"),
        None => otherwise(listed),
    }
}

pub(crate) fn unknown_response_field(span: Span, path: &str, field: &str, known: &[&str]) -> Diagnostic {
    let listed = format!("the response_schema lists: {}", known.join(", "));
    let help = closest_or(field, known, &listed, |listed| {
        format!("add `{field}` to the response_schema's properties, or read one it lists ({listed}); as written it is `undefined` at run time")
    });
    Diagnostic::new(Code::UnknownResponseField, format!("`{path}` reads `{field}`, which the step's response_schema does not have"), span)
        .with_label(format!("no property `{field}` here"))
        .with_help(help)
}

pub(crate) fn unknown_default_key(span: Span, path: &str, key: &str, known: &[&str]) -> Diagnostic {
    let help = closest_or(key, known, &format!("known keys: {}", known.join(", ")), |listed| {
        format!("add `{key}` to the default, or write it in a step ({listed}); as written it is `undefined` at run time")
    });
    Diagnostic::new(Code::UndeclaredRead, format!("`{path}` reads `{key}`, which the field's default does not have and no step writes"), span)
        .with_label(format!("no key `{key}` here"))
        .with_help(help)
}

/// `other_tier` is the scope that does have `field` (`inputs` for `this.x` of an input `x`).
pub(crate) fn undeclared_read(span: Span, tier: &str, field: &str, known: Vec<&str>, other_tier: Option<&str>) -> Diagnostic {
    let (what, declare) = match tier {
        "inputs" => ("input", "declare it under `inputs`".to_owned()),
        _ => ("state field", format!("declare `{field}` under state_schema.state or default_state.state, or write it in a step")),
    };
    let diagnostic = Diagnostic::new(Code::UndeclaredRead, format!("`{tier}.{field}` reads {what} `{field}`, which nothing declares"), span)
        .with_label(format!("no {what} `{field}`"));
    if let Some(other) = other_tier {
        let kind = if other == "inputs" { "an input" } else { "a state field" };
        return diagnostic.with_help(format!("`{field}` is {kind}: write `{other}.{field}`"));
    }
    let listed = if known.is_empty() { format!("there are no {what}s") } else { format!("{what}s: {}", known.join(", ")) };
    diagnostic.with_help(closest_or(field, &known, &listed, |listed| format!("{declare} ({listed}); an undeclared read is `undefined` at run time")))
}

pub(crate) fn undeclared_write(span: Span, path: &str, field: &str) -> Diagnostic {
    Diagnostic::new(Code::UndeclaredWrite, format!("`{path}` writes state field `{field}`, which is not declared"), span)
        .with_label("undeclared field")
        .with_help(format!("declare `{field}` under state_schema.state or default_state.state, so a typo here cannot go unnoticed"))
}

pub(crate) fn write_type_mismatch(span: Span, path: &str, wanted: FieldType, found: Option<FieldType>, what: &str, operation: Operation) -> Diagnostic {
    let found_name = found.map_or("null", FieldType::name);
    let message = match operation {
        Operation::Set => format!("`{path}` is declared {}, but this stores {what}", wanted.name()),
        _ => format!("`{}` needs a number, but this gives {what}", operation.name()),
    };
    Diagnostic::new(Code::WriteTypeMismatch, message, span).with_label(format!("{found_name}, not {}", wanted.name())).with_help(format!(
        "the write would be refused when it runs; store a {} here, or declare `{path}` as {found_name} under state_schema.state",
        wanted.name()
    ))
}
