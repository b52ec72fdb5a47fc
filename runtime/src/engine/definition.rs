//! What the engine serves: a workflow's description and a way to start its machines, whether
//! they were compiled into the binary or are interpreted from a file (`wfc serve --dev`).

use std::sync::Arc;

use crate::catalog::Entry;
use crate::machine::program::{Expression, Input, Program, Source, SourceTier, Workflow};
use crate::machine::plan::{self, PlannedStep};
use crate::machine::{ClientWrite, Instance, Machine, Snapshot, StartError, State, Trace};
use crate::value::Object;

/// A running machine, as the engine drives it: the [`Machine`] contract plus the state access
/// the MCP tools need.
pub trait Live: Machine + Send {
    /// The state tiers.
    fn state(&self) -> &State;
    /// A client's writes, all or nothing.
    fn write(&mut self, writes: &[ClientWrite]) -> Result<(), String>;
    /// Takes the shared `global.*` tier of the workflow a task belongs to.
    fn adopt_global(&mut self, global: Arc<Object>) -> Result<(), String>;
    /// Puts back a state taken earlier from [`Live::state`].
    fn rewind(&mut self, earlier: State);
    /// What the store keeps to restore the machine; `None` for one that cannot be restored
    /// because it never started.
    fn resumable(&self) -> Option<Snapshot> {
        Some(self.snapshot())
    }
    /// Starts or stops recording what the machine does (the execution history).
    fn trace(&mut self, _on: bool) {}
    /// What it recorded since the last call.
    fn take_trace(&mut self) -> Vec<Trace> {
        Vec::new()
    }
}

impl<X: Expression + 'static> Live for Instance<X> {
    fn state(&self) -> &State {
        Instance::state(self)
    }

    fn write(&mut self, writes: &[ClientWrite]) -> Result<(), String> {
        Instance::write(self, writes)
    }

    fn adopt_global(&mut self, global: Arc<Object>) -> Result<(), String> {
        Instance::adopt_global(self, global)
    }

    fn rewind(&mut self, earlier: State) {
        Instance::rewind(self, earlier);
    }

    fn trace(&mut self, on: bool) {
        Instance::trace(self, on);
    }

    fn take_trace(&mut self) -> Vec<Trace> {
        Instance::take_trace(self)
    }
}

/// A computed field as `workflow_state_dependencies` reports it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct ComputedInfo {
    /// The field.
    pub field: String,
    /// What it reads (`this.items`, `inputs.limit`, `computed.total`, or a template).
    pub dependencies: Vec<String>,
    /// The computed fields that read it.
    pub dependents: Vec<String>,
    /// `use_fallback`, `propagate` or `ignore`.
    pub on_error: &'static str,
    /// The value taken with `use_fallback`.
    pub fallback: serde_json::Value,
}

/// The machines of one workflow, whatever evaluates their expressions.
trait Machines: Send + Sync {
    fn start(&self, task: Option<usize>, inputs: &serde_json::Value, bindings: Object, server_steps: u32) -> Result<Box<dyn Live>, StartError>;
    fn restore(&self, task: Option<usize>, snapshot: &Snapshot, server_steps: u32) -> Result<Box<dyn Live>, StartError>;
    fn inputs(&self) -> &[Input];
    fn computed(&self, task: Option<usize>) -> Vec<ComputedInfo>;
    fn plan(&self, task: Option<usize>) -> Vec<PlannedStep>;
}

struct Programs<X> {
    main: Arc<Program<X>>,
    tasks: Vec<Arc<Program<X>>>,
}

impl<X: Expression + 'static> Programs<X> {
    fn program(&self, task: Option<usize>) -> Result<&Arc<Program<X>>, StartError> {
        match task {
            None => Ok(&self.main),
            Some(index) => self.tasks.get(index).ok_or_else(|| StartError(format!("the workflow has no sub-agent task number {index}"))),
        }
    }
}

impl<X: Expression + 'static> Machines for Programs<X> {
    fn start(&self, task: Option<usize>, inputs: &serde_json::Value, bindings: Object, server_steps: u32) -> Result<Box<dyn Live>, StartError> {
        Ok(Box::new(Instance::start(Arc::clone(self.program(task)?), inputs, bindings)?.with_server_step_budget(server_steps)))
    }

    fn restore(&self, task: Option<usize>, snapshot: &Snapshot, server_steps: u32) -> Result<Box<dyn Live>, StartError> {
        Ok(Box::new(Instance::restore(Arc::clone(self.program(task)?), snapshot)?.with_server_step_budget(server_steps)))
    }

    fn inputs(&self) -> &[Input] {
        &self.main.inputs
    }

    fn plan(&self, task: Option<usize>) -> Vec<PlannedStep> {
        self.program(task).map(|program| plan::steps(program)).unwrap_or_default()
    }

    fn computed(&self, task: Option<usize>) -> Vec<ComputedInfo> {
        let Ok(program) = self.program(task) else { return Vec::new() };
        let source = |source: &Source<X>| match source {
            Source::Path { tier, path } => {
                let root = match tier {
                    SourceTier::Inputs => "inputs",
                    SourceTier::State => "this",
                    SourceTier::Computed => "computed",
                    SourceTier::Global => "global",
                    SourceTier::Loop => "loop",
                };
                std::iter::once(root).chain(path.iter().map(String::as_str)).collect::<Vec<_>>().join(".")
            }
            Source::Template(_) => "{{ template }}".to_owned(),
        };
        let reads = |field: &crate::machine::program::Computed<X>, name: &str| {
            field.from.iter().any(|s| matches!(s, Source::Path { tier: SourceTier::Computed, path } if path.first().is_some_and(|p| p == name)))
        };
        program
            .computed
            .iter()
            .map(|field| ComputedInfo {
                field: field.name.clone(),
                dependencies: field.from.iter().map(source).collect(),
                dependents: program.computed.iter().filter(|other| reads(other, &field.name)).map(|other| other.name.clone()).collect(),
                on_error: field.on_error.name(),
                fallback: field.fallback.clone(),
            })
            .collect()
    }
}

/// A workflow the engine can start.
pub struct Definition {
    /// `namespace:name`.
    pub name: String,
    /// What it is for.
    pub description: String,
    /// Its version.
    pub version: String,
    /// The file it came from.
    pub path: String,
    /// `compiled` (in the binary) or `dev` (interpreted from a file).
    pub source: &'static str,
    /// A hash of the YAML it came from.
    pub definition_hash: String,
    /// Its sub-agent tasks' names, in declaration order.
    pub tasks: Vec<String>,
    /// `config.timeout_seconds`: how long an instance may run.
    pub timeout_seconds: Option<f64>,
    /// The YAML, for a workflow compiled into the binary; one served from a file is read from
    /// `path` ([`Definition::yaml`]).
    embedded_yaml: Option<&'static str>,
    machines: Box<dyn Machines>,
}

impl std::fmt::Debug for Definition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Definition").field("name", &self.name).field("source", &self.source).finish_non_exhaustive()
    }
}

impl Definition {
    /// A workflow compiled into the binary.
    pub fn compiled(entry: &Entry) -> Definition {
        let workflow = (entry.machines)();
        let mut definition = Definition::new(workflow, "compiled", entry.path, entry.definition_hash);
        definition.description = entry.description.to_owned();
        definition.embedded_yaml = Some(entry.source);
        definition
    }

    /// A workflow whose machines evaluate expressions with `X` (the interpreter's, in dev mode).
    pub fn new<X: Expression + 'static>(workflow: &Workflow<X>, source: &'static str, path: &str, definition_hash: &str) -> Definition {
        Definition {
            name: workflow.name.clone(),
            description: workflow.description.clone(),
            version: workflow.version.clone(),
            path: path.to_owned(),
            source,
            definition_hash: definition_hash.to_owned(),
            tasks: workflow.tasks.iter().map(|task| task.name.clone()).collect(),
            timeout_seconds: workflow.timeout_seconds,
            embedded_yaml: None,
            machines: Box::new(Programs { main: Arc::clone(&workflow.main), tasks: workflow.tasks.clone() }),
        }
    }

    /// The YAML the workflow was compiled from: in the binary, or as its file stands now.
    pub fn yaml(&self) -> std::io::Result<std::borrow::Cow<'static, str>> {
        match self.embedded_yaml {
            Some(yaml) => Ok(yaml.into()),
            None => std::fs::read_to_string(&self.path).map(Into::into),
        }
    }

    /// A new instance of the workflow (defaults applied, required inputs enforced), running at
    /// most `server_steps` server-side operations per resume.
    pub fn start(&self, inputs: &serde_json::Value, server_steps: u32) -> Result<Box<dyn Live>, StartError> {
        self.machines.start(None, inputs, Object::new(), server_steps)
    }

    /// A new instance of sub-agent task `task` (an index into [`Definition::tasks`]).
    pub fn start_task(&self, task: usize, inputs: &serde_json::Value, bindings: Object, server_steps: u32) -> Result<Box<dyn Live>, StartError> {
        self.machines.start(Some(task), inputs, bindings, server_steps)
    }

    /// A machine of the workflow (`None`) or of sub-agent task `task`, back from a snapshot.
    pub fn restore(&self, task: Option<usize>, snapshot: &Snapshot, server_steps: u32) -> Result<Box<dyn Live>, StartError> {
        self.machines.restore(task, snapshot, server_steps)
    }

    /// The declared inputs.
    pub fn inputs(&self) -> &[Input] {
        self.machines.inputs()
    }

    /// What the workflow would run (`workflow_explain_plan`): its steps in order — client or
    /// server, loop caps, fan-out points, what each writes — its computed fields with their
    /// dependencies, and the same for each sub-agent task.
    pub fn explain(&self) -> super::answers::Plan {
        use super::answers::{Plan, PlanInput, TaskPlan};
        let inputs = self
            .inputs()
            .iter()
            .map(|i| PlanInput { name: i.name.clone(), field_type: i.field_type.map(|t| t.name().to_owned()), required: i.required, default: i.default.clone() })
            .collect();
        let sub_agent_tasks = self
            .tasks
            .iter()
            .enumerate()
            .map(|(index, name)| TaskPlan { name: name.clone(), steps: self.machines.plan(Some(index)), computed: self.computed(Some(index)) })
            .collect();
        Plan {
            workflow: self.name.clone(),
            description: self.description.clone(),
            version: self.version.clone(),
            inputs,
            timeout_seconds: self.timeout_seconds,
            steps: self.machines.plan(None),
            computed: self.computed(None),
            sub_agent_tasks,
            inputs_accepted: None,
        }
    }

    /// The computed fields of the workflow (`None`) or of one of its tasks.
    pub fn computed(&self, task: Option<usize>) -> Vec<ComputedInfo> {
        self.machines.computed(task)
    }
}
