//! What state each step of a lowered program reads, for the program's [`Program::reads`]
//! table: the fields its conditions, items, definitions, commands and update values read.

use std::collections::BTreeSet;

use super::{IrExpr, Op, Template};

impl IrExpr {
    /// Adds the state fields this expression reads to `out`.
    pub fn reads(&self, out: &mut BTreeSet<String>) {
        match self {
            IrExpr::Expr(compiled) => compiled.reads(out),
            IrExpr::Template(template) => template.reads(out),
            IrExpr::Value(value) => value.reads(out),
        }
    }
}

impl Template {
    fn reads(&self, out: &mut BTreeSet<String>) {
        match self {
            Template::Json(_) => {}
            Template::Text(text) => text.reads(out),
            Template::Array(items) => items.iter().for_each(|item| item.reads(out)),
            Template::Object(entries) => entries.iter().for_each(|(_, value)| value.reads(out)),
        }
    }
}

/// The fields each step reads, by step id in the order the steps first appear; steps that
/// read nothing are left out.
pub(super) fn step_reads(ops: &[Op<IrExpr>]) -> Vec<(String, Vec<String>)> {
    let mut table: Vec<(String, BTreeSet<String>)> = Vec::new();
    for op in ops {
        let Some(step) = op.step() else { continue };
        let mut read = BTreeSet::new();
        op.expressions().into_iter().for_each(|x| x.reads(&mut read));
        if read.is_empty() {
            continue;
        }
        match table.iter_mut().find(|(id, _)| id == step) {
            Some((_, fields)) => fields.extend(read),
            None => table.push((step.to_owned(), read)),
        }
    }
    table.into_iter().map(|(step, fields)| (step, fields.into_iter().collect())).collect()
}
