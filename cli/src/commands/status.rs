//! `wfc status`: the instances a store holds that have not ended — what `wfc serve` continues
//! after a restart — as a table (or JSON), read without starting a server.

use std::process::ExitCode;

use serde_json::{Value as Json, json};
use wfc_runtime::engine::{Store, Stored};

pub(crate) fn run(location: super::StoreLocation, as_json: bool) -> ExitCode {
    let running = match location.open().and_then(|(store, _)| store.running().map_err(|e| super::store_failed(&e))) {
        Ok(running) => running,
        Err(code) => return code,
    };
    let rows: Vec<Json> = running.iter().map(row).collect();
    if as_json {
        return super::print_out(&format!("{}\n", json!({"count": rows.len(), "instances": rows})));
    }
    super::print_out(&table(&rows))
}

/// What `wfc status` shows of one instance; the current step is read from its record.
fn row(stored: &Stored) -> Json {
    let record: Json = serde_json::from_str(&stored.record).unwrap_or_default();
    let main = &record["main"];
    let tasks = record["fan_out"]["tasks"].as_array().map_or(0, Vec::len);
    json!({
        "workflow_id": stored.id,
        "workflow": stored.workflow,
        "status": stored.status,
        "current_step": main["at"]["step_id"],
        "waits_for": main["at"]["waits_for"],
        "steps_handed_out": main["steps_handed"],
        "tasks": tasks,
        "version": stored.version,
        "created_at": stored.created_at,
    })
}

fn table(rows: &[Json]) -> String {
    let header = ["INSTANCE", "WORKFLOW", "STEP", "WAITS FOR", "STEPS", "TASKS", "VERSION", "AGE"];
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
    let text = |value: &Json| value.as_str().map_or_else(|| if value.is_null() { "-".to_owned() } else { value.to_string() }, str::to_owned);
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            vec![
                text(&row["workflow_id"]),
                text(&row["workflow"]),
                text(&row["current_step"]),
                text(&row["waits_for"]).replace('_', " "),
                text(&row["steps_handed_out"]),
                text(&row["tasks"]),
                text(&row["version"]),
                age(now - row["created_at"].as_f64().unwrap_or(now)),
            ]
        })
        .collect();
    let widths: Vec<usize> =
        (0..header.len()).map(|column| cells.iter().map(|row| row[column].chars().count()).chain([header[column].len()]).max().unwrap_or(0)).collect();
    let line = |values: Vec<String>| {
        let padded: Vec<String> = values.iter().zip(&widths).map(|(value, width)| format!("{value:<width$}")).collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut out = line(header.iter().map(|h| (*h).to_owned()).collect());
    for row in cells {
        out.push_str(&line(row));
    }
    out.push_str(&format!("{} instance(s) not ended\n", rows.len()));
    out
}

/// `42s`, `5m`, `3h`, `2d`.
fn age(seconds: f64) -> String {
    let seconds = seconds.max(0.0) as u64;
    match seconds {
        0..60 => format!("{seconds}s"),
        60..3600 => format!("{}m", seconds / 60),
        3600..86400 => format!("{}h", seconds / 3600),
        _ => format!("{}d", seconds / 86400),
    }
}
