//! What a program would run, read off its operations before it runs (`workflow_explain_plan`,
//! `wfc explain`): the steps in order with the loops they sit in, which run on the client and
//! which on the server, loop caps, fan-out points, and what each step reads and writes. It
//! reads the program itself, so it describes compiled and interpreted workflows alike.

use serde::Serialize;

use super::program::{Handling, LoopKind, Op, Program, Update, WritePath};

/// One step of a plan.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PlannedStep {
    /// The step id.
    pub id: String,
    /// The step type (`user_input`, `while_loop`, …).
    #[serde(rename = "type")]
    pub kind: String,
    /// `client` (handed to the agent) or `server` (run inside the server).
    pub runs_on: &'static str,
    /// How many loops and conditionals it sits in.
    pub depth: usize,
    /// The branch it is on, for a step inside a conditional: `report: then`, `report: else`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// The state it reads (`this.count`, `inputs.files`, `loop.item`): fields its
    /// conditions, items, definition, command and update values read.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reads: Vec<String>,
    /// The paths it writes (`this.count`, `global.seen`), as written.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub writes: Vec<String>,
    /// A loop's cap, a fan-out's task and width, a conditional's branches.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// A conditional whose branches the walk is inside.
struct OpenBranch {
    step: String,
    /// Where its `else_steps` start.
    otherwise: usize,
    /// Where the conditional ends.
    end: usize,
}

/// The steps of `program` in the order they appear; steps inside loops and conditionals one
/// level deeper, each with its branch.
pub fn steps<X>(program: &Program<X>) -> Vec<PlannedStep> {
    let mut planned = Vec::new();
    let mut loops = 0;
    let mut branches: Vec<OpenBranch> = Vec::new();
    for (pc, op) in program.ops.iter().enumerate() {
        while branches.last().is_some_and(|b| pc >= b.end) {
            branches.pop();
        }
        let depth = loops + branches.len();
        let branch = branches.last().map(|b| format!("{}: {}", b.step, if pc < b.otherwise { "then" } else { "else" }));
        let step = |id: &str, kind: &str, runs_on, writes: Vec<String>, detail: Option<String>| PlannedStep {
            id: id.to_owned(),
            kind: kind.to_owned(),
            runs_on,
            depth,
            branch: branch.clone(),
            reads: program.reads.iter().find(|(step, _)| step == id).map(|(_, fields)| fields.clone()).unwrap_or_default(),
            writes,
            detail,
        };
        let entry = match op {
            Op::Client(client) => step(&client.step, client.kind, "client", handling_writes(&client.handling), None),
            Op::Shell(shell) => step(&shell.step, "shell_command", "server", update_paths(&shell.updates), Some(format!("timeout {} s", shell.timeout_seconds))),
            Op::Wait { step: id, timeout_seconds, .. } => step(id, "wait_step", "client", Vec::new(), timeout_seconds.map(|t| format!("timeout {t} s"))),
            Op::Write { step: id, updates } => step(id, "workflow_state_update", "server", update_paths(updates), None),
            Op::Spawn(spawn) => {
                let detail = format!("one `{}` sub-agent task per item, {} at a time", spawn.task_name, spawn.max_parallel);
                step(&spawn.step, "parallel_foreach", "client", spawn.store.iter().map(path).collect(), Some(detail))
            }
            Op::Branch { step: id, otherwise, .. } => {
                let otherwise = *otherwise as usize;
                // The then-branch ends with a jump over the else-branch, when there is one.
                let end = match program.ops.get(otherwise.wrapping_sub(1)) {
                    Some(Op::Jump { to, step: None }) if *to as usize > otherwise => *to as usize,
                    _ => otherwise,
                };
                branches.push(OpenBranch { step: id.clone(), otherwise, end });
                step(id, "conditional", "server", Vec::new(), None)
            }
            Op::LoopStart { step: id, kind, .. } => {
                let (kind, detail) = match kind {
                    LoopKind::While { max_iterations, fail_at_limit, .. } => {
                        let at_cap = if *fail_at_limit { "fails" } else { "ends with a warning" };
                        ("while_loop", format!("at most {max_iterations} iterations, then {at_cap}"))
                    }
                    LoopKind::Foreach { variable_name, .. } => ("foreach", format!("once per item, as loop.{variable_name}")),
                };
                loops += 1;
                step(id, kind, "server", Vec::new(), Some(detail))
            }
            Op::LoopEnd { .. } => {
                loops = loops.saturating_sub(1);
                continue;
            }
            Op::LoopNext { .. } | Op::Jump { .. } | Op::Done => continue,
        };
        planned.push(entry);
    }
    planned
}

fn path<X>(path: &WritePath<X>) -> String {
    path.text.clone()
}

fn update_paths<X>(updates: &[Update<X>]) -> Vec<String> {
    updates.iter().map(|u| path(&u.path)).collect()
}

fn handling_writes<X>(handling: &Handling<X>) -> Vec<String> {
    match handling {
        Handling::Nothing => Vec::new(),
        Handling::ToolResult { store, updates, .. } | Handling::Reply { store, updates, .. } => {
            store.iter().map(path).chain(update_paths(updates)).collect()
        }
        Handling::Answer(rules) => rules.variable.iter().map(|v| format!("this.{v}")).chain(update_paths(&rules.updates)).collect(),
        Handling::ShellOutput { updates, .. } => update_paths(updates),
    }
}
