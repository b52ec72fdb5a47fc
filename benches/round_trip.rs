//! The runtime's floor, measured with a raw JSON-RPC client (lines on a pipe, no MCP library
//! on the client side), all in one run:
//!
//! - the pipe floor: the same client talking to `cat`, which echoes each request line;
//! - a trivial tool's round trip (`workflow_list_active` on an idle server of the embedded
//!   catalog) and its ratio to the floor;
//! - a step's round trip (`workflow_submit_result` on `serve:counter`, served with `--dev`) and
//!   its ratio to the trivial tool;
//! - resident memory after `initialize`, and with 1,000 active instances;
//! - cold start: spawn to the `initialize` answer.
//!
//! Run with `cargo bench --bench round_trip`. Under `cargo test` (no `--bench` argument) it is
//! a short smoke run, so CI proves the driver works without paying for the measurement.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Instant;

use serde_json::{Value as Json, json};

/// How much to measure.
struct Sizes {
    round_trips: usize,
    instances: usize,
    spawns: usize,
}

const BENCH: Sizes = Sizes { round_trips: 5_000, instances: 1_000, spawns: 20 };
const SMOKE: Sizes = Sizes { round_trips: 50, instances: 20, spawns: 2 };

/// A process spoken to in lines.
struct Peer {
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
    next_id: u64,
}

impl Peer {
    fn spawn(command: &mut Command) -> Peer {
        let mut child = command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().expect("spawn");
        let input = child.stdin.take().expect("stdin");
        let output = BufReader::new(child.stdout.take().expect("stdout"));
        Peer { child, input, output, next_id: 0 }
    }

    /// `wfc serve` with instances in memory, initialized: the embedded catalog, or with `dev`
    /// the serving fixtures (interpreted).
    fn wfc(dev: bool) -> Peer {
        let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/serve");
        let mut command = Command::new(env!("CARGO_BIN_EXE_wfc"));
        command.args(["serve", "--store", "memory"]).env("RUST_LOG", "off");
        if dev {
            command.arg("--dev").arg(fixtures);
        }
        let mut peer = Peer::spawn(&mut command);
        peer.request("initialize", json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}));
        peer.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        peer
    }

    fn send(&mut self, message: &Json) {
        let mut line = message.to_string();
        line.push('\n');
        self.input.write_all(line.as_bytes()).expect("write");
        self.input.flush().expect("flush");
    }

    fn read(&mut self) -> String {
        let mut line = String::new();
        self.output.read_line(&mut line).expect("read");
        assert!(!line.is_empty(), "the peer closed its output");
        line
    }

    fn request(&mut self, method: &str, params: Json) -> Json {
        self.next_id += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params}));
        loop {
            let answer: Json = serde_json::from_str(&self.read()).expect("JSON");
            // Notifications (progress, log messages) are not the answer.
            if answer.get("id").is_some() {
                return answer;
            }
        }
    }

    /// A tool's `data`.
    fn call(&mut self, tool: &str, arguments: Json) -> Json {
        let answer = self.request("tools/call", json!({"name": tool, "arguments": arguments}));
        let text = answer["result"]["content"][0]["text"].as_str().unwrap_or_else(|| panic!("{tool}: {answer}"));
        let envelope: Json = serde_json::from_str(text).expect("an envelope");
        assert!(envelope.get("data").is_some(), "{tool}: {envelope}");
        envelope["data"].clone()
    }

    fn resident_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok()).unwrap_or(0)
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The median of `n` timings of `f`, in microseconds.
fn median_micros(n: usize, mut f: impl FnMut()) -> f64 {
    let mut samples: Vec<f64> = (0..n)
        .map(|_| {
            let started = Instant::now();
            f();
            started.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn main() {
    let sizes = if std::env::args().any(|arg| arg == "--bench") { BENCH } else { SMOKE };
    // The same bytes a trivial tool call sends, echoed back by `cat`.
    let line = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "workflow_list_active", "arguments": {}}});
    let mut cat = Peer::spawn(&mut Command::new("cat"));
    let floor = median_micros(sizes.round_trips, || {
        cat.send(&line);
        cat.read();
    });

    let cold = median_micros(sizes.spawns, || drop(Peer::wfc(false)));
    let mut embedded = Peer::wfc(false);
    let idle = embedded.resident_kib();
    let trivial = median_micros(sizes.round_trips, || drop(embedded.call("workflow_list_active", json!({}))));
    let mut wfc = Peer::wfc(true);
    let id = wfc.call("workflow_start", json!({"workflow": "serve:counter", "inputs": {"iterations": 1_000_000}}))["workflow_id"].clone();
    wfc.call("workflow_get_next_step", json!({"workflow_id": id}));
    let step = median_micros(sizes.round_trips, || drop(wfc.call("workflow_submit_result", json!({"workflow_id": id, "step_id": "tick", "result": {"by": 1}}))));
    for _ in 0..sizes.instances {
        let id = wfc.call("workflow_start", json!({"workflow": "serve:counter", "inputs": {"iterations": 1_000}}))["workflow_id"].clone();
        wfc.call("workflow_get_next_step", json!({"workflow_id": id}));
    }
    let active = wfc.resident_kib();

    println!("wfc serve over stdio, a raw JSON-RPC client, one run (medians of {} round trips):", sizes.round_trips);
    println!("  pipe floor (the client and `cat`):  {floor:.1} µs");
    println!("  trivial tool (workflow_list_active): {trivial:.1} µs  ({:.2}× the floor)", trivial / floor);
    println!("  a step (workflow_submit_result):     {step:.1} µs  ({:.2}× the trivial tool)", step / trivial);
    println!("  resident after initialize: {:.1} MiB; with {} active instances: {:.1} MiB", idle as f64 / 1024.0, sizes.instances + 1, active as f64 / 1024.0);
    println!("  cold start (spawn → initialize answer): {:.1} ms", cold / 1e3);
}
