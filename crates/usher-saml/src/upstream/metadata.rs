//! `GET /federation/{id}/saml/metadata`: usher's SP metadata for one upstream IdP
//! (SAML Metadata §2.4.4): its entity id, the ACS (HTTP-POST), the signing
//! certificates of usher's RS256 keys (active and still published, so a key
//! rotation reaches the IdP before it is used), `AuthnRequestsSigned="true"` and
//! `WantAssertionsSigned` as configured. No encryption key is published:
//! assertions must come unencrypted, over TLS.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::error::Rejection;
use super::page::refuse;
use super::settings::SamlUpstream;
use super::state::SamlSpData;
use crate::sp::Binding;
use crate::xml::escape;

/// The SP metadata for `upstream` with `certificates` (DER).
pub fn document(upstream: &SamlUpstream, certificates: &[Vec<u8>]) -> String {
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
    let format = upstream
        .name_id_format
        .as_ref()
        .map(|f| format!("<md:NameIDFormat>{}</md:NameIDFormat>", escape(f)))
        .unwrap_or_default();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<md:EntityDescriptor \
xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" \
entityID=\"{entity}\"><md:SPSSODescriptor AuthnRequestsSigned=\"true\" WantAssertionsSigned=\"{want}\" \
protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">{keys}{format}\
<md:AssertionConsumerService Binding=\"{post}\" Location=\"{acs}\" index=\"0\" isDefault=\"true\"/>\
</md:SPSSODescriptor></md:EntityDescriptor>\n",
        entity = escape(&upstream.sp_entity_id),
        want = upstream.want_assertion_signed,
        post = Binding::HttpPost.uri(),
        acs = escape(&upstream.acs_url),
    )
}

/// `GET /federation/{id}/saml/metadata`. Served for a disabled upstream too
/// (an administrator sets up the IdP before switching it on); it accepts nothing.
pub async fn metadata(path: web::Path<String>, data: SamlSpData) -> HttpResponse {
    let Some(state) = data.get().cloned() else {
        return super::page::not_ready();
    };
    let id = path.into_inner();
    let Some(upstream) = state.upstream(&id) else {
        return refuse(
            &id,
            None,
            &Rejection::UnknownUpstream,
            "no such SAML upstream",
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
            .body(document(&upstream, &certs)),
        Err(e) => {
            tracing::error!(upstream = %id, error = %e, "listing SAML signing keys failed");
            crate::page::error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Metadata unavailable",
                "The signing keys cannot be read right now; try again in a moment.",
            )
        }
    }
}
