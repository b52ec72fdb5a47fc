//! What a step boundary costs the SQLite store: one commit of an instance's record (a 2 KiB
//! JSON document, a `serve:counter`-sized instance) to a file in WAL mode, p50 and p99 of
//! many, and the same in memory (`--store memory`) for the ratio.
//!
//! `cargo bench -p wfc-runtime --bench store`; under `cargo test` a short smoke run.

use std::time::Instant;

use wfc_runtime::engine::{Sqlite, Store, Stored};

fn commits(store: &dyn Store, n: u64) -> Vec<f64> {
    let record = format!(
        r#"{{"format":1,"main":{{"state":"{}"}}}}"#,
        "x".repeat(2_000)
    );
    let mut samples = Vec::with_capacity(n as usize);
    for version in 1..=n {
        let stored = Stored {
            id: "wf_bench".into(),
            workflow: "serve:counter".into(),
            definition_hash: "0123456789abcdef".into(),
            version,
            status: "running".into(),
            created_at: 0.0,
            finished_at: None,
            record: record.clone(),
        };
        let started = Instant::now();
        store.commit(&stored, &[]).expect("commit");
        samples.push(started.elapsed().as_secs_f64() * 1e6);
    }
    samples.sort_by(f64::total_cmp);
    samples
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let n = if std::env::args().any(|arg| arg == "--bench") {
        20_000
    } else {
        200
    };
    let dir = std::env::temp_dir().join(format!("wfc-store-bench-{}", std::process::id()));
    let file = commits(&Sqlite::open(&dir.join("state.db")).expect("open"), n);
    let memory = commits(&Sqlite::in_memory().expect("open"), n);
    std::fs::remove_dir_all(&dir).ok();
    println!("store commit of a 2 KiB record, {n} commits, one run:");
    println!(
        "  SQLite file (WAL, synchronous=NORMAL): p50 {:.1} µs  p99 {:.1} µs  max {:.0} µs",
        percentile(&file, 0.5),
        percentile(&file, 0.99),
        file[file.len() - 1]
    );
    println!(
        "  SQLite in memory:                      p50 {:.1} µs  p99 {:.1} µs",
        percentile(&memory, 0.5),
        percentile(&memory, 0.99)
    );
    println!(
        "  file / memory at p50: {:.2}×",
        percentile(&file, 0.5) / percentile(&memory, 0.5)
    );
}
