//! The `<samlp:Response>` and its `<saml:Assertion>` (SAML Core §2.3.3, §3.3.3;
//! Web Browser SSO profile, SAML Profiles §4.1.4.2). Built as text from escaped
//! values, then signed (sign.rs) per the SP's setting, and the assertion encrypted
//! (encrypt.rs) when the SP registered an encryption certificate.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use usher_core::{Result, SsoSession, User, random};

use crate::encrypt;
use crate::keys::SamlKey;
use crate::sign;
use crate::sp::{Claim, NameIdFormat, ServiceProvider, SignWhat};
use crate::xml::escape;

/// Top-level status codes (SAML Core §3.2.2.2).
pub const STATUS_SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
/// The IdP could not satisfy the request.
pub const STATUS_RESPONDER: &str = "urn:oasis:names:tc:SAML:2.0:status:Responder";
/// The request was wrong.
pub const STATUS_REQUESTER: &str = "urn:oasis:names:tc:SAML:2.0:status:Requester";
/// Second-level: `IsPassive` and no session.
pub const STATUS_NO_PASSIVE: &str = "urn:oasis:names:tc:SAML:2.0:status:NoPassive";
/// Second-level: the NameID format cannot be given.
pub const STATUS_INVALID_NAME_ID_POLICY: &str =
    "urn:oasis:names:tc:SAML:2.0:status:InvalidNameIDPolicy";
/// Second-level: the user may not sign in here.
pub const STATUS_REQUEST_DENIED: &str = "urn:oasis:names:tc:SAML:2.0:status:RequestDenied";
/// Second-level: the request asked for a binding usher does not answer over.
pub const STATUS_UNSUPPORTED_BINDING: &str =
    "urn:oasis:names:tc:SAML:2.0:status:UnsupportedBinding";
/// Second-level: the request is understood but refused (stale, wrong Destination).
pub const STATUS_REQUEST_UNSUPPORTED: &str =
    "urn:oasis:names:tc:SAML:2.0:status:RequestUnsupported";

/// Where and to what a response goes.
#[derive(Debug, Clone)]
pub struct Destination<'a> {
    /// The IdP entity id (Issuer).
    pub issuer: &'a str,
    /// The SP.
    pub sp: &'a ServiceProvider,
    /// The ACS chosen from the SP's registration.
    pub acs_url: &'a str,
    /// The request answered; `None` for IdP-initiated.
    pub in_response_to: Option<&'a str>,
}

/// A fresh xs:ID: a letter first (NCName), 256 random bits.
pub fn new_id() -> Result<String> {
    Ok(format!("_{}", random::token()?))
}

fn instant(t: OffsetDateTime) -> String {
    // SAML Core §1.3.3: UTC, no time zone offset other than Z.
    let t = t
        .to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .unwrap_or(t);
    t.format(&Rfc3339).unwrap_or_default()
}

/// The NameID value for `user` at `sp` in `format`; `None` when the user has none
/// (no primary email).
pub fn name_id(user: &User, sp: &ServiceProvider, format: NameIdFormat) -> Result<Option<String>> {
    Ok(match format {
        NameIdFormat::EmailAddress => user.primary_email().map(|e| e.address.clone()),
        // Stable, opaque, different per SP (SAML Core §8.3.7): the SP cannot learn
        // the user id and two SPs cannot correlate.
        NameIdFormat::Persistent => {
            let mut h = Sha256::new();
            h.update(user.id.to_string().as_bytes());
            h.update([0u8]);
            h.update(sp.entity_id.as_bytes());
            Some(URL_SAFE_NO_PAD.encode(h.finalize()))
        }
        NameIdFormat::Transient => Some(random::token()?),
        NameIdFormat::Unspecified => Some(user.username.clone()),
    })
}

fn attribute_values(user: &User, groups: &[String], claim: Claim) -> Vec<String> {
    let one = |v: Option<&str>| v.map(|s| vec![s.to_owned()]).unwrap_or_default();
    match claim {
        Claim::Email => one(user.primary_email().map(|e| e.address.as_str())),
        Claim::GivenName => one(user.given_name.as_deref()),
        Claim::FamilyName => one(user.family_name.as_deref()),
        Claim::Name => one(user.display_name.as_deref()),
        Claim::Username => one(Some(&user.username)),
        Claim::Groups => groups.to_vec(),
    }
}

fn attribute_statement(sp: &ServiceProvider, user: &User, groups: &[String]) -> String {
    let mut out = String::new();
    for (name, claim) in &sp.attributes {
        let values = attribute_values(user, groups, *claim);
        if values.is_empty() {
            continue;
        }
        out.push_str(&format!(
            "<saml:Attribute Name=\"{}\" NameFormat=\"urn:oasis:names:tc:SAML:2.0:attrname-format:basic\">",
            escape(name)
        ));
        for v in values {
            out.push_str(&format!(
                "<saml:AttributeValue xsi:type=\"xs:string\">{}</saml:AttributeValue>",
                escape(&v)
            ));
        }
        out.push_str("</saml:Attribute>");
    }
    if out.is_empty() {
        out
    } else {
        format!("<saml:AttributeStatement>{out}</saml:AttributeStatement>")
    }
}

/// What the assertion says about the user.
#[derive(Debug, Clone)]
pub struct Subject<'a> {
    /// The user.
    pub user: &'a User,
    /// Their group names.
    pub groups: &'a [String],
    /// The session.
    pub session: &'a SsoSession,
    /// NameID value and format.
    pub name_id: &'a str,
    /// Its format.
    pub format: NameIdFormat,
}

fn in_response_to_attr(d: &Destination<'_>) -> String {
    d.in_response_to
        .map(|id| format!(" InResponseTo=\"{}\"", escape(id)))
        .unwrap_or_default()
}

/// When the SP's own session must end: its configured lifetime from now, never
/// past the SSO session's absolute end (an SP session outliving the SSO session
/// would survive a timeout the user was promised).
fn session_end(sp: &ServiceProvider, session: &SsoSession, now: OffsetDateTime) -> OffsetDateTime {
    match sp.session_lifetime {
        Some(lifetime) => (now + lifetime).min(session.expires_at),
        None => session.expires_at,
    }
}

/// A successful response, signed per `sp.sign`; returns the XML.
pub fn success(
    d: &Destination<'_>,
    s: &Subject<'_>,
    key: &SamlKey,
    now: OffsetDateTime,
) -> Result<String> {
    let response_id = new_id()?;
    let assertion_id = new_id()?;
    let not_after = instant(now + d.sp.assertion_lifetime);
    // A minute's grace for SP clocks slightly behind ours.
    let not_before = instant(now - time::Duration::minutes(1));
    let irt = in_response_to_attr(d);
    let sign_assertion = matches!(d.sp.sign, SignWhat::Assertion | SignWhat::Both);
    let sign_response = matches!(d.sp.sign, SignWhat::Response | SignWhat::Both);
    let assertion_sig = if sign_assertion {
        sign::template(&assertion_id, &key.certificate)
    } else {
        String::new()
    };
    let assertion = format!(
        "<saml:Assertion xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" \
xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
ID=\"{assertion_id}\" Version=\"2.0\" IssueInstant=\"{now}\">\
<saml:Issuer>{issuer}</saml:Issuer>{assertion_sig}\
<saml:Subject><saml:NameID Format=\"{format}\"{qualifier}>{name_id}</saml:NameID>\
<saml:SubjectConfirmation Method=\"urn:oasis:names:tc:SAML:2.0:cm:bearer\">\
<saml:SubjectConfirmationData{irt} NotOnOrAfter=\"{not_after}\" Recipient=\"{acs}\"/>\
</saml:SubjectConfirmation></saml:Subject>\
<saml:Conditions NotBefore=\"{not_before}\" NotOnOrAfter=\"{not_after}\">\
<saml:AudienceRestriction><saml:Audience>{audience}</saml:Audience></saml:AudienceRestriction>\
</saml:Conditions>\
<saml:AuthnStatement AuthnInstant=\"{auth_instant}\" SessionIndex=\"{sid}\" SessionNotOnOrAfter=\"{session_end}\">\
<saml:AuthnContext><saml:AuthnContextClassRef>{class}</saml:AuthnContextClassRef></saml:AuthnContext>\
</saml:AuthnStatement>{attributes}</saml:Assertion>",
        now = instant(now),
        issuer = escape(d.issuer),
        format = s.format.uri(),
        qualifier = if s.format == NameIdFormat::Persistent {
            format!(
                " NameQualifier=\"{}\" SPNameQualifier=\"{}\"",
                escape(d.issuer),
                escape(&d.sp.entity_id)
            )
        } else {
            String::new()
        },
        name_id = escape(s.name_id),
        acs = escape(d.acs_url),
        audience = escape(&d.sp.entity_id),
        auth_instant = instant(s.session.auth_time),
        sid = escape(&s.session.sid),
        session_end = instant(session_end(d.sp, s.session, now)),
        class = authn_class(s.session),
        attributes = attribute_statement(d.sp, s.user, s.groups),
    );
    let assertion = if sign_assertion {
        sign::sign(&assertion, key)?
    } else {
        assertion
    };
    // Sign, then encrypt (SAML Core §6): the assertion's signature travels inside
    // the EncryptedAssertion, and the Response signature covers the ciphertext.
    let assertion = match &d.sp.encryption_cert_der {
        Some(cert) => encrypt::encrypt_assertion(&assertion, cert)?,
        None => assertion,
    };
    envelope(
        d,
        &response_id,
        now,
        STATUS_SUCCESS,
        None,
        &assertion,
        sign_response.then_some(key),
    )
}

fn authn_class(session: &SsoSession) -> &'static str {
    if session.amr.iter().any(|a| a == "pwd") {
        "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
    } else {
        "urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified"
    }
}

/// An error response (no assertion), signed so the SP can trust its status.
pub fn failure(
    d: &Destination<'_>,
    key: &SamlKey,
    now: OffsetDateTime,
    top: &str,
    second: &str,
) -> Result<String> {
    envelope(d, &new_id()?, now, top, Some(second), "", Some(key))
}

fn envelope(
    d: &Destination<'_>,
    response_id: &str,
    now: OffsetDateTime,
    top: &str,
    second: Option<&str>,
    assertion: &str,
    sign_with: Option<&SamlKey>,
) -> Result<String> {
    let signature = sign_with
        .map(|k| sign::template(response_id, &k.certificate))
        .unwrap_or_default();
    let status = match second {
        Some(s) => format!(
            "<samlp:StatusCode Value=\"{top}\"><samlp:StatusCode Value=\"{s}\"/></samlp:StatusCode>"
        ),
        None => format!("<samlp:StatusCode Value=\"{top}\"/>"),
    };
    let xml = format!(
        "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" \
xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"{response_id}\" Version=\"2.0\" \
IssueInstant=\"{now}\" Destination=\"{acs}\"{irt}><saml:Issuer>{issuer}</saml:Issuer>{signature}\
<samlp:Status>{status}</samlp:Status>{assertion}</samlp:Response>",
        now = instant(now),
        acs = escape(d.acs_url),
        irt = in_response_to_attr(d),
        issuer = escape(d.issuer),
    );
    match sign_with {
        Some(k) => sign::sign(&xml, k),
        None => Ok(xml),
    }
}
