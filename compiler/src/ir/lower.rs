//! The checked model to flat machines. Every expression was compiled by the check stage, with
//! the names visible where it stands ([`SiteContext`]); lowering takes it from the
//! [`CompiledSites`] by place and context, so lowering a checked workflow cannot fail.

use std::sync::Arc;

use super::reads::step_reads;
use super::refresh::plan;
use super::*;
use crate::check::expressions::{ResultKind, SiteContext, WHILE_LOOP_NAMES};
use crate::check::{self, CompiledSites, DependencySource, PathSegment, STATE_UPDATE_TOOL, StepBody, TaskBody, WriteScope};
use crate::span::Spanned;
use crate::syntax::{ExecutionContext, FieldType, LongMessage, MessageFormat, MessageType, Node, NodeValue, Strategy};

/// Lowers a checked workflow, with the expressions the check stage compiled.
pub fn lower(checked: &check::Checked) -> Workflow {
    let workflow = &checked.workflow;
    let cx = Lowering { compiled: &checked.expressions };
    let main = cx.program(&workflow.name.value, &workflow.scope, &workflow.steps, &SiteContext::for_workflow(&workflow.scope), &workflow.tasks);
    let tasks = workflow
        .tasks
        .iter()
        .enumerate()
        .map(|(index, task)| {
            let context = SiteContext::for_task(index, task);
            match &task.body {
                TaskBody::Steps(steps) => Arc::new(cx.program(&task.name.value, &task.scope, steps, &context, &workflow.tasks)),
                TaskBody::Prompt { template, context: extra } => {
                    let mut definition = vec![("prompt".to_owned(), cx.template(template, &context))];
                    if let Some(extra) = extra {
                        definition.push(("context".to_owned(), cx.node(extra, &context)));
                    }
                    let prompt = Op::Client(ClientOp { step: "prompt".to_owned(), kind: "agent_prompt", definition, handling: Handling::Nothing });
                    let mut program = cx.program(&task.name.value, &task.scope, &[], &context, &workflow.tasks);
                    program.ops.insert(0, prompt);
                    Arc::new(program)
                }
            }
        })
        .collect();
    Workflow {
        name: workflow.name.value.clone(),
        description: workflow.description.clone(),
        version: workflow.version.clone(),
        timeout_seconds: workflow.timeout_seconds,
        main: Arc::new(main),
        tasks,
    }
}

struct Lowering<'c> {
    compiled: &'c CompiledSites,
}

/// The loop being lowered: where `continue` goes and the `break` jumps to patch.
struct OpenLoop {
    next: Pc,
    breaks: Vec<usize>,
}

struct Builder<'t> {
    ops: Vec<Op<IrExpr>>,
    loops: Vec<OpenLoop>,
    loop_depth: usize,
    tasks: &'t [check::Task],
    scope: &'t check::Scope,
}

impl Builder<'_> {
    fn pc(&self) -> Pc {
        self.ops.len() as Pc
    }

    fn push(&mut self, op: Op<IrExpr>) -> usize {
        self.ops.push(op);
        self.ops.len() - 1
    }

    fn patch(&mut self, at: usize, target: Pc) {
        match &mut self.ops[at] {
            Op::Branch { otherwise: to, .. } | Op::Jump { to, .. } | Op::LoopNext { exit: to, .. } => *to = target,
            other => unreachable!("only jumps are patched, not {other:?}"),
        }
    }
}

impl Lowering<'_> {
    fn program(
        &self,
        name: &str,
        scope: &check::Scope,
        steps: &[check::Step],
        context: &SiteContext,
        tasks: &[check::Task],
    ) -> Program<IrExpr> {
        let computed = scope.computed.iter().map(|c| self.computed(c, context)).collect::<Vec<_>>();
        let mut builder = Builder { ops: Vec::new(), loops: Vec::new(), loop_depth: 0, tasks, scope };
        self.steps(&mut builder, steps, context);
        builder.push(Op::Done);
        Program {
            name: name.to_owned(),
            inputs: scope
                .inputs
                .iter()
                .map(|i| Input {
                    name: i.name.value.clone(),
                    field_type: i.value_type,
                    required: i.required,
                    default: i.default.as_ref().map(Node::to_json),
                    rules: (i.validation != check::Validation::default()).then(|| rules(&i.validation, false)),
                })
                .collect(),
            state: scope
                .state
                .iter()
                .map(|f| StateField {
                    name: f.name.value.clone(),
                    field_type: f.value_type,
                    initial: f.initial.as_ref().map(Node::to_json),
                })
                .collect(),
            refresh: plan(&computed),
            computed,
            reads: step_reads(&builder.ops),
            native: None,
            ops: builder.ops,
            loop_depth: builder.loop_depth,
        }
    }

    fn computed(&self, computed: &check::Computed, context: &SiteContext) -> Computed<IrExpr> {
        let from = computed
            .from
            .iter()
            .map(|dependency| {
                let path = |tier, name: Option<&String>, rest: &[String]| Source::Path { tier, path: name.into_iter().chain(rest).cloned().collect() };
                match &dependency.source {
                    DependencySource::Input(name, rest) => path(SourceTier::Inputs, Some(name), rest),
                    DependencySource::State(name, rest) => path(SourceTier::State, Some(name), rest),
                    DependencySource::Computed(name, rest) => path(SourceTier::Computed, Some(name), rest),
                    DependencySource::Global(rest) => path(SourceTier::Global, None, rest),
                    DependencySource::Loop(rest) => path(SourceTier::Loop, None, rest),
                    DependencySource::Template(_) => Source::Template(self.expression(&dependency.path, context)),
                }
            })
            .collect();
        let transform = self.expression(&computed.transform, context);
        Computed {
            name: computed.name.value.clone(),
            from,
            from_is_list: computed.from_is_list,
            transform,
            on_error: computed.on_error,
            fallback: computed.fallback.as_ref().map_or(serde_json::Value::Null, Node::to_json),
        }
    }

    fn steps(&self, b: &mut Builder, steps: &[check::Step], context: &SiteContext) {
        for step in steps {
            self.step(b, step, context);
        }
    }

    fn step(&self, b: &mut Builder, step: &check::Step, context: &SiteContext) {
        let id = step.id.value.clone();
        let reading = ResultKind::of(&step.body).map(|kind| context.reading(kind));
        let result_context = reading.as_ref().unwrap_or(context);
        let (updates, stored) = step.body.writes();
        let updates = self.updates(b.scope, updates, result_context);
        let store = stored.map(|path| self.write_path(path, result_context));
        let text = |t: &Spanned<String>| self.template(t, context);
        let mut op = match &step.body {
            StepBody::UserMessage { message, message_type, format, title } => {
                let mut definition = vec![
                    field("message", text(message)),
                    field("message_type", json(message_type_name(*message_type))),
                    field("format", json(format_name(*format))),
                ];
                if let Some(title) = title {
                    definition.push(field("title", text(title)));
                }
                client(id, "user_message", definition, Handling::Nothing)
            }
            // AroMCP workflows update their own state through this tool: done on the server,
            // its writes read and checked by the check stage like any `state_update`.
            StepBody::McpCall { tool, .. } if tool.value == STATE_UPDATE_TOOL => Op::Write { step: id, updates },
            StepBody::McpCall { tool, parameters, timeout, error_handling, .. } => {
                let mut definition = vec![field("tool", text(tool))];
                if let Some(parameters) = parameters {
                    definition.push(field("parameters", self.node(parameters, context)));
                }
                if let Some(timeout) = timeout {
                    definition.push(field("timeout", json(*timeout)));
                }
                let handling = Handling::ToolResult { store, updates, on_failure: on_failure(error_handling) };
                client(id, "mcp_call", definition, handling)
            }
            StepBody::UserInput {
                prompt,
                instructions,
                input_type,
                choices,
                validation,
                required,
                default,
                max_retries,
                variable_name,
                error_handling,
                ..
            } => {
                let mut definition = vec![field("prompt", text(prompt))];
                if let Some(instructions) = instructions {
                    definition.push(field("instructions", text(instructions)));
                }
                definition.push(field("input_type", json(input_type.name())));
                if !choices.is_empty() {
                    definition.push(field("choices", json(choices.iter().map(Node::to_json).collect::<Vec<_>>())));
                }
                definition.push(field("required", json(*required)));
                if let Some(default) = default {
                    definition.push(field("default", json(default.to_json())));
                }
                let mut rules = rules(validation, *required);
                rules.choices = choices.iter().map(Node::to_json).collect();
                let answer = AnswerRules {
                    input_type: *input_type,
                    rules,
                    default: default.as_ref().map(Node::to_json),
                    max_retries: *max_retries,
                    variable: variable_name.as_ref().map(|v| v.value.clone()),
                    condition: validation.expression.as_ref().map(|text| AnswerCondition { test: self.expression(text, result_context), text: text.value.clone() }),
                    updates,
                    on_failure: on_failure(error_handling),
                };
                client(id, "user_input", definition, Handling::Answer(Box::new(answer)))
            }
            StepBody::AgentPrompt { prompt, context: extra, expected_response, timeout, max_retries } => {
                let mut definition = vec![field("prompt", text(prompt))];
                if let Some(extra) = extra {
                    definition.push(field("context", self.node(extra, context)));
                }
                if let Some(expected) = expected_response {
                    definition.push(field("expected_response", json(expected.to_json())));
                }
                definition.push(field("timeout", json(*timeout)));
                definition.push(field("max_retries", json(*max_retries)));
                // A reply to a prompt with `expected_response` is checked against it, and asked
                // for again (with the reason) up to `max_retries` times; then the step fails.
                let handling = match expected_response {
                    Some(expected) => Handling::Reply {
                        schema: Some(expected.to_json()),
                        rules: Rules::default(),
                        updates: Vec::new(),
                        store: None,
                        retries: *max_retries,
                        on_failure: OnFailure { strategy: Strategy::Fail, max_retries: 0, retry_delay: 0.0, fallback: None, message: None },
                    },
                    None => Handling::Nothing,
                };
                client(id, "agent_prompt", definition, handling)
            }
            StepBody::AgentResponse { response_schema, validation, error_handling, reply_retries, .. } => {
                let schema = response_schema.as_ref().map(Node::to_json);
                let mut definition = Vec::new();
                if let Some(schema) = &schema {
                    definition.push(field("response_schema", json(schema.clone())));
                }
                let handling =
                    Handling::Reply { schema, rules: rules(validation, false), updates, store, retries: *reply_retries, on_failure: on_failure(error_handling) };
                client(id, "agent_response", definition, handling)
            }
            StepBody::ParallelForeach { items, task, max_parallel, timeout_seconds, .. } => Op::Spawn(SpawnOp {
                step: id,
                items: self.expression(items, context),
                task: *task,
                task_name: b.tasks[*task].name.value.clone(),
                task_inputs: b.tasks[*task].scope.inputs.iter().map(|i| i.name.value.clone()).collect(),
                max_parallel: *max_parallel,
                timeout_seconds: *timeout_seconds,
                store,
            }),
            StepBody::ShellCommand { command, working_directory, timeout, error_handling, execution_context, .. } => {
                let working_directory = working_directory.as_ref().map(|w| self.template(w, context));
                match execution_context {
                    ExecutionContext::Server => Op::Shell(ShellOp {
                        step: id,
                        command: self.template(command, context),
                        working_directory,
                        timeout_seconds: *timeout,
                        updates,
                        on_failure: on_failure(error_handling),
                    }),
                    ExecutionContext::Client => {
                        let mut definition = vec![field("command", text(command))];
                        if let Some(directory) = working_directory {
                            definition.push(field("working_directory", directory));
                        }
                        definition.push(field("timeout", json(*timeout)));
                        client(id, "shell_command", definition, Handling::ShellOutput { updates, on_failure: on_failure(error_handling) })
                    }
                }
            }
            StepBody::WaitStep { message, timeout_seconds } => {
                let message = match message.as_ref().filter(|m| !m.value.trim().is_empty()) {
                    Some(message) => self.template(message, context),
                    None => json("Waiting for the next client request"),
                };
                Op::Wait { step: id, message, timeout_seconds: *timeout_seconds }
            }
            StepBody::Conditional { condition, then_steps, else_steps } => {
                let condition = self.expression(condition, context);
                let branch = b.push(Op::Branch { step: id, condition, otherwise: 0 });
                self.steps(b, then_steps, context);
                if else_steps.is_empty() {
                    let end = b.pc();
                    b.patch(branch, end);
                } else {
                    let skip_else = b.push(Op::Jump { to: 0, step: None });
                    let else_start = b.pc();
                    b.patch(branch, else_start);
                    self.steps(b, else_steps, context);
                    let end = b.pc();
                    b.patch(skip_else, end);
                }
                return;
            }
            StepBody::WhileLoop { condition, body, max_iterations, fail_at_limit } => {
                let inner = context.inside_loop(&WHILE_LOOP_NAMES);
                let kind = LoopKind::While {
                    condition: self.expression(condition, &inner),
                    max_iterations: *max_iterations,
                    fail_at_limit: *fail_at_limit,
                };
                return self.lower_loop(b, id, kind, body, &inner);
            }
            StepBody::Foreach { items, variable_name, index_name, body } => {
                let kind = LoopKind::Foreach {
                    items: self.expression(items, context),
                    variable_name: variable_name.clone(),
                    index_name: index_name.clone(),
                };
                let inner = context.inside_foreach(variable_name, index_name);
                return self.lower_loop(b, id, kind, body, &inner);
            }
            StepBody::Break => {
                let at = b.push(Op::Jump { to: 0, step: Some(id) });
                b.loops.last_mut().expect("the check stage keeps break inside loops").breaks.push(at);
                return;
            }
            StepBody::Continue => {
                let next = b.loops.last().expect("the check stage keeps continue inside loops").next;
                Op::Jump { to: next, step: Some(id) }
            }
        };
        // The server reads it from the handed-out step (`split`, the default, goes unsaid).
        if let (LongMessage::Truncate, Op::Client(client)) = (step.long_message, &mut op)
            && matches!(client.kind, "user_message" | "user_input" | "agent_prompt")
        {
            client.definition.push(field("long_message", json("truncate")));
        }
        b.push(op);
    }

    /// `LoopStart; LoopNext(exit); body…; Jump(LoopNext); LoopEnd` — `continue` jumps to
    /// `LoopNext`, `break` to `LoopEnd`.
    fn lower_loop(&self, b: &mut Builder, step: String, kind: LoopKind<IrExpr>, body: &[check::Step], inner: &SiteContext) {
        let depth = b.loops.len();
        b.loop_depth = b.loop_depth.max(depth + 1);
        b.push(Op::LoopStart { step: step.clone(), depth, kind: kind.clone() });
        let next = b.pc();
        let test = b.push(Op::LoopNext { step, depth, kind, exit: 0 });
        b.loops.push(OpenLoop { next, breaks: Vec::new() });
        self.steps(b, body, inner);
        b.push(Op::Jump { to: next, step: None });
        let end = b.pc();
        b.push(Op::LoopEnd { depth });
        let open = b.loops.pop().expect("pushed above");
        b.patch(test, end);
        for at in open.breaks {
            b.patch(at, end);
        }
    }

    fn updates(&self, scope: &check::Scope, updates: &[check::StateUpdate], context: &SiteContext) -> Vec<Update<IrExpr>> {
        updates
            .iter()
            .map(|update| {
                let mut value = update.value.as_ref().map(|value| self.update_value(value, context));
                if let Some(UpdateValue::Value(IrExpr::Value(Template::Json(literal)))) = &mut value {
                    typed_literal(scope, &update.path, literal);
                }
                Update { path: self.write_path(&update.path, context), value, operation: update.operation }
            })
            .collect()
    }

    fn update_value(&self, value: &Node, context: &SiteContext) -> UpdateValue<IrExpr> {
        if let NodeValue::String(text) = &value.value
            && let Some(path) = context.result.and_then(|result| result.path_in(text))
        {
            return UpdateValue::Result(path.into_iter().map(str::to_owned).collect());
        }
        UpdateValue::Value(self.node(value, context))
    }

    fn write_path(&self, path: &check::WritePath, context: &SiteContext) -> WritePath<IrExpr> {
        let segments = path
            .segments
            .iter()
            .map(|segment| match segment {
                PathSegment::Field(name) => Segment::Field(name.as_str().into()),
                PathSegment::Index(i) => Segment::Index(*i),
                PathSegment::Dynamic { at, .. } => Segment::Key(IrExpr::Template(self.compiled.template(path.text.span, *at, context).clone())),
            })
            .collect();
        let tier = match path.scope {
            WriteScope::State => WriteTier::State,
            WriteScope::Global => WriteTier::Global,
        };
        WritePath { text: path.text.value.clone(), tier, segments }
    }

    /// A free-form value: constant where it holds no template.
    fn node(&self, node: &Node, context: &SiteContext) -> IrExpr {
        IrExpr::Value(self.node_template(node, context))
    }

    fn node_template(&self, node: &Node, context: &SiteContext) -> Template {
        match &node.value {
            NodeValue::String(text) if text.contains("{{") => Template::Text(self.compiled.template(node.span, 0, context).clone()),
            NodeValue::Seq(items) if holds_template(node) => Template::Array(items.iter().map(|i| self.node_template(i, context)).collect()),
            NodeValue::Map(entries) if holds_template(node) => {
                Template::Object(entries.iter().map(|(k, v)| (k.value.clone(), self.node_template(v, context))).collect())
            }
            _ => Template::Json(node.to_json()),
        }
    }

    /// A string field that may hold `{{ }}` templates (the check stage compiled it, with or
    /// without them).
    fn template(&self, text: &Spanned<String>, context: &SiteContext) -> IrExpr {
        IrExpr::Template(self.compiled.template(text.span, 0, context).clone())
    }

    fn expression(&self, text: &Spanned<String>, context: &SiteContext) -> IrExpr {
        IrExpr::Expr(self.compiled.expression(text.span, context).clone())
    }
}

/// Whether any string in `node` holds a `{{ }}` template: one that holds none is a constant.
fn holds_template(node: &Node) -> bool {
    node.strings().iter().any(|s| s.value.contains("{{"))
}

/// A literal written as text to a state field declared `boolean` or `number` (`value: "true"`)
/// is the value it spells: YAML authors quote scalars out of habit, and the field's
/// declaration says what was meant.
fn typed_literal(scope: &check::Scope, path: &check::WritePath, literal: &mut serde_json::Value) {
    let (WriteScope::State, [PathSegment::Field(field)], serde_json::Value::String(text)) = (path.scope, path.segments.as_slice(), &*literal) else {
        return;
    };
    let converted = match scope.state_field(field).and_then(|f| f.value_type) {
        Some(FieldType::Boolean) => text.trim().parse::<bool>().ok().map(serde_json::Value::Bool),
        Some(FieldType::Number) => text.trim().parse::<f64>().ok().and_then(serde_json::Number::from_f64).map(serde_json::Value::Number),
        _ => None,
    };
    if let Some(converted) = converted {
        *literal = converted;
    }
}

fn client(step: String, kind: &'static str, definition: Vec<(String, IrExpr)>, handling: Handling<IrExpr>) -> Op<IrExpr> {
    Op::Client(ClientOp { step, kind, definition, handling })
}

fn field(name: &str, value: IrExpr) -> (String, IrExpr) {
    (name.to_owned(), value)
}

fn json(value: impl Into<serde_json::Value>) -> IrExpr {
    IrExpr::Value(Template::Json(value.into()))
}

fn rules(validation: &check::Validation, required: bool) -> Rules {
    Rules {
        required,
        choices: Vec::new(),
        allowed_values: validation.allowed_values.iter().flatten().map(Node::to_json).collect(),
        pattern: validation.pattern.as_ref().map(|p| p.value.clone()),
        bounds: validation.bounds,
        items: validation.items.as_ref().map(Node::to_json),
        message: validation.message.as_ref().map(|m| m.value.clone()),
    }
}

fn on_failure(handling: &check::ErrorHandling) -> OnFailure {
    OnFailure {
        strategy: handling.strategy,
        max_retries: handling.max_retries,
        retry_delay: handling.retry_delay,
        fallback: handling.fallback_value.as_ref().map(Node::to_json),
        message: handling.error_message.as_ref().map(|m| m.value.clone()),
    }
}





fn message_type_name(message_type: MessageType) -> &'static str {
    match message_type {
        MessageType::Info => "info",
        MessageType::Warning => "warning",
        MessageType::Error => "error",
        MessageType::Success => "success",
    }
}

fn format_name(format: MessageFormat) -> &'static str {
    match format {
        MessageFormat::Text => "text",
        MessageFormat::Markdown => "markdown",
        MessageFormat::Code => "code",
    }
}
