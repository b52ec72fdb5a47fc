//! The runtime's floor, measured with a raw JSON-RPC client (lines on a pipe, no MCP library
//! on the client side), all in one run:
//!
//! - the pipe floor: the same client talking to `cat`, which echoes each request line;
//! - the library floor: the same tool call to a server that does nothing but answer it with
//!   a constant, on the MCP library, runtime flavour and stdio transport `wfc serve` uses (this
//!   bench's own binary, started with [`LIBRARY_FLOOR`] set): what a tool call costs before
//!   wfc does anything;
//! - a trivial tool's round trip (`workflow_list_active` on an idle server of the embedded
//!   catalog) and its ratio to the floor;
//! - a step's round trip (`workflow_submit_result` on `serve:counter`, served with
//!   `--workflows`: interpreted, loaded once) and its ratio to the trivial tool;
//! - resident memory after `initialize`, and with 1,000 active instances;
//! - cold start: spawn to the `initialize` answer.
//!
//! Run with `cargo bench --bench round_trip`. Under `cargo test` (no `--bench` argument) it is
//! a short smoke run, so CI proves the driver works without paying for the measurement.
//!
//! A round trip over a pipe costs two wake-ups, and a wake-up on another core costs several
//! times one on the same core; left to the scheduler, the floor alone varies from 6 to 52 µs
//! between runs on a 2-core machine. So where `taskset` exists and there are two CPUs or more,
//! the client runs on CPU 0 and every peer (`cat`, `wfc`) on CPU 1: each round trip crosses
//! cores both ways, as an MCP client and its server do. `WFC_BENCH_BASELINE=/path/to/wfc` adds
//! the trivial tool and the step of another build, measured in the same run, for before and
//! after figures.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Instant;

use serde_json::{Value as Json, json};

/// Set in the environment of this bench's binary to make it the library floor's server.
const LIBRARY_FLOOR: &str = "WFC_BENCH_LIBRARY_FLOOR";

/// The library floor's server: answers every `tools/call` with the `data` an idle wfc
/// answers `workflow_list_active` with, served as `wfc serve` serves stdio: rmcp's service on
/// a current-thread runtime, stdin and stdout read and written as non-blocking pipes.
fn library_floor_server() {
    use rmcp::model::{CallToolRequestParams, CallToolResponse, CallToolResult, ServerCapabilities, ServerConfig};
    use rmcp::service::RequestContext;
    use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt};

    struct Constant;
    impl ServerHandler for Constant {
        fn get_info(&self) -> ServerConfig {
            ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
        }
        async fn call_tool(&self, _: CallToolRequestParams, _: RequestContext<RoleServer>) -> Result<CallToolResponse, ErrorData> {
            Ok(CallToolResult::structured(json!({"data": {"workflows": [], "count": 0}})).into())
        }
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    runtime.block_on(async {
        use std::os::fd::AsFd;
        let input = std::io::stdin().as_fd().try_clone_to_owned().expect("stdin");
        let output = std::io::stdout().as_fd().try_clone_to_owned().expect("stdout");
        let input = tokio::net::unix::pipe::Receiver::from_owned_fd(input).expect("stdin is a pipe");
        let output = tokio::net::unix::pipe::Sender::from_owned_fd(output).expect("stdout is a pipe");
        let service = Constant.serve((input, output)).await.expect("initialized");
        let _ = service.waiting().await;
    });
}

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
    fn spawn(command: Command) -> Peer {
        let mut command = pinned(command, PEER_CPU);
        let mut child = command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().expect("spawn");
        let input = child.stdin.take().expect("stdin");
        let output = BufReader::new(child.stdout.take().expect("stdout"));
        Peer { child, input, output, next_id: 0 }
    }

    /// `wfc serve` with instances in memory, initialized: the embedded catalog, or with
    /// `fixtures` the serving fixtures (`--workflows`, interpreted).
    fn wfc(binary: &str, fixtures: bool) -> Peer {
        let mut command = Command::new(binary);
        command.args(["serve", "--store", "memory"]).env("RUST_LOG", "off");
        if fixtures {
            command.arg("--workflows").arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/serve"));
        }
        Peer::initialized(command)
    }

    /// The library floor's server (see [`library_floor_server`]), initialized.
    fn library_floor() -> Peer {
        let mut command = Command::new(std::env::current_exe().expect("this bench's binary"));
        command.env(LIBRARY_FLOOR, "1");
        Peer::initialized(command)
    }

    fn initialized(command: Command) -> Peer {
        let mut peer = Peer::spawn(command);
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

/// The CPU the peers run on, and the client's.
const PEER_CPU: usize = 1;
const CLIENT_CPU: usize = 0;

/// Whether round trips are pinned across two CPUs (see the module's documentation).
fn pinning() -> bool {
    std::thread::available_parallelism().is_ok_and(|n| n.get() > PEER_CPU)
        && Command::new("taskset").arg("-V").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

/// `command`, run on `cpu` when pinning.
fn pinned(command: Command, cpu: usize) -> Command {
    if !pinning() {
        return command;
    }
    let mut taskset = Command::new("taskset");
    taskset.arg("-c").arg(cpu.to_string()).arg(command.get_program()).args(command.get_args());
    for (key, value) in command.get_envs() {
        match value {
            Some(value) => taskset.env(key, value),
            None => taskset.env_remove(key),
        };
    }
    taskset
}

/// A trivial tool's and a step's round trip on `binary`, in microseconds.
fn tool_and_step(binary: &str, round_trips: usize) -> (f64, f64) {
    let mut embedded = Peer::wfc(binary, false);
    let trivial = median_micros(round_trips, || drop(embedded.call("workflow_list_active", json!({}))));
    let mut wfc = Peer::wfc(binary, true);
    let id = wfc.call("workflow_start", json!({"workflow": "serve:counter", "inputs": {"iterations": 1_000_000}}))["workflow_id"].clone();
    wfc.call("workflow_get_next_step", json!({"workflow_id": id}));
    let step = median_micros(round_trips, || drop(wfc.call("workflow_submit_result", json!({"workflow_id": id, "step_id": "tick", "result": {"by": 1}}))));
    (trivial, step)
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
    if std::env::var_os(LIBRARY_FLOOR).is_some() {
        return library_floor_server();
    }
    let sizes = if std::env::args().any(|arg| arg == "--bench") { BENCH } else { SMOKE };
    let pinned_run = pinning();
    if pinned_run {
        let pid = std::process::id().to_string();
        let status = Command::new("taskset").args(["-p", "-c", &CLIENT_CPU.to_string(), &pid]).stdout(Stdio::null()).status();
        assert!(status.is_ok_and(|s| s.success()), "taskset could not pin the client");
    }
    let binary = env!("CARGO_BIN_EXE_wfc");
    // The same bytes a trivial tool call sends, echoed back by `cat`, and read as the client
    // reads an answer.
    let line = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "workflow_list_active", "arguments": {}}});
    let mut cat = Peer::spawn(Command::new("cat"));
    let floor = median_micros(sizes.round_trips, || {
        cat.send(&line);
        drop(serde_json::from_str::<Json>(&cat.read()).expect("JSON"));
    });

    let mut library = Peer::library_floor();
    let library_floor = median_micros(sizes.round_trips, || drop(library.call("workflow_list_active", json!({}))));
    drop(library);

    let cold = median_micros(sizes.spawns, || drop(Peer::wfc(binary, false)));
    let idle = Peer::wfc(binary, false).resident_kib();
    let (trivial, step) = tool_and_step(binary, sizes.round_trips);
    let baseline = std::env::var("WFC_BENCH_BASELINE").ok().map(|other| (tool_and_step(&other, sizes.round_trips), other));
    let mut wfc = Peer::wfc(binary, true);
    for _ in 0..sizes.instances {
        let id = wfc.call("workflow_start", json!({"workflow": "serve:counter", "inputs": {"iterations": 1_000}}))["workflow_id"].clone();
        wfc.call("workflow_get_next_step", json!({"workflow_id": id}));
    }
    let active = wfc.resident_kib();

    let placement = if pinned_run { "client on CPU 0, peers on CPU 1" } else { "unpinned" };
    println!("wfc serve over stdio, a raw JSON-RPC client, one run ({placement}; medians of {} round trips):", sizes.round_trips);
    println!("  pipe floor (the client and `cat`):  {floor:.1} µs");
    println!("  library floor (rmcp answering a constant): {library_floor:.1} µs  ({:.2}× the floor)", library_floor / floor);
    println!("  trivial tool (workflow_list_active): {trivial:.1} µs  ({:.2}× the floor, {:.2}× the library floor)", trivial / floor, trivial / library_floor);
    println!("  a step (workflow_submit_result):     {step:.1} µs  ({:.2}× the trivial tool)", step / trivial);
    if let Some(((trivial_then, step_then), other)) = baseline {
        println!("  baseline {other}:");
        println!("    trivial tool {trivial_then:.1} µs ({:.2}× the floor), a step {step_then:.1} µs ({:.2}× its trivial tool)", trivial_then / floor, step_then / trivial_then);
    }
    println!("  resident after initialize: {:.1} MiB; with {} active instances: {:.1} MiB", idle as f64 / 1024.0, sizes.instances + 1, active as f64 / 1024.0);
    println!("  cold start (spawn → initialize answer): {:.1} ms", cold / 1e3);
}
