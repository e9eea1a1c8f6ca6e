//! A small, strict element tree over quick-xml for the documents an upstream IdP
//! sends (Responses, metadata) and for the exact bytes xmlsec verified. Namespaces
//! are resolved; a DTD, an undefined entity, a second root, text outside the root,
//! duplicated attributes and mismatched end tags are refused; depth and element
//! count are bounded. Comments and processing instructions are dropped, so the
//! text of an element is all of its text (`admin@example.com<!---->.evil.com`
//! reads as the whole `admin@example.com.evil.com`, never as a prefix of it).

// Parses network input: an index out of range must be an error, never a panic.
#![warn(clippy::indexing_slicing)]

use quick_xml::NsReader;
use quick_xml::XmlVersion;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::{Namespace, ResolveResult};

use crate::xml;

/// SAML protocol namespace (Core §3).
pub const PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
/// SAML assertion namespace (Core §2).
pub const ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
/// XML Signature namespace.
pub const DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
/// SAML metadata namespace.
pub const METADATA: &str = "urn:oasis:names:tc:SAML:2.0:metadata";

/// Deeper documents are refused (a SAML Response needs about ten levels).
const MAX_DEPTH: usize = 48;
/// More elements are refused.
const MAX_ELEMENTS: usize = 20_000;

/// Why a document could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed XML: {0}")]
pub struct XmlError(pub &'static str);

/// A child of an element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// An element.
    Element(Element),
    /// Character data (text, references and CDATA, decoded).
    Text(String),
}

/// An element: namespace URI, local name, attributes as written (qualified name,
/// normalized value), children in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    /// Namespace URI, empty when unbound.
    pub ns: String,
    /// Local name.
    pub local: String,
    /// `(qualified name, value)`, namespace declarations left out.
    pub attrs: Vec<(String, String)>,
    /// Children.
    pub children: Vec<Node>,
}

impl Element {
    /// Whether this is `{ns}local`.
    pub fn is(&self, ns: &str, local: &str) -> bool {
        self.ns == ns && self.local == local
    }

    /// The value of the unprefixed attribute `name`.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Child elements.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    /// Child elements named `{ns}local`.
    pub fn children_named<'a>(
        &'a self,
        ns: &'a str,
        local: &'a str,
    ) -> impl Iterator<Item = &'a Element> {
        self.elements().filter(move |e| e.is(ns, local))
    }

    /// The only child `{ns}local`: `Ok(None)` when absent, an error when repeated.
    pub fn only_child(&self, ns: &str, local: &str) -> Result<Option<&Element>, XmlError> {
        let mut it = self.elements().filter(|e| e.is(ns, local));
        let first = it.next();
        if it.next().is_some() {
            return Err(XmlError("an element that may appear once appears twice"));
        }
        Ok(first)
    }

    /// All text directly inside this element (comments in between dropped), or
    /// `None` when it has element children: simple content only.
    pub fn text(&self) -> Option<String> {
        let mut out = String::new();
        for n in &self.children {
            match n {
                Node::Text(t) => out.push_str(t),
                Node::Element(_) => return None,
            }
        }
        Some(out)
    }

    /// Every descendant element (not this one), depth first, document order.
    pub fn descendants(&self) -> Vec<&Element> {
        let mut out = Vec::new();
        let mut stack: Vec<&Element> = self.elements().collect::<Vec<_>>();
        stack.reverse();
        while let Some(e) = stack.pop() {
            out.push(e);
            let mut kids: Vec<&Element> = e.elements().collect();
            kids.reverse();
            stack.extend(kids);
        }
        out
    }
}

fn resolved(ns: &ResolveResult<'_>) -> String {
    match ns {
        ResolveResult::Bound(Namespace(n)) => String::from_utf8_lossy(n).into_owned(),
        _ => String::new(),
    }
}

fn start(ns: &ResolveResult<'_>, e: &BytesStart<'_>) -> Result<Element, XmlError> {
    let mut attrs = Vec::new();
    for a in e.attributes() {
        let a = a.map_err(|_| XmlError("bad or duplicated attribute"))?;
        let key = std::str::from_utf8(a.key.as_ref())
            .map_err(|_| XmlError("attribute name is not UTF-8"))?;
        if key == "xmlns" || key.starts_with("xmlns:") {
            continue;
        }
        let value = a
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(|_| XmlError("bad attribute value"))?
            .into_owned();
        attrs.push((key.to_owned(), value));
    }
    Ok(Element {
        ns: resolved(ns),
        local: String::from_utf8_lossy(e.local_name().as_ref()).into_owned(),
        attrs,
        children: Vec::new(),
    })
}

fn push_text(stack: &mut [Element], s: &str) {
    if let Some(top) = stack.last_mut() {
        if let Some(Node::Text(t)) = top.children.last_mut() {
            t.push_str(s);
        } else {
            top.children.push(Node::Text(s.to_owned()));
        }
    }
}

/// [`xml::admit`], its refusal as an [`XmlError`].
pub fn admit(bytes: &[u8]) -> Result<&str, XmlError> {
    xml::admit(bytes).map_err(|e| match e {
        xml::Refused::Dtd => XmlError("a DTD is not allowed"),
        xml::Refused::Encoding(m) => XmlError(m),
    })
}

/// Parses `bytes` into its root element.
pub fn parse(bytes: &[u8]) -> Result<Element, XmlError> {
    // Before any parser sees the bytes: XXE, entity expansion, encodings.
    let text = admit(bytes)?;
    let mut reader = NsReader::from_str(text);
    reader.config_mut().check_end_names = true;
    reader.config_mut().expand_empty_elements = true;

    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut count = 0usize;
    loop {
        let (ns, event) = reader
            .read_resolved_event()
            .map_err(|_| XmlError("not well-formed XML"))?;
        match event {
            Event::Start(e) => {
                if root.is_some() {
                    return Err(XmlError("more than one root element"));
                }
                count += 1;
                if stack.len() >= MAX_DEPTH || count > MAX_ELEMENTS {
                    return Err(XmlError("the document is nested too deeply or too large"));
                }
                stack.push(start(&ns, &e)?);
            }
            Event::End(_) => {
                let done = stack.pop().ok_or(XmlError("unbalanced end tag"))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(Node::Element(done)),
                    None => root = Some(done),
                }
            }
            Event::Text(t) => {
                let s = t.decode().map_err(|_| XmlError("bad text"))?;
                if stack.is_empty() {
                    if !s.trim().is_empty() {
                        return Err(XmlError("text outside the root element"));
                    }
                } else {
                    push_text(&mut stack, &s);
                }
            }
            Event::CData(c) => {
                if stack.is_empty() {
                    return Err(XmlError("text outside the root element"));
                }
                let s = std::str::from_utf8(&c).map_err(|_| XmlError("not UTF-8"))?;
                push_text(&mut stack, s);
            }
            Event::GeneralRef(r) => {
                if stack.is_empty() {
                    return Err(XmlError("text outside the root element"));
                }
                let name = r.decode().map_err(|_| XmlError("bad reference"))?;
                if let Some(c) = r
                    .resolve_char_ref()
                    .map_err(|_| XmlError("bad reference"))?
                {
                    push_text(&mut stack, c.encode_utf8(&mut [0u8; 4]));
                } else if let Some(s) = quick_xml::escape::resolve_predefined_entity(&name) {
                    push_text(&mut stack, s);
                } else {
                    return Err(XmlError("undefined entity"));
                }
            }
            Event::DocType(_) => return Err(XmlError("a DTD is not allowed")),
            Event::Eof => break,
            // Comments, processing instructions, the XML declaration.
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err(XmlError("the document ends inside an element"));
    }
    root.ok_or(XmlError("no root element"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comment_inside_text_keeps_the_whole_text() {
        let e = parse(b"<a xmlns='urn:x'>admin@example.com<!---->.evil.com</a>").expect("parses");
        assert_eq!(e.text().as_deref(), Some("admin@example.com.evil.com"));
        assert_eq!(e.ns, "urn:x");
    }

    #[test]
    fn refuses_what_is_not_one_well_formed_tree() {
        assert!(parse(b"<a/><b/>").is_err());
        assert!(parse(b"<a>&ent;</a>").is_err());
        assert!(parse(b"<a x='1' x='2'/>").is_err());
        assert!(parse(b"<a><b></a>").is_err());
        assert!(parse(b"<a>").is_err());
        assert!(parse(b"x<a/>").is_err());
        assert!(parse(b"<!DOCTYPE a><a/>").is_err());
        let deep = "<a>".repeat(60) + &"</a>".repeat(60);
        assert!(parse(deep.as_bytes()).is_err());
    }

    #[test]
    fn references_and_cdata_are_text() {
        let e = parse(b"<a>x&amp;y&#65;<![CDATA[<z>]]></a>").expect("parses");
        assert_eq!(e.text().as_deref(), Some("x&yA<z>"));
    }
}
