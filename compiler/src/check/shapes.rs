//! Reads below a shape the workflow declares: `response.summary.scroe` in an `agent_response`'s
//! writes, where its `response_schema` lists `summary`'s properties and `scroe` is not one of
//! them, is an error with a did-you-mean, at the name — rather than `undefined` written at run
//! time. A schema level is checked only when it is closed to guessing: it lists `properties` and
//! says nothing of `additionalProperties` or `patternProperties`. Reads are taken from the
//! expressions as the check stage compiled them (a `response.x` inside a string literal is not
//! one), and only static member chains (`response.a.b`, `response['a']`) are checked.

use super::diagnostics;
use super::expressions::ResultKind;
use super::model::{Step, StepBody, TaskBody, Workflow};
use super::{Checker, CompiledSite, CompiledSites};
use crate::expr::ir::{Expr, Name, Root};
use crate::expr::{CompiledPart, CompiledTemplate};
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
    for step in steps_ {
        match &step.body {
            StepBody::AgentResponse { response_schema: Some(schema), updates, .. } => {
                for value in updates.iter().filter_map(|u| u.value.as_ref()) {
                    if let NodeValue::String(text) = &value.value {
                        check_value(cx, schema, Spanned::new(text.as_str(), value.span), compiled);
                    }
                }
            }
            StepBody::Conditional { then_steps, else_steps, .. } => {
                steps(cx, then_steps, compiled);
                steps(cx, else_steps, compiled);
            }
            StepBody::WhileLoop { body, .. } | StepBody::Foreach { body, .. } => steps(cx, body, compiled),
            _ => {}
        }
    }
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
                match site {
                    CompiledSite::Template(CompiledTemplate::Value(compiled)) | CompiledSite::Expression(compiled) => {
                        response_chains(&compiled.expr, &mut chains);
                    }
                    CompiledSite::Template(CompiledTemplate::Parts(parts)) => {
                        for part in parts {
                            if let CompiledPart::Expr(compiled) | CompiledPart::ShellQuoted(compiled, _) = part {
                                response_chains(&compiled.expr, &mut chains);
                            }
                        }
                    }
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
                    let position = position_of(source, &chain[..=depth]).map_or(text.span, |range| cx.locate(text, range));
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
    expr.walk(&mut |e| match chain(e) {
        Some(fields) if !fields.is_empty() => {
            out.push(fields);
            false
        }
        _ => true,
    });
}

/// `response.a.b` as `[a, b]`; `None` for anything not rooted at `response` through static
/// fields.
fn chain(expr: &Expr) -> Option<Vec<String>> {
    match expr {
        Expr::Name(Name::Root(Root::Named(name))) if name == "response" => Some(Vec::new()),
        Expr::Member { object, property, .. } => match &**property {
            Expr::String(field) => {
                let mut fields = chain(object)?;
                fields.push(field.clone());
                Some(fields)
            }
            _ => None,
        },
        _ => None,
    }
}

/// Where the last field of `response.<chain>` is written in `text` (dotted), as a byte range.
fn position_of(text: &str, chain: &[String]) -> Option<std::ops::Range<usize>> {
    let written = format!("response.{}", chain.join("."));
    let at = text.find(&written)?;
    let end = at + written.len();
    Some(end - chain.last()?.len()..end)
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
