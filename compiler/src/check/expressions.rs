//! The seam to the expression language: every place a workflow holds JavaScript (a `{{ }}`
//! template, a condition, `items`, a transform, a state-update value, a computed `from`
//! template), listed with its kind and span.
//!
//! The check stage compiles every site once, with the names visible there
//! ([`SiteContext::names`]), reports each problem at its line and column in the YAML source, and
//! keeps what compiled for lowering ([`CompiledSites`]).

use std::collections::BTreeSet;
use std::ops::Range;

use super::Checker;
use super::compiled::{CompiledSite, CompiledSites};
use super::model::{DependencySource, PathSegment, STATE_UPDATE_TOOL, Scope, Step, StepBody, Task, TaskBody, WritePath, WriteScope, Workflow, each_step};
use crate::expr::{Names, Root, compile, compile_shell_command, compile_template, compile_wrapped, workflow_names};
use crate::span::Spanned;
use crate::syntax::{ExecutionContext, FieldType};
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
    /// A server-side shell command: a template whose values are quoted for `sh`.
    ShellCommand,
    /// A state-update value written without `{{ }}`: a literal, checked only for whether it
    /// reads like an expression over the workflow's state (the reference evaluates it).
    LiteralUpdateValue,
}

/// One place that holds an expression.
#[derive(Clone, Debug, PartialEq)]
pub struct ExpressionSite<'a> {
    /// What it holds.
    pub kind: SiteKind,
    /// The scalar that holds it, and where that stands.
    pub text: Spanned<&'a str>,
    /// The expression's bytes in `text`: all of them, but for a dynamic key of a write path.
    pub part: Range<usize>,
    /// What names it can see.
    pub context: SiteContext,
}

/// The names an expression site can see besides the workflow's scopes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SiteContext {
    /// What `loop.<name>` may read, innermost loop first; empty outside loops.
    pub loop_names: Vec<String>,
    /// Bare names of a sub-agent task (`item`, `index`, `total`, `task_id` and its inputs);
    /// empty in the main workflow.
    pub task_names: Vec<String>,
    /// For a state-update value: whose result it reads.
    pub result: Option<ResultKind>,
    /// The sub-agent task whose declarations `this.*` and `inputs.*` read (by index), or the
    /// workflow's (`None`).
    pub task: Option<usize>,
    /// The innermost `foreach` around the site: its `variable_name` and `index_name`.
    pub foreach: Option<(String, String)>,
    /// The workflow's declared inputs, which a bare name reads at its top level (AroMCP's
    /// shorthand; a sub-agent task binds its inputs as names of its own).
    pub inputs: Vec<String>,
}

/// The step result a state-update value reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResultKind {
    /// `stdout`, `stderr`, `exit_code` (`returncode`), `full_output`.
    Shell,
    /// `result`, and its top-level fields by their bare names.
    McpCall,
    /// `input`.
    UserInput,
    /// `response`.
    AgentResponse,
}

impl SiteContext {
    /// The names visible here, for the expression compiler.
    pub fn names(&self, kind: SiteKind) -> Names {
        if kind == SiteKind::Transform {
            let mut names = Names::default().with("input", Root::Named("input".into()));
            names.unknown_hint = Some("a transform reads what it depends on through `input`: list the path in `from`".into());
            return names;
        }
        let mut names = workflow_names(&self.loop_names);
        for name in &self.task_names {
            names = names.with(name, Root::Named(name.clone()));
        }
        for name in self.result.map_or(&[][..], ResultKind::names) {
            names = names.with(name, Root::Named((*name).to_owned()));
        }
        names.open = self.result == Some(ResultKind::McpCall);
        if names.open {
            // Bare names are the tool result's fields there.
            return names;
        }
        if let Some((variable, index)) = &self.foreach {
            for (bare, member) in [("item", variable), ("index", index), (variable.as_str(), variable), (index.as_str(), index)] {
                names.shorthands.push((bare.to_owned(), Root::Loop, member.clone()));
            }
        }
        names.shorthands.extend(self.inputs.iter().map(|input| (input.clone(), Root::Inputs, input.clone())));
        names
    }
}

impl SiteContext {
    /// The context of the expressions of sub-agent task `index`: its bare names.
    pub fn for_task(index: usize, task: &Task) -> SiteContext {
        let mut task_names: Vec<String> = ["item", "index", "total", "task_id"].map(str::to_owned).to_vec();
        task_names.extend(task.scope.inputs.iter().map(|i| i.name.value.clone()));
        SiteContext { task_names, task: Some(index), ..SiteContext::default() }
    }

    /// The context of the workflow's own expressions: its inputs' bare names.
    pub fn for_workflow(scope: &Scope) -> SiteContext {
        SiteContext { inputs: scope.inputs.iter().map(|i| i.name.value.clone()).collect(), ..SiteContext::default() }
    }

    /// The context inside a `foreach` body that binds
    /// `loop.<variable_name>` and `loop.<index_name>`, and their bare shorthands.
    pub fn inside_foreach(&self, variable_name: &str, index_name: &str) -> SiteContext {
        let inner = self.inside_loop(&foreach_loop_names(variable_name, index_name));
        SiteContext { foreach: Some((variable_name.to_owned(), index_name.to_owned())), ..inner }
    }

    /// The context inside a loop's body (and its condition) that binds `loop.<name>` for
    /// each of `names`; they shadow an outer loop's.
    pub fn inside_loop(&self, names: &[&str]) -> SiteContext {
        let mut loop_names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        loop_names.extend(self.loop_names.iter().cloned());
        SiteContext { loop_names, ..self.clone() }
    }

    /// The context of a state-update value (and a dynamic write-path key) of a step that
    /// produces `result`.
    pub fn reading(&self, result: ResultKind) -> SiteContext {
        SiteContext { result: Some(result), ..self.clone() }
    }
}

impl ResultKind {
    /// The names under which an update value reads the result; written bare (`value: stdout`,
    /// `value: response.summary`) they are keywords too.
    pub fn names(self) -> &'static [&'static str] {
        match self {
            ResultKind::Shell => &["stdout", "stderr", "exit_code", "returncode", "full_output"],
            ResultKind::McpCall => &["result"],
            ResultKind::UserInput => &["input"],
            ResultKind::AgentResponse => &["response"],
        }
    }

    /// `text`, written bare as an update value (`stdout`, `response.summary`), as a path into
    /// the result: a keyword of this result, then field names; `None` if it is not one (it is
    /// then a literal).
    pub fn path_in(self, text: &str) -> Option<Vec<&str>> {
        let path: Vec<&str> = text.trim().split('.').collect();
        let names = |s: &&str| !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '_');
        (self.names().contains(&path[0]) && path.iter().all(names)).then_some(path)
    }

    /// What a step of this body produces for its state updates, if anything.
    pub fn of(body: &StepBody) -> Option<ResultKind> {
        match body {
            // `workflow_state_update` is applied on the server: its writes read no tool result.
            StepBody::McpCall { tool, .. } if tool.value == STATE_UPDATE_TOOL => None,
            StepBody::McpCall { .. } => Some(ResultKind::McpCall),
            StepBody::UserInput { .. } => Some(ResultKind::UserInput),
            StepBody::AgentResponse { .. } => Some(ResultKind::AgentResponse),
            StepBody::ShellCommand { .. } => Some(ResultKind::Shell),
            _ => None,
        }
    }
}

/// The `loop.*` names a `foreach` binds.
pub fn foreach_loop_names<'a>(variable_name: &'a str, index_name: &'a str) -> [&'a str; 3] {
    [variable_name, index_name, "iteration"]
}

/// The `loop.*` names a `while_loop` binds.
pub const WHILE_LOOP_NAMES: [&str; 1] = ["iteration"];

/// Every expression site of a workflow, its tasks and its computed fields.
pub fn expression_sites(workflow: &Workflow) -> Vec<ExpressionSite<'_>> {
    let mut sites = Vec::new();
    let context = SiteContext::for_workflow(&workflow.scope);
    scope_sites(&workflow.scope, &context, &mut sites);
    step_sites(&workflow.steps, &context, &mut sites);
    for (index, task) in workflow.tasks.iter().enumerate() {
        let context = SiteContext::for_task(index, task);
        scope_sites(&task.scope, &context, &mut sites);
        match &task.body {
            TaskBody::Steps(steps) => step_sites(steps, &context, &mut sites),
            TaskBody::Prompt { template, context: extra } => {
                push(&mut sites, SiteKind::Template, template, &context);
                node_sites(extra.as_ref(), SiteKind::Template, &context, &mut sites);
            }
        }
    }
    sites
}

impl<'a> ExpressionSite<'a> {
    /// The expression as written.
    pub fn source(&self) -> &'a str {
        &self.text.value[self.part.clone()]
    }
}

fn push<'a>(sites: &mut Vec<ExpressionSite<'a>>, kind: SiteKind, text: &'a Spanned<String>, context: &SiteContext) {
    let part = 0..text.value.len();
    sites.push(ExpressionSite { kind, text: Spanned::new(text.value.as_str(), text.span), part, context: context.clone() });
}

fn node_sites<'a>(node: Option<&'a Node>, kind: SiteKind, context: &SiteContext, sites: &mut Vec<ExpressionSite<'a>>) {
    for text in node.into_iter().flat_map(Node::strings) {
        // A value without `{{` is a literal (or a bare result keyword such as `stdout`).
        let kind = if kind == SiteKind::UpdateValue && !text.value.contains("{{") { SiteKind::LiteralUpdateValue } else { kind };
        sites.push(ExpressionSite { kind, text, part: 0..text.value.len(), context: context.clone() });
    }
}

/// A write path's dynamic keys (`this.results[{{ loop.item }}]`), each a template of its own.
fn write_path_sites<'a>(path: &'a WritePath, context: &SiteContext, sites: &mut Vec<ExpressionSite<'a>>) {
    for segment in &path.segments {
        if let PathSegment::Dynamic { key, at } = segment {
            let text = Spanned::new(path.text.value.as_str(), path.text.span);
            sites.push(ExpressionSite { kind: SiteKind::Template, text, part: *at..at + key.len(), context: context.clone() });
        }
    }
}

fn scope_sites<'a>(scope: &'a Scope, context: &SiteContext, sites: &mut Vec<ExpressionSite<'a>>) {
    for computed in &scope.computed {
        push(sites, SiteKind::Transform, &computed.transform, context);
        for dependency in &computed.from {
            if let DependencySource::Template(_) = dependency.source {
                push(sites, SiteKind::FromTemplate, &dependency.path, context);
            }
        }
    }
}

fn step_sites<'a>(steps: &'a [Step], context: &SiteContext, sites: &mut Vec<ExpressionSite<'a>>) {
    for step in steps {
        let reading = ResultKind::of(&step.body).map(|result| context.reading(result));
        let writes_context = reading.as_ref().unwrap_or(context);
        let (updates, stored) = step.body.writes();
        for update in updates {
            node_sites(update.value.as_ref(), SiteKind::UpdateValue, writes_context, sites);
            write_path_sites(&update.path, writes_context, sites);
        }
        stored.into_iter().for_each(|path| write_path_sites(path, writes_context, sites));
        match &step.body {
            StepBody::UserMessage { message, title, .. } => {
                push(sites, SiteKind::Template, message, context);
                title.iter().for_each(|t| push(sites, SiteKind::Template, t, context));
            }
            // A `workflow_state_update`'s parameters are its writes, checked above.
            StepBody::McpCall { tool, .. } if tool.value == STATE_UPDATE_TOOL => {}
            StepBody::McpCall { tool, parameters, .. } => {
                push(sites, SiteKind::Template, tool, context);
                node_sites(parameters.as_ref(), SiteKind::Template, context, sites);
            }
            StepBody::UserInput { prompt, instructions, validation, .. } => {
                push(sites, SiteKind::Template, prompt, context);
                instructions.iter().for_each(|t| push(sites, SiteKind::Template, t, context));
                if let Some(condition) = &validation.expression {
                    push(sites, SiteKind::Condition, condition, &context.reading(ResultKind::UserInput));
                }
            }
            StepBody::AgentPrompt { prompt, context: extra, .. } => {
                push(sites, SiteKind::Template, prompt, context);
                node_sites(extra.as_ref(), SiteKind::Template, context, sites);
            }
            StepBody::AgentResponse { .. } | StepBody::Break | StepBody::Continue => {}
            StepBody::ParallelForeach { items, .. } => push(sites, SiteKind::Items, items, context),
            StepBody::ShellCommand { command, working_directory, execution_context, .. } => {
                let kind = if *execution_context == ExecutionContext::Server { SiteKind::ShellCommand } else { SiteKind::Template };
                push(sites, kind, command, context);
                working_directory.iter().for_each(|t| push(sites, SiteKind::Template, t, context));
            }
            StepBody::Conditional { condition, then_steps, else_steps } => {
                push(sites, SiteKind::Condition, condition, context);
                step_sites(then_steps, context, sites);
                step_sites(else_steps, context, sites);
            }
            StepBody::WhileLoop { condition, body, .. } => {
                let inner = context.inside_loop(&WHILE_LOOP_NAMES);
                push(sites, SiteKind::Condition, condition, &inner);
                step_sites(body, &inner, sites);
            }
            StepBody::Foreach { items, body, variable_name, index_name } => {
                push(sites, SiteKind::Items, items, context);
                step_sites(body, &context.inside_foreach(variable_name, index_name), sites);
            }
            StepBody::WaitStep { message, .. } => message.iter().for_each(|t| push(sites, SiteKind::Template, t, context)),
        }
    }
}

/// What the `{{ }}`s of a template that compile read (their problems were reported when the
/// template was compiled whole).
fn reads_of_sound_parts(source: &str, names: &Names) -> BTreeSet<String> {
    let mut reads = BTreeSet::new();
    for piece in crate::expr::template::scan(source).unwrap_or_default() {
        if let crate::expr::template::Piece::Expr(range) = piece
            && let Some(compiled) = compile(&source[range], names, &mut Vec::new())
        {
            compiled.reads(&mut reads);
        }
    }
    reads
}

/// Compiles every site, reporting each problem at its place in the YAML source; checks that
/// every `this.*` and `inputs.*` a site reads is there to read (see [`Readable`]); and keeps
/// what compiled.
pub(crate) fn check_expression_sites(cx: &mut Checker, workflow: &Workflow, sites: Vec<ExpressionSite>) -> CompiledSites {
    let main = Readable::of(&workflow.scope, &workflow.steps);
    let tasks: Vec<Readable> = workflow
        .tasks
        .iter()
        .map(|task| match &task.body {
            TaskBody::Steps(steps) => Readable::of(&task.scope, steps),
            TaskBody::Prompt { .. } => Readable::of(&task.scope, &[]),
        })
        .collect();
    let mut compiled_sites = CompiledSites::default();
    for site in sites {
        let readable = site.context.task.and_then(|index| tasks.get(index)).unwrap_or(&main);
        let mut names = site.context.names(site.kind);
        if site.kind != SiteKind::Transform {
            names.types = readable.types.clone();
        }
        let source = site.source();
        let mut issues = Vec::new();
        let compiled = match site.kind {
            SiteKind::Template | SiteKind::UpdateValue => compile_template(source, &names, &mut issues).map(CompiledSite::Template),
            SiteKind::ShellCommand => compile_shell_command(source, &names, &mut issues).map(CompiledSite::Template),
            SiteKind::Condition | SiteKind::Items | SiteKind::FromTemplate => {
                compile_wrapped(source, &names, &mut issues).map(CompiledSite::Expression)
            }
            SiteKind::Transform => compile(source, &names, &mut issues).map(CompiledSite::Expression),
            SiteKind::LiteralUpdateValue => {
                // Only a text that compiles and reads the workflow's state is worth a word: a
                // plain word or a result keyword (`stdout`) is what it looks like. It is a
                // literal, so nothing is kept.
                let mut reads = BTreeSet::new();
                if let Some(compiled) = compile(source, &names, &mut Vec::new()) {
                    compiled.reads(&mut reads);
                }
                if !reads.is_empty() {
                    cx.report(super::diagnostics::literal_looks_like_expression(cx.locate(site.text, site.part.clone()), source));
                }
                None
            }
        };
        let shift = |range: Range<usize>| range.start + site.part.start..range.end + site.part.start;
        for issue in issues {
            let span = cx.locate(site.text, shift(issue.range.clone()));
            cx.report(crate::expr::diagnostics::issue(span, issue));
        }
        let mut reads = BTreeSet::new();
        match &compiled {
            Some(compiled) => compiled.reads(&mut reads),
            // A text with several `{{ }}`s: the ones that compiled are still checked, so one
            // bad part does not hide a typo in another.
            None if matches!(site.kind, SiteKind::Template | SiteKind::UpdateValue | SiteKind::ShellCommand) => {
                reads = reads_of_sound_parts(source, &names);
            }
            None => {}
        }
        for read in &reads {
            let Some((tier, field)) = read.split_once('.') else { continue };
            let (known, roots): (Vec<&str>, &[&str]) = match tier {
                "inputs" => (readable.inputs.clone(), &["inputs"]),
                "this" => (readable.fields.iter().copied().collect(), &["this", "state", "computed"]),
                _ => continue,
            };
            if known.contains(&field) {
                continue;
            }
            let at = member_position(source, roots, field).map_or(site.part.clone(), shift);
            // `this.x` for an input `x`, or `inputs.x` for a state field: the other tier's.
            let other_tier = match tier {
                "inputs" => readable.fields.contains(field).then_some("this"),
                _ => readable.inputs.contains(&field).then_some("inputs"),
            };
            cx.report(super::diagnostics::undeclared_read(cx.locate(site.text, at), tier, field, known, other_tier));
        }
        if let Some(compiled) = compiled {
            for expr in compiled.expressions() {
                readable.shapes.check(cx, expr, source, &|cx: &Checker, range: Range<usize>| cx.locate(site.text, shift(range)));
            }
            compiled_sites.insert(site, compiled);
        }
    }
    compiled_sites
}

/// What `this.*` and `inputs.*` may read in one program (the workflow, or a sub-agent task):
/// its declared inputs; its declared state fields, its computed fields, and the fields its
/// steps write (`state_update`, `store_result`, `variable_name`, …).
struct Readable<'a> {
    inputs: Vec<&'a str>,
    fields: BTreeSet<&'a str>,
    /// The declared types of its inputs and state fields, for the expression compiler.
    types: Vec<(Root, String, FieldType)>,
    /// What is known of the keys of its object-valued state fields.
    shapes: super::shapes::DefaultShapes,
}

impl<'a> Readable<'a> {
    fn of(scope: &'a Scope, steps: &'a [Step]) -> Readable<'a> {
        let mut fields: BTreeSet<&str> = scope.state.iter().map(|f| f.name.value.as_str()).collect();
        fields.extend(scope.computed.iter().map(|c| c.name.value.as_str()));
        written_fields(steps, &mut fields);
        let inputs = scope.inputs.iter().filter_map(|i| Some((Root::Inputs, i.name.value.clone(), i.value_type?)));
        let state = scope.state.iter().filter_map(|f| Some((Root::This, f.name.value.clone(), f.value_type?)));
        let types = inputs.chain(state).collect();
        let shapes = super::shapes::DefaultShapes::of(scope, steps);
        Readable { inputs: scope.inputs.iter().map(|i| i.name.value.as_str()).collect(), fields, types, shapes }
    }
}

/// The `this.*` fields `steps` (and the steps inside them) write.
fn written_fields<'a>(steps: &'a [Step], out: &mut BTreeSet<&'a str>) {
    each_step(steps, &mut |step| {
        let (updates, store) = step.body.writes();
        for path in updates.iter().map(|u| &u.path).chain(store) {
            if let (WriteScope::State, Some(PathSegment::Field(field))) = (path.scope, path.segments.first()) {
                out.insert(field.as_str());
            }
        }
        if let StepBody::UserInput { variable_name: Some(name), .. } = &step.body {
            out.insert(name.value.as_str());
        }
    });
}

/// Where `field` is read in `text` as a member of one of `roots` (`this.count`, `this?.count`,
/// `this['count']`): the field name's byte range.
fn member_position(text: &str, roots: &[&str], field: &str) -> Option<std::ops::Range<usize>> {
    let is_name = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'$';
    let bytes = text.as_bytes();
    for root in roots {
        for (at, _) in text.match_indices(root) {
            if at > 0 && (is_name(bytes[at - 1]) || bytes[at - 1] == b'.') {
                continue;
            }
            let rest = &text[at + root.len()..];
            let skip = ["?.", ".", "['", "[\""].iter().find(|p| rest.starts_with(**p)).map(|p| p.len());
            let Some(skip) = skip else { continue };
            let start = at + root.len() + skip;
            let end = start + field.len();
            if text.get(start..end) == Some(field) && bytes.get(end).is_none_or(|b| !is_name(*b)) {
                return Some(start..end);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transforms_see_only_input_and_update_values_see_their_results() {
        let transform = SiteContext::default().names(SiteKind::Transform);
        assert_eq!(transform.roots.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["input"]);
        let shell = SiteContext { result: Some(ResultKind::Shell), ..SiteContext::default() }.names(SiteKind::UpdateValue);
        assert!(shell.roots.iter().any(|r| r.name == "stdout") && !shell.open);
        let mcp = SiteContext { result: Some(ResultKind::McpCall), ..SiteContext::default() }.names(SiteKind::UpdateValue);
        assert!(mcp.open);
    }
}
