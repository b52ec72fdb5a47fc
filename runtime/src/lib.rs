//! The wfc runtime: JavaScript-semantics values, the sans-IO `Machine` contract that generated
//! workflows implement, and (feature `server`) the engine that drives machines and the MCP
//! server (see `docs/architecture.md`).
//!
//! ```
//! use wfc_runtime::value::{binary, BinaryOp, Value};
//! let sum = binary(BinaryOp::Add, &Value::string("5"), &Value::Number(1.0))?;
//! assert_eq!(sum.to_js_string(), "51");
//! # Ok::<(), wfc_runtime::value::EvalError>(())
//! ```
#![deny(unreachable_pub)]
#![warn(missing_docs)]

pub mod value;
pub mod catalog;
pub mod machine;
pub use serde_json;
/// For generated code: the typed state structs derive serde's traits through this path, so a
/// crate with compiled workflows needs no serde dependency of its own.
#[doc(hidden)]
pub use serde;
#[cfg(feature = "server")]
pub mod engine;
#[cfg(feature = "server")]
pub mod mcp;
