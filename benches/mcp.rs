//! The end-to-end driver: `wfc serve` (release build) spawned and driven by rmcp's MCP client
//! over stdio, as an agent drives it. It prints, from one run:
//!
//! - cold start: spawn to the `initialize` answer (median of 20 spawns);
//! - the floor: the round trip of a trivial tool (`workflow_list_active` on an idle server);
//! - p50/p99 of `workflow_get_next_step` (implicit completion) and of `workflow_submit_result`
//!   on `serve:counter`, a loop of one client tool call per iteration (interpreted, `--dev`);
//! - steps per second on that loop, with instances kept in memory (`--store memory`) and in
//!   the SQLite store (a file: every step committed), and their ratio — what durability costs;
//! - the same with the execution history off (`--no-history`), for what the history costs
//!   (the servers take three turns at these figures and each keeps its best);
//! - the server's peak RSS once 1,000 instances are active.
//!
//! Run with `cargo bench --bench mcp`. Numbers are for comparison within one run (ratios).
//! Under `cargo test` (no `--bench` argument) it is a short smoke run, so CI proves the
//! driver works without paying for the measurement.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use rmcp::model::CallToolRequestParams;
use rmcp::service::RunningService;
use rmcp::transport::TokioChildProcess;
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Value as Json, json};

/// How much to measure: spawns for the cold start, round trips per tool, active instances.
struct Sizes {
    spawns: usize,
    round_trips: usize,
    instances: usize,
    /// How many turns the stores take at the steps-per-second figures (each keeps its best).
    rounds: usize,
}

const BENCH: Sizes = Sizes { spawns: 20, round_trips: 2_000, instances: 1_000, rounds: 3 };
const SMOKE: Sizes = Sizes { spawns: 2, round_trips: 20, instances: 20, rounds: 1 };

struct Server {
    client: RunningService<RoleClient, ()>,
    pid: u32,
}

/// `wfc serve --dev tests/fixtures/serve --store STORE ARGS`.
async fn spawn(store: &str, args: &[&str]) -> Server {
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/serve");
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_wfc"));
    command.arg("serve").arg("--dev").arg(fixtures).args(["--store", store]).args(args).env("RUST_LOG", "off");
    let transport = TokioChildProcess::new(command).expect("spawn wfc serve");
    let pid = transport.id().expect("a pid");
    let client = ().serve(transport).await.expect("initialize");
    Server { client, pid }
}

async fn call(server: &Server, tool: &str, arguments: Json) -> Json {
    let Json::Object(arguments) = arguments else { unreachable!("arguments are objects") };
    let result = server.client.call_tool(CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments)).await.expect("tools/call");
    let text = &result.content[0].as_text().expect("text").text;
    let envelope: Json = serde_json::from_str(text).expect("JSON");
    assert!(!result.is_error.unwrap_or(false), "{tool}: {envelope}");
    envelope["data"].clone()
}

/// Times `n` runs of `f`, in microseconds, sorted.
async fn timed<F: AsyncFnMut()>(n: usize, mut f: F) -> Vec<f64> {
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        f().await;
        samples.push(started.elapsed().as_secs_f64() * 1e6);
    }
    samples.sort_by(f64::total_cmp);
    samples
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status.lines().find_map(|l| l.strip_prefix("VmHWM:")).and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok()).unwrap_or(0)
}

/// Steps per second driving one fresh `serve:counter` instance through `steps` submitted
/// results.
async fn steps_per_second(server: &Server, steps: usize) -> f64 {
    let id = call(server, "workflow_start", json!({"workflow": "serve:counter", "inputs": {"iterations": steps}})).await["workflow_id"].as_str().expect("id").to_owned();
    call(server, "workflow_get_next_step", json!({"workflow_id": id})).await;
    let started = Instant::now();
    for _ in 0..steps {
        call(server, "workflow_submit_result", json!({"workflow_id": id, "step_id": "tick", "result": {"by": 1}})).await;
    }
    steps as f64 / started.elapsed().as_secs_f64()
}

/// Steps per second with `instances` instances driven at once, each through `steps` submitted
/// results, their requests in flight together on the one connection.
async fn concurrent_steps_per_second(server: &Server, instances: usize, steps: usize) -> f64 {
    let mut ids = Vec::new();
    for _ in 0..instances {
        let id = call(server, "workflow_start", json!({"workflow": "serve:counter", "inputs": {"iterations": steps}})).await["workflow_id"].as_str().expect("id").to_owned();
        call(server, "workflow_get_next_step", json!({"workflow_id": id})).await;
        ids.push(id);
    }
    let started = Instant::now();
    let drivers = ids.iter().map(async |id| {
        for _ in 0..steps {
            call(server, "workflow_submit_result", json!({"workflow_id": id, "step_id": "tick", "result": {"by": 1}})).await;
        }
    });
    futures_join_all(drivers).await;
    (instances * steps) as f64 / started.elapsed().as_secs_f64()
}

/// Runs every future to its end, concurrently on this task (polling each that is not done).
async fn futures_join_all<F: Future<Output = ()>>(futures: impl Iterator<Item = F>) {
    let mut pending: Vec<std::pin::Pin<Box<F>>> = futures.map(Box::pin).collect();
    std::future::poll_fn(|context| {
        pending.retain_mut(|future| future.as_mut().poll(context).is_pending());
        if pending.is_empty() { std::task::Poll::Ready(()) } else { std::task::Poll::Pending }
    })
    .await;
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let sizes = if std::env::args().any(|arg| arg == "--bench") { BENCH } else { SMOKE };
    let mut cold = Vec::new();
    for _ in 0..sizes.spawns {
        let started = Instant::now();
        let server = spawn("memory", &[]).await;
        cold.push(started.elapsed());
        server.client.cancel().await.ok();
    }
    cold.sort();
    let durable_dir = std::env::temp_dir().join(format!("wfc-bench-{}", std::process::id()));
    let durable = spawn(&durable_dir.join("state.db").display().to_string(), &[]).await;
    let forgetful = spawn(&durable_dir.join("no-history.db").display().to_string(), &["--no-history"]).await;
    let memory = spawn("memory", &[]).await;
    // The servers take turns and each keeps its best turn: this machine's neighbours come and
    // go, and turns keep the ratios within one run fair.
    let (mut durable_steps_per_second, mut no_history_steps_per_second, mut memory_steps_per_second, mut durable_concurrent) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    for _ in 0..sizes.rounds {
        durable_steps_per_second = durable_steps_per_second.max(steps_per_second(&durable, sizes.round_trips).await);
        no_history_steps_per_second = no_history_steps_per_second.max(steps_per_second(&forgetful, sizes.round_trips).await);
        memory_steps_per_second = memory_steps_per_second.max(steps_per_second(&memory, sizes.round_trips).await);
        durable_concurrent = durable_concurrent.max(concurrent_steps_per_second(&durable, 16, sizes.round_trips / 4).await);
    }
    for server in [durable, forgetful, memory] {
        server.client.cancel().await.ok();
    }
    std::fs::remove_dir_all(&durable_dir).ok();
    let server = spawn("memory", &[]).await;
    let floor = timed(sizes.round_trips, async || drop(call(&server, "workflow_list_active", json!({})).await)).await;

    let id = call(&server, "workflow_start", json!({"workflow": "serve:counter", "inputs": {"iterations": 1_000_000}})).await["workflow_id"].as_str().expect("id").to_owned();
    let next = timed(sizes.round_trips, async || drop(call(&server, "workflow_get_next_step", json!({"workflow_id": id})).await)).await;
    let submit = timed(sizes.round_trips, async || {
        drop(call(&server, "workflow_submit_result", json!({"workflow_id": id, "step_id": "tick", "result": {"by": 1}})).await);
    })
    .await;
    let count = call(&server, "workflow_state_read", json!({"workflow_id": id, "paths": ["this.count"]})).await["values"]["this.count"].clone();
    // Implicit completion applies no writes of the step; each submitted result counts once.
    assert_eq!(count, json!(sizes.round_trips), "every submitted step counted once");
    let steps_per_second = 1e6 / (submit.iter().sum::<f64>() / submit.len() as f64);

    for _ in 0..sizes.instances {
        let id = call(&server, "workflow_start", json!({"workflow": "serve:counter", "inputs": {"iterations": 1_000}})).await["workflow_id"].as_str().expect("id").to_owned();
        call(&server, "workflow_get_next_step", json!({"workflow_id": id})).await;
    }
    let active = call(&server, "workflow_list_active", json!({})).await["count"].clone();
    let rss = peak_rss_kib(server.pid);

    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!("wfc serve over stdio (rmcp client), one run (steps per second: best of {} turns):", sizes.rounds);
    println!("  cold start (spawn → initialize): median {:.1} ms, max {:.1} ms", ms(cold[cold.len() / 2]), ms(cold[cold.len() - 1]));
    println!("  floor (workflow_list_active):   p50 {:.0} µs  p99 {:.0} µs", percentile(&floor, 0.5), percentile(&floor, 0.99));
    println!(
        "  workflow_get_next_step:         p50 {:.0} µs  p99 {:.0} µs  ({:.2}× the floor at p50)",
        percentile(&next, 0.5),
        percentile(&next, 0.99),
        percentile(&next, 0.5) / percentile(&floor, 0.5)
    );
    println!(
        "  workflow_submit_result:         p50 {:.0} µs  p99 {:.0} µs  ({:.2}× the floor at p50)",
        percentile(&submit, 0.5),
        percentile(&submit, 0.99),
        percentile(&submit, 0.5) / percentile(&floor, 0.5)
    );
    println!("  steps per second (submit_result on serve:counter): {steps_per_second:.0}");
    println!(
        "  steps per second, a fresh instance each: --store memory {memory_steps_per_second:.0}, SQLite file {durable_steps_per_second:.0} \
         (durability costs {:.2}×)",
        memory_steps_per_second / durable_steps_per_second
    );
    println!(
        "  steps per second, SQLite file, history off {no_history_steps_per_second:.0} vs on {durable_steps_per_second:.0} (history costs {:.2}×)",
        no_history_steps_per_second / durable_steps_per_second
    );
    println!("  steps per second, 16 instances at once over the one connection, SQLite file: {durable_concurrent:.0}");
    println!("  peak RSS with {active} active instances: {:.1} MiB", rss as f64 / 1024.0);
}
