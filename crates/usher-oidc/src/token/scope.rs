//! Scope strings (RFC 6749 §3.3): space-delimited, case-sensitive.

use crate::error::OAuthError;

/// Splits a scope parameter; an empty one is no scope.
pub fn parse(scope: Option<&str>) -> Vec<String> {
    let mut scopes: Vec<String> = Vec::new();
    for s in scope.unwrap_or("").split(' ').filter(|s| !s.is_empty()) {
        if !scopes.iter().any(|x| x == s) {
            scopes.push(s.to_owned());
        }
    }
    scopes
}

/// RFC 6749 §6: a refresh may ask for the same scopes or fewer, never more.
pub fn narrow(granted: &[String], requested: Option<&str>) -> Result<Vec<String>, OAuthError> {
    if requested.is_none() {
        return Ok(granted.to_vec());
    }
    let requested = parse(requested);
    match requested.iter().find(|s| !granted.contains(s)) {
        Some(extra) => Err(OAuthError::new(
            "invalid_scope",
            format!("scope {extra} was not granted"),
        )),
        None => Ok(requested),
    }
}
