//! An instance as data, for the store: each machine's [`Snapshot`], where it waits, the steps
//! not yet handed out, the last answer given, and the sub-agent tasks. The record is its own
//! set of types, not the engine's, so what is on disk changes only on purpose ([`FORMAT`]).
//! Written at every step, it borrows what it can from the instance (`Cow::Borrowed`) instead of
//! copying it; read back, it owns everything.

use std::borrow::Cow;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::driven::{At, Driven, Submitted};
use super::fan_out::{FanOut, Task, Unstarted};
use super::{Execution, HandedStep, Status};
use crate::engine::definition::Definition;
use crate::engine::store::Stored;
use crate::machine::{Failure, Snapshot, State, StepError};

/// The record format written now; a record of another format is refused, not misread.
pub(super) const FORMAT: u32 = 1;

#[derive(Serialize, Deserialize)]
pub(super) struct RunRecord<'a> {
    format: u32,
    status: Status,
    created_at: f64,
    finished_at: Option<f64>,
    main: DrivenRecord<'a>,
    fan_out: Option<FanOutRecord<'a>>,
    /// The last history entry's number.
    #[serde(default)]
    history_seq: u64,
}

#[derive(Serialize, Deserialize)]
struct DrivenRecord<'a> {
    /// `None` for a task that never started (its inputs were refused).
    machine: Option<Snapshot>,
    at: Cow<'a, At>,
    failure: Option<Failure>,
    steps_handed: u64,
    pending: Cow<'a, [HandedStep]>,
    last: Option<Cow<'a, Submitted>>,
}

#[derive(Serialize, Deserialize)]
struct FanOutRecord<'a> {
    step_id: Cow<'a, str>,
    task: Option<usize>,
    max_parallel: usize,
    deadline: Option<(f64, f64)>,
    announced: usize,
    tasks: Vec<TaskRecord<'a>>,
}

#[derive(Serialize, Deserialize)]
struct TaskRecord<'a> {
    id: Cow<'a, str>,
    entry: Cow<'a, Json>,
    driven: DrivenRecord<'a>,
}

impl Execution {
    pub(super) fn record(&self) -> RunRecord<'_> {
        RunRecord {
            format: FORMAT,
            status: self.status,
            created_at: self.created_at,
            finished_at: self.finished_at,
            main: self.main.record(),
            history_seq: self.history_seq,
            fan_out: self.fan_out.as_ref().map(|fan_out| FanOutRecord {
                step_id: Cow::Borrowed(&fan_out.step_id),
                task: fan_out.task,
                max_parallel: fan_out.max_parallel,
                deadline: fan_out.deadline,
                announced: fan_out.announced,
                tasks: fan_out
                    .tasks
                    .iter()
                    .map(|t| TaskRecord { id: Cow::Borrowed(&t.id), entry: Cow::Borrowed(&t.entry), driven: t.driven.record() })
                    .collect(),
            }),
        }
    }

    /// The instance `stored` describes, its machines restored under `definition` (which the
    /// caller has matched to the stored definition hash, or chose to run it under anyway).
    pub(crate) fn restore(stored: &Stored, definition: Arc<Definition>, server_steps: u32) -> Result<Execution, String> {
        let record: RunRecord = serde_json::from_str(&stored.record).map_err(|e| format!("the stored record of `{}` cannot be read: {e}", stored.id))?;
        if record.format != FORMAT {
            return Err(format!("the stored record of `{}` has format {}; this wfc reads format {FORMAT}", stored.id, record.format));
        }
        let main = Driven::restore(record.main, &definition, None, &stored.id, server_steps)?;
        let fan_out = match record.fan_out {
            None => None,
            Some(fan_out) => {
                let tasks = fan_out
                    .tasks
                    .into_iter()
                    .map(|task| {
                        let driven = Driven::restore(task.driven, &definition, fan_out.task, &task.id, server_steps)?;
                        Ok(Task { driven, id: task.id.into_owned(), entry: task.entry.into_owned() })
                    })
                    .collect::<Result<_, String>>()?;
                Some(FanOut {
                    step_id: fan_out.step_id.into_owned(),
                    task: fan_out.task,
                    max_parallel: fan_out.max_parallel,
                    deadline: fan_out.deadline,
                    announced: fan_out.announced,
                    tasks,
                })
            }
        };
        Ok(Execution {
            id: stored.id.clone(),
            definition,
            status: record.status,
            created_at: record.created_at,
            finished_at: record.finished_at,
            version: stored.version,
            discarded: false,
            work: None,
            history: Vec::new(),
            history_seq: record.history_seq,
            main,
            fan_out,
            warnings: Vec::new(),
            warned: Vec::new(),
            record_bytes: stored.record.len(),
        })
    }
}

/// The number of the last history entry of a stored instance (a restored checkpoint goes on
/// numbering from the instance's, not the checkpoint's).
pub(crate) fn history_seq(stored: &Stored) -> u64 {
    #[derive(Deserialize)]
    struct Seq {
        #[serde(default)]
        history_seq: u64,
    }
    serde_json::from_str::<Seq>(&stored.record).map_or(0, |seq| seq.history_seq)
}

impl Driven {
    fn record(&self) -> DrivenRecord<'_> {
        DrivenRecord {
            machine: self.machine.resumable(),
            at: Cow::Borrowed(&self.at),
            failure: self.failure.as_ref().map(|f| Failure { step_id: f.step_id.clone(), message: f.message.clone() }),
            steps_handed: self.steps_handed,
            pending: Cow::Borrowed(&self.pending),
            last: self.last.as_ref().map(Cow::Borrowed),
        }
    }

    /// `who` names the machine in messages (the instance or task id).
    fn restore(record: DrivenRecord<'_>, definition: &Definition, task: Option<usize>, who: &str, server_steps: u32) -> Result<Driven, String> {
        let failure = record.failure.map(|f| StepError::new(f.step_id, f.message));
        let machine = match (&record.machine, &failure) {
            (Some(snapshot), _) => definition.restore(task, snapshot, server_steps).map_err(|e| format!("`{who}` cannot be restored: {e}"))?,
            (None, Some(failure)) => Box::new(Unstarted { state: State::default(), failure: failure.clone() }),
            (None, None) => return Err(format!("`{who}` was stored without its machine")),
        };
        Ok(Driven {
            machine,
            at: record.at.into_owned(),
            failure,
            steps_handed: record.steps_handed,
            pending: record.pending.into_owned(),
            last: record.last.map(Cow::into_owned),
            log: Vec::new(),
        })
    }
}
