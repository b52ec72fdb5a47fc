//! The node oracle: the same expression evaluated by wfc's interpreter and by node, each result
//! put in one canonical encoding (tagged JSON that keeps `undefined`, `NaN`, `-0`, key order,
//! `Set`s and the kind of error thrown), so the two can be compared for equality.

#![allow(dead_code, reason = "each test crate that includes this module uses a different part of it")]

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

pub mod cases;

use serde_json::{Value as Json, json};
use wfc_compiler::expr::{Names, compile, compile_wrapped};
use wfc_compiler::interp::eval;
use wfc_runtime::value::{MapScope, Value};

pub use cases::Case;
use cases::names_for;

/// A node process that evaluates cases one line at a time, kept alive for a whole test.
pub struct NodeOracle {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl NodeOracle {
    pub fn start() -> NodeOracle {
        // Embedded, so every crate that includes this module finds the script.
        let script = include_str!("node_eval.js");
        let mut child = Command::new("node")
            .arg("-e")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("node is needed as the oracle for expression semantics (.ci/run installs it)");
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        NodeOracle { child, stdin, stdout }
    }

    pub fn eval(&mut self, case: &Case) -> Json {
        let scope: serde_json::Map<String, Json> = case.scope.iter().map(|(k, v)| (k.clone(), Json::String(v.clone()))).collect();
        let line = json!({ "expr": case.expr, "input": case.input, "scope": scope });
        writeln!(self.stdin, "{line}").expect("write to node");
        self.stdin.flush().expect("flush to node");
        let mut answer = String::new();
        self.stdout.read_line(&mut answer).expect("read from node");
        serde_json::from_str(&answer).unwrap_or_else(|e| panic!("node answered {answer:?}: {e}"))
    }
}

impl Drop for NodeOracle {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A JavaScript literal evaluated by wfc itself (literals only: no names are in scope).
fn literal(text: &str) -> Value {
    let mut issues = Vec::new();
    let compiled = compile(text, &Names::default(), &mut issues).unwrap_or_else(|| panic!("literal {text:?}: {issues:?}"));
    eval(&compiled, &MapScope::default()).unwrap_or_else(|e| panic!("literal {text:?}: {e}"))
}

/// The roots a case's expression reads, evaluated from their literals.
pub fn scope_for(case: &Case) -> MapScope {
    let mut scope = MapScope::default();
    scope.0.insert("input".to_owned(), literal(&case.input));
    for (name, text) in &case.scope {
        scope.0.insert(name.clone(), literal(text));
    }
    scope
}

/// The case evaluated by wfc's interpreter, in the oracle's encoding; a case wfc refuses to
/// compile is `{"$compile_error": …}`.
pub fn ours(case: &Case) -> Json {
    match interpreted(case) {
        Ok(result) => encode_result(result),
        Err(messages) => json!({ "$compile_error": messages }),
    }
}

/// The case evaluated by wfc's interpreter, as it returns it; `Err` holds the messages of a
/// case wfc refuses to compile.
pub fn interpreted(case: &Case) -> Result<Result<Value, wfc_runtime::value::EvalError>, Vec<String>> {
    let mut issues = Vec::new();
    let Some(compiled) = compile_wrapped(&case.expr, &names_for(case), &mut issues) else {
        return Err(issues.iter().map(|i| i.message.clone()).collect());
    };
    Ok(eval(&compiled, &scope_for(case)))
}

/// A result in the oracle's encoding: the value, or the kind of error.
pub fn encode_result(result: Result<Value, wfc_runtime::value::EvalError>) -> Json {
    match result {
        Ok(value) => encode(&value),
        Err(error) => json!({ "$error": error.kind.name() }),
    }
}

/// The canonical encoding (the same as `node_eval.js`'s `encode`).
pub fn encode(value: &Value) -> Json {
    match value {
        Value::Undefined => json!({ "$undefined": true }),
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Number(n) if *n == 0.0 && n.is_sign_negative() => json!({ "$num": "-0" }),
        Value::Number(n) => json!({ "$num": wfc_runtime::value::number::to_js_string(*n) }),
        Value::String(s) => Json::String(s.to_string()),
        Value::Array(items) => Json::Array(items.iter().map(encode).collect()),
        Value::Set(items) => json!({ "$set": items.iter().map(encode).collect::<Vec<_>>() }),
        Value::RegExp(re) => json!({ "$regex": re.to_string() }),
        Value::Object(object) => {
            json!({ "$object": object.entries().map(|(k, v)| json!([k.to_string(), encode(v)])).collect::<Vec<_>>() })
        }
    }
}
