//! The engine: the workflows a server offers, the instances it runs, and the operations the
//! MCP tools call. It drives machines (`Machine`) and does their IO — shell commands, sub-agent
//! tasks — but knows nothing of MCP: `crate::mcp` adapts it to the protocol, so the engine is
//! tested (and usable, by `wfc run`) without a transport.

pub mod answers;
pub mod audit;
mod batch;
mod definition;
mod error;
mod execution;
pub mod long_message;
pub mod profile;
pub mod shell;
pub mod store;
pub mod tools;
mod work;

use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value as Json, json};

pub use batch::{Batch, HandedStep, Running, StepFailure};
pub use definition::{ComputedInfo, Definition, Live};
pub use error::{ErrorCode, ToolError};
pub use execution::Status;
pub use shell::ShellSettings;
pub use store::{Sqlite, Store, StoreError, Stored};

use crate::machine::{ClientWrite, Event};
use crate::value::Value;
use execution::{Context, Execution, Progress, ShellJob};
use store::Checkpoint;
use work::{Ending, Work};

/// The server's limits: each reached one is an error with code `LIMIT_EXCEEDED` (or
/// `STATE_TOO_LARGE`), never a crash or a silent cut.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limits {
    /// Instances running at once (started, not yet ended).
    pub max_active_instances: u64,
    /// Bytes of one instance's stored record: its state and its tasks' states, as JSON.
    pub max_state_bytes: usize,
    /// Sub-agent tasks one `parallel_foreach` may start.
    pub max_tasks_per_step: usize,
    /// Seconds an ended instance is kept before the sweep removes it.
    pub keep_finished_seconds: f64,
    /// Server-side operations one request may run in one machine before it reaches a client
    /// step; a loop of server steps that goes past it fails its workflow.
    pub max_server_steps: u32,
    /// The share of a time limit (the workflow's, a fan-out's) after which answers warn of it.
    pub limit_warning_at: f64,
    /// Bytes of a message or prompt handed out in one piece; a longer one is split or
    /// truncated as its step's `long_message` says ([`long_message`]).
    pub max_message_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_active_instances: 10_000,
            max_state_bytes: 16 * 1024 * 1024,
            max_tasks_per_step: 1_000,
            keep_finished_seconds: 86_400.0,
            max_server_steps: crate::machine::DEFAULT_SERVER_STEP_BUDGET,
            limit_warning_at: 0.8,
            max_message_bytes: long_message::DEFAULT_MAX_MESSAGE_BYTES,
        }
    }
}

/// The tools that need the compiler (`workflow_validate`, `workflow_test_transformation`,
/// `workflow_graph`); the binary provides them, so the runtime does not depend on the compiler.
pub trait Authoring: Send + Sync {
    /// Checks a workflow's YAML text as `wfc check` does.
    fn validate(&self, yaml: &str) -> answers::Validation;
    /// Evaluates a computed-field transform with `input` bound.
    fn test_transformation(&self, transform: &str, input: &Json) -> Result<Json, String>;
    /// A Mermaid diagram of a served workflow (by name) or of YAML text.
    fn graph(&self, workflow: &str) -> Result<String, String>;
    /// The workflow format's JSON Schema (`wfc schema`).
    fn format_schema(&self) -> &Json;
}

/// The workflows a server offers: fixed for a compiled catalog, re-read from disk in dev mode.
pub trait Catalog: Send + Sync {
    /// The workflows that can be started now.
    fn workflows(&self) -> Vec<Arc<Definition>>;
    /// Files that cannot be served, with their diagnostics (dev mode).
    fn broken(&self) -> Vec<(String, String)> {
        Vec::new()
    }
    /// For a catalog that changes while it is served (dev mode): a number that changes when
    /// what it serves does, looked up now. `None` for one that never changes.
    fn revision(&self) -> Option<u64> {
        None
    }
}

/// A catalog shared with whoever reloads it (`wfc serve --workflows` on SIGHUP).
impl<C: Catalog + ?Sized> Catalog for Arc<C> {
    fn workflows(&self) -> Vec<Arc<Definition>> {
        (**self).workflows()
    }

    fn broken(&self) -> Vec<(String, String)> {
        (**self).broken()
    }

    fn revision(&self) -> Option<u64> {
        (**self).revision()
    }
}

impl Catalog for Vec<Arc<Definition>> {
    fn workflows(&self) -> Vec<Arc<Definition>> {
        self.clone()
    }
}

/// A client's result for a step (`workflow_submit_result`).
#[derive(Clone, Copy, Debug)]
pub struct Submit<'a> {
    /// The step the result is for.
    pub step_id: &'a str,
    /// The step's `sequence`, if the client echoes it.
    pub sequence: Option<u64>,
    /// The result.
    pub result: Option<&'a Json>,
    /// Why the client could not do the step, instead of a result.
    pub error: Option<&'a str>,
    /// The sub-agent task the step belongs to.
    pub task_id: Option<&'a str>,
}

/// The running instances by id; each behind its own lock, so one instance's operations are
/// serialized while different instances' run in parallel.
type Instances = HashMap<String, Slot>;

/// One instance's place in the table.
type Slot = Arc<tokio::sync::Mutex<Execution>>;

/// How long a step request waits for server-side work by default (`--answer-within`): under
/// the request timeouts of the common MCP clients (60 s in the TypeScript SDK).
pub const DEFAULT_ANSWER_WITHIN: std::time::Duration = std::time::Duration::from_secs(25);

/// Who hears of server-side work while it runs: the MCP layer turns this into progress
/// notifications for the request that waits, and log messages for the session.
pub trait Observer: Send + Sync {
    /// Where a command stands, about every second while a request waits on it.
    fn progress(&self, running: &Running);
    /// A shell command of step `step_id` starts.
    fn shell_started(&self, step_id: &str, command: &str);
    /// It ended after `seconds`, with `output`.
    fn shell_finished(&self, step_id: &str, seconds: f64, output: &crate::machine::ShellOutput);
}

/// How often a waiting request hears of the work it waits on.
/// Commits a slow listener of [`Engine::commits`] may fall behind by before it misses some (it
/// is told it lagged, and re-reads what it watches).
const COMMITS_HEARD: usize = 1024;

const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Waits until `work` ends or `deadline` passes, telling `observer` where it stands every
/// [`PROGRESS_EVERY`]; says whether it ended.
async fn wait_for(work: &Work, deadline: tokio::time::Instant, observer: Option<&Arc<dyn Observer>>) -> bool {
    loop {
        let tick = deadline.min(tokio::time::Instant::now() + PROGRESS_EVERY);
        if work.wait_until(tick).await {
            return true;
        }
        if tick >= deadline {
            return false;
        }
        if let Some(observer) = observer {
            observer.progress(&work.report());
        }
    }
}

/// What requests run under, apart from the store.
#[derive(Clone, Debug)]
struct Settings {
    /// Shared by every copy of the settings, so that a reload ([`Engine::set_limits`]) reaches
    /// the work carried on in tasks of its own too.
    limits: Arc<std::sync::RwLock<Limits>>,
    /// Serial mode (`wfc serve --serial`): sub-agent tasks are handed to the main agent one
    /// step at a time, and every answer holds one step.
    serial: bool,
    /// Whether each instance's execution history is kept (`workflow_history`).
    history: bool,
    /// The longest a step request waits for server-side work before it answers that the work
    /// is running.
    answer_within: std::time::Duration,
    /// Told the id of every instance committed, for whoever listens ([`Engine::commits`]).
    commits: tokio::sync::broadcast::Sender<String>,
    /// Where every committed history entry is appended (`--audit-log`).
    audit: Option<Arc<audit::AuditLog>>,
}

impl Settings {
    /// The limits in force.
    fn limits(&self) -> Limits {
        *self.limits.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn context<'a>(&'a self, store: &'a dyn Store) -> Context<'a> {
        let limits = self.limits();
        Context {
            store,
            commits: &self.commits,
            max_record_bytes: limits.max_state_bytes,
            max_tasks_per_step: limits.max_tasks_per_step,
            max_server_steps: limits.max_server_steps,
            limit_warning_at: limits.limit_warning_at,
            max_message_bytes: limits.max_message_bytes,
            actor: ACTOR.try_with(store::Actor::clone).unwrap_or_default(),
            audit: self.audit.as_deref(),
            serial: self.serial,
            history: self.history,
            now: now(),
            jitter: shell::jitter(),
        }
    }
}

tokio::task_local! {
    /// Who causes what the current request does: set by the MCP server around each tool call
    /// (the client, its session, transport and address) and by `wfc run`; the history records
    /// it on every entry the request makes. Unset — work carried on after an answer, the
    /// sweep — it is the server.
    pub static ACTOR: store::Actor;
}

/// What carries server-side work on in a task of its own, after the request that started it
/// may have answered (see [`work`]).
#[derive(Clone)]
struct Carrier {
    store: Arc<dyn Store>,
    shell: ShellSettings,
    instances: Arc<Mutex<Instances>>,
    settings: Settings,
    observer: Option<Arc<dyn Observer>>,
}

impl Carrier {
    /// Runs `job` and the commands that follow it, each output handed to the instance in
    /// `slot`; the outcome goes to whoever waits for `work`.
    async fn carry(self, slot: Slot, work: Arc<Work>, ending: Ending, mut job: ShellJob) {
        loop {
            tokio::time::sleep(job.delay).await;
            let started = std::time::Instant::now();
            let command = &job.command;
            if let Some(observer) = &self.observer {
                observer.shell_started(&command.step_id, &command.command);
            }
            let output = shell::run(&self.shell, &command.command, command.working_directory.as_deref(), command.timeout_seconds, &work.watch).await;
            let seconds = started.elapsed().as_secs_f64();
            if let Some(observer) = &self.observer {
                observer.shell_finished(&command.step_id, seconds, &output);
            }
            let mut run = slot.lock().await;
            let mut handoff = work.handoff();
            if run.discarded {
                let message = format!("instance `{}` was replaced while `{}` ran; its output was dropped", run.id, job.command.step_id);
                handoff.outcome = Some(Err(ToolError::failed(message)));
                break;
            }
            if handoff.detached {
                job.detach();
            }
            let progress = run.ran(job, output, seconds, &self.settings.context(self.store.as_ref()));
            match progress {
                Ok(Progress::Run(next)) => {
                    work.now_running(&next);
                    job = next;
                    continue;
                }
                Ok(Progress::Answer(batch)) => handoff.outcome = Some(Ok(batch)),
                Ok(Progress::Parked) => {}
                Err(error) => {
                    if error.reverts() {
                        discard(&mut run, &self.instances, &error);
                    }
                    handoff.outcome = Some(Err(error));
                }
            }
            run.work = None;
            break;
        }
        ending.ended();
    }
}

/// Drops this copy of an instance whose changes could not be committed: it leaves the table,
/// and requests waiting for it load the instance again from its last commit.
fn discard(run: &mut Execution, instances: &Mutex<Instances>, error: &ToolError) {
    tracing::warn!(instance = %run.id, code = %error.code, cause = %error.message, "changes dropped; the instance goes on from its last commit");
    run.discarded = true;
    if let Ok(mut table) = instances.lock() {
        table.remove(&run.id);
    }
}

/// A workflow server's state: the workflows it offers and the instances it runs. The store
/// holds every instance; the table holds the ones in use, loaded from the store on first use
/// (after a restart, or after a copy was dropped because it could not be committed).
pub struct Engine {
    catalog: Box<dyn Catalog>,
    instances: Arc<Mutex<Instances>>,
    shell: ShellSettings,
    store: Arc<dyn Store>,
    settings: Settings,
    authoring: Option<Arc<dyn Authoring>>,
    /// How many authoring requests compile or evaluate at once: they run on blocking threads,
    /// never on the workers that answer steps, and this keeps them from taking every core.
    authoring_slots: Arc<tokio::sync::Semaphore>,
}

impl Engine {
    /// An engine offering the workflows of `catalog`, running shell commands as `shell` says,
    /// keeping instances in `store`.
    pub fn new(catalog: Box<dyn Catalog>, shell: ShellSettings, store: Box<dyn Store>) -> Engine {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let authoring_slots = Arc::new(tokio::sync::Semaphore::new(cores.saturating_sub(1).max(1)));
        let settings = Settings {
            limits: Arc::default(),
            serial: false,
            history: true,
            answer_within: DEFAULT_ANSWER_WITHIN,
            commits: tokio::sync::broadcast::channel(COMMITS_HEARD).0,
            audit: None,
        };
        Engine { catalog, instances: Arc::default(), shell, store: Arc::from(store), settings, authoring: None, authoring_slots }
    }

    /// How long a step request waits for server-side work (a long shell command) before it
    /// answers that the work is running; the work goes on, and the next request picks up where
    /// it stands.
    pub fn with_answer_within(mut self, answer_within: std::time::Duration) -> Engine {
        self.settings.answer_within = answer_within;
        self
    }

    /// Whether each instance's execution history is kept (on by default).
    pub fn with_history(mut self, history: bool) -> Engine {
        self.settings.history = history;
        self
    }

    /// Serial mode: the main agent does the sub-agent tasks itself, one step per answer, for
    /// agents that cannot start sub-agents (and for debugging).
    pub fn with_serial(mut self, serial: bool) -> Engine {
        self.settings.serial = serial;
        self
    }

    /// Sets the limits.
    pub fn with_limits(mut self, limits: Limits) -> Engine {
        self.settings.limits = Arc::new(std::sync::RwLock::new(limits));
        self
    }

    /// Changes the limits of a running engine (a configuration reload): requests from now on,
    /// and work carried on after an answer, run under them.
    pub fn set_limits(&self, limits: Limits) {
        *self.settings.limits.write().unwrap_or_else(std::sync::PoisonError::into_inner) = limits;
    }

    /// Appends every committed history entry to `audit` as a JSON line (`--audit-log`).
    pub fn with_audit_log(mut self, audit: audit::AuditLog) -> Engine {
        self.settings.audit = Some(Arc::new(audit));
        self
    }

    /// Adds the compiler-backed tools.
    pub fn with_authoring(mut self, authoring: Arc<dyn Authoring>) -> Engine {
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

    fn context(&self) -> Context<'_> {
        self.settings.context(self.store.as_ref())
    }

    fn carrier(&self, observer: Option<&Arc<dyn Observer>>) -> Carrier {
        Carrier { store: Arc::clone(&self.store), shell: self.shell.clone(), instances: Arc::clone(&self.instances), settings: self.settings.clone(), observer: observer.cloned() }
    }

    /// The instance `workflow_id`, from the table or else from the store.
    fn instance(&self, workflow_id: &str) -> Result<Arc<tokio::sync::Mutex<Execution>>, ToolError> {
        if let Some(run) = self.table()?.get(workflow_id) {
            return Ok(Arc::clone(run));
        }
        let stored = self.stored(workflow_id)?;
        let mut run = self.restore(&stored, false)?;
        if self.settings.history {
            let written = self.store.history_end(workflow_id).map_err(|e| ToolError::store(e.to_string()))?;
            run.lost_history(written, &self.context());
        }
        Ok(Arc::clone(self.table()?.entry(workflow_id.to_owned()).or_insert_with(|| Arc::new(tokio::sync::Mutex::new(run)))))
    }

    fn stored(&self, workflow_id: &str) -> Result<Stored, ToolError> {
        let stored = self.store.get(workflow_id).map_err(|e| ToolError::store(e.to_string()))?;
        stored.ok_or_else(|| ToolError::not_found(format!("no workflow instance `{workflow_id}`")))
    }

    /// A stored instance back as a running one, under the definition now served; a changed
    /// definition is refused unless `force`.
    fn restore(&self, stored: &Stored, force: bool) -> Result<Execution, ToolError> {
        let definition = self.definition(&stored.workflow).map_err(|e| {
            ToolError::failed(format!("instance `{}` runs `{}`, which this server does not serve: {}", stored.id, stored.workflow, e.message))
        })?;
        if definition.definition_hash != stored.definition_hash && !force {
            return Err(ToolError::new(
                ErrorCode::DefinitionChanged,
                format!(
                    "instance `{}` was started under another definition of `{}` (hash {}; now {}); \
                     workflow_resume with force: true continues it under the new one",
                    stored.id, stored.workflow, stored.definition_hash, definition.definition_hash
                ),
            ));
        }
        Execution::restore(stored, definition, self.settings.limits().max_server_steps).map_err(ToolError::failed)
    }

    /// Instance `workflow_id` under its lock (a copy dropped meanwhile is loaded again).
    async fn lock(&self, workflow_id: &str) -> Result<(Slot, tokio::sync::OwnedMutexGuard<Execution>), ToolError> {
        loop {
            let slot = self.instance(workflow_id)?;
            let guard = Arc::clone(&slot).lock_owned().await;
            if !guard.discarded {
                return Ok((slot, guard));
            }
        }
    }

    /// `result` of an operation on `run`; when its changes could not be committed, this copy
    /// is dropped: the instance goes on from its last commit.
    fn kept<T>(&self, run: &mut Execution, result: Result<T, ToolError>) -> Result<T, ToolError> {
        if let Err(error) = &result
            && error.reverts()
        {
            discard(run, &self.instances, error);
        }
        result
    }

    /// Runs `operation` on instance `workflow_id` under its lock.
    async fn operate<T>(&self, workflow_id: &str, operation: impl FnOnce(&mut Execution, &Context<'_>) -> Result<T, ToolError>) -> Result<T, ToolError> {
        let (_, mut run) = self.lock(workflow_id).await?;
        let result = operation(&mut run, &self.context());
        self.kept(&mut run, result)
    }

    /// Runs step request `request` on instance `workflow_id` (a task's, if `task_id`): the
    /// instance says what the request needs next (see [`Progress`]); a shell command runs in a
    /// task of its own, without the instance's lock. The answer comes within
    /// `--answer-within`: when the work takes longer, it says the work is running, and the
    /// work goes on (see [`work`]). `observer` hears of the work meanwhile.
    async fn drive(
        &self,
        workflow_id: &str,
        task_id: Option<&str>,
        observer: Option<&Arc<dyn Observer>>,
        request: impl FnOnce(&mut Execution, &Context<'_>) -> Result<Progress, ToolError>,
    ) -> Result<Batch, ToolError> {
        let deadline = tokio::time::Instant::now() + self.settings.answer_within;
        let running = |work: &Work| work.running_answer(workflow_id, task_id);
        // Work in flight (another request's, or one that outlived its request) goes first.
        let (slot, mut run) = loop {
            let (slot, mut run) = self.lock(workflow_id).await?;
            match run.work.clone() {
                Some(work) if !work.is_over() => {
                    drop(run);
                    if !wait_for(&work, deadline, observer).await {
                        return Ok(running(&work));
                    }
                }
                _ => {
                    run.work = None;
                    break (slot, run);
                }
            }
        };
        let progress = request(&mut run, &self.context());
        let job = match self.kept(&mut run, progress)? {
            Progress::Answer(batch) => return Ok(batch),
            Progress::Run(job) => job,
            Progress::Parked => return Err(ToolError::failed("the request was answered before it ended")),
        };
        let (work, ending) = Work::start(&job);
        run.work = Some(Arc::clone(&work));
        drop(run);
        tokio::spawn(self.carrier(observer).carry(slot, Arc::clone(&work), ending, job));
        // Detached when this request stops waiting, whether it answers "running" or is dropped
        // (its client went away): the work then keeps its steps for the next request.
        let _detach = work.detach_when_dropped();
        wait_for(&work, deadline, observer).await;
        // Taken, or detached, under one lock: the work cannot answer in between.
        let outcome = work.take_or_detach();
        match outcome {
            Some(outcome) => outcome,
            None => Ok(running(&work)),
        }
    }

    /// The ids of the instances committed from now on, each as its commit lands (for resource
    /// subscriptions). A receiver that falls more than a thousand behind is told it lagged.
    pub fn commits(&self) -> tokio::sync::broadcast::Receiver<String> {
        self.settings.commits.subscribe()
    }

    /// See [`Catalog::revision`].
    pub fn catalog_revision(&self) -> Option<u64> {
        self.catalog.revision()
    }

    /// The format's JSON Schema, when the compiler-backed tools are there.
    pub fn format_schema(&self) -> Option<&Json> {
        self.authoring.as_deref().map(|authoring| authoring.format_schema())
    }

    /// The workflows served now (the embedded catalog's, or a directory's as it stands).
    pub fn workflows(&self) -> Vec<Arc<Definition>> {
        self.catalog.workflows()
    }

    /// `workflow_list`.
    pub fn list(&self) -> answers::WorkflowList {
        let workflows: Vec<answers::WorkflowSummary> = self
            .catalog
            .workflows()
            .iter()
            .map(|d| answers::WorkflowSummary { name: d.name.clone(), description: d.description.clone(), version: d.version.clone(), source: d.source.to_owned(), path: d.path.clone() })
            .collect();
        let invalid = self.catalog.broken().into_iter().map(|(path, diagnostics)| answers::InvalidFile { path, diagnostics }).collect();
        answers::WorkflowList { count: workflows.len(), workflows, invalid }
    }

    /// `workflow_get_info`.
    pub fn info(&self, name: &str) -> Result<answers::WorkflowInfo, ToolError> {
        let definition = self.definition(name)?;
        let inputs = definition
            .inputs()
            .iter()
            .map(|input| {
                let info = answers::InputInfo { field_type: input.field_type.map(|t| t.name().to_owned()), required: input.required, default: input.default.clone() };
                (input.name.clone(), info)
            })
            .collect();
        Ok(answers::WorkflowInfo {
            name: definition.name.clone(),
            description: definition.description.clone(),
            version: definition.version.clone(),
            inputs,
            sub_agent_tasks: definition.tasks.clone(),
            source: definition.source.to_owned(),
            loaded_from: definition.path.clone(),
            definition_hash: definition.definition_hash.clone(),
        })
    }

    /// `workflow_explain_plan`: what `name` would run; with `inputs`, whether they would start it.
    pub fn explain(&self, name: &str, inputs: Option<&Json>) -> Result<answers::Plan, ToolError> {
        let definition = self.definition(name)?;
        let mut plan = definition.explain();
        plan.inputs_accepted = inputs.map(|inputs| match definition.start(inputs, self.settings.limits().max_server_steps) {
            Ok(_) => json!(true),
            Err(error) => json!({"refused": error.to_string()}),
        });
        Ok(plan)
    }

    /// `workflow_start`: a new instance; its first steps come from `workflow_get_next_step`.
    pub async fn start(&self, name: &str, inputs: &Json) -> Result<answers::Started, ToolError> {
        let definition = self.definition(name)?;
        let running = self.store.running_count().map_err(|e| ToolError::store(e.to_string()))?;
        if running >= self.settings.limits().max_active_instances {
            return Err(ToolError::limit(format!(
                "{running} workflow instances are running, the limit (--max-active-instances); finish or cancel one first"
            )));
        }
        let machine = definition.start(inputs, self.settings.limits().max_server_steps).map_err(|e| ToolError::invalid(format!("cannot start `{name}`: {e}")))?;
        let id = new_instance_id().map_err(|e| ToolError::failed(format!("no randomness for an instance id: {e}")))?;
        let state = machine.state().to_json();
        let cx = self.context();
        let mut run = Execution::new(id.clone(), definition, machine, cx.now);
        run.started(&cx);
        run.save(&cx)?;
        self.table()?.insert(id.clone(), Arc::new(tokio::sync::Mutex::new(run)));
        metrics::counter!("wfc_instances_started_total", "workflow" => name.to_owned()).increment(1);
        tracing::info!(workflow = name, instance = %id, "started");
        Ok(answers::Started { workflow_id: id, workflow_name: name.to_owned(), status: Status::Running, state })
    }

    /// `workflow_get_next_step`; `observer` hears of server-side work while the request waits.
    pub async fn next_step(&self, workflow_id: &str, task_id: Option<&str>, observer: Option<&Arc<dyn Observer>>) -> Result<Batch, ToolError> {
        self.drive(workflow_id, task_id, observer, |run, cx| run.next_step(task_id, cx)).await
    }

    /// `workflow_submit_result`: `error` says the client could not do the step (its
    /// `error_handling` decides what follows); otherwise `result` is the step's result.
    /// `sequence`, when the client echoes the step's, tells a resubmission from the result of
    /// the same step handed out again by a loop.
    pub async fn submit_result(&self, workflow_id: &str, submitted: Submit<'_>, observer: Option<&Arc<dyn Observer>>) -> Result<Batch, ToolError> {
        let event = match submitted.error {
            Some(cause) => Event::Failed(cause.to_owned()),
            None => Event::Done(submitted.result.map(Value::from).unwrap_or(Value::Null)),
        };
        self.drive(workflow_id, submitted.task_id, observer, |run, cx| run.submit(submitted.step_id, submitted.sequence, event, submitted.task_id, cx)).await
    }

    /// `workflow_update_state`.
    pub async fn update_state(&self, workflow_id: &str, writes: &[ClientWrite], task_id: Option<&str>) -> Result<answers::StateWritten, ToolError> {
        self.operate(workflow_id, |run, cx| run.write(writes, task_id, cx)).await
    }

    /// `workflow_get_status`.
    pub async fn status(&self, workflow_id: &str) -> Result<answers::InstanceStatus, ToolError> {
        self.operate(workflow_id, |run, _| Ok(run.status())).await
    }

    /// `workflow_list_active`: running instances, oldest first (from the store, so instances
    /// not touched since a restart are listed too).
    pub async fn list_active(&self) -> Result<answers::ActiveList, ToolError> {
        let running = self.store.running().map_err(|e| ToolError::store(e.to_string()))?;
        // Read once: in dev mode, listing the workflows looks at their files.
        let served = self.catalog.workflows();
        let workflows: Vec<answers::ActiveInstance> = running
            .into_iter()
            .map(|stored| {
                let current = served.iter().any(|d| d.name == stored.workflow && d.definition_hash == stored.definition_hash);
                answers::ActiveInstance {
                    needs_force_resume: (!current).then(|| "its workflow definition changed since it started".to_owned()),
                    workflow_id: stored.id,
                    workflow_name: stored.workflow,
                    status: stored.status,
                    created_at: stored.created_at,
                    version: stored.version,
                }
            })
            .collect();
        Ok(answers::ActiveList { count: workflows.len(), workflows })
    }

    /// `workflow_state_read`.
    pub async fn read_state(&self, workflow_id: &str, paths: &[String], task_id: Option<&str>) -> Result<answers::StateRead, ToolError> {
        self.operate(workflow_id, |run, _| run.read(paths, task_id)).await
    }

    /// `workflow_state_dependencies`: the computed fields (or one) with what they read.
    pub async fn dependencies(&self, workflow_id: &str, field: Option<&str>, task_id: Option<&str>) -> Result<answers::ComputedFields, ToolError> {
        self.operate(workflow_id, |run, _| Self::computed_fields(run, workflow_id, field, task_id)).await
    }

    fn computed_fields(run: &Execution, workflow_id: &str, field: Option<&str>, task_id: Option<&str>) -> Result<answers::ComputedFields, ToolError> {
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
        Ok(answers::ComputedFields { workflow_id: workflow_id.to_owned(), computed: fields })
    }

    /// `workflow_cancel`.
    pub async fn cancel(&self, workflow_id: &str) -> Result<answers::Cancelled, ToolError> {
        self.operate(workflow_id, |run, cx| run.cancel(cx)).await
    }

    /// `workflow_history`: an instance's execution history (of one task, if given), entries
    /// numbered after `since`.
    pub async fn history(&self, workflow_id: &str, task_id: Option<&str>, since: u64) -> Result<answers::History, ToolError> {
        let stored = self.stored(workflow_id)?;
        let events = stored_history(self.store.as_ref(), &stored, task_id, since).map_err(|e| ToolError::store(e.to_string()))?;
        let mut answer = history_answer(&stored, events);
        if !self.settings.history {
            answer.note = Some("this server keeps no history (--no-history)".to_owned());
        }
        Ok(answer)
    }

    /// Whether the store holds instance `workflow_id` (running or ended).
    pub fn has_instance(&self, workflow_id: &str) -> Result<bool, ToolError> {
        self.store.get(workflow_id).map(|stored| stored.is_some()).map_err(|e| ToolError::store(e.to_string()))
    }

    /// `workflow_profile`: where instance `workflow_id` spent its time, from its history.
    pub async fn profile(&self, workflow_id: &str) -> Result<answers::Profile, ToolError> {
        let stored = self.stored(workflow_id)?;
        let events = stored_history(self.store.as_ref(), &stored, None, 0).map_err(|e| ToolError::store(e.to_string()))?;
        Ok(profile::profile(&stored.id, &stored.workflow, &stored.status, &events))
    }

    /// `workflow_checkpoint`: keeps the instance as it stands under `name` (default
    /// `cp_<version>`), for `workflow_resume` to go back to.
    pub async fn checkpoint(&self, workflow_id: &str, name: Option<&str>, reason: Option<&str>) -> Result<answers::CheckpointTaken, ToolError> {
        self.operate(workflow_id, |run, cx| {
            let stored = self.stored(&run.id)?;
            let name = name.map_or_else(|| format!("cp_{}", stored.version), str::to_owned);
            let step_id = run.current_step().map(str::to_owned);
            let checkpoint = Checkpoint { name: name.clone(), step_id: step_id.clone(), reason: reason.map(str::to_owned), created_at: cx.now, instance: stored };
            self.store.save_checkpoint(&checkpoint).map_err(|e| ToolError::new(ErrorCode::CheckpointFailed, e.to_string()))?;
            Ok(answers::CheckpointTaken {
                checkpoint_id: name,
                workflow_id: run.id.clone(),
                step_id,
                reason: reason.map(str::to_owned),
                created_at: cx.now,
                version: checkpoint.instance.version,
            })
        })
        .await
    }

    /// `workflow_resume`: continues an instance from the store — as last committed, or as
    /// checkpoint `checkpoint` kept it — under the definition now served; a changed definition
    /// needs `force`. The next steps come from `workflow_get_next_step`.
    pub async fn resume(&self, workflow_id: &str, checkpoint: Option<&str>, force: bool) -> Result<answers::Resumed, ToolError> {
        let current = self.stored(workflow_id)?;
        let from = match checkpoint {
            None => current.clone(),
            Some(name) => {
                let found = self.store.checkpoint(workflow_id, name).map_err(|e| ToolError::store(e.to_string()))?;
                found.ok_or_else(|| ToolError::not_found(format!("instance `{workflow_id}` has no checkpoint `{name}`")))?.instance
            }
        };
        let served = self.definition(&current.workflow).ok().map(|d| d.definition_hash.clone());
        if checkpoint.is_none() && !force && served.as_deref() == Some(current.definition_hash.as_str()) {
            let status = self.status(workflow_id).await?;
            return Ok(answers::Resumed {
                resumed: true,
                workflow_id: workflow_id.to_owned(),
                status: status.status,
                current_step: status.current_step,
                version: status.version,
                checkpoint: None,
                message: "the instance continues from its last committed step: call workflow_get_next_step".to_owned(),
            });
        }
        let mut restored = self.restore(&from, force)?;
        // The copy in use (if any) is locked while it is replaced, and marked, so requests
        // waiting for it load the restored one instead.
        let in_use = self.table()?.get(workflow_id).cloned();
        let mut replaced = match in_use {
            Some(slot) => Some(slot.lock_owned().await),
            None => None,
        };
        let latest = self.stored(workflow_id)?;
        let cx = self.context();
        restored.version = latest.version;
        restored.resumed(execution::history_seq(&latest), checkpoint, force, &cx);
        restored.save(&cx)?;
        if let Some(old) = replaced.as_mut() {
            old.discarded = true;
        }
        let run = Arc::new(tokio::sync::Mutex::new(restored));
        self.table()?.insert(workflow_id.to_owned(), Arc::clone(&run));
        let run = run.lock().await;
        Ok(answers::Resumed {
            resumed: true,
            workflow_id: workflow_id.to_owned(),
            status: run.status,
            current_step: run.current_step().map(str::to_owned),
            version: run.version,
            checkpoint: checkpoint.map(str::to_owned),
            message: "the instance continues from the restored step: call workflow_get_next_step".to_owned(),
        })
    }

    /// Whether the store answers, and how many instances are running (`/healthz`, and the
    /// `wfc_instances_active` gauge).
    pub fn running(&self) -> Result<u64, ToolError> {
        let running = self.store.running_count().map_err(|e| ToolError::store(e.to_string()))?;
        metrics::gauge!("wfc_instances_active").set(running as f64);
        Ok(running)
    }

    /// Writes the history entries the store still holds back (when the server stops).
    pub fn flush(&self) -> Result<(), ToolError> {
        self.store.flush().map_err(|e| ToolError::store(e.to_string()))
    }

    /// Removes instances that ended more than the kept time ago; returns how many.
    pub fn sweep(&self) -> Result<usize, ToolError> {
        let removed = self.store.sweep(now() - self.settings.limits().keep_finished_seconds).map_err(|e| ToolError::store(e.to_string()))?;
        let mut table = self.table()?;
        for id in &removed {
            table.remove(id);
        }
        Ok(removed.len())
    }

    /// Runs `job` with the authoring tools on a blocking thread, once a slot is free: compiling
    /// a client's YAML or evaluating its expression is bounded (sizes, nesting, the evaluation
    /// budget) but not instant, and must not hold up the workers that answer steps or signals.
    async fn authoring<T: Send + 'static>(&self, job: impl FnOnce(&dyn Authoring) -> T + Send + 'static) -> Result<T, ToolError> {
        let authoring = self.authoring.clone().ok_or_else(|| ToolError::failed("this server was started without the authoring tools"))?;
        let _slot = self.authoring_slots.acquire().await.map_err(|_| ToolError::failed("the server is shutting down"))?;
        tokio::task::spawn_blocking(move || job(authoring.as_ref())).await.map_err(|e| ToolError::failed(format!("the authoring tool failed: {e}")))
    }

    /// `workflow_validate`.
    pub async fn validate(&self, yaml: String) -> Result<answers::Validation, ToolError> {
        self.authoring(move |tools| tools.validate(&yaml)).await
    }

    /// `workflow_test_transformation`.
    pub async fn test_transformation(&self, transform: String, input: Json) -> Result<answers::Transformed, ToolError> {
        let output = self.authoring(move |tools| tools.test_transformation(&transform, &input)).await?;
        output.map(|output| answers::Transformed { output }).map_err(ToolError::invalid)
    }

    /// `workflow_graph`.
    pub async fn graph(&self, workflow: String) -> Result<answers::Graph, ToolError> {
        // A workflow served from a file (`--dev`, `--workflows`) is drawn from that file; the
        // authoring tools know the embedded catalog's names, and read anything else as YAML.
        let served = self.catalog.workflows().into_iter().find(|d| d.name == workflow && d.source != "compiled");
        let workflow = match served {
            Some(definition) => std::fs::read_to_string(&definition.path).map_err(|e| ToolError::failed(format!("cannot read {}: {e}", definition.path)))?,
            None => workflow,
        };
        let mermaid = self.authoring(move |tools| tools.graph(&workflow)).await?;
        mermaid.map(|mermaid| answers::Graph { mermaid }).map_err(ToolError::invalid)
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

/// Stored instance `stored`'s history, as `workflow_history` answers it and `wfc history`
/// prints it: its entries from `store`, of one task if given, numbered after `since`. Entries
/// lost with a server that stopped before writing them, of an instance that has not committed
/// since — one that had ended never will — are said by a `lost` entry under the first missing
/// number. (An instance that went on committed a `lost` entry itself.)
pub fn stored_history(store: &dyn Store, stored: &Stored, task_id: Option<&str>, since: u64) -> Result<Vec<store::HistoryEvent>, StoreError> {
    let mut events = store.history(&stored.id, task_id, since)?;
    let made = execution::history_seq(stored);
    let written = store.history_end(&stored.id)?;
    if written < made && task_id.is_none() && since <= written {
        let detail = execution::lost_entries(written, made);
        events.push(store::HistoryEvent { seq: written + 1, at: now(), task_id: None, kind: "lost".to_owned(), step_id: None, detail, actor: store::Actor::default() });
    }
    Ok(events)
}

/// The `workflow_history` answer: instance `stored` and its history `events`.
pub fn history_answer(stored: &Stored, events: Vec<store::HistoryEvent>) -> answers::History {
    answers::History { workflow_id: stored.id.clone(), workflow_name: stored.workflow.clone(), status: stored.status.clone(), count: events.len(), events, note: None }
}

/// Seconds since the Unix epoch.
fn now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}
