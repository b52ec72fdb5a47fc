//! The seam to the expression language: every place a workflow holds JavaScript (a `{{ }}`
//! template, a condition, `items`, a transform, a state-update value, a computed `from`
//! template), listed with its kind and span.
//!
//! Today the check stage runs only lexical checks over these sites (legacy prefixes, code
//! loading in transforms). The expression compiler parses and scope-checks the same list, so
//! adding it changes what runs over the sites, not how they are found.

use super::Checker;
use super::diagnostics as diag;
use super::model::{DependencySource, Scope, Step, StepBody, TaskBody, Workflow};
use crate::span::Spanned;
use crate::syntax::Node;

/// What an expression site holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SiteKind {
    /// A string that may contain `{{ expr }}` templates (messages, prompts, commands, parameters).
    Template,
    /// A condition: an expression, optionally wrapped in one `{{ }}`.
    Condition,
    /// A `foreach`/`parallel_foreach` `items` expression, optionally wrapped in `{{ }}`.
    Items,
    /// A computed field's transform: an expression over `input`.
    Transform,
    /// A state-update value: a template or a result keyword.
    UpdateValue,
    /// A computed `from` written as `{{ expr }}`.
    FromTemplate,
}

/// One place that holds an expression.
#[derive(Clone, Debug, PartialEq)]
pub struct ExpressionSite<'a> {
    /// What it holds.
    pub kind: SiteKind,
    /// The text and where it stands.
    pub text: Spanned<&'a str>,
    /// How many loops enclose it (0 outside loops); `loop.*` is only defined above 0.
    pub loop_depth: usize,
}

/// Every expression site of a workflow, its tasks and its computed fields, in source order of
/// each part.
pub fn expression_sites(workflow: &Workflow) -> Vec<ExpressionSite<'_>> {
    let mut sites = Vec::new();
    scope_sites(&workflow.scope, &mut sites);
    step_sites(&workflow.steps, 0, &mut sites);
    for task in &workflow.tasks {
        scope_sites(&task.scope, &mut sites);
        match &task.body {
            TaskBody::Steps(steps) => step_sites(steps, 0, &mut sites),
            TaskBody::Prompt { template, context } => {
                push(&mut sites, SiteKind::Template, template, 0);
                node_sites(context.as_ref(), SiteKind::Template, 0, &mut sites);
            }
        }
    }
    sites
}

fn push<'a>(sites: &mut Vec<ExpressionSite<'a>>, kind: SiteKind, text: &'a Spanned<String>, loop_depth: usize) {
    sites.push(ExpressionSite { kind, text: Spanned::new(text.value.as_str(), text.span), loop_depth });
}

fn node_sites<'a>(node: Option<&'a Node>, kind: SiteKind, loop_depth: usize, sites: &mut Vec<ExpressionSite<'a>>) {
    for text in node.into_iter().flat_map(Node::strings) {
        sites.push(ExpressionSite { kind, text, loop_depth });
    }
}

fn scope_sites<'a>(scope: &'a Scope, sites: &mut Vec<ExpressionSite<'a>>) {
    for computed in &scope.computed {
        push(sites, SiteKind::Transform, &computed.transform, 0);
        for dependency in &computed.from {
            if let DependencySource::Template(_) = dependency.source {
                push(sites, SiteKind::FromTemplate, &dependency.path, 0);
            }
        }
    }
}

fn step_sites<'a>(steps: &'a [Step], depth: usize, sites: &mut Vec<ExpressionSite<'a>>) {
    for step in steps {
        let updates = |sites: &mut Vec<ExpressionSite<'a>>, updates: &'a [super::model::StateUpdate]| {
            for update in updates {
                node_sites(update.value.as_ref(), SiteKind::UpdateValue, depth, sites);
            }
        };
        match &step.body {
            StepBody::UserMessage { message, title, .. } => {
                push(sites, SiteKind::Template, message, depth);
                title.iter().for_each(|t| push(sites, SiteKind::Template, t, depth));
            }
            StepBody::McpCall { tool, parameters, updates: u, .. } => {
                push(sites, SiteKind::Template, tool, depth);
                node_sites(parameters.as_ref(), SiteKind::Template, depth, sites);
                updates(sites, u);
            }
            StepBody::UserInput { prompt, instructions, updates: u, .. } => {
                push(sites, SiteKind::Template, prompt, depth);
                instructions.iter().for_each(|t| push(sites, SiteKind::Template, t, depth));
                updates(sites, u);
            }
            StepBody::AgentPrompt { prompt, context, .. } => {
                push(sites, SiteKind::Template, prompt, depth);
                node_sites(context.as_ref(), SiteKind::Template, depth, sites);
            }
            StepBody::AgentResponse { updates: u, .. } => updates(sites, u),
            StepBody::ParallelForeach { items, .. } => push(sites, SiteKind::Items, items, depth),
            StepBody::ShellCommand { command, working_directory, updates: u, .. } => {
                push(sites, SiteKind::Template, command, depth);
                working_directory.iter().for_each(|t| push(sites, SiteKind::Template, t, depth));
                updates(sites, u);
            }
            StepBody::Conditional { condition, then_steps, else_steps } => {
                push(sites, SiteKind::Condition, condition, depth);
                step_sites(then_steps, depth, sites);
                step_sites(else_steps, depth, sites);
            }
            StepBody::WhileLoop { condition, body, .. } => {
                push(sites, SiteKind::Condition, condition, depth + 1);
                step_sites(body, depth + 1, sites);
            }
            StepBody::Foreach { items, body, .. } => {
                push(sites, SiteKind::Items, items, depth);
                step_sites(body, depth + 1, sites);
            }
            StepBody::WaitStep { message, .. } => message.iter().for_each(|t| push(sites, SiteKind::Template, t, depth)),
            StepBody::Break | StepBody::Continue => {}
        }
    }
}

/// Substrings that suggest a transform is trying to load or evaluate code.
const DANGEROUS: [&str; 7] = ["eval(", "Function(", "require(", "import ", "import(", "setTimeout", "setInterval"];

/// The lexical checks that run over every site until the expression compiler replaces them.
pub(crate) fn check_expression_sites(cx: &mut Checker, sites: &[ExpressionSite]) {
    for site in sites {
        let code_ranges = match site.kind {
            SiteKind::Template | SiteKind::UpdateValue | SiteKind::FromTemplate => template_bodies(site.text.value),
            SiteKind::Condition | SiteKind::Items | SiteKind::Transform => vec![0..site.text.value.len()],
        };
        let mut warned = Vec::new();
        for range in code_ranges {
            for (offset, prefix) in legacy_prefixes(&site.text.value[range.clone()]) {
                if !warned.contains(&prefix) {
                    warned.push(prefix);
                    let start = range.start + offset;
                    let span = cx.locate(site.text, start..start + prefix.len());
                    cx.report(diag::legacy_prefix(span, prefix, if prefix == "raw" { "inputs" } else { "this" }));
                }
            }
        }
        if site.kind == SiteKind::Transform {
            if let Some((offset, what)) = DANGEROUS.iter().find_map(|d| site.text.value.find(d).map(|o| (o, *d))) {
                let span = cx.locate(site.text, offset..offset + what.len());
                cx.report(diag::dangerous_transform(span, what.trim_end_matches(['(', ' '])));
            }
        }
    }
}

/// Byte ranges of the bodies of the `{{ … }}` templates in `text`.
fn template_bodies(text: &str) -> Vec<std::ops::Range<usize>> {
    let mut ranges = Vec::new();
    let mut from = 0;
    while let Some(open) = text[from..].find("{{") {
        let start = from + open + 2;
        let end = text[start..].find("}}").map_or(text.len(), |close| start + close);
        ranges.push(start..end);
        from = (end + 2).min(text.len());
    }
    ranges
}

/// Offsets of `state.`, `computed.` and `raw.` used as roots (not inside string literals, not
/// after `.` or an identifier character).
fn legacy_prefixes(code: &str) -> Vec<(usize, &'static str)> {
    let bytes = code.as_bytes();
    let mut found = Vec::new();
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(_) if b == b'\\' => i += 1,
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if matches!(b, b'\'' | b'"' | b'`') => quote = Some(b),
            None => {
                let boundary = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || matches!(bytes[i - 1], b'_' | b'.' | b'$'));
                if boundary {
                    for prefix in ["state", "computed", "raw"] {
                        if bytes[i..].starts_with(prefix.as_bytes()) && bytes.get(i + prefix.len()) == Some(&b'.') {
                            found.push((i, prefix));
                        }
                    }
                }
            }
        }
        i += 1;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_legacy_roots_outside_strings_only() {
        assert_eq!(legacy_prefixes("state.a + this.state.b"), vec![(0, "state")]);
        assert_eq!(legacy_prefixes("'state.x' + computed.y"), vec![(12, "computed")]);
        assert_eq!(legacy_prefixes("mystate.x || raw.y"), vec![(13, "raw")]);
        assert_eq!(legacy_prefixes("/✗/.test(state.x)"), vec![(11, "state")]);
    }

    #[test]
    fn finds_template_bodies() {
        let text = "a {{ x }} b {{ y }}";
        let bodies: Vec<&str> = template_bodies(text).into_iter().map(|r| &text[r]).collect();
        assert_eq!(bodies, [" x ", " y "]);
    }
}
