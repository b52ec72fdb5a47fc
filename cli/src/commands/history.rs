//! `wfc history ID`: an instance's execution history read from the store, as a timeline, as
//! `workflow_history` answers it, or as JSON lines — without starting a server.

use std::process::ExitCode;

use serde_json::Value as Json;
use wfc_runtime::engine::store::{HistoryEvent, audit_lines};
use wfc_runtime::engine::history_answer;

/// How `wfc history` prints.
#[derive(Clone, Copy, clap::ValueEnum)]
pub(crate) enum HistoryFormat {
    /// A timeline, one line per entry.
    Text,
    /// The workflow_history answer, as one JSON document.
    Json,
    /// One JSON object per line: each entry with `workflow_id` and `workflow_name`.
    Jsonl,
}

pub(crate) fn run(id: &str, location: super::StoreLocation, format: HistoryFormat) -> ExitCode {
    let (instance, events) = match super::instance_history(id, location) {
        Ok(read) => read,
        Err(code) => return code,
    };
    match format {
        HistoryFormat::Json => return super::print_out(&format!("{}\n", serde_json::to_string_pretty(&history_answer(&instance, events)).unwrap_or_default())),
        HistoryFormat::Jsonl => return super::print_out(&audit_lines(&instance.id, &instance.workflow, &events)),
        HistoryFormat::Text => {}
    }
    let mut out = format!("{id} ({}), {}\n", instance.workflow, instance.status);
    let start = events.iter().find(|e| e.seq > 0).map_or(0.0, |e| e.at);
    for event in &events {
        out.push_str(&line(event, start));
        out.push('\n');
    }
    super::print_out(&out)
}

/// `+0.012s  #4  [review.item0]  state_write  fix: this.count 1 → 2 (by step)`.
fn line(event: &HistoryEvent, start: f64) -> String {
    let detail = &event.detail;
    let short = |value: &Json| {
        let text = value.to_string();
        if text.chars().count() > 60 { format!("{}…", text.chars().take(59).collect::<String>()) } else { text }
    };
    let what = match event.kind.as_str() {
        "state_write" => format!("{} {} → {} (by {})", detail["path"].as_str().unwrap_or_default(), short(&detail["old"]), short(&detail["new"]), detail["by"].as_str().unwrap_or_default()),
        "summary" => format!("{} earlier entries dropped: {}", detail["dropped"], detail["kinds"]),
        "lost" => format!("entries #{}–#{} were lost: {}", detail["from_seq"], detail["through_seq"], detail["cause"].as_str().unwrap_or_default()),
        _ if detail.is_null() => String::new(),
        _ => short(detail),
    };
    let task = event.task_id.as_deref().map(|t| format!("[{t}] ")).unwrap_or_default();
    let step = event.step_id.as_deref().map(|s| format!("{s}: ")).unwrap_or_default();
    let at = if event.seq == 0 { "        ".to_owned() } else { format!("+{:.3}s", event.at - start) };
    format!("{at}  #{:<4} {task}{:<16} {step}{what}", event.seq, event.kind)
}
