//! Where an instance spent its time, read from its history (`workflow_profile`, `wfc profile`):
//! per step, how often it ran and for how long; the time in server-side shell commands, with
//! the agent, and with the person (`user_input`); and the slowest iterations of each loop.
//!
//! A client step's time is from its hand-out to its result (`step_completed`'s `seconds`); a
//! command's is its run (`shell`'s `seconds`, each attempt); a loop iteration's is from its
//! start to the next iteration's, and the last one's to the last step completed or command run
//! of its workflow or task (an upper bound when steps follow the loop).

use std::collections::BTreeMap;

use super::answers::{LoopProfile, Profile, SlowIteration, StepProfile, Waiting};
use super::store::HistoryEvent;

/// The slowest iterations shown per loop.
const SLOWEST: usize = 3;

/// The profile of `events` (an instance's history, in order).
pub fn profile(workflow_id: &str, workflow_name: &str, status: &str, events: &[HistoryEvent]) -> Profile {
    let numbered: Vec<&HistoryEvent> = events.iter().filter(|e| e.seq > 0).collect();
    let wall_seconds = match (numbered.first(), numbered.last()) {
        (Some(first), Some(last)) => last.at - first.at,
        _ => 0.0,
    };
    // The type of each step as it was handed out, by task and step.
    let mut kinds: BTreeMap<(Option<&str>, &str), String> = BTreeMap::new();
    let mut steps: BTreeMap<(String, String), StepProfile> = BTreeMap::new();
    let mut waiting = Waiting { shell_seconds: 0.0, agent_seconds: 0.0, person_seconds: 0.0 };
    for event in &numbered {
        let Some(step) = event.step_id.as_deref() else { continue };
        let seconds = event.detail["seconds"].as_f64().unwrap_or(0.0);
        let kind = match event.kind.as_str() {
            "step_handed" => {
                if let Some(kind) = event.detail["type"].as_str() {
                    kinds.insert((event.task_id.as_deref(), step), kind.to_owned());
                }
                continue;
            }
            "step_completed" => kinds.get(&(event.task_id.as_deref(), step)).cloned().unwrap_or_else(|| "client step".to_owned()),
            "shell" => "shell_command".to_owned(),
            _ => continue,
        };
        match kind.as_str() {
            "shell_command" if event.kind == "shell" => waiting.shell_seconds += seconds,
            "user_input" => waiting.person_seconds += seconds,
            _ => waiting.agent_seconds += seconds,
        }
        let entry = steps.entry((step.to_owned(), kind.clone())).or_insert_with(|| StepProfile {
            step_id: step.to_owned(),
            kind,
            count: 0,
            total_seconds: 0.0,
            mean_seconds: 0.0,
            max_seconds: 0.0,
        });
        entry.count += 1;
        entry.total_seconds += seconds;
        entry.max_seconds = entry.max_seconds.max(seconds);
    }
    let mut steps: Vec<StepProfile> = steps.into_values().collect();
    for step in &mut steps {
        step.mean_seconds = step.total_seconds / step.count as f64;
    }
    steps.sort_by(|a, b| b.total_seconds.total_cmp(&a.total_seconds).then_with(|| a.step_id.cmp(&b.step_id)));
    Profile { workflow_id: workflow_id.to_owned(), workflow_name: workflow_name.to_owned(), status: status.to_owned(), wall_seconds, waiting, steps, loops: loops(&numbered) }
}

/// Each loop's iterations, by loop (and task), with the slowest first.
fn loops(events: &[&HistoryEvent]) -> Vec<LoopProfile> {
    let mut by_loop: BTreeMap<(Option<&str>, &str), Vec<SlowIteration>> = BTreeMap::new();
    for (index, event) in events.iter().enumerate() {
        if event.kind != "loop_iteration" {
            continue;
        }
        let Some(step) = event.step_id.as_deref() else { continue };
        let task = event.task_id.as_deref();
        let later = &events[index + 1..];
        let next_iteration = later.iter().find(|e| e.kind == "loop_iteration" && e.step_id.as_deref() == Some(step) && e.task_id.as_deref() == task);
        let last_work = || later.iter().rev().find(|e| e.task_id.as_deref() == task && matches!(e.kind.as_str(), "step_completed" | "shell"));
        let end = next_iteration.or_else(last_work).map_or(event.at, |e| e.at);
        let iteration = event.detail["iteration"].as_u64().unwrap_or(0);
        by_loop.entry((task, step)).or_default().push(SlowIteration { iteration, seconds: (end - event.at).max(0.0) });
    }
    by_loop
        .into_iter()
        .map(|((task, step), mut iterations)| {
            let count = iterations.len();
            let total_seconds = iterations.iter().map(|i| i.seconds).sum();
            iterations.sort_by(|a, b| b.seconds.total_cmp(&a.seconds).then(a.iteration.cmp(&b.iteration)));
            iterations.truncate(SLOWEST);
            LoopProfile { step_id: step.to_owned(), task_id: task.map(str::to_owned), iterations: count, total_seconds, slowest: iterations }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn event(seq: u64, at: f64, kind: &str, step: Option<&str>, detail: serde_json::Value) -> HistoryEvent {
        HistoryEvent { seq, at, task_id: None, kind: kind.to_owned(), step_id: step.map(str::to_owned), detail, actor: Default::default() }
    }

    #[test]
    fn time_is_split_by_step_by_who_was_waited_on_and_by_iteration() {
        let events = vec![
            event(1, 0.0, "started", None, json!({})),
            event(2, 0.0, "loop_iteration", Some("again"), json!({"iteration": 1})),
            event(3, 0.0, "shell", Some("build"), json!({"seconds": 2.0})),
            event(4, 2.0, "step_handed", Some("ask"), json!({"type": "user_input"})),
            event(5, 7.0, "step_completed", Some("ask"), json!({"seconds": 5.0})),
            event(6, 7.0, "loop_iteration", Some("again"), json!({"iteration": 2})),
            event(7, 7.0, "shell", Some("build"), json!({"seconds": 1.0})),
            event(8, 8.0, "step_handed", Some("ask"), json!({"type": "user_input"})),
            event(9, 9.0, "step_completed", Some("ask"), json!({"seconds": 1.0})),
            event(10, 9.0, "step_handed", Some("fix"), json!({"type": "agent_prompt"})),
            event(11, 12.0, "step_completed", Some("fix"), json!({"seconds": 3.0})),
        ];
        let profile = profile("wf_1", "test:p", "completed", &events);
        assert_eq!(profile.wall_seconds, 12.0);
        assert_eq!((profile.waiting.shell_seconds, profile.waiting.person_seconds, profile.waiting.agent_seconds), (3.0, 6.0, 3.0));
        let steps: Vec<(&str, &str, u64, f64, f64)> = profile.steps.iter().map(|s| (s.step_id.as_str(), s.kind.as_str(), s.count, s.total_seconds, s.max_seconds)).collect();
        assert_eq!(steps, [("ask", "user_input", 2, 6.0, 5.0), ("build", "shell_command", 2, 3.0, 2.0), ("fix", "agent_prompt", 1, 3.0, 3.0)]);
        assert_eq!(profile.loops.len(), 1);
        let slowest: Vec<(u64, f64)> = profile.loops[0].slowest.iter().map(|i| (i.iteration, i.seconds)).collect();
        assert_eq!((profile.loops[0].iterations, slowest), (2, vec![(1, 7.0), (2, 5.0)]));
    }
}
