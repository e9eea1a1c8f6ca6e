//! The shape of a `<samlp:Response>` as it arrived, checked before any signature
//! is believed (SAML Core §3.2.2, §3.3.3; the XML Signature Wrapping attacks of
//! Somorovsky et al., "On Breaking SAML", USENIX Security 2012):
//!
//! - the root is a Response, and no two elements carry the same `ID` (xmlsec
//!   would resolve a Reference to either);
//! - exactly one `<saml:Assertion>` in the whole document, a direct child of the
//!   Response: none hidden in Extensions, in a `ds:Object`, inside another
//!   assertion or beside the signed one; encrypted assertions are refused (usher
//!   publishes no encryption key);
//! - at most one `<ds:Signature>` directly in the Response and one directly in
//!   the Assertion, none anywhere else; each with exactly one Reference, to its
//!   parent's own `ID`, and only the enveloped-signature and canonicalization
//!   transforms (no XPath or XSLT that could select other content).
//!
//! The wrapper's fields are read here too, so an unsigned wrapper's Destination,
//! InResponseTo and Status are still checked.

use super::dom::{ASSERTION, DSIG, Element, PROTOCOL};
use super::error::Rejection;

/// SAML Core §3.2.2.2.
pub const STATUS_SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";

const ALLOWED_TRANSFORMS: [&str; 3] = [
    "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
    "http://www.w3.org/2001/10/xml-exc-c14n#",
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
];

/// SignatureMethods accepted (NIST SP 800-131A: no SHA-1, no DSA).
pub const SIGNATURE_METHODS: [&str; 6] = [
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512",
];

/// DigestMethods accepted.
pub const DIGEST_METHODS: [&str; 3] = [
    "http://www.w3.org/2001/04/xmlenc#sha256",
    "http://www.w3.org/2001/04/xmldsig-more#sha384",
    "http://www.w3.org/2001/04/xmlenc#sha512",
];

/// The Response element's own fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Wrapper {
    /// `ID`.
    pub id: String,
    /// `Destination`.
    pub destination: Option<String>,
    /// `InResponseTo`.
    pub in_response_to: Option<String>,
    /// `IssueInstant`.
    pub issue_instant: String,
    /// `<saml:Issuer>` (optional on a Response, Core §3.2.2).
    pub issuer: Option<String>,
    /// Top-level StatusCode.
    pub status: String,
    /// Second-level StatusCode, if any.
    pub sub_status: Option<String>,
}

/// What the raw document looks like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    /// The wrapper as it arrived (perhaps unsigned).
    pub wrapper: Wrapper,
    /// A Signature sits directly in the Response.
    pub response_signed: bool,
    /// The one assertion's `ID` (`None` only for a non-Success status).
    pub assertion_id: Option<String>,
    /// A Signature sits directly in the Assertion.
    pub assertion_signed: bool,
}

fn malformed(m: &str) -> Rejection {
    Rejection::Malformed(m.to_owned())
}

/// Reads a Response element's own fields.
pub fn read_wrapper(root: &Element) -> Result<Wrapper, Rejection> {
    if root.attr("Version") != Some("2.0") {
        return Err(malformed("Version must be 2.0"));
    }
    let id = root
        .attr("ID")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| malformed("the Response has no ID"))?;
    let issue_instant = root
        .attr("IssueInstant")
        .ok_or_else(|| malformed("the Response has no IssueInstant"))?;
    let issuer = match root.only_child(ASSERTION, "Issuer")? {
        Some(i) => Some(
            i.text()
                .ok_or_else(|| malformed("the Issuer is not text"))?
                .trim()
                .to_owned(),
        ),
        None => None,
    };
    let status = root
        .only_child(PROTOCOL, "Status")?
        .ok_or_else(|| malformed("the Response has no Status"))?;
    let code = status
        .only_child(PROTOCOL, "StatusCode")?
        .ok_or_else(|| malformed("the Status has no StatusCode"))?;
    let sub_status = code
        .only_child(PROTOCOL, "StatusCode")?
        .and_then(|c| c.attr("Value"))
        .map(str::to_owned);
    Ok(Wrapper {
        id: id.to_owned(),
        destination: root.attr("Destination").map(str::to_owned),
        // An empty InResponseTo (samlify's default template when unsolicited) is
        // no InResponseTo: the response is unsolicited.
        in_response_to: root
            .attr("InResponseTo")
            .filter(|s| !s.is_empty())
            .map(str::to_owned),
        issue_instant: issue_instant.to_owned(),
        issuer,
        status: code
            .attr("Value")
            .ok_or_else(|| malformed("the StatusCode has no Value"))?
            .to_owned(),
        sub_status,
    })
}

/// Checks the shape of the raw `root` (see the module documentation).
pub fn check(root: &Element) -> Result<Shape, Rejection> {
    if !root.is(PROTOCOL, "Response") {
        return Err(malformed("the message is not a samlp:Response"));
    }
    let all = root.descendants();
    let mut ids = std::collections::HashSet::new();
    // `xml:id` is an ID to libxml2 whatever the schema says, and `Id`/`id` are
    // IDs in other XML-DSig profiles: all share one space, so no element can
    // pose as another to a Reference.
    for e in std::iter::once(root).chain(all.iter().copied()) {
        for (name, value) in &e.attrs {
            if matches!(name.as_str(), "ID" | "Id" | "id" | "xml:id") && !ids.insert(value.as_str())
            {
                return Err(Rejection::SignatureShape("two elements carry the same ID"));
            }
        }
    }
    let wrapper = read_wrapper(root)?;
    if all.iter().any(|e| e.is(ASSERTION, "EncryptedAssertion")) {
        return Err(malformed(
            "encrypted assertions are not supported: configure the IdP not to encrypt them",
        ));
    }
    let assertions = all.iter().filter(|e| e.is(ASSERTION, "Assertion")).count();
    let direct: Vec<&Element> = root.children_named(ASSERTION, "Assertion").collect();
    let assertion = match (assertions, direct.as_slice()) {
        (0, _) => None,
        (1, [one]) => Some(*one),
        (1, _) => {
            return Err(Rejection::AssertionCount(
                "the assertion is nested somewhere else",
            ));
        }
        _ => {
            return Err(Rejection::AssertionCount(
                "there is more than one assertion",
            ));
        }
    };
    if assertion.is_none() && wrapper.status == STATUS_SUCCESS {
        return Err(Rejection::AssertionCount("there is no assertion"));
    }
    // Signatures: only directly in the Response or the Assertion, one each.
    let signatures = all.iter().filter(|e| e.is(DSIG, "Signature")).count();
    let response_sigs: Vec<&Element> = root.children_named(DSIG, "Signature").collect();
    let assertion_sigs: Vec<&Element> = assertion
        .map(|a| a.children_named(DSIG, "Signature").collect())
        .unwrap_or_default();
    if response_sigs.len() > 1 || assertion_sigs.len() > 1 {
        return Err(Rejection::SignatureShape(
            "an element carries two signatures",
        ));
    }
    if signatures != response_sigs.len() + assertion_sigs.len() {
        return Err(Rejection::SignatureShape(
            "a signature sits outside the response and its assertion",
        ));
    }
    for sig in &response_sigs {
        check_signature(sig, &wrapper.id)?;
    }
    let assertion_id = match assertion {
        Some(a) => Some(
            a.attr("ID")
                .filter(|s| !s.is_empty())
                .ok_or_else(|| malformed("the Assertion has no ID"))?
                .to_owned(),
        ),
        None => None,
    };
    if let (Some(sig), Some(id)) = (assertion_sigs.first(), &assertion_id) {
        check_signature(sig, id)?;
    }
    Ok(Shape {
        wrapper,
        response_signed: !response_sigs.is_empty(),
        assertion_id,
        assertion_signed: !assertion_sigs.is_empty(),
    })
}

/// One Reference, to the parent's own ID, with allowed transforms only.
pub(crate) fn check_signature(sig: &Element, parent_id: &str) -> Result<(), Rejection> {
    let shape = Rejection::SignatureShape;
    let signed_info = sig
        .only_child(DSIG, "SignedInfo")?
        .ok_or(shape("a signature has no SignedInfo"))?;
    // Algorithms first, so a downgrade is named as such (xmlsec's allow-list in
    // `verify` enforces the same again).
    let method = signed_info
        .only_child(DSIG, "SignatureMethod")?
        .and_then(|m| m.attr("Algorithm"));
    if !method.is_some_and(|m| SIGNATURE_METHODS.contains(&m)) {
        return Err(Rejection::WeakAlgorithm);
    }
    let references: Vec<&Element> = signed_info.children_named(DSIG, "Reference").collect();
    let [reference] = references.as_slice() else {
        return Err(shape("a signature must have exactly one Reference"));
    };
    if reference.attr("URI") != Some(&format!("#{parent_id}")) {
        return Err(shape(
            "the signature's Reference does not name its parent element",
        ));
    }
    let digest = reference
        .only_child(DSIG, "DigestMethod")?
        .and_then(|m| m.attr("Algorithm"));
    if !digest.is_some_and(|d| DIGEST_METHODS.contains(&d)) {
        return Err(Rejection::WeakAlgorithm);
    }
    if let Some(transforms) = reference.only_child(DSIG, "Transforms")? {
        for t in transforms.elements() {
            if !t.is(DSIG, "Transform")
                || !ALLOWED_TRANSFORMS.contains(&t.attr("Algorithm").unwrap_or_default())
            {
                return Err(shape(
                    "only the enveloped-signature and canonicalization transforms are allowed",
                ));
            }
        }
    }
    Ok(())
}
