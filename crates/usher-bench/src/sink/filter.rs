//! The one filter form the sink answers: `ATTRIBUTE eq "VALUE"` (RFC 7644
//! §3.4.2.2), the only form usher's SCIM connector sends. Anything else is
//! `invalidFilter`, so a connector that starts sending more shows up as errors in
//! the run instead of as wrong matches.

use super::store::Failure;

/// `attribute eq "value"`, the attribute lowercased (SCIM names are
/// case-insensitive, RFC 7643 §2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Equals {
    pub attr: String,
    pub value: String,
}

/// Parses `attr eq "value"`. The value is a JSON string (RFC 7644 §3.4.2.2), so
/// a quote or backslash inside it stays inside it.
pub(super) fn parse(filter: &str) -> Result<Equals, Failure> {
    let invalid = || {
        Failure::bad(
            "invalidFilter",
            format!("the sink answers only `attribute eq \"value\"`, not {filter:?}"),
        )
    };
    let (attr, rest) = filter
        .trim()
        .split_once(char::is_whitespace)
        .ok_or_else(invalid)?;
    let (op, value) = rest
        .trim_start()
        .split_once(char::is_whitespace)
        .ok_or_else(invalid)?;
    if !op.eq_ignore_ascii_case("eq") {
        return Err(invalid());
    }
    // serde_json refuses trailing text, so `"a" or x pr` is no string.
    let value: String = serde_json::from_str(value.trim()).map_err(|_| invalid())?;
    Ok(Equals {
        attr: attr.to_ascii_lowercase(),
        value,
    })
}

/// The filter inside a PATCH path `members[value eq "x"]` (RFC 7644 §3.5.2.2).
pub(super) fn member_path(path: &str) -> Option<Result<Equals, Failure>> {
    let (name, rest) = path.split_once('[')?;
    if !name.trim().eq_ignore_ascii_case("members") {
        return None;
    }
    let inner = rest.strip_suffix(']')?;
    Some(parse(inner))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_equality_with_a_quoted_value_is_read_whole() {
        let f = parse(r#"userName eq "a \"b\" c""#).expect("parsed");
        assert_eq!(f.attr, "username");
        assert_eq!(f.value, r#"a "b" c"#);
        assert_eq!(parse(r#"externalId  EQ   "x""#).expect("parsed").value, "x");
    }

    #[test]
    fn filter_injection_after_the_value_is_refused() {
        for hostile in [
            r#"userName eq "a" or userName pr"#,
            r#"userName pr"#,
            r#"userName co "a""#,
            r#"userName eq a"#,
            "",
        ] {
            let e = parse(hostile).expect_err(hostile);
            assert_eq!(e.status, 400, "{hostile}");
        }
    }

    #[test]
    fn a_member_path_names_its_value() {
        let f = member_path(r#"members[value eq "42"]"#)
            .expect("a member path")
            .expect("parsed");
        assert_eq!((f.attr.as_str(), f.value.as_str()), ("value", "42"));
        assert!(member_path("members").is_none());
        assert!(member_path(r#"emails[type eq "work"]"#).is_none());
    }
}
