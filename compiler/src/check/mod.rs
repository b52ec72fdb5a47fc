//! The check stage: a parsed [`RawWorkflow`] to a resolved [`Workflow`], or every problem that
//! stops it. Ids are unique, `break`/`continue` sit inside loops, references resolve, computed
//! fields have no cycles and come in dependency order, writes go to writable paths, inputs have
//! defaults of their type. All errors are reported together; warnings ride along with a success.

mod compiled;
mod diagnostics;
pub mod expressions;
pub mod model;
mod paths;
mod position;
mod scope;
mod steps;
mod shapes;
pub(crate) mod types;

pub use compiled::{CompiledSite, CompiledSites};
pub use expressions::{ExpressionSite, SiteKind, expression_sites};
pub use model::*;

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::source::Source;
use crate::span::{Span, Spanned};
use crate::syntax::RawWorkflow;
use scope::{Declarations, check_scope};
use steps::{StepContext, check_steps};

/// A workflow that passed the checks, and the warnings found on the way.
#[derive(Clone, Debug)]
pub struct Checked {
    /// The resolved workflow.
    pub workflow: Workflow,
    /// Its expressions, compiled.
    pub expressions: CompiledSites,
    /// Warnings (never errors), sorted.
    pub warnings: Diagnostics,
}

/// Checks a parsed workflow. `Err` holds every error and warning found, sorted.
pub fn check(source: &Source, raw: &RawWorkflow) -> Result<Checked, Diagnostics> {
    let mut cx = Checker { source, diagnostics: Vec::new() };
    let workflow = check_workflow(&mut cx, raw);
    types::check_writes(&mut cx, &workflow);
    let sites = expression_sites(&workflow);
    let expressions = expressions::check_expression_sites(&mut cx, &workflow, sites);
    shapes::check_reads(&mut cx, &workflow, &expressions);
    let mut diagnostics = Diagnostics::new(source);
    diagnostics.extend(cx.diagnostics);
    diagnostics.sort();
    if diagnostics.has_errors() { Err(diagnostics) } else { Ok(Checked { workflow, expressions, warnings: diagnostics }) }
}

/// Checks what is left of a workflow after the parts with shape errors were taken out
/// (`removed`, see [`crate::syntax::parse_around_errors`]): its diagnostics, without those the
/// missing parts cause — a diagnostic about a part that held a removed one (a loop whose body
/// lost its steps), and an unknown name that a removed part declares or writes.
pub fn check_around(source: &Source, raw: &RawWorkflow, removed: &[Span]) -> Diagnostics {
    let found = match check(source, raw) {
        Ok(checked) => checked.warnings,
        Err(diagnostics) => diagnostics,
    };
    let mut kept = Diagnostics::new(source);
    kept.extend(found.iter().filter(|d| !caused_by_removed(source, d, removed)).cloned());
    kept
}

fn caused_by_removed(source: &Source, diagnostic: &Diagnostic, removed: &[Span]) -> bool {
    use crate::diagnostic::Code;
    let at = diagnostic.primary.span;
    if removed.iter().any(|part| at.start <= part.start && part.end <= at.end) {
        return true;
    }
    let names_something = matches!(diagnostic.code, Code::UndeclaredRead | Code::UnknownName | Code::UnknownSubAgentTask | Code::UnknownComputedSource);
    let written = source.slice(at);
    let name = written.rsplit(['.', ' ']).next().unwrap_or(written).trim_matches(|c: char| !(c.is_alphanumeric() || c == '_'));
    names_something && !name.is_empty() && removed.iter().any(|part| holds_word(source.slice(*part), name))
}

/// Whether `text` holds `word` with no name character on either side.
fn holds_word(text: &str, word: &str) -> bool {
    let is_name = |c: char| c.is_alphanumeric() || c == '_';
    text.match_indices(word).any(|(at, _)| {
        !text[..at].chars().next_back().is_some_and(is_name) && !text[at + word.len()..].chars().next().is_some_and(is_name)
    })
}

/// Collects diagnostics while the checks run, and maps positions inside scalars to spans.
pub(crate) struct Checker<'a> {
    source: &'a Source,
    diagnostics: Vec<Diagnostic>,
}

impl Checker<'_> {
    pub(crate) fn report(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    /// The span of bytes `range` of a scalar's value in the source, through quotes, escapes and
    /// block-scalar indentation; the whole scalar if the two cannot be aligned.
    pub(crate) fn locate(&self, text: Spanned<&str>, range: std::ops::Range<usize>) -> Span {
        let written = self.source.slice(text.span);
        match position::value_offsets(written, text.value) {
            Some(offsets) => {
                let at = |i: usize| text.span.start + offsets[i.min(offsets.len() - 1)] as u32;
                Span::new(at(range.start), at(range.end))
            }
            None => text.span,
        }
    }
}

fn check_workflow(cx: &mut Checker, raw: &RawWorkflow) -> Workflow {
    let name = &raw.name;
    match name.value.matches(':').count() {
        0 => cx.report(diagnostics::name_without_namespace(name.span, &name.value)),
        1 => {}
        _ => cx.report(diagnostics::too_many_namespaces(name.span, &name.value)),
    }
    if !is_semver(&raw.version.value) {
        cx.report(diagnostics::non_semver_version(raw.version.span, &raw.version.value));
    }
    let default_retries = raw.config.as_ref().and_then(|c| c.max_retries).map_or(0, |m| m.value);
    let scope = check_scope(
        cx,
        &Declarations { inputs: raw.inputs.as_ref(), default_state: raw.default_state.as_ref(), state_schema: raw.state_schema.as_ref() },
    );
    let raw_tasks = raw.sub_agent_tasks.as_ref().map(|t| t.0.as_slice()).unwrap_or_default();
    let task_names: Vec<&str> = raw_tasks.iter().map(|(name, _)| name.value.as_str()).collect();
    let tasks = raw_tasks
        .iter()
        .map(|(name, task)| {
            let scope = check_scope(
                cx,
                &Declarations {
                    inputs: task.inputs.as_ref(),
                    default_state: task.default_state.as_ref(),
                    state_schema: task.state_schema.as_ref(),
                },
            );
            let body = match (&task.steps, &task.prompt_template) {
                (Some(steps), _) => {
                    let mut sc = StepContext::new(format!("sub-agent task `{}`", name.value), &scope, &task_names, default_retries);
                    TaskBody::Steps(check_steps(cx, &mut sc, steps, 0))
                }
                (None, template) => TaskBody::Prompt {
                    template: template.clone().unwrap_or_default(),
                    context: task.context_template.clone(),
                },
            };
            Task { name: name.clone(), description: task.description.value.clone(), scope, body }
        })
        .collect();
    let mut sc = StepContext::new("the workflow".to_owned(), &scope, &task_names, default_retries);
    let steps = check_steps(cx, &mut sc, &raw.steps, 0);
    Workflow {
        name: name.clone(),
        description: raw.description.value.clone(),
        version: raw.version.value.clone(),
        timeout_seconds: raw.config.as_ref().and_then(|c| c.timeout_seconds).map(|t| t.value),
        max_retries: default_retries,
        scope,
        steps,
        tasks,
    }
}

fn is_semver(version: &str) -> bool {
    let parts: Vec<&str> = version.split('.').collect();
    parts.len() == 3 && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}
