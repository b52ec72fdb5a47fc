//! Refresh plans: for each writable thing, the computed fields that (transitively) read it,
//! in dependency order. Computed fields arrive sorted so that each comes after what it reads,
//! so one pass in that order finds every transitive dependent, and each only once.

use super::{Computed, Refresh, Source, SourceTier};

/// The plans for a program's computed fields (sorted by dependency).
pub(super) fn plan<X>(computed: &[Computed<X>]) -> Refresh {
    let mut state_fields: Vec<&str> = Vec::new();
    for field in computed {
        for source in &field.from {
            if let Source::Path { tier: SourceTier::State, path } = source
                && let Some(name) = path.first()
                && !state_fields.contains(&name.as_str())
            {
                state_fields.push(name);
            }
        }
    }
    Refresh {
        state: state_fields
            .into_iter()
            .map(|name| (name.to_owned(), dependents(computed, |tier, path| tier == SourceTier::State && path.first().is_some_and(|f| f == name))))
            .collect(),
        global: dependents(computed, |tier, _| tier == SourceTier::Global),
        loops: dependents(computed, |tier, _| tier == SourceTier::Loop),
    }
}

/// The fields that read something `written` matches, directly or through other fields.
fn dependents<X>(computed: &[Computed<X>], written: impl Fn(SourceTier, &[String]) -> bool) -> Vec<usize> {
    let mut affected: Vec<usize> = Vec::new();
    for (index, field) in computed.iter().enumerate() {
        let reads_affected = field.from.iter().any(|source| match source {
            Source::Path { tier: SourceTier::Computed, path } => {
                affected.iter().any(|&a| path.first().is_some_and(|name| *name == computed[a].name))
            }
            Source::Path { tier, path } => written(*tier, path),
            Source::Template(_) => false,
        });
        if reads_affected {
            affected.push(index);
        }
    }
    affected
}

#[cfg(test)]
mod tests {
    use super::*;
    use super::super::OnError;

    fn field(name: &str, from: &[(SourceTier, &str)]) -> Computed<()> {
        Computed {
            name: name.to_owned(),
            from: from.iter().map(|(tier, path)| Source::Path { tier: *tier, path: vec![(*path).to_owned()] }).collect(),
            from_is_list: from.len() > 1,
            transform: (),
            on_error: OnError::UseFallback,
            fallback: serde_json::Value::Null,
        }
    }

    #[test]
    fn a_write_refreshes_its_transitive_dependents_in_order_once() {
        use SourceTier::*;
        let computed = [
            field("a", &[(State, "x")]),
            field("b", &[(State, "y")]),
            field("c", &[(Computed, "a"), (Computed, "b")]),
            field("d", &[(Computed, "c"), (State, "x")]),
            field("e", &[(Global, "g")]),
        ];
        let refresh = plan(&computed);
        assert_eq!(refresh.after_state("x"), [0, 2, 3]);
        assert_eq!(refresh.after_state("y"), [1, 2, 3]);
        assert_eq!(refresh.after_state("z"), [] as [usize; 0]);
        assert_eq!(refresh.global, [4]);
        assert!(refresh.loops.is_empty());
    }
}
