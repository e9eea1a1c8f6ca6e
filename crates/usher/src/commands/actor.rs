//! Who the audit log names for a change made from the command line.
//!
//! `cli:<os user>`: the person behind `sudo` (`SUDO_USER`) when there is one,
//! else the login (`USER`, `LOGNAME`). These come from the environment, so they
//! record who ran the command, not a proof of it: whoever can run `usher users`
//! can reach the database anyway. The name is cut to 64 characters of
//! `A-Z a-z 0-9 - _ . @`, so the log cannot be fed control characters.

/// The actor for audit records written by this CLI process.
pub(crate) fn cli() -> String {
    let name = ["SUDO_USER", "USER", "LOGNAME"]
        .iter()
        .filter_map(|var| std::env::var(var).ok())
        .map(|name| sanitize(&name))
        .find(|name| !name.is_empty())
        .unwrap_or_else(|| "unknown".to_owned());
    format!("cli:{name}")
}

fn sanitize(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'))
        .take(64)
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_are_cut_to_plain_characters() {
        assert_eq!(super::sanitize("alice"), "alice");
        assert_eq!(super::sanitize("al\nice\u{1b}[31m"), "alice31m");
        assert_eq!(super::sanitize(&"x".repeat(100)).len(), 64);
    }
}
