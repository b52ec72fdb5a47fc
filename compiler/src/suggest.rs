//! "Did you mean …?": the closest known name to a misspelled one.

/// The candidate closest to `name`, if one is close enough to be a likely typo: at most a
/// third of the letters differ (and at least one may), or one name contains the other.
pub(crate) fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lowered = name.to_ascii_lowercase();
    let limit = (name.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .filter(|candidate| *candidate != name)
        .map(|candidate| {
            let distance = strsim::damerau_levenshtein(&lowered, &candidate.to_ascii_lowercase());
            (distance, candidate)
        })
        .filter(|(distance, candidate)| {
            *distance <= limit || (name.len() >= 3 && (candidate.contains(name) || name.contains(*candidate)))
        })
        .min_by_key(|(distance, candidate)| (*distance, *candidate))
        .map(|(_, candidate)| candidate)
}

/// `Some("did you mean `x`?")` when there is a close candidate.
pub(crate) fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    closest(name, candidates).map(|c| format!("did you mean `{c}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_typos_but_not_unrelated_names() {
        let fields = ["message", "message_type", "format", "title"];
        assert_eq!(closest("mesage", fields), Some("message"));
        assert_eq!(closest("messagetype", fields), Some("message_type"));
        assert_eq!(closest("colour", fields), None);
        assert_eq!(closest("shell_comand", ["shell_command", "mcp_call"]), Some("shell_command"));
    }
}
