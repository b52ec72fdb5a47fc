//! The sub-agent tasks of a `parallel_foreach`: one driven machine per item, released in waves
//! of `max_parallel`, their progress and outcomes, and the machine of a task whose inputs were
//! refused.

use std::sync::Arc;

use serde_json::{Value as Json, json};

use super::driven::{At, Driven};
use super::{Status, ToolError};
use crate::engine::definition::Live;
use crate::machine::{ClientWrite, Event, Failure, Machine, MachineStatus, Snapshot, State, StepError, Yield};
use crate::value::Object;

/// The sub-agent tasks of a `parallel_foreach`.
pub(super) struct FanOut {
    pub(super) step_id: String,
    /// The sub-agent task's index in the definition.
    pub(super) task: Option<usize>,
    pub(super) max_parallel: usize,
    /// When unfinished tasks are failed (`parallel_foreach.timeout_seconds`): the limit, and
    /// the time it is reached at.
    pub(super) deadline: Option<(f64, f64)>,
    pub(super) tasks: Vec<Task>,
    /// Tasks already listed to the client (the first `announced` of `tasks`).
    pub(super) announced: usize,
}

pub(super) struct Task {
    pub(super) id: String,
    pub(super) driven: Driven,
    /// The entry handed to the orchestrator: `task_id`, `context`, `inputs`, `prompt`.
    pub(super) entry: Json,
}

/// Where a task stands, for progress counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum TaskStatus {
    Pending,
    Running,
    Completed,
    Failed,
}

impl Task {
    pub(super) fn status(&self, released: bool) -> TaskStatus {
        match self.driven.status() {
            Status::Running if !released => TaskStatus::Pending,
            Status::Running => TaskStatus::Running,
            Status::Completed => TaskStatus::Completed,
            Status::Failed | Status::Cancelled => TaskStatus::Failed,
        }
    }

    /// What the workflow learns of a task that ended.
    pub(super) fn outcome(&self) -> Json {
        let state = self.driven.machine.state().this().to_json().unwrap_or_default();
        match &self.driven.failure {
            None => json!({"task_id": self.id, "status": "completed", "state": state}),
            Some(_) => json!({"task_id": self.id, "status": "failed", "state": state, "error": self.driven.failure_json()}),
        }
    }
}

impl FanOut {
    /// Fails every unfinished task once the step's `timeout_seconds` has passed; returns the
    /// step and the limit when it did.
    pub(super) fn enforce_deadline(&mut self, now: f64) -> Option<(String, f64)> {
        let (limit, _) = self.deadline.filter(|(_, at)| now >= *at)?;
        for task in self.tasks.iter_mut().filter(|t| t.driven.at != At::End) {
            let message = format!("timed out: the tasks of `{}` had {limit} s (parallel_foreach timeout_seconds)", self.step_id);
            task.driven.failure = Some(StepError::new(&task.id, message));
            task.driven.at = At::End;
        }
        self.deadline = None;
        Some((self.step_id.clone(), limit))
    }

    /// How many tasks may be running or done: the first wave, plus one per task that ended.
    pub(super) fn released(&self) -> usize {
        let ended = self.tasks.iter().filter(|t| t.driven.at == At::End).count();
        (self.max_parallel + ended).min(self.tasks.len())
    }

    pub(super) fn task_index(&self, task_id: &str) -> Result<usize, ToolError> {
        self.tasks.iter().position(|t| t.id == task_id).ok_or_else(|| {
            let ids: Vec<&str> = self.tasks.iter().map(|t| t.id.as_str()).collect();
            ToolError::not_found(format!("no sub-agent task `{task_id}` (tasks: {})", ids.join(", ")))
        })
    }

    pub(super) fn progress(&self) -> Json {
        let released = self.released();
        let count = |status: TaskStatus| self.tasks.iter().enumerate().filter(|(index, task)| task.status(*index < released) == status).count();
        json!({
            "pending": count(TaskStatus::Pending),
            "running": count(TaskStatus::Running),
            "completed": count(TaskStatus::Completed),
            "failed": count(TaskStatus::Failed),
            "total": self.tasks.len(),
        })
    }

    /// The tasks released since the client last heard of them.
    pub(super) fn announce(&mut self) -> Vec<Json> {
        let released = self.released();
        let fresh = self.tasks[self.announced.min(released)..released].iter().map(|t| t.entry.clone()).collect();
        self.announced = released.max(self.announced);
        fresh
    }
}

/// A task whose machine could not start (its inputs were refused): ended, failed, with an
/// empty state.
pub(super) fn failed_task(task_id: &str, cause: String) -> Driven {
    let failure = StepError::new(task_id, cause);
    let mut driven = Driven::new(Box::new(Unstarted { state: State::default(), failure: failure.clone() }));
    driven.at = At::End;
    driven.failure = Some(failure);
    driven
}

/// The machine of a task that never started.
pub(super) struct Unstarted {
    pub(super) state: State,
    pub(super) failure: StepError,
}

impl Machine for Unstarted {
    fn resume(&mut self, _: Event) -> Result<Yield, StepError> {
        Err(self.failure.clone())
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot {
            pc: 0,
            waiting: false,
            attempt: 0,
            frames: Vec::new(),
            loop_view: Json::Null,
            state: self.state.to_json(),
            bindings: Json::Null,
            status: MachineStatus::Failed,
            failure: Some(Failure { step_id: self.failure.step_id.clone(), message: self.failure.message.clone() }),
        }
    }
}

impl Live for Unstarted {
    fn state(&self) -> &State {
        &self.state
    }

    fn write(&mut self, _: &[ClientWrite]) -> Result<(), String> {
        Err(format!("the task never started: {}", self.failure.message))
    }

    fn adopt_global(&mut self, _: Arc<Object>) -> Result<(), String> {
        Ok(())
    }

    fn rewind(&mut self, _: State) {}

    fn resumable(&self) -> Option<Snapshot> {
        None
    }
}

/// What a sub-agent is told to do with its task.
pub(super) fn sub_agent_prompt(workflow_id: &str, task_id: &str, inputs: &Json) -> String {
    format!(
        "You are a sub-agent running task `{task_id}` of workflow `{workflow_id}`. Repeat until the answer says \
         `completed: true`: call workflow_get_next_step with workflow_id \"{workflow_id}\" and task_id \"{task_id}\"; \
         do every step in `steps` in order; for the last step, unless it is a user_message or a wait_step, report its \
         result with workflow_submit_result (workflow_id, task_id, step_id, result). Do not start sub-agents of your own.\n\
         SUB_AGENT_INPUTS:\n```json\n{}\n```",
        json!({"inputs": inputs})
    )
}

