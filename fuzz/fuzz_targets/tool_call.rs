//! Any JSON as a tool call (`{"name": …, "arguments": …}`) to an engine serving one small
//! workflow: every tool's argument decoding and action, without a panic.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use wfc_compiler::{Source, compile_source, definition_hash};
use wfc_runtime::engine::{Definition, Engine, ShellSettings, Sqlite, tools};

const WORKFLOW: &str = "name: \"fuzz:flow\"\ndescription: d\nversion: \"1.0.0\"\ninputs:\n  n:\n    type: number\n    description: n\n    required: false\ndefault_state:\n  state:\n    count: 0\nstate_schema:\n  state:\n    count: number\n  computed:\n    double:\n      from: \"this.count\"\n      transform: \"input * 2\"\nsteps:\n  - id: ask\n    type: user_input\n    prompt: \"n?\"\n    input_type: number\n    state_update:\n      path: this.count\n      value: \"{{ input }}\"\n  - id: say\n    type: user_message\n    message: \"{{ this.double }}\"\n";

fn engine() -> &'static (tokio::runtime::Runtime, Engine) {
    static ENGINE: OnceLock<(tokio::runtime::Runtime, Engine)> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let source = Source::new("fuzz.yaml", WORKFLOW);
        let lowered = compile_source(&source).0.expect("the fuzz workflow is valid").machines;
        let definition = Arc::new(Definition::new(&lowered, "fuzz", "fuzz.yaml", &definition_hash(WORKFLOW)));
        let store = Sqlite::in_memory().expect("a memory store");
        let root = std::env::temp_dir();
        let engine = Engine::new(Box::new(vec![definition]), ShellSettings::new(root, 1024, 1), Box::new(store));
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
        (runtime, engine)
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(serde_json::Value::Object(call)) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    let Some(name) = call.get("name").and_then(|n| n.as_str()) else { return };
    let arguments = match call.get("arguments") {
        Some(serde_json::Value::Object(arguments)) => arguments.clone(),
        _ => serde_json::Map::new(),
    };
    let (runtime, engine) = engine();
    let _ = runtime.block_on(tools::call(engine, name, arguments, None));
});
