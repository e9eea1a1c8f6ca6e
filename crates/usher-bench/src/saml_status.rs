//! Whether the SSO endpoint's answer is a successful sign-on. usher posts error
//! Responses (Requester, AuthnFailed, ...) through the same auto-submit form as
//! successful ones, signed too, so a `SAMLResponse` field proves nothing: only the
//! Response's top-level `<samlp:Status><samlp:StatusCode Value="...:Success"/>`
//! does (SAML Core §3.2.2.1, §3.2.2.2).

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use quick_xml::events::Event;
use quick_xml::name::{Namespace, ResolveResult};
use quick_xml::{NsReader, XmlVersion};

const PROTOCOL: &[u8] = b"urn:oasis:names:tc:SAML:2.0:protocol";
const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";

/// Ok when the auto-submit page carries a Success Response; the error names the
/// status it carries instead.
pub fn check_page(html: &str) -> anyhow::Result<()> {
    let encoded = crate::flows::attribute(html, r#"name="SAMLResponse" value=""#)?;
    let xml = STANDARD
        .decode(encoded.trim())
        .context("SAMLResponse is not base64")?;
    let xml = String::from_utf8(xml).context("the SAML Response is not UTF-8")?;
    let status = top_level_status(&xml)?;
    if status != SUCCESS {
        bail!("the SAML Response's status is {status}");
    }
    Ok(())
}

/// The `Value` of `Response/Status/StatusCode`. Only that level says success or
/// failure: a nested StatusCode (AuthnFailed under Requester) refines a failure.
fn top_level_status(xml: &str) -> anyhow::Result<String> {
    let mut reader = NsReader::from_str(xml);
    reader.config_mut().expand_empty_elements = true;
    // Local names of the open elements ("" outside the protocol namespace).
    let mut open: Vec<String> = Vec::new();
    loop {
        let (ns, event) = reader
            .read_resolved_event()
            .context("the SAML Response is not well-formed XML")?;
        match event {
            Event::Start(e) => {
                let name = match ns {
                    ResolveResult::Bound(Namespace(n)) if n == PROTOCOL => {
                        String::from_utf8_lossy(e.local_name().as_ref()).into_owned()
                    }
                    _ => String::new(),
                };
                let path: Vec<&str> = open
                    .iter()
                    .map(String::as_str)
                    .chain([name.as_str()])
                    .collect();
                match path.as_slice() {
                    ["Response", "Status", "StatusCode"] => {
                        let value = e
                            .try_get_attribute("Value")
                            .context("bad StatusCode attributes")?
                            .context("StatusCode has no Value")?;
                        return Ok(value
                            .normalized_value(XmlVersion::Implicit1_0)
                            .context("bad StatusCode Value")?
                            .into_owned());
                    }
                    [root] if *root != "Response" => bail!("the root is not a samlp:Response"),
                    _ => open.push(name),
                }
            }
            Event::End(_) => {
                open.pop();
            }
            Event::Eof => bail!("the SAML Response has no Status"),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(status: &str) -> String {
        let xml = format!(
            "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" \
             xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"_r\" Version=\"2.0\">\
             <saml:Issuer>https://usher.test</saml:Issuer>{status}</samlp:Response>"
        );
        format!(
            "<form method=\"post\" action=\"http://sp.test/acs\">\
             <input type=\"hidden\" name=\"SAMLResponse\" value=\"{}\"></form>",
            STANDARD.encode(xml)
        )
    }

    #[test]
    fn a_success_response_counts() {
        let ok = page(
            "<samlp:Status><samlp:StatusCode \
             Value=\"urn:oasis:names:tc:SAML:2.0:status:Success\"/></samlp:Status>\
             <saml:Assertion/>",
        );
        check_page(&ok).expect("a Success Response is a sign-on");
    }

    #[test]
    fn a_requester_authn_failed_response_does_not_count() {
        let failed = page(
            "<samlp:Status><samlp:StatusCode \
             Value=\"urn:oasis:names:tc:SAML:2.0:status:Requester\">\
             <samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:AuthnFailed\"/>\
             </samlp:StatusCode></samlp:Status>",
        );
        let error = check_page(&failed).expect_err("an error Response is a failure");
        assert!(error.to_string().contains("status:Requester"), "{error}");
    }

    #[test]
    fn a_success_code_outside_the_top_level_does_not_count() {
        // Success only as a second-level code, or in another namespace.
        let nested = page(
            "<samlp:Status><samlp:StatusCode \
             Value=\"urn:oasis:names:tc:SAML:2.0:status:Responder\">\
             <samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:Success\"/>\
             </samlp:StatusCode></samlp:Status>",
        );
        assert!(check_page(&nested).is_err());
        let foreign = page(
            "<x:Status xmlns:x=\"urn:example\"><x:StatusCode \
             Value=\"urn:oasis:names:tc:SAML:2.0:status:Success\"/></x:Status>",
        );
        assert!(check_page(&foreign).is_err());
        assert!(check_page("<html>no form</html>").is_err());
    }
}
