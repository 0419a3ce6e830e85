//! "Did you mean" suggestions for misspelt names.

/// The closest candidate to `word`, if one is close enough to be a plausible typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let word_lower = word.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|candidate| {
            (
                candidate,
                strsim::jaro_winkler(&word_lower, &candidate.to_ascii_lowercase()),
            )
        })
        .filter(|(_, score)| *score >= 0.8)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(candidate, _)| candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_near_misses_only() {
        let nodes = ["step", "plan", "retry", "sandbox", "vars"];
        assert_eq!(did_you_mean("stpe", nodes), Some("step"));
        assert_eq!(did_you_mean("retyr", nodes), Some("retry"));
        assert_eq!(did_you_mean("Sandbox", nodes), Some("sandbox"));
        assert_eq!(did_you_mean("database", nodes), None);
    }
}
