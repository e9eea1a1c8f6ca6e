//! A strict, minimal reader for `<samlp:AuthnRequest>` (SAML Core §3.4.1) and
//! `<samlp:LogoutRequest>` (§3.7.1) on
//! quick-xml: namespaces resolved, one root, one Issuer, duplicate attributes
//! refused, no DTD (checked earlier, and refused again here), no entity other
//! than the five predefined ones and character references. It extracts only what
//! the IdP acts on; nothing is followed or fetched.

// Parses network input: an index out of range must be an error, never a panic.
#![warn(clippy::indexing_slicing)]

use quick_xml::NsReader;
use quick_xml::XmlVersion;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::{Namespace, ResolveResult};

use crate::xml;

const PROTOCOL: &[u8] = b"urn:oasis:names:tc:SAML:2.0:protocol";
const ASSERTION: &[u8] = b"urn:oasis:names:tc:SAML:2.0:assertion";
const DSIG: &[u8] = b"http://www.w3.org/2000/09/xmldsig#";

/// What an AuthnRequest asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthnRequest {
    /// `ID` (echoed as `InResponseTo`).
    pub id: String,
    /// `IssueInstant`.
    pub issue_instant: String,
    /// `Destination`, when present.
    pub destination: Option<String>,
    /// `<saml:Issuer>`: the SP's entity id.
    pub issuer: String,
    /// `AssertionConsumerServiceURL`.
    pub acs_url: Option<String>,
    /// `AssertionConsumerServiceIndex`.
    pub acs_index: Option<u16>,
    /// `ProtocolBinding`.
    pub protocol_binding: Option<String>,
    /// `ForceAuthn`.
    pub force_authn: bool,
    /// `IsPassive`.
    pub is_passive: bool,
    /// `<samlp:NameIDPolicy Format>`.
    pub name_id_format: Option<String>,
    /// `Reference URI`s of `<ds:Signature>` children of the root (POST binding).
    pub signature_references: Vec<String>,
    /// How many `<ds:Signature>` elements the document holds, anywhere.
    pub signatures: usize,
    /// `<saml:NameID>` (LogoutRequest).
    pub name_id: Option<String>,
    /// `<samlp:SessionIndex>`es (LogoutRequest).
    pub session_indexes: Vec<String>,
    /// `NotOnOrAfter` (LogoutRequest).
    pub not_on_or_after: Option<String>,
    /// `InResponseTo` (LogoutResponse).
    pub in_response_to: Option<String>,
    /// The top-level `<samlp:StatusCode Value>` (LogoutResponse).
    pub status: Option<String>,
}

/// Which request a document must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Root {
    /// `<samlp:AuthnRequest>`.
    AuthnRequest,
    /// `<samlp:LogoutRequest>`.
    LogoutRequest,
    /// `<samlp:LogoutResponse>` (Core §3.7.2), to a LogoutRequest usher sent.
    LogoutResponse,
}

/// Where element text goes.
#[derive(Clone, Copy)]
enum Capture {
    Issuer,
    NameId,
    SessionIndex,
}

/// Why a request was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed AuthnRequest: {0}")]
pub struct Malformed(pub &'static str);

fn in_ns(ns: &ResolveResult<'_>, uri: &[u8]) -> bool {
    matches!(ns, ResolveResult::Bound(Namespace(n)) if *n == uri)
}

fn boolean(v: &str) -> Result<bool, Malformed> {
    // XML Schema §3.2.2.1 boolean lexical space.
    match v {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(Malformed("a boolean attribute is not true or false")),
    }
}

/// Unprefixed attributes of an element as (name, value), duplicates refused by
/// quick-xml's checks.
fn attributes(e: &BytesStart<'_>) -> Result<Vec<(String, String)>, Malformed> {
    let mut out = Vec::new();
    for a in e.attributes() {
        let a = a.map_err(|_| Malformed("bad or duplicated attribute"))?;
        let key = std::str::from_utf8(a.key.as_ref())
            .map_err(|_| Malformed("attribute name is not UTF-8"))?
            .to_owned();
        let value = a
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(|_| Malformed("bad attribute value"))?
            .into_owned();
        out.push((key, value));
    }
    Ok(out)
}

/// Parses an AuthnRequest.
pub fn parse(xml_bytes: &[u8]) -> Result<AuthnRequest, Malformed> {
    parse_as(xml_bytes, Root::AuthnRequest)
}

/// Parses a request whose root must be `root`.
pub fn parse_as(xml_bytes: &[u8], root: Root) -> Result<AuthnRequest, Malformed> {
    let root_name: &[u8] = match root {
        Root::AuthnRequest => b"AuthnRequest",
        Root::LogoutRequest => b"LogoutRequest",
        Root::LogoutResponse => b"LogoutResponse",
    };
    // Before the parser: DTDs (XXE) and any encoding but UTF-8.
    let text = xml::admit(xml_bytes).map_err(|e| match e {
        xml::Refused::Dtd => Malformed("a DTD is not allowed"),
        xml::Refused::Encoding(m) => Malformed(m),
    })?;
    let mut reader = NsReader::from_str(text);
    reader.config_mut().check_end_names = true;
    reader.config_mut().expand_empty_elements = true;

    let mut req = AuthnRequest::default();
    let mut depth = 0usize;
    let mut seen_root = false;
    let mut issuers = 0;
    let mut capture: Option<Capture> = None;
    let mut text = String::new();
    let mut name_ids = 0;
    let mut in_root_signature = false;
    let mut in_status = false;
    loop {
        let (ns, event) = reader
            .read_resolved_event()
            .map_err(|_| Malformed("not well-formed XML"))?;
        match event {
            Event::Start(e) => {
                let local = e.local_name();
                let local = local.as_ref();
                if depth == 0 {
                    if seen_root {
                        return Err(Malformed("more than one root element"));
                    }
                    seen_root = true;
                    if !(in_ns(&ns, PROTOCOL) && local == root_name) {
                        return Err(Malformed("the root element is not the expected request"));
                    }
                    root_attributes(&e, &mut req)?;
                } else if in_ns(&ns, DSIG) && local == b"Signature" {
                    req.signatures += 1;
                    in_root_signature = depth == 1;
                } else if depth == 1 && in_ns(&ns, ASSERTION) && local == b"Issuer" {
                    issuers += 1;
                    capture = Some(Capture::Issuer);
                } else if depth == 1 && in_ns(&ns, ASSERTION) && local == b"NameID" {
                    name_ids += 1;
                    capture = Some(Capture::NameId);
                } else if depth == 1 && in_ns(&ns, PROTOCOL) && local == b"Status" {
                    in_status = true;
                } else if depth == 2 && in_status && in_ns(&ns, PROTOCOL) && local == b"StatusCode"
                {
                    if req.status.is_some() {
                        return Err(Malformed("more than one top-level StatusCode"));
                    }
                    req.status = attributes(&e)?
                        .into_iter()
                        .find(|(k, _)| k == "Value")
                        .map(|(_, v)| v);
                } else if depth == 1 && in_ns(&ns, PROTOCOL) && local == b"SessionIndex" {
                    capture = Some(Capture::SessionIndex);
                } else if depth == 1 && in_ns(&ns, PROTOCOL) && local == b"NameIDPolicy" {
                    for (k, v) in attributes(&e)? {
                        if k == "Format" {
                            req.name_id_format = Some(v);
                        }
                    }
                } else if in_root_signature && in_ns(&ns, DSIG) && local == b"Reference" {
                    let uri = attributes(&e)?
                        .into_iter()
                        .find(|(k, _)| k == "URI")
                        .map(|(_, v)| v)
                        .unwrap_or_default();
                    req.signature_references.push(uri);
                }
                depth += 1;
            }
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                if depth == 1 {
                    let value = std::mem::take(&mut text).trim().to_owned();
                    match capture.take() {
                        Some(Capture::Issuer) => req.issuer = value,
                        Some(Capture::NameId) => req.name_id = Some(value),
                        Some(Capture::SessionIndex) => req.session_indexes.push(value),
                        None => {}
                    }
                    in_root_signature = false;
                    in_status = false;
                }
            }
            // Text of a captured element, only directly inside it: a comment or
            // child element cannot splice text in (NameID comment injection).
            Event::Text(t) if capture.is_some() && depth == 2 => {
                let s = t.decode().map_err(|_| Malformed("bad text"))?;
                text.push_str(&s);
            }
            Event::Comment(_) if capture.is_some() => {
                return Err(Malformed("a comment inside a SAML value"));
            }
            Event::GeneralRef(r) if capture.is_some() && depth == 2 => {
                let name = r.decode().map_err(|_| Malformed("bad reference"))?;
                if let Some(c) = r
                    .resolve_char_ref()
                    .map_err(|_| Malformed("bad reference"))?
                {
                    text.push(c);
                } else if let Some(s) = quick_xml::escape::resolve_predefined_entity(&name) {
                    text.push_str(s);
                } else {
                    return Err(Malformed("undefined entity"));
                }
            }
            Event::Text(t) if depth == 0 => {
                let s = t.decode().map_err(|_| Malformed("not UTF-8"))?;
                if !s.trim().is_empty() {
                    return Err(Malformed("text outside the root element"));
                }
            }
            Event::GeneralRef(_) if depth == 0 => {
                return Err(Malformed("text outside the root element"));
            }
            Event::DocType(_) => return Err(Malformed("a DTD is not allowed")),
            // quick-xml ends quietly on a truncated document.
            Event::Eof if depth != 0 => {
                return Err(Malformed("the document ends inside an element"));
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !seen_root {
        return Err(Malformed("no root element"));
    }
    if issuers != 1 {
        return Err(Malformed("exactly one Issuer is required"));
    }
    if name_ids > 1 {
        return Err(Malformed("more than one NameID"));
    }
    if root == Root::LogoutRequest && req.name_id.is_none() {
        return Err(Malformed("a LogoutRequest needs a NameID"));
    }
    if req.issuer.is_empty() {
        return Err(Malformed("the Issuer is empty"));
    }
    Ok(req)
}

fn root_attributes(e: &BytesStart<'_>, req: &mut AuthnRequest) -> Result<(), Malformed> {
    let mut version = None;
    for (k, v) in attributes(e)? {
        match k.as_str() {
            "ID" => req.id = v,
            "Version" => version = Some(v),
            "IssueInstant" => req.issue_instant = v,
            "Destination" => req.destination = Some(v),
            "AssertionConsumerServiceURL" => req.acs_url = Some(v),
            "AssertionConsumerServiceIndex" => {
                req.acs_index = Some(v.parse().map_err(|_| Malformed("bad ACS index"))?)
            }
            "ProtocolBinding" => req.protocol_binding = Some(v),
            "ForceAuthn" => req.force_authn = boolean(&v)?,
            "IsPassive" => req.is_passive = boolean(&v)?,
            "NotOnOrAfter" => req.not_on_or_after = Some(v),
            "InResponseTo" => req.in_response_to = Some(v),
            _ => {}
        }
    }
    // SAML Core §1.3.4: an xs:ID (an NCName) of at least 128 bits of randomness; we
    // only check its shape, it is echoed into our XML (escaped anyway).
    if req.id.is_empty() || req.id.len() > 256 {
        return Err(Malformed("the ID is missing or too long"));
    }
    if version.as_deref() != Some("2.0") {
        return Err(Malformed("Version must be 2.0"));
    }
    if req.issue_instant.is_empty() {
        return Err(Malformed("IssueInstant is missing"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str = r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a1" Version="2.0" IssueInstant="2026-01-01T00:00:00Z" AssertionConsumerServiceIndex="2" IsPassive="true"><saml:Issuer> https://sp.example/a&amp;b </saml:Issuer><samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"/></samlp:AuthnRequest>"#;

    #[test]
    fn reads_a_request() {
        let r = parse(OK.as_bytes()).expect("parses");
        assert_eq!(r.id, "_a1");
        assert_eq!(r.issuer, "https://sp.example/a&b");
        assert_eq!(r.acs_index, Some(2));
        assert!(r.is_passive && !r.force_authn);
        assert_eq!(
            r.name_id_format.as_deref(),
            Some("urn:oasis:names:tc:SAML:2.0:nameid-format:persistent")
        );
    }

    #[test]
    fn refuses_wrong_root_and_two_issuers() {
        assert!(parse(b"<AuthnRequest ID='a' Version='2.0'/>").is_err());
        let two = OK.replace(
            "</saml:Issuer>",
            "</saml:Issuer><saml:Issuer>x</saml:Issuer>",
        );
        assert!(parse(two.as_bytes()).is_err());
        let dup = OK.replace("ID=\"_a1\"", "ID=\"_a1\" ID=\"_a2\"");
        assert!(parse(dup.as_bytes()).is_err());
    }

    #[test]
    fn refuses_a_truncated_document() {
        let cut = OK.replace("</samlp:AuthnRequest>", "");
        assert!(parse(cut.as_bytes()).is_err());
        let (cut, _) = OK.split_once("<samlp:NameIDPolicy").expect("policy");
        assert!(parse(cut.as_bytes()).is_err());
    }

    #[test]
    fn logout_request_name_id_without_comment_injection() {
        let lr = |name_id: &str| {
            format!(
                r#"<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_l" Version="2.0" IssueInstant="2026-01-01T00:00:00Z"><saml:Issuer>sp</saml:Issuer><saml:NameID>{name_id}</saml:NameID><samlp:SessionIndex>s1</samlp:SessionIndex></samlp:LogoutRequest>"#
            )
        };
        let r = parse_as(lr("alice").as_bytes(), Root::LogoutRequest).expect("parses");
        assert_eq!(r.name_id.as_deref(), Some("alice"));
        assert_eq!(r.session_indexes, ["s1"]);
        // "admin<!---->.evil" must not read as "admin.evil" (or as "admin").
        assert!(parse_as(lr("admin<!---->.evil").as_bytes(), Root::LogoutRequest).is_err());
        // An AuthnRequest is not a LogoutRequest.
        assert!(parse_as(lr("alice").as_bytes(), Root::AuthnRequest).is_err());
    }
}
