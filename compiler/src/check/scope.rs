//! The state model of a workflow or a sub-agent task: inputs, state fields and computed
//! fields gathered from `inputs`, `default_state` and `state_schema`; computed `from` paths
//! resolved; the dependency graph checked for cycles and put in topological order.

use super::Checker;
use super::diagnostics as diag;
use super::model::{Computed, Dependency, DependencySource, Input, Scope, StateField, Validation};
use super::paths::{first_field, parse_path, rest_as_strings};
use crate::span::Spanned;
use crate::syntax::{IdentMap, Node, NodeValue, OnError, RawComputed, RawDefaultState, RawFrom, RawInput, RawStateSchema, FieldType};

/// The raw declarations a scope is built from.
pub(crate) struct Declarations<'a> {
    pub(crate) inputs: Option<&'a IdentMap<RawInput>>,
    pub(crate) default_state: Option<&'a RawDefaultState>,
    pub(crate) state_schema: Option<&'a RawStateSchema>,
}

pub(crate) fn check_scope(cx: &mut Checker, decl: &Declarations) -> Scope {
    let mut scope = Scope { inputs: collect_inputs(cx, decl), state: collect_state(cx, decl), computed: Vec::new() };
    let computed = decl.state_schema.and_then(|s| s.computed.as_ref());
    let resolved: Vec<Computed> = computed
        .into_iter()
        .flat_map(IdentMap::iter)
        .map(|(name, raw)| check_computed(cx, &scope, computed.expect("iterating it"), name, raw))
        .collect();
    scope.computed = order_computed(cx, resolved);
    scope
}

fn collect_inputs(cx: &mut Checker, decl: &Declarations) -> Vec<Input> {
    let mut inputs: Vec<Input> = Vec::new();
    for (name, raw) in decl.inputs.into_iter().flat_map(IdentMap::iter) {
        let value_type = raw.value_type.value;
        if let Some(default) = &raw.default {
            check_value_type(cx, default, value_type, &format!("the default of input `{}`", name.value));
        }
        if let Some(expression) = raw.validation.as_ref().and_then(|v| v.expression.as_ref()) {
            cx.report(diag::field_without_effect(expression.span, "validation.expression", "input", "an input is checked by its type and the other rules; a condition over answers is a `user_input`'s"));
        }
        inputs.push(Input {
            name: name.clone(),
            value_type: Some(value_type),
            description: raw.description.value.clone(),
            required: raw.required.as_ref().is_none_or(|r| r.value) && raw.default.is_none(),
            default: raw.default.clone(),
            validation: super::steps::check_validation(cx, raw.validation.as_ref()),
        });
    }
    let typed = decl.state_schema.and_then(|s| s.inputs.as_ref());
    for (name, value_type) in typed.into_iter().flat_map(IdentMap::iter) {
        match inputs.iter_mut().find(|i| i.name.value == name.value) {
            Some(input) => {
                input.value_type.get_or_insert(value_type.value);
            }
            None => inputs.push(Input {
                name: name.clone(),
                value_type: Some(value_type.value),
                description: String::new(),
                required: false,
                default: None,
                validation: Validation::default(),
            }),
        }
    }
    let initial = decl.default_state.into_iter().flat_map(|d| [d.inputs.as_ref(), d.raw.as_ref()]).flatten();
    for (name, value) in initial.flat_map(|node| node.as_map().unwrap_or_default()) {
        match inputs.iter_mut().find(|i| i.name.value == name.value) {
            Some(input) => {
                if let Some(value_type) = input.value_type {
                    check_value_type(cx, value, value_type, &format!("the initial value of input `{}`", name.value));
                }
                input.default.get_or_insert_with(|| value.clone());
                input.required = false;
            }
            None => inputs.push(Input {
                name: name.clone(),
                value_type: None,
                description: String::new(),
                required: false,
                default: Some(value.clone()),
                validation: Validation::default(),
            }),
        }
    }
    inputs
}

fn collect_state(cx: &mut Checker, decl: &Declarations) -> Vec<StateField> {
    let mut fields: Vec<StateField> = decl
        .state_schema
        .and_then(|s| s.state.as_ref())
        .into_iter()
        .flat_map(IdentMap::iter)
        .map(|(name, value_type)| StateField { name: name.clone(), value_type: Some(value_type.value), initial: None })
        .collect();
    let initial = decl.default_state.and_then(|d| {
        if let Some(flat) = &d.flat {
            cx.report(diag::legacy_default_state(flat.as_map().and_then(|m| m.first()).map_or(flat.span, |(k, _)| k.span)));
        }
        d.state.as_ref().or(d.flat.as_ref())
    });
    for (name, value) in initial.into_iter().flat_map(|node| node.as_map().unwrap_or_default()) {
        match fields.iter_mut().find(|f| f.name.value == name.value) {
            Some(field) => {
                if let Some(value_type) = field.value_type {
                    check_value_type(cx, value, value_type, &format!("the initial value of state field `{}`", name.value));
                }
                field.initial = Some(value.clone());
            }
            None => fields.push(StateField { name: name.clone(), value_type: None, initial: Some(value.clone()) }),
        }
    }
    fields
}

/// Reports `value` if it is not of `value_type`. `null` is accepted for every type: it is how a
/// workflow says "no value yet".
fn check_value_type(cx: &mut Checker, value: &Node, value_type: FieldType, what: &str) {
    let matches = matches!(
        (&value.value, value_type),
        (NodeValue::Null, _)
            | (NodeValue::String(_), FieldType::String)
            | (NodeValue::Integer(_) | NodeValue::Float(_), FieldType::Number)
            | (NodeValue::Bool(_), FieldType::Boolean)
            | (NodeValue::Map(_), FieldType::Object)
            | (NodeValue::Seq(_), FieldType::Array)
    );
    if !matches {
        let found = match value.type_name() {
            t @ ("array" | "object" | "integer") => format!("an {t}"),
            t => format!("a {t}"),
        };
        cx.report(diag::default_type_mismatch(value.span, what, value_type.name(), &found));
    }
}

fn check_computed(cx: &mut Checker, scope: &Scope, all: &IdentMap<RawComputed>, name: &Spanned<String>, raw: &RawComputed) -> Computed {
    let (paths, from_is_list) = match &raw.from {
        RawFrom::One(path) => (vec![path.clone()], false),
        RawFrom::Many(paths) => (paths.clone(), true),
    };
    let from = paths
        .into_iter()
        .filter_map(|path| {
            let source = resolve_dependency(cx, scope, all, &name.value, &path)?;
            Some(Dependency { path, source })
        })
        .collect();
    let on_error = raw.on_error.map_or(OnError::UseFallback, |o| o.value);
    if let (Some(on_error), None) = (&raw.on_error, &raw.fallback)
        && on_error.value == OnError::UseFallback
    {
        cx.report(diag::missing_fallback(on_error.span, &name.value));
    }
    Computed { name: name.clone(), from, from_is_list, transform: raw.transform.clone(), on_error, fallback: raw.fallback.clone() }
}

/// What a computed field's `from` path reads, or `None` after reporting why it reads nothing.
fn resolve_dependency(
    cx: &mut Checker,
    scope: &Scope,
    computed: &IdentMap<RawComputed>,
    field: &str,
    path: &Spanned<String>,
) -> Option<DependencySource> {
    let text = path.value.trim();
    if let Some(inner) = text.strip_prefix("{{").and_then(|t| t.strip_suffix("}}")) {
        return Some(DependencySource::Template(inner.trim().to_owned()));
    }
    let parsed = match parse_path(text) {
        Ok(parsed) => parsed,
        Err(reason) => {
            cx.report(diag::invalid_from_path(path.span, field, text, &reason));
            return None;
        }
    };
    let unknown = |cx: &mut Checker| {
        let mut candidates: Vec<String> = scope.state.iter().map(|f| format!("this.{}", f.name.value)).collect();
        candidates.extend(computed.iter().map(|(n, _)| format!("this.{}", n.value)));
        candidates.extend(scope.inputs.iter().map(|i| format!("inputs.{}", i.name.value)));
        cx.report(diag::unknown_computed_source(path.span, field, text, &candidates));
        None
    };
    let rest = rest_as_strings(&parsed.segments);
    let state_or_computed = |name: &str| {
        if computed.get(name).is_some() {
            Some(DependencySource::Computed(name.to_owned(), rest.clone()))
        } else {
            scope.state_field(name).map(|_| DependencySource::State(name.to_owned(), rest.clone()))
        }
    };
    match parsed.root.as_str() {
        root @ ("this" | "state" | "computed") => {
            if root != "this" {
                cx.report(diag::legacy_prefix(cx.locate(Spanned::new(&path.value, path.span), 0..root.len()), root, "this"));
            }
            let Some(name) = first_field(&parsed.segments) else {
                cx.report(diag::invalid_from_path(path.span, field, text, "it names no field"));
                return None;
            };
            state_or_computed(name).or_else(|| unknown(cx))
        }
        root @ ("inputs" | "raw") => {
            if root == "raw" {
                cx.report(diag::legacy_prefix(cx.locate(Spanned::new(&path.value, path.span), 0..root.len()), root, "inputs"));
            }
            match first_field(&parsed.segments) {
                Some(name) if scope.input(name).is_some() => Some(DependencySource::Input(name.to_owned(), rest)),
                _ => unknown(cx),
            }
        }
        "global" => Some(DependencySource::Global(rest_as_strings_all(&parsed.segments))),
        "loop" => Some(DependencySource::Loop(rest_as_strings_all(&parsed.segments))),
        bare if parsed.segments.is_empty()
            || computed.get(bare).is_some()
            || scope.state_field(bare).is_some()
            || scope.input(bare).is_some() =>
        {
            let rest = rest_as_strings_all(&parsed.segments);
            if computed.get(bare).is_some() {
                Some(DependencySource::Computed(bare.to_owned(), rest))
            } else if scope.state_field(bare).is_some() {
                Some(DependencySource::State(bare.to_owned(), rest))
            } else if scope.input(bare).is_some() {
                Some(DependencySource::Input(bare.to_owned(), rest))
            } else {
                unknown(cx)
            }
        }
        _ => unknown(cx),
    }
}

fn rest_as_strings_all(segments: &[super::model::PathSegment]) -> Vec<String> {
    let mut all = first_field(segments).map(|f| vec![f.to_owned()]).unwrap_or_default();
    all.extend(rest_as_strings(segments));
    all
}

/// Puts computed fields in dependency order (declaration order among independent ones) and
/// reports every cycle once, as `a -> b -> a`.
fn order_computed(cx: &mut Checker, fields: Vec<Computed>) -> Vec<Computed> {
    let index_of = |name: &str| fields.iter().position(|f| f.name.value == name);
    let dependencies: Vec<Vec<usize>> = fields
        .iter()
        .map(|f| {
            f.from
                .iter()
                .filter_map(|d| match &d.source {
                    DependencySource::Computed(name, _) => index_of(name),
                    _ => None,
                })
                .collect()
        })
        .collect();
    let mut placed = vec![false; fields.len()];
    let mut order = Vec::with_capacity(fields.len());
    loop {
        let ready: Vec<usize> =
            (0..fields.len()).filter(|&i| !placed[i] && dependencies[i].iter().all(|&d| placed[d])).collect();
        if ready.is_empty() {
            break;
        }
        for i in ready {
            placed[i] = true;
            order.push(i);
        }
    }
    // Every unplaced field reads another unplaced one, so walking those reads must loop.
    let mut reported = vec![false; fields.len()];
    for start in 0..fields.len() {
        if placed[start] || reported[start] {
            continue;
        }
        let mut walk = vec![start];
        let mut current = start;
        let cycle_start = loop {
            current = *dependencies[current].iter().find(|&&d| !placed[d]).expect("an unplaced field reads an unplaced field");
            if let Some(position) = walk.iter().position(|&i| i == current) {
                break position;
            }
            walk.push(current);
        };
        let cycle = &walk[cycle_start..];
        if cycle.iter().any(|&i| reported[i]) {
            continue;
        }
        cycle.iter().for_each(|&i| reported[i] = true);
        let named: Vec<(String, crate::span::Span)> = cycle.iter().map(|&i| (fields[i].name.value.clone(), fields[i].name.span)).collect();
        cx.report(diag::computed_cycle(&named));
    }
    let mut slots: Vec<Option<Computed>> = fields.into_iter().map(Some).collect();
    let mut ordered: Vec<Computed> = order.into_iter().filter_map(|i| slots[i].take()).collect();
    // Fields caught in a cycle are kept (after the rest) so later checks still see them.
    ordered.extend(slots.into_iter().flatten());
    ordered
}
