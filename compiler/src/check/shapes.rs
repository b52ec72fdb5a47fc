//! Reads below a shape the workflow declares, which would be `undefined` at run time:
//!
//! - `response.summary.scroe` in an `agent_response`'s writes, where its `response_schema` lists
//!   `summary`'s properties and `scroe` is not one of them (E0219). A schema level is checked
//!   only when it is closed to guessing: it lists `properties` and says nothing of
//!   `additionalProperties` or `patternProperties`.
//! - `this.config.retires`, where `config`'s object default has no `retires` and no step writes
//!   one (E0309, like an undeclared field one level up). See [`DefaultShapes`] for when a
//!   default's shape counts as known.
//!
//! Both are errors with a did-you-mean, at the name. Reads are taken from the expressions as the
//! check stage compiled them (a `response.x` inside a string literal is not one), and only
//! static member chains (`response.a.b`, `response['a']`) are checked.

use std::collections::BTreeMap;

use super::diagnostics;
use super::expressions::ResultKind;
use super::model::{PathSegment, Scope, Step, StepBody, TaskBody, WriteScope, Workflow, each_step};
use super::{Checker, CompiledSites};
use crate::expr::ir::{Expr, Name, Root};
use crate::span::Spanned;
use crate::syntax::{Node, NodeValue};

/// Reports every read below a closed level of an `agent_response`'s `response_schema` that the
/// schema does not list, in the workflow and in every sub-agent task; `compiled` is what the
/// check stage compiled of them.
pub(crate) fn check_reads(cx: &mut Checker, workflow: &Workflow, compiled: &CompiledSites) {
    steps(cx, &workflow.steps, compiled);
    for task in &workflow.tasks {
        if let TaskBody::Steps(task_steps) = &task.body {
            steps(cx, task_steps, compiled);
        }
    }
}

fn steps(cx: &mut Checker, steps_: &[Step], compiled: &CompiledSites) {
    each_step(steps_, &mut |step| {
        if let StepBody::AgentResponse { response_schema: Some(schema), updates, .. } = &step.body {
            for value in updates.iter().filter_map(|u| u.value.as_ref()) {
                if let NodeValue::String(text) = &value.value {
                    check_value(cx, schema, Spanned::new(text.as_str(), value.span), compiled);
                }
            }
        }
    });
}

/// Checks the `response.…` reads of one update value against `schema`.
fn check_value(cx: &mut Checker, schema: &Node, text: Spanned<&str>, compiled: &CompiledSites) {
    let source = text.value;
    let mut chains: Vec<Vec<String>> = Vec::new();
    // A bare `response.a.b` is a path into the result, as lowering reads it; a template is
    // read as it compiled (one that did not has had its problems reported).
    match ResultKind::AgentResponse.path_in(source) {
        Some(path) => chains.push(path[1..].iter().map(|s| (*s).to_owned()).collect()),
        None => {
            for site in compiled.at(text.span) {
                for expr in site.expressions() {
                    response_chains(expr, &mut chains);
                }
            }
            chains.sort();
            chains.dedup();
        }
    }
    for chain in chains {
        let mut at = schema;
        for (depth, field) in chain.iter().enumerate() {
            let Some(properties) = closed_properties(at) else { break };
            match properties.iter().find(|(name, _)| name.value == *field) {
                Some((_, below)) => at = below,
                None => {
                    let path = format!("response.{}", chain[..=depth].join("."));
                    let position = position_of(source, "response", &chain[..=depth]).map_or(text.span, |range| cx.locate(text, range));
                    let known: Vec<&str> = properties.iter().map(|(name, _)| name.value.as_str()).collect();
                    cx.report(diagnostics::unknown_response_field(position, &path, field, &known));
                    break;
                }
            }
        }
    }
}

/// The `properties` of a schema level that lists them and allows nothing else by name.
fn closed_properties(schema: &Node) -> Option<&[(Spanned<String>, Node)]> {
    if schema.get("additionalProperties").is_some() || schema.get("patternProperties").is_some() {
        return None;
    }
    schema.get("properties")?.as_map()
}

/// Every maximal chain of static fields read from `response` in `expr`.
fn response_chains(expr: &Expr, out: &mut Vec<Vec<String>>) {
    static_chains(expr, &|root| matches!(root, Root::Named(name) if name == "response"), out);
}

/// Every maximal chain of static fields read from a root `is_root` accepts, in `expr`.
fn static_chains(expr: &Expr, is_root: &dyn Fn(&Root) -> bool, out: &mut Vec<Vec<String>>) {
    expr.walk(&mut |e| match chain(e, is_root) {
        Some(fields) if !fields.is_empty() => {
            out.push(fields);
            false
        }
        _ => true,
    });
}

/// `root.a.b` as `[a, b]`; `None` for anything not rooted at such a root through static
/// fields.
fn chain(expr: &Expr, is_root: &dyn Fn(&Root) -> bool) -> Option<Vec<String>> {
    match expr {
        Expr::Name(Name::Root(root)) if is_root(root) => Some(Vec::new()),
        Expr::Member { object, property, .. } => match &**property {
            Expr::String(field) => {
                let mut fields = chain(object, is_root)?;
                fields.push(field.clone());
                Some(fields)
            }
            _ => None,
        },
        _ => None,
    }
}

/// Where the last field of `<root>.<chain>` is written in `text` (dotted), as a byte range.
fn position_of(text: &str, root: &str, chain: &[String]) -> Option<std::ops::Range<usize>> {
    let written = format!("{root}.{}", chain.join("."));
    let at = text.find(&written)?;
    let end = at + written.len();
    Some(end - chain.last()?.len()..end)
}

/// What is known of the keys of a state field's object value, level by level.
#[derive(Debug, Default)]
struct Shape {
    /// The keys it can have, each with what is known below it; `None` when any key may be
    /// there (the default was not a non-empty object, or a write puts something unknown here).
    keys: Option<BTreeMap<String, Shape>>,
}

impl Shape {
    /// The shape a default value gives: a non-empty mapping's keys, recursively.
    fn of(node: &Node) -> Shape {
        match node.as_map() {
            Some(entries) if !entries.is_empty() => {
                Shape { keys: Some(entries.iter().map(|(key, value)| (key.value.clone(), Shape::of(value))).collect()) }
            }
            _ => Shape::default(),
        }
    }

    /// Takes a write at `segments` below this level into account: each static key on the way
    /// becomes known, and the level written, or one with a computed key, becomes open.
    fn written(&mut self, segments: &[PathSegment]) {
        let Some(keys) = &mut self.keys else { return };
        match segments.first() {
            None => self.keys = None,
            Some(PathSegment::Field(key)) => keys.entry(key.clone()).or_default().written(&segments[1..]),
            Some(PathSegment::Index(_) | PathSegment::Dynamic { .. }) => self.keys = None,
        }
    }
}

/// The state fields of one program (the workflow, or a sub-agent task) whose value's keys are
/// known: a field with a non-empty object default, not shadowed by a computed field of its
/// name, whose every write is below it by a path that names its keys (`this.config.retries`;
/// the keys it names become known, and what it writes is not guessed at). Writing the whole
/// field, a computed key (`this.scores[{{ name }}]`), or naming it as a `user_input`'s
/// `variable_name` makes its shape unknown.
pub(crate) struct DefaultShapes {
    fields: BTreeMap<String, Shape>,
}

impl DefaultShapes {
    pub(crate) fn of(scope: &Scope, steps: &[Step]) -> DefaultShapes {
        let mut fields: BTreeMap<String, Shape> = scope
            .state
            .iter()
            .filter(|field| !scope.computed.iter().any(|c| c.name.value == field.name.value))
            .filter_map(|field| Some((field.name.value.clone(), Shape::of(field.initial.as_ref()?))))
            .filter(|(_, shape)| shape.keys.is_some())
            .collect();
        writes_into(steps, &mut fields);
        DefaultShapes { fields }
    }

    /// Reports each `this.a.b…` (or `state.a.b…`) read in `expr` that goes below a known level
    /// by a key it does not have; `source` is the site's text, `locate` turns a byte range of it
    /// into a span.
    pub(crate) fn check(&self, cx: &mut Checker, expr: &Expr, source: &str, locate: &dyn Fn(&Checker, std::ops::Range<usize>) -> crate::span::Span) {
        if self.fields.is_empty() {
            return;
        }
        let mut chains = Vec::new();
        static_chains(expr, &|root| matches!(root, Root::This | Root::State), &mut chains);
        chains.sort();
        chains.dedup();
        for chain in chains {
            let Some(mut at) = self.fields.get(&chain[0]) else { continue };
            for (depth, key) in chain.iter().enumerate().skip(1) {
                let Some(keys) = &at.keys else { break };
                match keys.get(key) {
                    Some(below) => at = below,
                    None => {
                        // Written `this.a.b` or, legacy, `state.a.b`.
                        let (root, position) = ["this", "state"]
                            .into_iter()
                            .find_map(|root| Some((root, position_of(source, root, &chain[..=depth])?)))
                            .unwrap_or(("this", 0..source.len()));
                        let path = format!("{root}.{}", chain[..=depth].join("."));
                        let known: Vec<&str> = keys.keys().map(String::as_str).collect();
                        let span = locate(cx, position);
                        cx.report(diagnostics::unknown_default_key(span, &path, key, &known));
                        break;
                    }
                }
            }
        }
    }
}

/// Applies every write of `steps` (nested steps included) to the shapes of the fields written.
fn writes_into(steps: &[Step], fields: &mut BTreeMap<String, Shape>) {
    each_step(steps, &mut |step| {
        let (updates, store) = step.body.writes();
        for path in updates.iter().map(|u| &u.path).chain(store) {
            if let (WriteScope::State, Some(PathSegment::Field(field))) = (path.scope, path.segments.first())
                && let Some(shape) = fields.get_mut(field)
            {
                shape.written(&path.segments[1..]);
            }
        }
        if let StepBody::UserInput { variable_name: Some(name), .. } = &step.body {
            fields.remove(&name.value);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_static_chains_from_response_are_taken() {
        use crate::check::expressions::{SiteContext, SiteKind};
        let names = SiteContext::default().reading(ResultKind::AgentResponse).names(SiteKind::UpdateValue).with("k", Root::Named("k".into()));
        let compiled = crate::expr::compile("response.a.b + response[k].c + 'response.x' + response.d", &names, &mut Vec::new()).expect("compiles");
        let mut chains = Vec::new();
        response_chains(&compiled.expr, &mut chains);
        assert_eq!(chains, [vec!["a".to_owned(), "b".to_owned()], vec!["d".to_owned()]]);
    }
}
