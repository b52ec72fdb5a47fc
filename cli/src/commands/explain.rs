//! `wfc explain NAME|FILE`: what a workflow would run, without running it — the steps in
//! order, client or server, loop caps, fan-out points, what each step reads and writes,
//! computed fields and their dependencies, and the same for each sub-agent task (`--json`:
//! the `workflow_explain_plan` answer).

use std::process::ExitCode;

use serde_json::Value as Json;
use wfc_runtime::catalog::Entry;

pub(crate) fn run(catalog: &'static [Entry], workflow: &str, as_json: bool) -> ExitCode {
    let definition = match super::load_definition(catalog, workflow) {
        Ok(definition) => definition,
        Err(code) => return code,
    };
    let plan = serde_json::to_value(definition.explain()).unwrap_or_default();
    if as_json {
        return super::print_out(&format!("{}\n", serde_json::to_string_pretty(&plan).unwrap_or_default()));
    }
    super::print_out(&render(&plan))
}

/// The plan as text: one line per step, indented by loop depth.
fn render(plan: &Json) -> String {
    let text = |value: &Json| value.as_str().unwrap_or_default().to_owned();
    let mut out = format!("{} {} — {}\n", text(&plan["workflow"]), text(&plan["version"]), text(&plan["description"]));
    let inputs: Vec<String> = plan["inputs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| {
            let kind = i["type"].as_str().unwrap_or("any");
            let need = if i["required"] == true { ", required".to_owned() } else if i["default"].is_null() { String::new() } else { format!(", default {}", i["default"]) };
            format!("{}: {kind}{need}", text(&i["name"]))
        })
        .collect();
    if !inputs.is_empty() {
        out.push_str(&format!("inputs: {}\n", inputs.join("; ")));
    }
    if let Some(limit) = plan["timeout_seconds"].as_f64() {
        out.push_str(&format!("the whole workflow has {limit} s\n"));
    }
    render_program(&mut out, plan, "");
    for task in plan["sub_agent_tasks"].as_array().into_iter().flatten() {
        out.push_str(&format!("\nsub-agent task {}:\n", text(&task["name"])));
        render_program(&mut out, task, "  ");
    }
    out
}

fn render_program(out: &mut String, program: &Json, indent: &str) {
    out.push_str(&format!("{indent}steps:\n"));
    for step in program["steps"].as_array().into_iter().flatten() {
        let depth = "  ".repeat(step["depth"].as_u64().unwrap_or(0) as usize);
        let branch = step["branch"].as_str().map(|b| format!("[{b}] ")).unwrap_or_default();
        let mut line = format!("{indent}  {depth}{branch}{} ({}, {})", step["id"].as_str().unwrap_or_default(), step["type"].as_str().unwrap_or_default(), step["runs_on"].as_str().unwrap_or_default());
        if let Some(detail) = step["detail"].as_str() {
            line.push_str(&format!(": {detail}"));
        }
        for key in ["reads", "writes"] {
            let paths: Vec<&str> = step[key].as_array().into_iter().flatten().filter_map(Json::as_str).collect();
            if !paths.is_empty() {
                line.push_str(&format!("; {key} {}", paths.join(", ")));
            }
        }
        out.push_str(&line);
        out.push('\n');
    }
    let computed = program["computed"].as_array().cloned().unwrap_or_default();
    if !computed.is_empty() {
        out.push_str(&format!("{indent}computed fields (refreshed in this order when what they read changes):\n"));
        for field in computed {
            let reads: Vec<&str> = field["dependencies"].as_array().into_iter().flatten().filter_map(Json::as_str).collect();
            out.push_str(&format!(
                "{indent}  {} ← {} (on_error {})\n",
                field["field"].as_str().unwrap_or_default(),
                reads.join(", "),
                field["on_error"].as_str().unwrap_or_default()
            ));
        }
    }
}
