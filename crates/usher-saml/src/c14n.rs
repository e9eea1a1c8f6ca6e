//! Exclusive XML Canonicalization 1.0 without comments (xml-exc-c14n, the one
//! algorithm usher signs with) of documents usher wrote itself.
//!
//! This is what lets usher sign without handing every response to xmlsec (which
//! parses the document into a DOM and re-imports the private key per signature,
//! about half of an SSO request's time). It is not a general canonicalizer, and is
//! never run on input from the network: it refuses what usher never writes
//! (DTDs, comments, processing instructions, CDATA, undeclared prefixes, entities
//! other than the predefined ones and character references). Its output is checked
//! against xmlsec's verification in the tests and by python3-saml in the interop
//! suite.
//!
//! The rules implemented (Exclusive XML Canonicalization §3, Canonical XML §2.3):
//! empty elements as start-end pairs; a namespace declaration is output on an
//! element only when the element or one of its attributes visibly uses the prefix
//! and no output ancestor already declared it with the same URI; declarations
//! sorted by prefix (the default one first), then attributes by namespace URI and
//! local name; attribute values normalized as an XML parser does, then `&`, `<`,
//! `"`, tab, LF and CR escaped; text with `&`, `<`, `>` and CR escaped.

use std::collections::BTreeMap;
use std::ops::Range;

use quick_xml::XmlVersion;
use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;
use usher_core::{Error, Result};

fn refuse(what: &str) -> Error {
    Error::Internal(format!("canonicalizing a document usher wrote: {what}"))
}

/// One element's namespaces: what is in scope, and what an output ancestor (or
/// the element itself) has rendered.
#[derive(Clone, Default)]
struct Scope {
    declared: BTreeMap<String, String>,
    rendered: BTreeMap<String, String>,
}

/// The canonical form of the element starting at byte `apex` of `xml`, with the
/// bytes in `omit` (an enveloped `<ds:Signature>`, XML-DSig §6.6.4) left out.
/// `apex` must be the offset of the element's `<`.
pub fn exclusive(xml: &str, apex: usize, omit: Option<Range<usize>>) -> Result<String> {
    let mut reader = Reader::from_str(xml);
    let config = reader.config_mut();
    config.expand_empty_elements = true;
    config.check_end_names = true;

    let mut out = String::with_capacity(xml.len());
    let mut stack = vec![Scope::default()];
    // Depth inside the apex (0: not yet inside, or left).
    let mut depth = 0usize;
    loop {
        let at = usize::try_from(reader.buffer_position()).map_err(|_| refuse("offset"))?;
        let event = reader.read_event().map_err(|e| refuse(&e.to_string()))?;
        let omitted = omit.as_ref().is_some_and(|r| r.contains(&at));
        let inside = depth > 0 || at == apex;
        match event {
            Event::Start(e) => {
                let parent = stack.last().cloned().unwrap_or_default();
                let (scope, tag) = start_tag(&e, parent, inside && !omitted)?;
                stack.push(scope);
                if inside {
                    depth += 1;
                    if !omitted {
                        out.push_str(&tag);
                    }
                }
            }
            Event::End(e) => {
                stack.pop();
                if inside {
                    if !omitted {
                        out.push_str("</");
                        out.push_str(utf8(e.name().as_ref())?);
                        out.push('>');
                    }
                    depth -= 1;
                    if depth == 0 {
                        return Ok(out);
                    }
                }
            }
            Event::Text(t) if inside && !omitted => {
                let text = t.decode().map_err(|_| refuse("text is not UTF-8"))?;
                escape_text(&text, &mut out);
            }
            Event::GeneralRef(r) if inside && !omitted => {
                let name = r.decode().map_err(|_| refuse("bad reference"))?;
                if let Some(c) = r.resolve_char_ref().map_err(|_| refuse("bad reference"))? {
                    escape_text(c.encode_utf8(&mut [0; 4]), &mut out);
                } else if let Some(s) = quick_xml::escape::resolve_predefined_entity(&name) {
                    escape_text(s, &mut out);
                } else {
                    return Err(refuse("an undefined entity"));
                }
            }
            Event::Text(_) | Event::GeneralRef(_) | Event::Decl(_) => {}
            Event::Eof => return Err(refuse("the element to canonicalize was not found")),
            Event::Empty(_) => return Err(refuse("an empty element was not expanded")),
            Event::Comment(_) | Event::CData(_) | Event::PI(_) | Event::DocType(_) => {
                return Err(refuse("a construct usher never writes"));
            }
        }
    }
}

fn utf8(bytes: &[u8]) -> Result<&str> {
    std::str::from_utf8(bytes).map_err(|_| refuse("a name is not UTF-8"))
}

fn prefix_of(qname: &str) -> &str {
    qname.split_once(':').map_or("", |(p, _)| p)
}

/// The element's scope, and its canonical start tag when `render`.
fn start_tag(e: &BytesStart<'_>, parent: Scope, render: bool) -> Result<(Scope, String)> {
    let mut scope = parent;
    let mut attributes = Vec::new();
    for a in e.attributes() {
        let a = a.map_err(|_| refuse("a bad attribute"))?;
        let key = utf8(a.key.as_ref())?.to_owned();
        let value = a
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(|_| refuse("a bad attribute value"))?
            .into_owned();
        if key == "xmlns" {
            scope.declared.insert(String::new(), value);
        } else if let Some(prefix) = key.strip_prefix("xmlns:") {
            scope.declared.insert(prefix.to_owned(), value);
        } else {
            attributes.push((key, value));
        }
    }
    if !render {
        return Ok((scope, String::new()));
    }
    let name = utf8(e.name().as_ref())?.to_owned();
    // Visibly utilized prefixes (Exclusive C14N §3): the element's, and its
    // prefixed attributes' (unprefixed attributes are in no namespace).
    let mut used = vec![prefix_of(&name)];
    used.extend(
        attributes
            .iter()
            .map(|(k, _)| prefix_of(k))
            // `xml:` is bound by definition and never declared (Exclusive C14N
            // §3, Canonical XML §2.4).
            .filter(|p| !p.is_empty() && *p != "xml"),
    );
    let mut declarations = BTreeMap::new();
    for prefix in used {
        let uri = match scope.declared.get(prefix) {
            Some(uri) => uri.clone(),
            None if prefix.is_empty() => String::new(),
            None => return Err(refuse("an undeclared prefix")),
        };
        let shown = scope.rendered.get(prefix).map_or("", String::as_str);
        if shown != uri {
            declarations.insert(prefix.to_owned(), uri);
        }
    }
    // Attributes in order of (namespace URI, local name) (Canonical XML §2.2).
    let mut sorted = Vec::with_capacity(attributes.len());
    for (key, value) in attributes {
        let uri = match prefix_of(&key) {
            "" => String::new(),
            "xml" => "http://www.w3.org/XML/1998/namespace".to_owned(),
            p => scope
                .declared
                .get(p)
                .cloned()
                .ok_or_else(|| refuse("an undeclared attribute prefix"))?,
        };
        let local = key
            .split_once(':')
            .map_or(key.clone(), |(_, l)| l.to_owned());
        sorted.push(((uri, local), key, value));
    }
    sorted.sort();
    let mut tag = format!("<{name}");
    for (prefix, uri) in &declarations {
        if prefix.is_empty() {
            tag.push_str(" xmlns=\"");
        } else {
            tag.push_str(" xmlns:");
            tag.push_str(prefix);
            tag.push_str("=\"");
        }
        escape_attribute(uri, &mut tag);
        tag.push('"');
    }
    for (_, key, value) in &sorted {
        tag.push(' ');
        tag.push_str(key);
        tag.push_str("=\"");
        escape_attribute(value, &mut tag);
        tag.push('"');
    }
    tag.push('>');
    scope.rendered.extend(declarations);
    Ok((scope, tag))
}

fn escape_text(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

fn escape_attribute(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#x9;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_are_rendered_where_used_and_attributes_sorted() {
        let xml = "<p:a xmlns:p=\"urn:p\" xmlns:q=\"urn:q\" z=\"1\" b=\"&apos;x&#9;\"><q:b/>\
<p:c q:y=\"2\">t&amp;&gt;&#xD;</p:c></p:a>";
        assert_eq!(
            exclusive(xml, 0, None).expect("canonical"),
            "<p:a xmlns:p=\"urn:p\" b=\"'x&#x9;\" z=\"1\"><q:b xmlns:q=\"urn:q\"></q:b>\
<p:c xmlns:q=\"urn:q\" q:y=\"2\">t&amp;&gt;&#xD;</p:c></p:a>"
        );
    }

    #[test]
    fn an_inner_element_renders_what_its_context_declared() {
        let xml = "<r xmlns:s=\"urn:s\"><s:x a=\"1\"><s:y/></s:x></r>";
        let apex = xml.find("<s:x").expect("inner");
        assert_eq!(
            exclusive(xml, apex, None).expect("canonical"),
            "<s:x xmlns:s=\"urn:s\" a=\"1\"><s:y></s:y></s:x>"
        );
    }

    #[test]
    fn the_omitted_range_is_left_out() {
        let xml = "<a xmlns=\"urn:a\"><sig>x</sig><b/></a>";
        let start = xml.find("<sig>").expect("sig");
        let end = xml.find("</sig>").expect("end") + "</sig>".len();
        assert_eq!(
            exclusive(xml, 0, Some(start..end)).expect("canonical"),
            "<a xmlns=\"urn:a\"><b></b></a>"
        );
    }

    #[test]
    fn constructs_usher_never_writes_are_refused() {
        assert!(exclusive("<a><!-- c --></a>", 0, None).is_err());
        assert!(exclusive("<p:a/>", 0, None).is_err());
        assert!(exclusive("<a>&ext;</a>", 0, None).is_err());
    }
}
