//! Expression semantics proven against node: operators over a matrix of awkward values, every
//! built-in method and global on edge cases, and every expression in the AroMCP corpus
//! workflows (extracted from `../shared/corpus/aromcp/` when the test runs, never copied here).
//! For each case wfc's interpreter and node must give the same value or the same kind of error.

mod oracle;

use oracle::cases::all_cases;
use oracle::{NodeOracle, ours};

#[test]
fn interpreter_agrees_with_node() {
    let cases = all_cases();
    assert!(cases.len() >= 600, "only {} cases", cases.len());
    let mut node = NodeOracle::start();
    let mut mismatches = Vec::new();
    for case in &cases {
        let (expected, actual) = (node.eval(case), ours(case));
        if expected != actual {
            mismatches.push(format!("{}  with input {}\n    node: {expected}\n    wfc:  {actual}", case.expr, case.input));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} cases differ from node:\n{}",
        mismatches.len(),
        cases.len(),
        mismatches.iter().take(40).cloned().collect::<Vec<_>>().join("\n")
    );
}
