//! `wfc profile ID`: where an instance spent its time, read from the store's history without
//! starting a server — per step, who was waited on, the slowest loop iterations (`--json`: the
//! `workflow_profile` answer).

use std::process::ExitCode;

use wfc_runtime::engine::answers::Profile;
use wfc_runtime::engine::profile::profile;

pub(crate) fn run(id: &str, location: super::StoreLocation, as_json: bool) -> ExitCode {
    let read = super::instance_history(id, location).map(|(instance, events)| profile(&instance.id, &instance.workflow, &instance.status, &events));
    match read {
        Ok(report) if as_json => super::print_out(&format!("{}\n", serde_json::to_string_pretty(&report).unwrap_or_default())),
        Ok(report) => super::print_out(&render(&report)),
        Err(code) => code,
    }
}

/// The profile as a table.
fn render(report: &Profile) -> String {
    let waiting = &report.waiting;
    let mut out = format!(
        "{} ({}), {}: {:.3} s\nwaiting: commands {:.3} s, the agent {:.3} s, the person {:.3} s\n",
        report.workflow_id, report.workflow_name, report.status, report.wall_seconds, waiting.shell_seconds, waiting.agent_seconds, waiting.person_seconds
    );
    if !report.steps.is_empty() {
        out.push_str(&format!("{:<24} {:<16} {:>6} {:>10} {:>10} {:>10}\n", "step", "type", "count", "total s", "mean s", "max s"));
        for step in &report.steps {
            out.push_str(&format!(
                "{:<24} {:<16} {:>6} {:>10.3} {:>10.3} {:>10.3}\n",
                step.step_id, step.kind, step.count, step.total_seconds, step.mean_seconds, step.max_seconds
            ));
        }
    }
    for each in &report.loops {
        let task = each.task_id.as_deref().map(|t| format!(" [{t}]")).unwrap_or_default();
        let slowest: Vec<String> = each.slowest.iter().map(|i| format!("#{} {:.3} s", i.iteration, i.seconds)).collect();
        out.push_str(&format!("loop {}{task}: {} iterations, {:.3} s; slowest {}\n", each.step_id, each.iterations, each.total_seconds, slowest.join(", ")));
    }
    out
}
