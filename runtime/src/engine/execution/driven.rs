//! One machine as an instance drives it: where it waits ([`At`]), the steps it produced and not
//! handed out yet, the last result applied with its answer, and what it did since the instance
//! last took it into its history. The workflow and each of its sub-agent tasks are one each.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use super::{Batch, HandedStep, Status, StepFailure, ToolError};
use crate::engine::definition::Live;
use crate::machine::{ClientStep, Effect, Event, ShellCommand, StepError, Trace, Yield};
use crate::value::{Object, Value};

/// A machine and the step it waits at.
pub(super) struct Driven {
    pub(super) machine: Box<dyn Live>,
    pub(super) at: At,
    pub(super) failure: Option<StepError>,
    /// Client steps handed out so far: progress for `workflow_get_status`, and each step's
    /// `sequence`.
    pub(super) steps_handed: u64,
    /// Steps produced that are not handed out yet.
    pub(super) pending: Vec<HandedStep>,
    /// The last result applied, with the answer it got (none until the request answers): the
    /// same result submitted again gets the same answer and is not applied twice.
    pub(super) last: Option<Submitted>,
    /// What the machine did since the workflow last took it into its history.
    pub(super) log: Vec<Logged>,
}

/// A history entry of one machine, before the workflow numbers it.
pub(super) struct Logged {
    pub(super) kind: &'static str,
    pub(super) step: Option<String>,
    pub(super) detail: Json,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct Submitted {
    pub(super) step_id: String,
    pub(super) sequence: u64,
    /// `None` while the request that applied it has not answered (it died with the server).
    pub(super) answer: Option<Batch>,
}

/// What a machine waits for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "waits_for", rename_all = "snake_case")]
pub(super) enum At {
    /// Its first `workflow_get_next_step`.
    Start,
    /// The result of a client step.
    Client {
        step_id: String,
        kind: String,
        sequence: u64,
        /// When it was handed out (seconds since the epoch), for the step latency metric.
        #[serde(default)]
        handed_at: f64,
        /// The step as handed out, when the workflow uses its result: a request for the next
        /// step hands it out again rather than complete it without its result.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        again: Option<HandedStep>,
        /// Whether the client wrote state since it was handed out: then it may be completed
        /// without a result (what the step would record, the client wrote itself).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        written: bool,
    },
    /// A shell command to run (it is run when the instance goes on, again after a crash).
    Shell(ShellCommand),
    /// The next request after a wait step; by `deadline` (seconds since the epoch) if it has
    /// `timeout_seconds`.
    Wait {
        step_id: String,
        #[serde(default)]
        deadline: Option<(f64, f64)>,
    },
    /// Its sub-agent tasks (the workflow only).
    Tasks { step_id: String },
    /// Nothing: it ended.
    End,
}

impl At {
    /// The step waited at, if any.
    pub(super) fn step_id(&self) -> Option<&str> {
        match self {
            At::Client { step_id, .. } | At::Shell(ShellCommand { step_id, .. }) | At::Wait { step_id, .. } | At::Tasks { step_id } => Some(step_id),
            At::Start | At::End => None,
        }
    }
}

/// How a submitted result relates to the step a machine waits at.
pub(super) enum Submission {
    /// It is the result of that step: apply it.
    Apply,
    /// It was applied already: answer as the first time (`None` while that request has not
    /// answered yet — it died with the server — so the answer is still to be made).
    Repeat(Option<Box<Batch>>),
}

impl Driven {
    pub(super) fn new(machine: Box<dyn Live>) -> Driven {
        Driven { machine, at: At::Start, failure: None, steps_handed: 0, pending: Vec::new(), last: None, log: Vec::new() }
    }

    pub(super) fn note(&mut self, kind: &'static str, step: Option<&str>, detail: Json) {
        self.log.push(Logged { kind, step: step.map(str::to_owned), detail });
    }

    /// Moves what the machine recorded into the log; its writes labelled as made `by`.
    pub(super) fn note_trace(&mut self, by: &str) {
        for trace in self.machine.take_trace() {
            let logged = match trace {
                Trace::Branch { step, taken } => Logged { kind: "branch", step: Some(step), detail: json!({"taken": taken}) },
                Trace::Iteration { step, iteration } => Logged { kind: "loop_iteration", step: Some(step), detail: json!({"iteration": iteration}) },
                Trace::Write { step, path, old, new } => {
                    // A client's write is no step's.
                    let step = (by != "client").then_some(step);
                    Logged { kind: "state_write", step, detail: json!({"path": path, "old": old, "new": new, "by": by}) }
                }
                Trace::Computed { field } => Logged { kind: "computed_refresh", step: None, detail: json!({"field": field}) },
            };
            self.log.push(logged);
        }
    }

    /// Takes `global` from the workflow (or a task); the machine's refresh of it is not a step
    /// of its own, so it is left out of the history.
    pub(super) fn adopt_global(&mut self, global: Arc<Object>) -> Result<(), String> {
        self.note_trace("step");
        let adopted = self.machine.adopt_global(global);
        self.machine.take_trace();
        adopted
    }

    /// Resumes the machine with `event` and keeps going through user messages until it needs
    /// the client, a shell command run, waits or ends. Returns a `parallel_foreach` it handed
    /// out, for the workflow to start.
    /// With `log`, what happens goes into the log for the history.
    pub(super) fn advance(&mut self, mut event: Event, now: f64, log: bool) -> Option<ClientStep> {
        self.machine.trace(log);
        loop {
            let resumed = self.machine.resume(event);
            if log {
                self.note_trace("step");
                if let Ok(Yield::Client(step)) = &resumed {
                    let sequence = self.steps_handed + 1;
                    let detail = json!({"type": step.kind, "sequence": sequence, "attempt": step.attempt});
                    self.note("step_handed", Some(&step.id), detail);
                }
            }
            match resumed {
                Ok(Yield::Client(step)) if step.kind == "user_message" => {
                    self.steps_handed += 1;
                    self.pending.push(handed_step(&step, self.steps_handed));
                    event = Event::Done(Value::Undefined);
                }
                Ok(Yield::Client(step)) if step.kind == "parallel_foreach" => {
                    self.steps_handed += 1;
                    self.at = At::Tasks { step_id: step.id.clone() };
                    return Some(step);
                }
                Ok(Yield::Client(step)) => {
                    self.steps_handed += 1;
                    let handed = handed_step(&step, self.steps_handed);
                    let again = step.needs_result.then(|| handed.clone());
                    self.at = At::Client { step_id: step.id.clone(), kind: step.kind.to_owned(), sequence: self.steps_handed, handed_at: now, again, written: false };
                    self.pending.push(handed);
                    return None;
                }
                Ok(Yield::Effect(Effect::Shell(command))) => {
                    self.at = At::Shell(command);
                    return None;
                }
                Ok(Yield::Effect(Effect::Wait { step_id, message, timeout_seconds })) => {
                    if log {
                        self.note("step_handed", Some(&step_id), json!({"type": "wait_step"}));
                    }
                    self.pending.push(HandedStep::wait(&step_id, json!({"message": message})));
                    self.at = At::Wait { step_id, deadline: timeout_seconds.map(|limit| (limit, now + limit)) };
                    return None;
                }
                Ok(Yield::Done) => {
                    self.at = At::End;
                    return None;
                }
                Err(error) => {
                    tracing::info!(step = %error.step_id, cause = %error.message, "step failed");
                    if log {
                        self.note("error", Some(&error.step_id), json!({"message": error.message}));
                    }
                    self.at = At::End;
                    self.failure = Some(error);
                    return None;
                }
            }
        }
    }

    /// The event that answers the step the machine waits at when the client asks for the next
    /// one without submitting a result (AroMCP's implicit completion), where nothing is lost
    /// by it: not for a step whose result the workflow uses ([`Driven::hand_again`]).
    pub(super) fn next_event(&self) -> Option<Event> {
        match &self.at {
            At::Start => Some(Event::Start),
            At::Client { again: Some(_), written: false, .. } => None,
            At::Client { .. } => Some(Event::Acknowledged),
            At::Wait { .. } => Some(Event::Waited),
            At::Shell(_) | At::Tasks { .. } | At::End => None,
        }
    }

    /// Hands out again the step the machine waits at when its result is needed and the client
    /// asked for the next step instead of reporting it (a retry, or an agent that skipped it);
    /// says whether it did.
    pub(super) fn hand_again(&mut self) -> bool {
        let At::Client { again: Some(step), written: false, .. } = &self.at else { return false };
        if self.pending.is_empty() {
            self.pending.push(step.clone());
        }
        true
    }

    /// Whether a result for `step_id` (with the `sequence` the step was handed out with, if the
    /// client echoes it) is for the step the machine — `who`, for messages — waits at, or one
    /// applied already.
    pub(super) fn submission(&self, who: &str, step_id: &str, sequence: Option<u64>) -> Result<Submission, ToolError> {
        if let At::Client { step_id: waiting, sequence: current, .. } = &self.at
            && waiting == step_id
            && sequence.is_none_or(|s| s == *current)
        {
            return Ok(Submission::Apply);
        }
        if let Some(last) = self.last.as_ref().filter(|last| last.step_id == step_id && sequence.is_none_or(|s| s == last.sequence)) {
            return Ok(Submission::Repeat(last.answer.clone().map(Box::new)));
        }
        let waits_at = match &self.at {
            At::Start => "nothing yet: call workflow_get_next_step first".to_owned(),
            At::Client { step_id, kind, sequence, .. } => format!("the result of `{step_id}` ({kind}, sequence {sequence})"),
            At::Shell(command) => format!("its shell step `{}` to run: call workflow_get_next_step", command.step_id),
            At::Wait { step_id, .. } => format!("the wait step `{step_id}` to be over: call workflow_get_next_step"),
            At::Tasks { step_id } => format!("the sub-agent tasks of `{step_id}`, which report their own results with their task_id"),
            At::End => "nothing: it has ended".to_owned(),
        };
        Err(ToolError::invalid(format!("step `{step_id}` is not waiting for a result; {who} waits for {waits_at}")))
    }

    /// Fails the machine if the wait step it stands at has outlived its `timeout_seconds`;
    /// says whether it did.
    pub(super) fn enforce_wait_deadline(&mut self, now: f64) -> bool {
        let At::Wait { step_id, deadline: Some((limit, at)) } = &self.at else { return false };
        if now < *at {
            return false;
        }
        let (step_id, limit) = (step_id.clone(), *limit);
        let message = format!("timed out: the wait step had {limit} s (wait_step timeout_seconds)");
        self.note("timeout", Some(&step_id), json!({"limit": "wait_step timeout_seconds", "seconds": limit}));
        self.failure = Some(StepError::new(step_id, message));
        self.at = At::End;
        true
    }

    /// Hands out the steps produced so far — only the first of them when `one` (serial mode).
    pub(super) fn take_steps(&mut self, one: bool) -> Vec<HandedStep> {
        match one {
            true if !self.pending.is_empty() => vec![self.pending.remove(0)],
            _ => std::mem::take(&mut self.pending),
        }
    }

    /// The client wrote this machine's state: the step it waits at may now be completed
    /// without a result.
    pub(super) fn wrote(&mut self) {
        if let At::Client { written, .. } = &mut self.at {
            *written = true;
        }
    }

    pub(super) fn status(&self) -> Status {
        match (&self.at, &self.failure) {
            (_, Some(_)) => Status::Failed,
            (At::End, None) => Status::Completed,
            _ => Status::Running,
        }
    }

    /// [`Driven::step_failure`] as JSON (`null` when it has not failed).
    pub(super) fn failure_json(&self) -> Json {
        self.step_failure().map_or(Json::Null, |failure| serde_json::to_value(failure).unwrap_or_default())
    }

    pub(super) fn step_failure(&self) -> Option<StepFailure> {
        self.failure.as_ref().map(|f| StepFailure { step_id: Some(f.step_id.clone()), message: f.message.clone() })
    }
}

/// A step as the client gets it; `sequence` numbers the steps one machine handed out, for the
/// client to echo with its result.
pub(super) fn handed_step(step: &ClientStep, sequence: u64) -> HandedStep {
    HandedStep {
        id: step.id.clone(),
        kind: step.kind.to_owned(),
        definition: step.definition.clone(),
        sequence: Some(sequence),
        attempt: (step.attempt > 1).then_some(step.attempt),
        is_wait: false,
        task_id: None,
        instructions: None,
    }
}

