//! Server-side work that may outlive the request that started it (`--answer-within`): a
//! chain of shell commands run by a task of its own, without the instance's lock, so that
//! `workflow_get_status` and the other reads answer while it runs.
//!
//! The request that started the work waits for it until its answer is due. If the work ends
//! in time, that request answers with what the work produced. If not, it answers that the work
//! is running and lets go: the work is then *detached* — it goes on, but leaves the steps it
//! produces in the instance for the next request instead of answering with them. Whether the
//! work answers or is detached is decided under one lock ([`Handoff`]), so no step is both
//! handed out and lost.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::watch;

use super::batch::{Batch, Running};
use super::execution::{ShellJob, Status};
use super::shell::Watch;
use super::ToolError;

/// Lines of a running command's output a report shows.
const REPORTED_LINES: usize = 5;

/// One instance's work in flight.
#[derive(Debug)]
pub(crate) struct Work {
    /// The command now running, and since when.
    current: Mutex<(String, String, Instant)>,
    /// Its output so far; its stop switch.
    pub(crate) watch: Arc<Watch>,
    handoff: Mutex<Handoff>,
    /// Turns `true` when the work has ended; closed if its task died.
    ended: watch::Receiver<bool>,
}

/// Between the work and the request that waits for it.
#[derive(Debug, Default)]
pub(crate) struct Handoff {
    /// The request stopped waiting: the work keeps what it produces for the next request.
    pub(crate) detached: bool,
    /// How the work ended for the request that waits for it: its answer or its error.
    pub(crate) outcome: Option<Result<Batch, ToolError>>,
}

/// What the work's task holds to say it ended (dropped with the task, the work counts as
/// ended either way).
pub(crate) struct Ending(watch::Sender<bool>);

impl Ending {
    pub(crate) fn ended(self) {
        self.0.send_replace(true);
    }
}

/// See [`Work::detach_when_dropped`].
pub(crate) struct Detach<'a>(&'a Work);

impl Drop for Detach<'_> {
    fn drop(&mut self) {
        let mut handoff = self.0.handoff();
        if handoff.outcome.is_none() {
            handoff.detached = true;
        }
    }
}

impl Work {
    /// The work of `job`, and what its task holds to say it ended.
    pub(crate) fn start(job: &ShellJob) -> (Arc<Work>, Ending) {
        let (sender, ended) = watch::channel(false);
        let command = &job.command;
        let work = Work {
            current: Mutex::new((command.step_id.clone(), command.command.clone(), Instant::now())),
            watch: Arc::new(Watch::default()),
            handoff: Mutex::default(),
            ended,
        };
        (Arc::new(work), Ending(sender))
    }

    /// The work moved on to `job`'s command.
    pub(crate) fn now_running(&self, job: &ShellJob) {
        if let Ok(mut current) = self.current.lock() {
            *current = (job.command.step_id.clone(), job.command.command.clone(), Instant::now());
        }
    }

    /// The handoff, locked (a poisoned lock still holds a consistent value: every write to it
    /// is one assignment).
    pub(crate) fn handoff(&self) -> std::sync::MutexGuard<'_, Handoff> {
        self.handoff.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The work's outcome if it has one; otherwise the work is detached.
    pub(crate) fn take_or_detach(&self) -> Option<Result<Batch, ToolError>> {
        let mut handoff = self.handoff();
        let outcome = handoff.outcome.take();
        handoff.detached |= outcome.is_none();
        outcome
    }

    /// A guard that detaches the work when dropped, unless the work has answered already.
    pub(crate) fn detach_when_dropped(&self) -> Detach<'_> {
        Detach(self)
    }

    /// Whether the work has ended.
    pub(crate) fn is_over(&self) -> bool {
        *self.ended.borrow() || self.ended.has_changed().is_err()
    }

    /// Waits until the work ends or `deadline` passes; says whether it ended.
    pub(crate) async fn wait_until(&self, deadline: tokio::time::Instant) -> bool {
        let mut ended = self.ended.clone();
        match tokio::time::timeout_at(deadline, ended.wait_for(|ended| *ended)).await {
            Ok(_) => true,
            Err(_) => self.is_over(),
        }
    }

    /// Where the work stands, for an answer given while it runs.
    pub(crate) fn report(&self) -> Running {
        let (step_id, command, started) = self.current.lock().map(|c| c.clone()).unwrap_or_else(|poisoned| poisoned.into_inner().clone());
        Running {
            step_id: step_id.clone(),
            command,
            elapsed_seconds: (started.elapsed().as_secs_f64() * 10.0).round() / 10.0,
            output_tail: self.watch.last_lines(REPORTED_LINES),
            output_lines: self.watch.line_count(),
            ask_again_after_seconds: 0.0,
            message: format!(
                "`{step_id}` is still running on the server and goes on without you. Call workflow_get_next_step again \
                 (it waits for the command, within the server's --answer-within) to get the steps that follow; nothing is lost meanwhile."
            ),
        }
    }

    /// The answer a step request gives while the work runs.
    pub(crate) fn running_answer(&self, workflow_id: &str, task_id: Option<&str>) -> Batch {
        Batch {
            workflow_id: workflow_id.to_owned(),
            task_id: task_id.map(str::to_owned),
            status: Status::Running,
            steps: Some(Vec::new()),
            completed: false,
            error: None,
            warnings: Vec::new(),
            running: Some(self.report()),
        }
    }
}
