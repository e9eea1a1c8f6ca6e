//! Reading a `<saml:Assertion>` (SAML Core §2.3.3) from the bytes xmlsec verified.
//! Only the parts usher acts on; each singular element must appear at most once,
//! and values are the complete text of their element (see [`super::dom`]).

use serde_json::{Map, Value};

use super::dom::{ASSERTION, Element};
use super::error::Rejection;

/// Profiles §3.3: the bearer confirmation method of Web Browser SSO.
pub const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";

/// A `<saml:SubjectConfirmation>` and its data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Confirmation {
    /// `Method`.
    pub method: String,
    /// `Recipient`.
    pub recipient: Option<String>,
    /// `NotBefore`.
    pub not_before: Option<String>,
    /// `NotOnOrAfter`.
    pub not_on_or_after: Option<String>,
    /// `InResponseTo`.
    pub in_response_to: Option<String>,
}

/// What an assertion says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Assertion {
    /// `ID`.
    pub id: String,
    /// `IssueInstant`.
    pub issue_instant: String,
    /// `<saml:Issuer>`.
    pub issuer: String,
    /// `<saml:NameID>` text, complete.
    pub name_id: String,
    /// Its `Format`.
    pub name_id_format: Option<String>,
    /// Subject confirmations.
    pub confirmations: Vec<Confirmation>,
    /// `Conditions NotBefore`.
    pub not_before: Option<String>,
    /// `Conditions NotOnOrAfter`.
    pub not_on_or_after: Option<String>,
    /// Whether a Conditions element is there.
    pub has_conditions: bool,
    /// The Audiences of each AudienceRestriction.
    pub audience_restrictions: Vec<Vec<String>>,
    /// `AuthnStatement SessionIndex`.
    pub session_index: Option<String>,
    /// `SessionNotOnOrAfter`.
    pub session_not_on_or_after: Option<String>,
    /// AuthnContextClassRefs.
    pub authn_context: Vec<String>,
    /// Attributes by Name, every value a string.
    pub attributes: Map<String, Value>,
}

fn malformed(m: &str) -> Rejection {
    Rejection::Malformed(m.to_owned())
}

fn text(e: &Element, what: &str) -> Result<String, Rejection> {
    e.text()
        .map(|t| t.trim().to_owned())
        .ok_or_else(|| malformed(&format!("{what} must be text only")))
}

/// Reads `el`, which must be a `<saml:Assertion>`.
pub fn read(el: &Element) -> Result<Assertion, Rejection> {
    if !el.is(ASSERTION, "Assertion") {
        return Err(malformed("not an Assertion"));
    }
    if el.attr("Version") != Some("2.0") {
        return Err(malformed("the Assertion's Version must be 2.0"));
    }
    let mut a = Assertion {
        id: el.attr("ID").unwrap_or_default().to_owned(),
        issue_instant: el
            .attr("IssueInstant")
            .ok_or_else(|| malformed("the Assertion has no IssueInstant"))?
            .to_owned(),
        ..Assertion::default()
    };
    a.issuer = text(
        el.only_child(ASSERTION, "Issuer")?
            .ok_or_else(|| malformed("the Assertion has no Issuer"))?,
        "Issuer",
    )?;
    let subject = el
        .only_child(ASSERTION, "Subject")?
        .ok_or_else(|| malformed("the Assertion has no Subject"))?;
    if subject.only_child(ASSERTION, "EncryptedID")?.is_some()
        || subject.only_child(ASSERTION, "BaseID")?.is_some()
    {
        return Err(malformed("only a plain NameID is supported as the subject"));
    }
    let name_id = subject
        .only_child(ASSERTION, "NameID")?
        .ok_or_else(|| malformed("the Subject has no NameID"))?;
    // The complete text: comments split nothing (comment injection, CVE-2017-11427
    // and its kin); elements inside a NameID are refused.
    a.name_id = text(name_id, "NameID")?;
    if a.name_id.is_empty() {
        return Err(malformed("the NameID is empty"));
    }
    a.name_id_format = name_id.attr("Format").map(str::to_owned);
    for sc in subject.children_named(ASSERTION, "SubjectConfirmation") {
        let data = sc.only_child(ASSERTION, "SubjectConfirmationData")?;
        // Empty values count as absent (see `structure::read_wrapper`).
        let get = |k: &str| {
            data.and_then(|d| d.attr(k))
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        a.confirmations.push(Confirmation {
            method: sc.attr("Method").unwrap_or_default().to_owned(),
            recipient: get("Recipient"),
            not_before: get("NotBefore"),
            not_on_or_after: get("NotOnOrAfter"),
            in_response_to: get("InResponseTo"),
        });
    }
    if let Some(c) = el.only_child(ASSERTION, "Conditions")? {
        a.has_conditions = true;
        a.not_before = c.attr("NotBefore").map(str::to_owned);
        a.not_on_or_after = c.attr("NotOnOrAfter").map(str::to_owned);
        for r in c.children_named(ASSERTION, "AudienceRestriction") {
            let mut audiences = Vec::new();
            for au in r.children_named(ASSERTION, "Audience") {
                audiences.push(text(au, "Audience")?);
            }
            a.audience_restrictions.push(audiences);
        }
    }
    let mut authn = el.children_named(ASSERTION, "AuthnStatement");
    if let Some(s) = authn.next() {
        if authn.next().is_some() {
            return Err(malformed("more than one AuthnStatement"));
        }
        a.session_index = s.attr("SessionIndex").map(str::to_owned);
        a.session_not_on_or_after = s.attr("SessionNotOnOrAfter").map(str::to_owned);
        if let Some(ctx) = s.only_child(ASSERTION, "AuthnContext")? {
            for r in ctx.children_named(ASSERTION, "AuthnContextClassRef") {
                a.authn_context.push(text(r, "AuthnContextClassRef")?);
            }
        }
    }
    for statement in el.children_named(ASSERTION, "AttributeStatement") {
        for attr in statement.children_named(ASSERTION, "Attribute") {
            let name = attr
                .attr("Name")
                .filter(|n| !n.is_empty())
                .ok_or_else(|| malformed("an Attribute has no Name"))?;
            let values = a
                .attributes
                .entry(name.to_owned())
                .or_insert_with(|| Value::Array(Vec::new()));
            let Value::Array(values) = values else {
                continue;
            };
            for v in attr.children_named(ASSERTION, "AttributeValue") {
                // Complex values (an element inside) are not strings: skipped.
                if let Some(t) = v.text() {
                    values.push(Value::String(t));
                }
            }
        }
    }
    Ok(a)
}
