//! The workflow state an expression reads, at field level (`this.count`, `inputs.files`,
//! `loop.item`, or a whole tier such as `this` when it is read as a value): what
//! `workflow_explain_plan` lists for each step. Names a site defines (`input`, `stdout`,
//! `item`, …) and local variables are not workflow state and are left out.

use std::collections::BTreeSet;

use super::ir::{Expr, Name, Root};
use super::{Compiled, CompiledPart, CompiledTemplate};

impl Compiled {
    /// Adds the state fields this expression reads to `out`.
    pub fn reads(&self, out: &mut BTreeSet<String>) {
        expr(&self.expr, out);
    }
}

impl CompiledTemplate {
    /// Adds the state fields this template's expressions read to `out`.
    pub fn reads(&self, out: &mut BTreeSet<String>) {
        match self {
            CompiledTemplate::Value(compiled) => compiled.reads(out),
            CompiledTemplate::Parts(parts) => {
                for part in parts {
                    if let CompiledPart::Expr(compiled) | CompiledPart::ShellQuoted(compiled, _) = part {
                        compiled.reads(out);
                    }
                }
            }
        }
    }
}

/// The tier a root names, if it is workflow state; the legacy `state` and `computed` read
/// `this`.
fn tier(root: &Root) -> Option<&str> {
    match root {
        Root::Named(_) => None,
        Root::State | Root::Computed => Some("this"),
        other => Some(other.name()),
    }
}

fn expr(e: &Expr, out: &mut BTreeSet<String>) {
    e.walk(&mut |e| match e {
        Expr::Member { object, property, .. } => match (&**object, &**property) {
            (Expr::Name(Name::Root(root)), Expr::String(field)) if let Some(tier) = tier(root) => {
                out.insert(format!("{tier}.{field}"));
                false
            }
            _ => true,
        },
        Expr::Name(Name::Root(root)) => {
            if let Some(tier) = tier(root) {
                out.insert(tier.to_owned());
            }
            true
        }
        _ => true,
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::{compile, workflow_names};

    fn reads(text: &str) -> Vec<String> {
        let names = workflow_names(&["item".to_owned()]).with("input", Root::Named("input".to_owned()));
        let mut issues = Vec::new();
        let compiled = compile(text, &names, &mut issues).unwrap_or_else(|| panic!("{text}: {issues:?}"));
        let mut out = BTreeSet::new();
        compiled.reads(&mut out);
        out.into_iter().collect()
    }

    #[test]
    fn fields_of_each_tier_are_read_at_field_level() {
        assert_eq!(reads("this.count + inputs.step.size > global.limit"), ["global.limit", "inputs.step", "this.count"]);
        assert_eq!(reads("this.files.filter(f => f.endsWith(loop.item)).length"), ["loop.item", "this.files"]);
        assert_eq!(reads("this[input] ?? Object.keys(global)"), ["global", "this"]);
        assert_eq!(reads("state.count + computed.total + raw.n"), ["inputs.n", "this.count", "this.total"]);
    }

    #[test]
    fn names_the_site_defines_and_locals_are_not_state() {
        assert!(reads("input.map(x => { const y = x * 2; if (y > 1) { return y; } return 0; })").is_empty());
    }

    #[test]
    fn reads_inside_functions_templates_and_literals_are_found() {
        assert_eq!(
            reads("input.some(x => { const limit = this.max; return x > limit; }) ? `${inputs.name}` : [{a: global.a, [this.key]: 1}]"),
            ["global.a", "inputs.name", "this.key", "this.max"]
        );
    }
}
