//! XML text helpers: escaping what goes into documents, and the DOCTYPE gate that
//! runs before any parser sees a byte.

// Parses network input: an index out of range must be an error, never a panic.
#![warn(clippy::indexing_slicing)]

/// Escapes text for XML element content and attribute values (XML 1.0 §2.4, §3.3.3):
/// markup in a user's name must never become markup in an assertion.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // A literal CR would be turned into LF by the receiving parser (XML 1.0
            // §2.11); a reference survives, and signatures stay consistent.
            '\r' => out.push_str("&#xD;"),
            // Characters XML 1.0 forbids are dropped rather than emitted.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

/// Whether a document declares a DTD anywhere. Any `<!DOCTYPE` is refused before
/// parsing: DTDs carry external entities (XXE) and entity expansion ("billion
/// laughs"), and SAML messages never need one (SAML Core §1.3, Bindings §3.4.4).
/// Case-insensitive, anywhere in the text, so whitespace, a BOM or comments in
/// front do not hide it; `<!ENTITY` is refused the same way.
pub fn has_dtd(xml: &[u8]) -> bool {
    contains_ci(xml, b"<!doctype") || contains_ci(xml, b"<!entity")
}

fn contains_ci(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_is_escaped() {
        assert_eq!(
            escape("<a href=\"x\">&'</a>\u{1}"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&apos;&lt;/a&gt;"
        );
    }

    #[test]
    fn doctype_is_found_anywhere() {
        assert!(has_dtd(b"\xEF\xBB\xBF  <!DocType x>"));
        assert!(has_dtd(
            b"<?xml version=\"1.0\"?>\n<!-- c --><!DOCTYPE a [<!ENTITY b 'c'>]><a/>"
        ));
        assert!(!has_dtd(b"<a>doctype</a>"));
    }
}
