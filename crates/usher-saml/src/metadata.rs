//! `GET /saml/metadata`: the IdP's EntityDescriptor (SAML Metadata §2.3.2, §2.4.3).

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::page;
use crate::sp::NameIdFormat;
use crate::state::{SamlData, SamlState};
use crate::xml::escape;

/// The metadata document for `state` with `certificates` (DER) as signing keys.
pub fn document(state: &SamlState, certificates: &[Vec<u8>]) -> String {
    let s = &state.settings;
    let keys: String = certificates
        .iter()
        .map(|c| {
            format!(
                "<md:KeyDescriptor use=\"signing\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}\
</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>",
                STANDARD.encode(c)
            )
        })
        .collect();
    let base = escape(&s.public_url);
    let formats: String = NameIdFormat::ALL
        .iter()
        .map(|f| format!("<md:NameIDFormat>{}</md:NameIDFormat>", f.uri()))
        .collect();
    let services = |element: &str, path: &str| {
        format!(
            "<md:{element} Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\" Location=\"{base}{path}\"/>\
<md:{element} Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" Location=\"{base}{path}\"/>"
        )
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<md:EntityDescriptor \
xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" \
entityID=\"{entity}\"><md:IDPSSODescriptor WantAuthnRequestsSigned=\"{want}\" \
protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">{keys}{slo}{formats}{sso}\
</md:IDPSSODescriptor></md:EntityDescriptor>\n",
        entity = escape(&s.entity_id()),
        want = s.want_authn_requests_signed,
        slo = services("SingleLogoutService", "/saml/slo"),
        sso = services("SingleSignOnService", "/saml/sso"),
    )
}

/// `GET /saml/metadata`.
pub async fn metadata(data: SamlData) -> HttpResponse {
    let Some(state) = data.get().cloned() else {
        return page::error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Not ready yet",
            "The sign-in service is starting.",
        );
    };
    match state
        .keys
        .published(&*state.deps.keys, &*state.deps.clock)
        .await
    {
        Ok(certs) => HttpResponse::Ok()
            .content_type("application/samlmetadata+xml")
            .insert_header(("Cache-Control", "public, max-age=300"))
            .body(document(&state, &certs)),
        Err(e) => {
            tracing::error!(error = %e, "listing SAML signing keys failed");
            page::error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "The metadata is unavailable.",
            )
        }
    }
}
