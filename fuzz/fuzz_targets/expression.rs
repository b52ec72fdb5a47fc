//! Any text as an expression: compiled and evaluated (as `workflow_test_transformation` does)
//! within the evaluation budget, without a panic, a stack overflow or a hang.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wfc_compiler::playground::evaluate;
use wfc_runtime::value::Value;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let scope = serde_json::json!({"this": {"items": [1, "two", {"three": [3]}], "text": "a b  c"}});
    let serde_json::Value::Object(scope) = scope else { return };
    let _ = evaluate(&text, Value::string("input"), &scope);
});
