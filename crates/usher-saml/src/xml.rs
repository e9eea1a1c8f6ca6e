//! XML text helpers: escaping what goes into documents, and the gate ([`admit`])
//! every XML input from the network or from fetched metadata passes before any
//! parser (quick-xml, samael, libxml2 through xmlsec) sees a byte: UTF-8 only,
//! no DTD.

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

/// Why [`admit`] refused a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// A DTD or entity declaration.
    #[error("a DTD is not allowed")]
    Dtd,
    /// Not UTF-8, or declared as another encoding.
    #[error("{0}")]
    Encoding(&'static str),
}

/// The gate in front of every XML parser: the document as UTF-8 text (a UTF-8
/// byte-order mark removed), or why it is refused.
///
/// Encoding: quick-xml reads the bytes as UTF-8 whatever the document says,
/// while libxml2 (under xmlsec and samael) honours the XML declaration's
/// `encoding` (XML 1.0 §4.3.3) and a UTF-16 or UTF-32 byte-order mark. The same
/// bytes could then be two different documents: in UTF-7 `+ADw-` is `<` to
/// libxml2 and text to quick-xml, so the structure checked against signature
/// wrapping would not be the structure whose signature was verified (a parser
/// differential, as in the SAML "XML round-trip" vulnerabilities of 2020-2022).
/// SAML never needs another encoding, so only UTF-8 passes: a declaration
/// naming anything but `UTF-8` (any case), a UTF-16/UTF-32 byte-order mark, a
/// NUL byte (UTF-16 or UTF-32 without a mark; XML 1.0 §2.2 forbids U+0000
/// anyway) and bytes that are not UTF-8 are refused.
///
/// DTD: see [`has_dtd`].
pub fn admit(bytes: &[u8]) -> Result<&str, Refused> {
    // UTF-32BE, then UTF-16LE (and UTF-32LE, FF FE 00 00), then UTF-16BE.
    const UTF16_32_MARKS: [&[u8]; 3] = [b"\x00\x00\xFE\xFF", b"\xFF\xFE", b"\xFE\xFF"];
    if UTF16_32_MARKS.iter().any(|m| bytes.starts_with(m)) {
        return Err(Refused::Encoding(
            "the XML is in UTF-16 or UTF-32; only UTF-8 is accepted",
        ));
    }
    if bytes.contains(&0) {
        return Err(Refused::Encoding(
            "the XML contains a NUL byte; only UTF-8 is accepted",
        ));
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|_| Refused::Encoding("the XML is not UTF-8; only UTF-8 is accepted"))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if has_dtd(text.as_bytes()) {
        return Err(Refused::Dtd);
    }
    if !declarations_say_utf8(text) {
        return Err(Refused::Encoding(
            "the XML declares an encoding other than UTF-8; only UTF-8 is accepted",
        ));
    }
    Ok(text)
}

/// Whether every XML declaration in `text` (`<?xml` followed by white space,
/// any case, wherever it is: a parser may take one that is not first) either
/// names no encoding or names `UTF-8`. A declaration that cannot be read
/// cleanly counts as naming another encoding: fail closed.
fn declarations_say_utf8(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(at) = find_ci(bytes, b"<?xml", from) {
        from = at + 5;
        let rest = bytes.get(from..).unwrap_or_default();
        if !rest.first().is_some_and(|b| b.is_ascii_whitespace()) {
            // `<?xml-stylesheet ...?>` and the like are other instructions.
            continue;
        }
        let end = find_ci(rest, b"?>", 0).unwrap_or(rest.len());
        let decl = rest.get(..end).unwrap_or_default();
        let Some(at) = find_ci(decl, b"encoding", 0) else {
            continue;
        };
        if !encoding_is_utf8(decl.get(at + 8..).unwrap_or_default()) {
            return false;
        }
    }
    true
}

/// `S? '=' S? ('"' 'UTF-8' '"' | "'" 'UTF-8' "'")` at the start of `after`
/// (XML 1.0 §4.3.3, `EncodingDecl` after its name).
fn encoding_is_utf8(after: &[u8]) -> bool {
    let Some((b'=', rest)) = skip_space(after).split_first() else {
        return false;
    };
    let Some((&quote, value)) = skip_space(rest).split_first() else {
        return false;
    };
    (quote == b'"' || quote == b'\'')
        && value
            .get(..5)
            .is_some_and(|v| v.eq_ignore_ascii_case(b"UTF-8"))
        && value.get(5) == Some(&quote)
}

fn skip_space(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|c| c.is_ascii_whitespace()).count();
    b.get(n..).unwrap_or_default()
}

fn find_ci(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
        .map(|p| p + from)
}

/// Whether a document declares a DTD anywhere. Any `<!DOCTYPE` is refused before
/// parsing: DTDs carry external entities (XXE) and entity expansion ("billion
/// laughs"), and SAML messages never need one (SAML Core §1.3, Bindings §3.4.4).
/// Case-insensitive, anywhere in the text, so whitespace, a BOM or comments in
/// front do not hide it; `<!ENTITY` is refused the same way.
fn has_dtd(xml: &[u8]) -> bool {
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
    fn only_utf8_is_admitted() {
        for ok in [
            &b"<a/>"[..],
            b"\xEF\xBB\xBF<a/>",
            b"<?xml version=\"1.0\"?><a/>",
            b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><a/>",
            b"<?xml version='1.0' encoding = 'utf-8' standalone='yes'?><a/>",
            b"<?xml-stylesheet href=\"x\"?><a>encoding=\"latin1\"</a>",
            "<a>caf\u{e9}</a>".as_bytes(),
        ] {
            assert!(admit(ok).is_ok(), "{}", String::from_utf8_lossy(ok));
        }
        assert_eq!(admit(b"\xEF\xBB\xBF<a/>"), Ok("<a/>"));
        for bad in [
            &b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a/>"[..],
            b"<?xml version=\"1.0\" encoding=\"UTF-7\"?><a/>",
            b"<?XML version=\"1.0\" ENCODING='utf-16'?><a/>",
            b"<?xml version=\"1.0\" encoding=\"UTF-8x\"?><a/>",
            b"<?xml version=\"1.0\" encoding=UTF-8?><a/>",
            b"<?xml version=\"1.0\" encoding=\"UTF8\"?><a/>",
            b"<a/><?xml version=\"1.0\" encoding=\"latin1\"?>",
            b"\xFF\xFE<\x00a\x00/\x00>\x00",
            b"\xFE\xFF\x00<\x00a\x00/\x00>",
            b"<\x00a\x00/\x00>\x00",
            b"<a>caf\xE9</a>",
        ] {
            assert!(
                matches!(admit(bad), Err(Refused::Encoding(_))),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(admit(b"<!DOCTYPE a><a/>"), Err(Refused::Dtd));
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
