//! One workflow instance as the engine drives it: its machine, where the machine waits, its
//! sub-agent tasks, and the batching protocol (aromcp-reference.md §2.3): an answer is zero or
//! more `user_message`s and at most one blocking step, with server steps (shell commands,
//! control flow, updates) run in between.
//!
//! Every step boundary is committed to the store before the instance goes on: before a shell
//! command runs (so a crash during it re-runs it, and loses nothing before it) and when a
//! request is answered. Steps produced but not yet handed out are part of the record, so a
//! crash in the middle of a batch loses none of them.
//!
//! This is the protocol without its IO, in the manner of quinn-proto: a request
//! ([`Execution::next_step`], [`Execution::submit`]) runs until it is answered or needs a
//! shell command run, and says which ([`Progress`]); the driver (`super::driver`) runs the
//! command and hands its output back ([`Execution::ran`]). Time comes in with the
//! [`Context`], so everything here is tested in process, without a runtime or a clock.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use super::answers::{Cancelled, InstanceStatus, StateRead, StateWritten};
use super::batch::{Batch, HandedStep, LimitWarning, StepFailure};
use super::definition::{Definition, Live};
use super::{long_message, shell};
use super::audit::AuditLog;
use super::store::{Actor, HistoryEvent, Store, Stored};
use super::work::Work;
use super::{ErrorCode, ToolError};
use crate::machine::update;
use crate::machine::{ClientStep, ClientWrite, Event, ShellCommand, ShellOutput, State, StepError};
use crate::value::{Object, Value};

mod driven;
mod fan_out;
mod record;
#[cfg(test)]
mod tests;

use driven::{At, Driven, Submission, Submitted, handed_step};
use fan_out::{FanOut, Task, failed_task, sub_agent_prompt};

pub(crate) use record::history_seq;

/// What a request needs besides the instance: where the instance is committed, how large it
/// may grow, the time, and a random number.
pub(crate) struct Context<'a> {
    pub(crate) store: &'a dyn Store,
    /// Where the id of each instance committed is told (when anyone listens).
    pub(crate) commits: &'a tokio::sync::broadcast::Sender<String>,
    /// The largest record (the instance as JSON, every task included) that is committed.
    pub(crate) max_record_bytes: usize,
    /// The most sub-agent tasks one `parallel_foreach` may start.
    pub(crate) max_tasks_per_step: usize,
    /// Server-side operations one resume of a machine may run.
    pub(crate) max_server_steps: u32,
    /// The share of a time limit after which it is warned of (`--limit-warning-at`).
    pub(crate) limit_warning_at: f64,
    /// Bytes of a message or prompt handed out in one piece (`--max-message-bytes`).
    pub(crate) max_message_bytes: usize,
    /// Who causes what this request does, for the history ([`super::ACTOR`]).
    pub(crate) actor: Actor,
    /// Where every committed history entry is appended as a JSON line (`--audit-log`).
    pub(crate) audit: Option<&'a AuditLog>,
    /// Serial mode: the main agent does the sub-agent tasks itself, one step per answer.
    pub(crate) serial: bool,
    /// Whether the execution history is kept.
    pub(crate) history: bool,
    pub(crate) now: f64,
    /// A number in [0, 1) that differs from request to request: it spreads retry delays.
    pub(crate) jitter: f64,
}

/// What a request asks of its driver next.
#[derive(Debug)]
pub(crate) enum Progress {
    /// Run this command (committed as the step the instance stands at), then hand its output
    /// to [`Execution::ran`].
    Run(ShellJob),
    /// The request's answer, committed.
    Answer(Batch),
    /// The work of a detached request ([`ShellJob::detach`]) is done and committed; the steps
    /// it produced wait for the next request.
    Parked,
}

/// A shell command a request waits on, and what the request does once it has run.
#[derive(Clone, Debug)]
pub(crate) struct ShellJob {
    /// The command, where and how long it runs.
    pub(crate) command: ShellCommand,
    /// How long to wait before running it: the back-off of a retry.
    pub(crate) delay: Duration,
    /// The machine that waits for it.
    who: Who,
    /// The request it is part of.
    request: Request,
    /// The request answered without waiting for it: the steps that follow are kept for the
    /// next request instead of answered.
    detached: bool,
}

impl ShellJob {
    /// Nobody waits for this command's outcome any more (`--answer-within` passed): when
    /// it and what follows it are done, their steps wait for the next request.
    pub(crate) fn detach(&mut self) {
        self.detached = true;
    }
}

/// A step request in progress: what it answers once no machine it drives needs a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Request {
    /// `workflow_get_next_step` of the workflow (`None`) or a task.
    Next(Option<usize>),
    /// `workflow_submit_result` to machine `who`; `for_task` when the client named the task
    /// (a task's own answer), not when serial mode routed the workflow's result to it.
    Submit { who: Who, for_task: bool },
}

/// Where an instance stands, as clients see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// It has steps left.
    Running,
    /// It reached the end.
    Completed,
    /// A step failed it.
    Failed,
    /// A client stopped it.
    Cancelled,
}

/// One instance of a workflow.
pub(crate) struct Execution {
    pub(crate) id: String,
    pub(crate) definition: Arc<Definition>,
    pub(crate) status: Status,
    pub(crate) created_at: f64,
    pub(crate) finished_at: Option<f64>,
    /// The version last committed to the store.
    pub(crate) version: u64,
    /// Set when this copy failed to commit: it is out of the engine's table, and a request
    /// that was waiting for it must load the instance again.
    pub(crate) discarded: bool,
    /// Server-side work running for it without its lock (see `super::work`): step requests
    /// wait for it, and writes are refused until it ends. Never stored.
    pub(crate) work: Option<Arc<Work>>,
    /// History entries not committed yet.
    history: Vec<HistoryEvent>,
    /// The last history entry's number.
    history_seq: u64,
    main: Driven,
    fan_out: Option<FanOut>,
    /// Warnings of near time limits for the next answer of the workflow.
    warnings: Vec<LimitWarning>,
    /// The limits warned of, by limit and step: each is said once (per server process).
    warned: Vec<String>,
    /// The size of the record last written, so the next is written into one allocation.
    record_bytes: usize,
}

/// Which machine of an instance a request is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Who {
    Main,
    Task(usize),
}

impl Execution {
    pub(crate) fn new(id: String, definition: Arc<Definition>, machine: Box<dyn Live>, now: f64) -> Execution {
        Execution { id, definition, status: Status::Running, created_at: now, finished_at: None, version: 0, discarded: false, work: None, history: Vec::new(), history_seq: 0, main: Driven::new(machine), fan_out: None, warnings: Vec::new(), warned: Vec::new(), record_bytes: 0 }
    }

    /// A history entry for `workflow_resume`: the instance continues from `checkpoint` (or its
    /// last commit), under the definition now served if `force`d; numbering goes on from `seq`.
    pub(crate) fn resumed(&mut self, seq: u64, checkpoint: Option<&str>, force: bool, cx: &Context<'_>) {
        self.history_seq = self.history_seq.max(seq);
        self.log(Who::Main, "resumed", self.current_step().map(str::to_owned).as_deref(), json!({"checkpoint": checkpoint, "force": force}), cx);
    }

    /// A history entry for entries lost with the process that made them: the store's
    /// history of this instance ends at `written`, before the instance's own count.
    pub(crate) fn lost_history(&mut self, written: u64, cx: &Context<'_>) {
        if written < self.history_seq {
            self.log(Who::Main, "lost", None, lost_entries(written, self.history_seq), cx);
        }
    }

    /// The first history entry: the inputs it started with.
    pub(crate) fn started(&mut self, cx: &Context<'_>) {
        let inputs = Value::Object(self.main.machine.state().inputs.clone()).to_json();
        self.log(Who::Main, "started", None, json!({"workflow": self.definition.name, "inputs": inputs}), cx);
    }

    fn driven(&mut self, who: Who) -> &mut Driven {
        match (who, self.fan_out.as_mut()) {
            (Who::Task(index), Some(fan_out)) => &mut fan_out.tasks[index].driven,
            _ => &mut self.main,
        }
    }

    /// Fails the workflow once it has run longer than `config.timeout_seconds`, and the
    /// unfinished tasks of a `parallel_foreach` past its own `timeout_seconds`.
    fn enforce_deadlines(&mut self, cx: &Context<'_>) {
        let now = cx.now;
        let mut tasks = 0;
        if let Some(fan_out) = &mut self.fan_out {
            if let Some((step, limit)) = fan_out.enforce_deadline(now) {
                self.log(Who::Main, "timeout", Some(&step), json!({"limit": "parallel_foreach timeout_seconds", "seconds": limit}), cx);
            }
            if let Some(fan_out) = &mut self.fan_out {
                for task in &mut fan_out.tasks {
                    task.driven.enforce_wait_deadline(now);
                }
                tasks = fan_out.tasks.len();
            }
        }
        for index in 0..tasks {
            self.absorb(Who::Task(index), cx);
        }
        let waited_too_long = self.main.enforce_wait_deadline(now);
        self.absorb(Who::Main, cx);
        if waited_too_long {
            self.finish(Status::Failed, cx);
            return;
        }
        self.warn_near_limits(cx);
        let Some(limit) = self.definition.timeout_seconds else { return };
        if self.status != Status::Running || now < self.created_at + limit {
            return;
        }
        let step = self.main.at.step_id().unwrap_or_default().to_owned();
        self.log(Who::Main, "timeout", Some(&step), json!({"limit": "config.timeout_seconds", "seconds": limit}), cx);
        self.main.failure = Some(StepError::new(step, format!("timed out: the workflow had {limit} s (config.timeout_seconds)")));
        self.main.at = At::End;
        self.finish(Status::Failed, cx);
    }

    /// Warns, once per limit, when a time limit the engine enforces (the workflow's, a fan-out's)
    /// has used `cx.limit_warning_at` of its time: the next answer of the workflow carries the
    /// warning, and the history records it (`limit_near`).
    fn warn_near_limits(&mut self, cx: &Context<'_>) {
        if self.status != Status::Running {
            return;
        }
        let mut limits = Vec::new();
        if let Some(limit) = self.definition.timeout_seconds {
            limits.push(("config.timeout_seconds", None, self.created_at, limit));
        }
        if let Some(fan_out) = &self.fan_out
            && let Some((limit, deadline)) = fan_out.deadline
        {
            limits.push(("parallel_foreach timeout_seconds", Some(fan_out.step_id.clone()), deadline - limit, limit));
        }
        for (name, step_id, start, limit) in limits {
            let key = format!("{name} {}", step_id.as_deref().unwrap_or_default());
            if cx.now < start + limit * cx.limit_warning_at || cx.now >= start + limit || self.warned.contains(&key) {
                continue;
            }
            let seconds_left = start + limit - cx.now;
            let whose = step_id.as_deref().map_or_else(|| "the workflow".to_owned(), |step| format!("step `{step}`"));
            let message = format!("{whose} has {seconds_left:.0} s left of its {limit} s ({name})");
            self.log(Who::Main, "limit_near", step_id.as_deref(), json!({"limit": name, "seconds": limit, "seconds_left": seconds_left}), cx);
            self.warned.push(key);
            self.warnings.push(LimitWarning { limit: name.to_owned(), step_id, seconds: limit, seconds_left, message });
        }
    }

    /// The instance ends with `status` (counted in the metrics, and in the history with the
    /// error that ended it).
    fn finish(&mut self, status: Status, cx: &Context<'_>) {
        self.status = status;
        self.finished_at = Some(cx.now);
        let error = self.main.failure_json();
        self.log(Who::Main, "status", None, json!({"status": status, "error": error}), cx);
        metrics::counter!("wfc_instances_ended_total", "workflow" => self.definition.name.clone(), "status" => status_name(status)).increment(1);
    }

    /// Writes the instance to the store as its next version. A record over the size limit is
    /// refused (`STATE_TOO_LARGE`) like a failed write (`STORE_FAILED`): the engine then drops
    /// this copy, and the instance goes on from its last committed version.
    pub(crate) fn save(&mut self, cx: &Context<'_>) -> Result<(), ToolError> {
        let too_large = |size: &str| ToolError {
            code: ErrorCode::StateTooLarge,
            message: format!(
                "instance `{}` would hold {size} bytes of state, over the limit of {} (--max-state-bytes); the step was not applied",
                self.id, cx.max_record_bytes
            ),
        };
        // The states are measured before anything is written: a value that shares one large
        // part many times (a computed field copying a write 2,000 times) is small in memory
        // and would be gigabytes as JSON.
        let mut left = cx.max_record_bytes;
        let tasks = self.fan_out.iter().flat_map(|fan_out| fan_out.tasks.iter().map(|task| &task.driven));
        for driven in std::iter::once(&self.main).chain(tasks) {
            let state = driven.machine.state();
            for tier in [&state.inputs, &state.state, &state.computed, &state.global] {
                let tier = Value::Object(Arc::clone(tier));
                left -= crate::value::json::json_len_within(&tier, left).ok_or_else(|| too_large("more than that many"))?;
            }
        }
        // And the record is written within the limit, never past it.
        let mut record = CappedWriter { bytes: Vec::with_capacity(self.record_bytes.min(cx.max_record_bytes) + 256), limit: cx.max_record_bytes };
        if let Err(error) = serde_json::to_writer(&mut record, &self.record()) {
            return Err(if record.bytes.len() >= cx.max_record_bytes { too_large("more than that many") } else { ToolError::store(format!("cannot encode instance `{}`: {error}", self.id)) });
        }
        let record = String::from_utf8(record.bytes).map_err(|e| ToolError::store(format!("cannot encode instance `{}`: {e}", self.id)))?;
        self.record_bytes = record.len();
        let stored = self.stored(self.version + 1, record);
        let started = std::time::Instant::now();
        let history = std::mem::take(&mut self.history);
        cx.store.commit(&stored, &history).map_err(|e| ToolError::store(format!("instance `{}` was not saved: {e}", self.id)))?;
        if let Some(audit) = cx.audit {
            audit.append(&self.id, &self.definition.name, &history);
        }
        metrics::histogram!("wfc_store_commit_seconds").record(started.elapsed());
        self.version = stored.version;
        if cx.commits.receiver_count() > 0 {
            // No listener left behind is an error of no one's.
            let _ = cx.commits.send(self.id.clone());
        }
        Ok(())
    }

    /// The instance as the store keeps it, at `version`.
    pub(crate) fn stored(&self, version: u64, record: String) -> Stored {
        Stored {
            id: self.id.clone(),
            workflow: self.definition.name.clone(),
            definition_hash: self.definition.definition_hash.clone(),
            version,
            status: status_name(self.status).to_owned(),
            created_at: self.created_at,
            finished_at: self.finished_at,
            record,
        }
    }

    /// Advances machine `who` with `event` (if any) until it needs the client, waits or ends,
    /// or needs a shell command run: then the instance is committed at that step, and the
    /// command is the request's next job.
    fn step(&mut self, request: Request, who: Who, event: Option<Event>, cx: &Context<'_>) -> Result<Option<ShellJob>, ToolError> {
        if let Some(event) = event {
            self.advance(who, event, cx);
        }
        let At::Shell(command) = self.driven(who).at.clone() else { return Ok(None) };
        self.save(cx)?;
        tracing::debug!(step = %command.step_id, attempt = command.attempt, command = %command.command, "running shell command");
        let mut delay = Duration::ZERO;
        if command.attempt > 1 {
            delay = shell::retry_delay(command.attempt, command.retry_delay, cx.jitter);
            self.log(who, "retry", Some(&command.step_id), json!({"attempt": command.attempt, "after_seconds": delay.as_secs_f64()}), cx);
        }
        Ok(Some(ShellJob { command, delay, who, request, detached: false }))
    }

    /// The output of `job`'s command, which ran for `seconds`: the machine that waited for it
    /// goes on, and so does the request.
    pub(crate) fn ran(&mut self, job: ShellJob, output: ShellOutput, seconds: f64, cx: &Context<'_>) -> Result<Progress, ToolError> {
        let detail = json!({"attempt": job.command.attempt, "seconds": seconds, "exit_code": output.exit_code, "failure": output.failure});
        self.log(job.who, "shell", Some(&job.command.step_id), detail, cx);
        if self.status != Status::Running {
            // Cancelled (or timed out) while the command ran: its output changes nothing.
            self.save(cx)?;
            return Ok(if job.detached { Progress::Parked } else { Progress::Answer(self.batch(cx)) });
        }
        self.proceed(job.request, job.who, Some(Event::Shell(output)), job.detached, cx)
    }

    /// Advances `who` with `event`, then does what is left of `request`: the next job, or the
    /// answer (or, `detached`, a commit that keeps the steps for the next request).
    fn proceed(&mut self, request: Request, who: Who, event: Option<Event>, detached: bool, cx: &Context<'_>) -> Result<Progress, ToolError> {
        let serves_serially = cx.serial && !matches!(request, Request::Next(Some(_)) | Request::Submit { for_task: true, .. });
        let mut job = self.step(request, who, event, cx)?;
        if job.is_none() && serves_serially {
            job = self.serve_serially(request, cx)?;
        }
        if let Some(mut job) = job {
            job.detached = detached;
            return Ok(Progress::Run(job));
        }
        if detached {
            self.save(cx)?;
            return Ok(Progress::Parked);
        }
        let answer = match request {
            Request::Next(Some(index)) | Request::Submit { who: Who::Task(index), for_task: true } => self.task_batch(index, cx),
            Request::Next(None) | Request::Submit { .. } => self.batch(cx),
        };
        if let Request::Submit { who, .. } = request
            && let Some(last) = self.driven(who).last.as_mut()
        {
            last.answer = Some(answer.clone());
        }
        self.save(cx)?;
        Ok(Progress::Answer(answer))
    }

    /// One [`Driven::advance`] of `who`, with what follows from it: a workflow's fan-out
    /// starts its tasks; a task's `global.*` is taken from the workflow before and handed back
    /// after.
    fn advance(&mut self, who: Who, event: Event, cx: &Context<'_>) {
        let was_running = self.driven(who).at != At::End;
        self.advance_machine(who, event, cx);
        self.absorb(who, cx);
        // A task's end is a status change of its own, in the history under its id.
        if let Who::Task(_) = who
            && was_running
            && self.driven(who).at == At::End
        {
            let task = self.driven(who);
            let detail = match task.failure {
                None => json!({"status": "completed"}),
                Some(_) => json!({"status": "failed", "error": task.failure_json()}),
            };
            self.log(who, "status", None, detail, cx);
        }
    }

    fn advance_machine(&mut self, who: Who, event: Event, cx: &Context<'_>) {
        let Who::Task(index) = who else {
            if let Some(spawn) = self.main.advance(event, cx.now, cx.history) {
                self.absorb(Who::Main, cx);
                if let Some(step) = self.fan_out(spawn, cx)
                    && !cx.serial
                {
                    self.main.pending.push(step);
                }
            }
            return;
        };
        let global = self.main.machine.state().global.clone();
        let Some(fan_out) = self.fan_out.as_mut() else { return };
        let task = &mut fan_out.tasks[index];
        if let Err(cause) = task.driven.adopt_global(global) {
            task.driven.failure = Some(StepError::new(&task.id, cause));
            task.driven.at = At::End;
            return;
        }
        if let Some(spawn) = task.driven.advance(event, cx.now, cx.history) {
            task.driven.failure = Some(StepError::new(spawn.id, "a sub-agent task cannot start sub-agent tasks of its own"));
            task.driven.at = At::End;
        }
        let shared = task.driven.machine.state().global.clone();
        if let Err(cause) = self.main.adopt_global(shared) {
            task.driven.failure = Some(StepError::new(&task.id, format!("the workflow refused the task's write to global: {cause}")));
            task.driven.at = At::End;
        }
    }

    /// The task id of `who` (`None` for the workflow), as history entries carry it.
    fn task_id(&self, who: Who) -> Option<String> {
        match who {
            Who::Main => None,
            Who::Task(index) => self.fan_out.as_ref().map(|f| f.tasks[index].id.clone()),
        }
    }

    /// Numbers what machine `who` logged and adds it to the history.
    fn absorb(&mut self, who: Who, cx: &Context<'_>) {
        let task_id = self.task_id(who);
        let logged = std::mem::take(&mut self.driven(who).log);
        for entry in logged {
            self.push_history(task_id.clone(), entry.kind, entry.step, entry.detail, cx);
        }
    }

    /// One history entry of `who` (when the history is kept).
    fn log(&mut self, who: Who, kind: &'static str, step: Option<&str>, detail: Json, cx: &Context<'_>) {
        self.push_history(self.task_id(who), kind, step.map(str::to_owned), detail, cx);
    }

    fn push_history(&mut self, task_id: Option<String>, kind: &'static str, step_id: Option<String>, detail: Json, cx: &Context<'_>) {
        if cx.history {
            self.history_seq += 1;
            self.history.push(HistoryEvent { seq: self.history_seq, at: cx.now, task_id, kind: kind.to_owned(), step_id, detail, actor: cx.actor.clone() });
        }
    }

    /// [`Driven::next_event`] of `who`, with the step it completes in the history.
    fn next_event(&mut self, who: Who, cx: &Context<'_>) -> Option<Event> {
        let driven = self.driven(who);
        let event = driven.next_event();
        let outcome = match event {
            Some(Event::Acknowledged) => "acknowledged",
            Some(Event::Waited) => "waited",
            _ => return event,
        };
        let step = driven.at.step_id().map(str::to_owned);
        self.log(who, "step_completed", step.as_deref(), json!({"outcome": outcome}), cx);
        event
    }

    /// `workflow_get_next_step`: the next batch of the workflow or of one of its tasks. Steps
    /// produced and not handed out yet are handed out first; a step whose result is needed is
    /// handed out again rather than completed without it.
    pub(crate) fn next_step(&mut self, task_id: Option<&str>, cx: &Context<'_>) -> Result<Progress, ToolError> {
        self.enforce_deadlines(cx);
        if let Some(task_id) = task_id {
            let index = self.task_for_step(task_id)?;
            let who = Who::Task(index);
            if !self.driven(who).pending.is_empty() || self.hand_again(who, cx) {
                return self.proceed(Request::Next(Some(index)), who, None, false, cx);
            }
            let event = self.next_event(who, cx);
            return self.proceed(Request::Next(Some(index)), who, event, false, cx);
        }
        let request = Request::Next(None);
        // Steps left over (serial mode hands out one per answer; work that outlived its
        // request leaves its steps) go out first — after the command they were produced
        // before, if it has not run yet.
        let leftover = !self.main.pending.is_empty() && (cx.serial || !matches!(self.main.at, At::Shell(_)));
        if self.status != Status::Running || leftover || self.hand_again(Who::Main, cx) {
            return self.answered(cx);
        }
        let next = self.next_event(Who::Main, cx);
        let event = match (&self.main.at, next) {
            (At::Shell(_), _) => None,
            (_, Some(event)) => Some(event),
            (_, None) if cx.serial => None,
            (_, None) => match self.tasks_outcome() {
                Some(outcomes) => Some(Event::Done(Value::from(&outcomes))),
                None => {
                    let wait = self.fan_out_wait();
                    self.main.pending.extend(wait);
                    return self.answered(cx);
                }
            },
        };
        self.proceed(request, Who::Main, event, false, cx)
    }

    /// [`Driven::hand_again`] of `who`, in the history.
    fn hand_again(&mut self, who: Who, cx: &Context<'_>) -> bool {
        let driven = self.driven(who);
        if !driven.hand_again() {
            return false;
        }
        let (step, sequence) = match &driven.at {
            At::Client { step_id, sequence, .. } => (step_id.clone(), *sequence),
            _ => return true,
        };
        self.log(who, "step_handed", Some(&step), json!({"sequence": sequence, "again": true, "why": "asked for the next step without its result"}), cx);
        true
    }

    /// The workflow's answer with what it has produced, committed.
    fn answered(&mut self, cx: &Context<'_>) -> Result<Progress, ToolError> {
        let answer = self.batch(cx);
        self.save(cx)?;
        Ok(Progress::Answer(answer))
    }

    /// Serial mode, while the workflow waits for its tasks with nothing to hand out: the next
    /// step of the first unfinished task (driven as its own sub-agent would drive it) becomes
    /// the workflow's, marked with the task's id; once every task has ended, the workflow goes
    /// on with their outcomes, as in parallel mode. Stops at a shell command to run; called
    /// again once it has, it goes on from where the tasks stand.
    fn serve_serially(&mut self, request: Request, cx: &Context<'_>) -> Result<Option<ShellJob>, ToolError> {
        while matches!(self.main.at, At::Tasks { .. }) && self.main.pending.is_empty() {
            let unfinished = self.fan_out.as_ref().and_then(|f| f.tasks[..f.released()].iter().position(|t| t.driven.at != At::End || !t.driven.pending.is_empty()));
            let Some(index) = unfinished else {
                let outcomes = self.tasks_outcome().unwrap_or_default();
                if let Some(job) = self.step(request, Who::Main, Some(Event::Done(Value::from(&outcomes))), cx)? {
                    return Ok(Some(job));
                }
                continue;
            };
            let who = Who::Task(index);
            if self.driven(who).pending.is_empty() && !self.hand_again(who, cx) {
                // A step handed out and asked past without a result is done without it, as a
                // sub-agent's next-step request would make it.
                let event = self.next_event(who, cx);
                if let Some(job) = self.step(request, who, event, cx)? {
                    return Ok(Some(job));
                }
            }
            let Some(fan_out) = self.fan_out.as_mut() else { break };
            let task = &mut fan_out.tasks[index];
            if !task.driven.pending.is_empty() {
                let mut step = task.driven.pending.remove(0);
                step.task_id = Some(task.id.clone());
                step.instructions = Some(SERIAL_INSTRUCTIONS.to_owned());
                self.main.pending.push(step);
            }
        }
        Ok(None)
    }

    /// `workflow_submit_result`: the client's result for the step the workflow (or a task)
    /// waits at, applied on the server; answers with the next batch. A result applied already
    /// gets the answer it got then.
    pub(crate) fn submit(&mut self, step_id: &str, sequence: Option<u64>, result: Event, task_id: Option<&str>, cx: &Context<'_>) -> Result<Progress, ToolError> {
        self.enforce_deadlines(cx);
        let (who, name) = match task_id {
            Some(task_id) => (Who::Task(self.task_for_step(task_id)?), format!("task `{task_id}`")),
            None => {
                match self.status {
                    Status::Running => {}
                    // A result that arrives after the workflow failed (a deadline, say) is
                    // answered with the failure, as a next-step request would be.
                    Status::Failed => return self.answered(cx),
                    Status::Completed | Status::Cancelled => {
                        if let Ok(Submission::Repeat(Some(answer))) = self.main.submission("the workflow", step_id, sequence) {
                            return Ok(Progress::Answer(*answer));
                        }
                        return Err(ToolError::invalid(format!("workflow `{}` is {}; it takes no more results", self.id, status_name(self.status))));
                    }
                }
                match self.serial_task_waiting_at(step_id).filter(|_| cx.serial) {
                    Some(index) => (Who::Task(index), "the workflow".to_owned()),
                    None => (Who::Main, "the workflow".to_owned()),
                }
            }
        };
        let driven = self.driven(who);
        let event = match driven.submission(&name, step_id, sequence)? {
            Submission::Repeat(Some(answer)) => return Ok(Progress::Answer(*answer)),
            // Applied by a request whose answer was lost with the server (it crashed after a
            // commit before a shell command): go on from where that request stood.
            Submission::Repeat(None) => None,
            Submission::Apply => {
                let (sequence, took) = match &driven.at {
                    At::Client { sequence, kind, handed_at, .. } => {
                        // How long the client took over the step.
                        let took = (cx.now - handed_at).max(0.0);
                        metrics::histogram!("wfc_step_seconds", "type" => kind.clone()).record(took);
                        (*sequence, took)
                    }
                    _ => (0, 0.0),
                };
                driven.last = Some(Submitted { step_id: step_id.to_owned(), sequence, answer: None });
                let outcome = match &result {
                    Event::Failed(cause) => json!({"outcome": "failed", "cause": cause, "seconds": took}),
                    _ => json!({"outcome": "result", "seconds": took}),
                };
                self.log(who, "step_completed", Some(step_id), outcome, cx);
                Some(result)
            }
        };
        self.proceed(Request::Submit { who, for_task: task_id.is_some() }, who, event, false, cx)
    }

    /// The task (serial mode) whose step `step_id` the workflow handed out and waits for.
    fn serial_task_waiting_at(&self, step_id: &str) -> Option<usize> {
        if !matches!(self.main.at, At::Tasks { .. }) {
            return None;
        }
        let fan_out = self.fan_out.as_ref()?;
        fan_out.tasks.iter().position(|t| matches!(&t.driven.at, At::Client { step_id: waiting, .. } if waiting == step_id))
    }

    /// The index of task `task_id`, checked to be handed out and its workflow still going.
    fn task_for_step(&self, task_id: &str) -> Result<usize, ToolError> {
        if matches!(self.status, Status::Cancelled | Status::Failed) {
            let why = if self.status == Status::Cancelled { "was cancelled" } else { "failed" };
            return Err(ToolError::invalid(format!("workflow `{}` {why}; its tasks take no more steps", self.id)));
        }
        let fan_out = self.fan_out.as_ref().ok_or_else(|| ToolError::not_found(format!("workflow `{}` has no sub-agent tasks", self.id)))?;
        let index = fan_out.task_index(task_id)?;
        if index >= fan_out.released() {
            return Err(ToolError::invalid(format!(
                "task `{task_id}` is not handed out yet: at most {} tasks run at once; the workflow lists it when one ends",
                fan_out.max_parallel
            )));
        }
        Ok(index)
    }

    /// Starts one machine per item of a `parallel_foreach` and hands out the first wave; more
    /// items than the limit fail the workflow at the step instead.
    fn fan_out(&mut self, mut step: ClientStep, cx: &Context<'_>) -> Option<HandedStep> {
        let max_parallel = step.definition["max_parallel"].as_u64().unwrap_or(1).max(1) as usize;
        let task_name = step.definition["sub_agent_task"].as_str().unwrap_or_default().to_owned();
        let task_index = self.definition.tasks.iter().position(|t| *t == task_name);
        let entries = match step.definition.get_mut("tasks").map(Json::take) {
            Some(Json::Array(entries)) => entries,
            _ => Vec::new(),
        };
        if entries.len() > cx.max_tasks_per_step {
            let message = format!(
                "`{}` would start {} sub-agent tasks, over the limit of {} per step (--max-tasks-per-step)",
                step.id,
                entries.len(),
                cx.max_tasks_per_step
            );
            self.main.failure = Some(StepError::new(&step.id, message));
            self.main.at = At::End;
            return None;
        }
        let tasks = entries
            .into_iter()
            .map(|mut entry| {
                let id = entry["task_id"].as_str().unwrap_or_default().to_owned();
                let bindings = match Value::from(&entry["context"]) {
                    Value::Object(context) => (*context).clone(),
                    _ => Object::new(),
                };
                let started = task_index
                    .ok_or_else(|| format!("no sub-agent task `{task_name}`"))
                    .and_then(|index| self.definition.start_task(index, &entry["inputs"], bindings, cx.max_server_steps).map_err(|e| e.to_string()));
                let driven = match started {
                    Ok(mut machine) => match machine.adopt_global(self.main.machine.state().global.clone()) {
                        Ok(()) => Driven::new(machine),
                        Err(cause) => failed_task(&id, cause),
                    },
                    Err(cause) => failed_task(&id, cause),
                };
                entry["prompt"] = sub_agent_prompt(&self.id, &id, &entry["inputs"]).into();
                Task { id, driven, entry }
            })
            .collect();
        let deadline = step.definition["timeout_seconds"].as_f64().map(|limit| (limit, cx.now + limit));
        let mut fan_out = FanOut { step_id: step.id.clone(), task: task_index, max_parallel, deadline, tasks, announced: 0 };
        let detail = json!({"task": task_name, "count": fan_out.tasks.len(), "max_parallel": max_parallel});
        self.log(Who::Main, "tasks_started", Some(&step.id), detail, cx);
        step.definition["tasks"] = Json::Array(fan_out.announce());
        step.definition["progress"] = fan_out.progress();
        step.definition["instructions"] = format!(
            "Start one sub-agent per task listed in `tasks` (at most {max_parallel} at once), giving each its `prompt`. \
             Then call workflow_get_next_step for this workflow: it answers with a wait step that lists more tasks \
             as running ones end, and continues the workflow once every task has ended."
        )
        .into();
        self.fan_out = Some(fan_out);
        Some(handed_step(&step, self.main.steps_handed))
    }

    /// The outcomes of every task in item order, once all have ended.
    fn tasks_outcome(&self) -> Option<Json> {
        let fan_out = self.fan_out.as_ref()?;
        fan_out.tasks.iter().all(|t| t.driven.at == At::End).then(|| Json::Array(fan_out.tasks.iter().map(Task::outcome).collect()))
    }

    /// The wait step the workflow answers with while its tasks run.
    fn fan_out_wait(&mut self) -> Option<HandedStep> {
        let fan_out = self.fan_out.as_mut()?;
        let fresh = fan_out.announce();
        let progress = fan_out.progress();
        let message = format!(
            "Waiting for sub-agent tasks: {} of {} ended.{}",
            progress["completed"].as_u64().unwrap_or(0) + progress["failed"].as_u64().unwrap_or(0),
            fan_out.tasks.len(),
            if fresh.is_empty() { String::new() } else { format!(" Start a sub-agent for each of the {} tasks listed here.", fresh.len()) }
        );
        Some(HandedStep::wait(&fan_out.step_id, json!({"message": message, "progress": progress, "tasks": fresh})))
    }

    /// `workflow_update_state`: a client's writes to the workflow or a task, all or nothing.
    pub(crate) fn write(&mut self, writes: &[ClientWrite], task_id: Option<&str>, cx: &Context<'_>) -> Result<StateWritten, ToolError> {
        self.enforce_deadlines(cx);
        if self.status != Status::Running {
            return Err(ToolError::invalid(format!("workflow `{}` is {}; its state can no longer change", self.id, status_name(self.status))));
        }
        if let Some(running) = self.running() {
            return Err(ToolError::invalid(format!(
                "workflow `{}` is running `{}` on the server ({} s so far); its state can be written once the command ends \
                 (workflow_get_next_step waits for it)",
                self.id, running.step_id, running.elapsed_seconds
            )));
        }
        let (who, written) = match task_id {
            None => {
                self.main.machine.trace(cx.history);
                self.main.machine.write(writes).map_err(ToolError::invalid)?;
                self.main.note_trace("client");
                self.main.wrote();
                (Who::Main, self.main.machine.state().clone())
            }
            Some(task_id) => {
                let fan_out = self.fan_out.as_mut().ok_or_else(|| ToolError::not_found(format!("workflow `{}` has no sub-agent tasks", self.id)))?;
                let index = fan_out.task_index(task_id)?;
                let task = &mut fan_out.tasks[index];
                let before = task.driven.machine.state().clone();
                task.driven.adopt_global(self.main.machine.state().global.clone()).map_err(ToolError::invalid)?;
                task.driven.machine.trace(cx.history);
                task.driven.machine.write(writes).map_err(ToolError::invalid)?;
                let shared = task.driven.machine.state().global.clone();
                if let Err(cause) = self.main.adopt_global(shared) {
                    // The workflow's computed fields refused the new `global.*`: nothing changes.
                    task.driven.machine.take_trace();
                    task.driven.machine.rewind(before);
                    return Err(ToolError::invalid(format!("the workflow refused the write to global: {cause}")));
                }
                task.driven.note_trace("client");
                task.driven.wrote();
                (Who::Task(index), task.driven.machine.state().clone())
            }
        };
        self.absorb(who, cx);
        self.save(cx)?;
        Ok(StateWritten { state: written.this().to_json().unwrap_or(Json::Null), global: Value::Object(written.global.clone()).to_json().unwrap_or(Json::Null) })
    }

    /// The state tiers of the workflow or a task, and the values at `paths`.
    pub(crate) fn read(&self, paths: &[String], task_id: Option<&str>) -> Result<StateRead, ToolError> {
        let machine = self.machine(task_id)?;
        let state = machine.state();
        let mut values = serde_json::Map::new();
        for path in paths {
            let value = read_path(state, path).map_err(ToolError::invalid)?;
            values.insert(path.clone(), value.to_json().unwrap_or(Json::Null));
        }
        Ok(StateRead {
            workflow_id: self.id.clone(),
            task_id: task_id.map(str::to_owned),
            state: state.this().to_json().unwrap_or(Json::Null),
            tiers: state.to_json(),
            values: (!paths.is_empty()).then_some(values),
        })
    }

    /// The task index of `task_id` in the definition (`None` for the workflow itself).
    pub(crate) fn task_program(&self, task_id: Option<&str>) -> Result<Option<usize>, ToolError> {
        let Some(task_id) = task_id else { return Ok(None) };
        self.machine(Some(task_id))?;
        Ok(self.fan_out.as_ref().and_then(|f| f.task))
    }

    fn machine(&self, task_id: Option<&str>) -> Result<&dyn Live, ToolError> {
        match task_id {
            None => Ok(self.main.machine.as_ref()),
            Some(task_id) => {
                let fan_out = self.fan_out.as_ref().ok_or_else(|| ToolError::not_found(format!("workflow `{}` has no sub-agent tasks", self.id)))?;
                Ok(fan_out.tasks[fan_out.task_index(task_id)?].driven.machine.as_ref())
            }
        }
    }

    /// Server-side work running for the instance, if any.
    fn running(&self) -> Option<super::batch::Running> {
        self.work.as_ref().filter(|work| !work.is_over()).map(|work| work.report())
    }

    /// `workflow_cancel`: a command running for the instance is stopped.
    pub(crate) fn cancel(&mut self, cx: &Context<'_>) -> Result<Cancelled, ToolError> {
        if self.status != Status::Running {
            return Err(ToolError::invalid(format!("workflow `{}` is already {}", self.id, status_name(self.status))));
        }
        if let Some(work) = &self.work {
            work.watch.stop();
        }
        self.finish(Status::Cancelled, cx);
        self.save(cx)?;
        Ok(Cancelled { workflow_id: self.id.clone(), status: self.status })
    }

    /// The step the workflow stands at, if any.
    pub(crate) fn current_step(&self) -> Option<&str> {
        self.main.at.step_id()
    }

    /// `workflow_get_status`.
    pub(crate) fn status(&self) -> InstanceStatus {
        let snapshot = self.main.machine.resumable();
        // Iterations of the loops the workflow stands in, outermost first.
        let loops: Vec<u32> = snapshot.iter().flat_map(|s| s.frames.iter().map(|f| f.iteration)).filter(|i| *i > 0).collect();
        InstanceStatus {
            workflow_id: self.id.clone(),
            workflow_name: self.definition.name.clone(),
            status: self.status,
            created_at: self.created_at,
            completed_at: self.finished_at,
            error: self.main.step_failure(),
            current_step: self.current_step().map(str::to_owned),
            steps_handed_out: self.main.steps_handed,
            attempt: snapshot.as_ref().map_or(0, |snapshot| snapshot.attempt),
            loop_iterations: loops,
            tasks: self.fan_out.as_ref().map(FanOut::progress),
            state: self.main.machine.state().this().to_json().unwrap_or(Json::Null),
            version: self.version,
            running: self.running(),
        }
    }

    /// The workflow's answer to a request: the steps produced since the last one and how it
    /// stands. An instance whose last step was handed out ends here.
    fn batch(&mut self, cx: &Context<'_>) -> Batch {
        let steps = long_message::fit(self.main.take_steps(cx.serial), cx.max_message_bytes);
        // In serial mode the workflow ends for the client with its last step handed out.
        let status = if self.main.pending.is_empty() { self.main.status() } else { Status::Running };
        if self.status == Status::Running && status != Status::Running {
            self.finish(status, cx);
        }
        let shown = if self.status == Status::Running { status } else { self.status };
        let error = match shown {
            Status::Failed => self.main.step_failure(),
            Status::Cancelled => Some(StepFailure { step_id: None, message: "the workflow was cancelled".to_owned() }),
            Status::Running | Status::Completed => None,
        };
        Batch {
            workflow_id: self.id.clone(),
            task_id: None,
            status: shown,
            steps: (!steps.is_empty() || shown == Status::Running).then_some(steps),
            completed: shown == Status::Completed,
            error,
            running: None,
            warnings: std::mem::take(&mut self.warnings),
        }
    }

    /// A task's answer: its steps and how it stands.
    fn task_batch(&mut self, index: usize, cx: &Context<'_>) -> Batch {
        let workflow_id = self.id.clone();
        let Some(task) = self.fan_out.as_mut().and_then(|f| f.tasks.get_mut(index)) else {
            let error = StepFailure { step_id: None, message: format!("workflow `{workflow_id}` has no sub-agent task {index}") };
            return Batch { workflow_id, task_id: None, status: Status::Failed, steps: None, completed: false, error: Some(error), running: None, warnings: Vec::new() };
        };
        let steps = long_message::fit(task.driven.take_steps(cx.serial), cx.max_message_bytes);
        let status = task.driven.status();
        Batch {
            workflow_id,
            task_id: Some(task.id.clone()),
            status,
            steps: (!steps.is_empty() || task.driven.at != At::End).then_some(steps),
            completed: status == Status::Completed,
            error: task.driven.step_failure().filter(|_| status == Status::Failed),
            running: None,
            warnings: Vec::new(),
        }
    }
}

/// What serial mode tells the agent with each task step.
const SERIAL_INSTRUCTIONS: &str = "Serial mode: do this sub-agent task's step yourself; do not start sub-agents. \
Report its result with workflow_submit_result as for any step (task_id optional); the workflow hands out the next step.";

/// The value at a dotted path (`this.results[0].name`, `inputs.limit`, `global.seen`).
fn read_path(state: &State, path: &str) -> Result<Value, String> {
    let (root, below) = update::split_root(path);
    let mut value = state.root(root).ok_or_else(|| format!("`{path}` does not start with this, inputs, global, state or computed"))?;
    for segment in update::parse_segments(path, below)? {
        let key = match segment {
            update::Segment::Field(name) => Value::string(name),
            update::Segment::Index(index) => Value::Number(index as f64),
        };
        value = value.get(&key).unwrap_or(Value::Undefined);
    }
    Ok(value)
}

fn status_name(status: Status) -> &'static str {
    match status {
        Status::Running => "running",
        Status::Completed => "completed",
        Status::Failed => "failed",
        Status::Cancelled => "cancelled",
    }
}

/// What a `lost` history entry says: the entries after `written`, through `made`, were never
/// written — the server stopped first.
pub(crate) fn lost_entries(written: u64, made: u64) -> Json {
    json!({"from_seq": written + 1, "through_seq": made, "cause": "the server stopped before it wrote them"})
}

/// A writer that refuses to grow past `limit` bytes, so an oversized record fails while it is
/// being written instead of after.
struct CappedWriter {
    bytes: Vec<u8>,
    limit: usize,
}

/// serde_json writes each token on its own (a quote, a comma, a key), so the writes are
/// inlined and `write_all` is the write itself, not a loop around it.
impl std::io::Write for CappedWriter {
    #[inline]
    fn write(&mut self, buffer: &[u8]) -> std::io::Result<usize> {
        self.write_all(buffer).map(|()| buffer.len())
    }

    #[inline]
    fn write_all(&mut self, buffer: &[u8]) -> std::io::Result<()> {
        if self.bytes.len() + buffer.len() > self.limit {
            self.bytes.extend_from_slice(&buffer[..self.limit - self.bytes.len()]);
            return Err(std::io::Error::other("over the record size limit"));
        }
        self.bytes.extend_from_slice(buffer);
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
