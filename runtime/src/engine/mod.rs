//! The engine: the workflows a server offers, the instances it runs, and the operations the
//! MCP tools call. It drives machines (`Machine`) and does their IO — shell commands, sub-agent
//! tasks — but knows nothing of MCP: `crate::mcp` adapts it to the protocol, so the engine is
//! tested (and usable, by `wfc run`) without a transport.

mod definition;
mod run;
pub mod shell;
pub mod tools;

use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value as Json, json};

pub use definition::{ComputedInfo, Definition, Live};
pub use run::Status;
pub use shell::ShellSettings;

use crate::machine::{ClientWrite, Event};
use crate::value::Value;
use run::Run;

/// What a tool call failed with: a code agents can branch on and a message people can read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolError {
    /// `NOT_FOUND`, `INVALID_INPUT` or `OPERATION_FAILED`.
    pub code: &'static str,
    /// What went wrong, naming the workflow, instance, task or step.
    pub message: String,
}

impl ToolError {
    /// Something named does not exist.
    pub fn not_found(message: impl Into<String>) -> Self {
        ToolError { code: "NOT_FOUND", message: message.into() }
    }

    /// The arguments are wrong, or not what the instance can take now.
    pub fn invalid(message: impl Into<String>) -> Self {
        ToolError { code: "INVALID_INPUT", message: message.into() }
    }

    /// The operation could not be done.
    pub fn failed(message: impl Into<String>) -> Self {
        ToolError { code: "OPERATION_FAILED", message: message.into() }
    }
}

/// The tools that need the compiler (`workflow_validate`, `workflow_test_transformation`,
/// `workflow_graph`); the binary provides them, so the runtime does not depend on the compiler.
pub trait Authoring: Send + Sync {
    /// Checks a workflow's YAML text: `{valid, diagnostics: [...]}`.
    fn validate(&self, yaml: &str) -> Json;
    /// Evaluates a computed-field transform with `input` bound.
    fn test_transformation(&self, transform: &str, input: &Json) -> Result<Json, String>;
    /// A Mermaid diagram of a served workflow (by name) or of YAML text.
    fn graph(&self, workflow: &str) -> Result<String, String>;
}

/// The workflows a server offers: fixed for a compiled catalog, re-read from disk in dev mode.
pub trait Catalog: Send + Sync {
    /// The workflows that can be started now.
    fn workflows(&self) -> Vec<Arc<Definition>>;
    /// Files that cannot be served, with their diagnostics (dev mode).
    fn broken(&self) -> Vec<(String, String)> {
        Vec::new()
    }
}

impl Catalog for Vec<Arc<Definition>> {
    fn workflows(&self) -> Vec<Arc<Definition>> {
        self.clone()
    }
}

/// The running instances by id; each behind its own lock, so one instance's operations are
/// serialized while different instances' run in parallel.
type Instances = HashMap<String, Arc<tokio::sync::Mutex<Run>>>;

/// A workflow server's state: the workflows it offers and the instances it runs.
pub struct Engine {
    catalog: Box<dyn Catalog>,
    instances: Mutex<Instances>,
    shell: ShellSettings,
    authoring: Option<Box<dyn Authoring>>,
}

impl Engine {
    /// An engine offering the workflows of `catalog`, running shell commands as `shell` says.
    pub fn new(catalog: Box<dyn Catalog>, shell: ShellSettings) -> Engine {
        Engine { catalog, instances: Mutex::default(), shell, authoring: None }
    }

    /// Adds the compiler-backed tools.
    pub fn with_authoring(mut self, authoring: Box<dyn Authoring>) -> Engine {
        self.authoring = Some(authoring);
        self
    }

    fn definition(&self, name: &str) -> Result<Arc<Definition>, ToolError> {
        let workflows = self.catalog.workflows();
        if let Some(found) = workflows.iter().find(|d| d.name == name) {
            return Ok(Arc::clone(found));
        }
        let names: Vec<&str> = workflows.iter().map(|d| d.name.as_str()).collect();
        let mut message = format!("no workflow `{name}` (served: {})", names.join(", "));
        for (path, diagnostics) in self.catalog.broken() {
            message.push_str(&format!("\n{path} has errors and is not served:\n{diagnostics}"));
        }
        Err(ToolError::not_found(message))
    }

    /// The instance table (held only to look up, add or list: never across an await).
    fn table(&self) -> Result<std::sync::MutexGuard<'_, Instances>, ToolError> {
        self.instances.lock().map_err(|_| ToolError::failed("the instance table is poisoned"))
    }

    fn instance(&self, workflow_id: &str) -> Result<Arc<tokio::sync::Mutex<Run>>, ToolError> {
        let instances = self.table()?;
        instances.get(workflow_id).cloned().ok_or_else(|| ToolError::not_found(format!("no workflow instance `{workflow_id}`")))
    }

    /// `workflow_list`.
    pub fn list(&self) -> Json {
        let workflows: Vec<Json> = self
            .catalog
            .workflows()
            .iter()
            .map(|d| json!({"name": d.name, "description": d.description, "version": d.version, "source": d.source, "path": d.path}))
            .collect();
        let mut answer = json!({"count": workflows.len(), "workflows": workflows});
        let broken: Vec<Json> = self.catalog.broken().into_iter().map(|(path, diagnostics)| json!({"path": path, "diagnostics": diagnostics})).collect();
        if !broken.is_empty() {
            answer["invalid"] = Json::Array(broken);
        }
        answer
    }

    /// `workflow_get_info`.
    pub fn info(&self, name: &str) -> Result<Json, ToolError> {
        let definition = self.definition(name)?;
        let inputs: serde_json::Map<String, Json> = definition
            .inputs()
            .iter()
            .map(|input| {
                let info = json!({"type": input.field_type.map(|t| t.name()), "required": input.required, "default": input.default});
                (input.name.clone(), info)
            })
            .collect();
        Ok(json!({
            "name": definition.name,
            "description": definition.description,
            "version": definition.version,
            "inputs": inputs,
            "sub_agent_tasks": definition.tasks,
            "source": definition.source,
            "loaded_from": definition.path,
            "definition_hash": definition.definition_hash,
        }))
    }

    /// `workflow_start`: a new instance; its first steps come from `workflow_get_next_step`.
    pub fn start(&self, name: &str, inputs: &Json) -> Result<Json, ToolError> {
        let definition = self.definition(name)?;
        let machine = definition.start(inputs).map_err(|e| ToolError::invalid(format!("cannot start `{name}`: {e}")))?;
        let id = new_instance_id().map_err(|e| ToolError::failed(format!("no randomness for an instance id: {e}")))?;
        let state = machine.state().to_json();
        let run = Run::new(id.clone(), definition, machine, now());
        self.table()?.insert(id.clone(), Arc::new(tokio::sync::Mutex::new(run)));
        tracing::info!(workflow = name, instance = %id, "started");
        Ok(json!({"workflow_id": id, "workflow_name": name, "status": Status::Running, "state": state}))
    }

    /// `workflow_get_next_step`.
    pub async fn next_step(&self, workflow_id: &str, task_id: Option<&str>) -> Result<Json, ToolError> {
        let run = self.instance(workflow_id)?;
        let mut run = run.lock().await;
        run.next_step(task_id, &self.shell, now()).await
    }

    /// `workflow_submit_result`: `error` says the client could not do the step (its
    /// `error_handling` decides what follows); otherwise `result` is the step's result.
    pub async fn submit_result(&self, workflow_id: &str, step_id: &str, result: Option<&Json>, error: Option<&str>, task_id: Option<&str>) -> Result<Json, ToolError> {
        let event = match error {
            Some(cause) => Event::Failed(cause.to_owned()),
            None => Event::Done(result.map(Value::from).unwrap_or(Value::Null)),
        };
        let run = self.instance(workflow_id)?;
        let mut run = run.lock().await;
        run.submit(step_id, event, task_id, &self.shell, now()).await
    }

    /// `workflow_update_state`.
    pub async fn update_state(&self, workflow_id: &str, writes: &[ClientWrite], task_id: Option<&str>) -> Result<Json, ToolError> {
        self.instance(workflow_id)?.lock().await.write(writes, task_id, now())
    }

    /// `workflow_get_status`.
    pub async fn status(&self, workflow_id: &str) -> Result<Json, ToolError> {
        Ok(self.instance(workflow_id)?.lock().await.status_json())
    }

    /// `workflow_list_active`: running instances, oldest first.
    pub async fn list_active(&self) -> Result<Json, ToolError> {
        let runs: Vec<_> = self.table()?.values().cloned().collect();
        let mut active = Vec::new();
        for run in runs {
            let run = run.lock().await;
            if run.status == Status::Running {
                active.push((run.created_at, json!({"workflow_id": run.id, "workflow_name": run.definition.name, "status": run.status, "created_at": run.created_at})));
            }
        }
        active.sort_by(|a, b| a.0.total_cmp(&b.0));
        let workflows: Vec<Json> = active.into_iter().map(|(_, json)| json).collect();
        Ok(json!({"count": workflows.len(), "workflows": workflows}))
    }

    /// `workflow_state_read`.
    pub async fn read_state(&self, workflow_id: &str, paths: &[String], task_id: Option<&str>) -> Result<Json, ToolError> {
        self.instance(workflow_id)?.lock().await.read(paths, task_id)
    }

    /// `workflow_state_dependencies`: the computed fields (or one) with what they read.
    pub async fn dependencies(&self, workflow_id: &str, field: Option<&str>, task_id: Option<&str>) -> Result<Json, ToolError> {
        let run = self.instance(workflow_id)?;
        let run = run.lock().await;
        let computed = run.definition.computed(run.task_program(task_id)?);
        let fields: Vec<ComputedInfo> = match field.map(|f| f.trim_start_matches("this.").trim_start_matches("computed.")) {
            None => computed,
            Some(name) => {
                let known: Vec<String> = computed.iter().map(|c| c.field.clone()).collect();
                let found: Vec<ComputedInfo> = computed.into_iter().filter(|c| c.field == name).collect();
                if found.is_empty() {
                    return Err(ToolError::not_found(format!("no computed field `{name}` (computed fields: {})", known.join(", "))));
                }
                found
            }
        };
        Ok(json!({"workflow_id": workflow_id, "computed": fields}))
    }

    /// `workflow_cancel`.
    pub async fn cancel(&self, workflow_id: &str) -> Result<Json, ToolError> {
        self.instance(workflow_id)?.lock().await.cancel(now())
    }

    fn authoring(&self) -> Result<&dyn Authoring, ToolError> {
        self.authoring.as_deref().ok_or_else(|| ToolError::failed("this server was started without the authoring tools"))
    }

    /// `workflow_validate`.
    pub fn validate(&self, yaml: &str) -> Result<Json, ToolError> {
        Ok(self.authoring()?.validate(yaml))
    }

    /// `workflow_test_transformation`.
    pub fn test_transformation(&self, transform: &str, input: &Json) -> Result<Json, ToolError> {
        self.authoring()?.test_transformation(transform, input).map(|output| json!({"output": output})).map_err(ToolError::invalid)
    }

    /// `workflow_graph`.
    pub fn graph(&self, workflow: &str) -> Result<Json, ToolError> {
        self.authoring()?.graph(workflow).map(|mermaid| json!({"mermaid": mermaid})).map_err(ToolError::invalid)
    }
}

/// `wf_` and 128 random bits in hex: ids cannot be guessed from one another.
fn new_instance_id() -> std::io::Result<String> {
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().fold(String::from("wf_"), |mut id, byte| {
        id.push_str(&format!("{byte:02x}"));
        id
    }))
}

/// Seconds since the Unix epoch.
fn now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}
