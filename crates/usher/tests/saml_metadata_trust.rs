//! SAML metadata someone on the network path could change (issue 10, item 2),
//! and XML that two parsers could read differently (item 6): the real `usher
//! serve` fetching metadata from servers on this machine. A redirect off
//! loopback to plain http is not followed, redirect loops end; with
//! `metadata_signing_certificate`, metadata signed by another key, unsigned,
//! altered after signing or wrapped around a genuine signature is refused at
//! start (the SP stays unregistered, an error names the key) and on refresh (the
//! last good SP stays); metadata and AuthnRequests declared in an encoding other
//! than UTF-8 are refused.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use samael::crypto::{Crypto, CryptoProvider};

use crate::saml::key_pair;
use crate::saml_metadata::{
    ACS1, ACS2, ACS3, SP, assert_refresh_failures, eventually, metadata, metadata_server,
    metadata_server_at, sso, sso_after, start_usher_with,
};
use crate::support::{Scratch, Server};

/// A key that signs metadata (an SP's, an IdP's or a federation's), with its
/// certificate as a PEM file to pin.
pub(crate) struct MetadataSigner {
    pub cert: PathBuf,
    key_der: Vec<u8>,
    cert_b64: String,
}

impl MetadataSigner {
    pub(crate) fn new(dir: &Scratch, stem: &str) -> Self {
        let (cert, key) = key_pair(dir, "metadata.signer.test", stem);
        let key_pem = std::fs::read(&key).expect("key");
        let key_der = openssl::pkey::PKey::private_key_from_pem(&key_pem)
            .expect("key")
            .private_key_to_pkcs8()
            .expect("pkcs8");
        let cert_pem = std::fs::read(&cert).expect("cert");
        let cert_der = openssl::x509::X509::from_pem(&cert_pem)
            .expect("cert")
            .to_der()
            .expect("der");
        Self {
            cert,
            key_der,
            cert_b64: STANDARD.encode(cert_der),
        }
    }

    /// The certificate, base64 DER (as in a KeyDescriptor).
    pub(crate) fn cert_base64(&self) -> String {
        self.cert_b64.clone()
    }

    /// `xml` (an `md:EntityDescriptor` root without an `ID`) given the `ID`
    /// `_md1` and an enveloped RSA-SHA256 signature over it, as the first child.
    pub(crate) fn sign(&self, xml: &str) -> String {
        let (prolog, root) = xml
            .split_once("<md:EntityDescriptor")
            .expect("an EntityDescriptor");
        let (attributes, children) = root.split_once('>').expect("its start tag ends");
        let template = format!(
            "<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:SignedInfo>\
<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>\
<ds:SignatureMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256\"/>\
<ds:Reference URI=\"#_md1\"><ds:Transforms>\
<ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>\
<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/></ds:Transforms>\
<ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/><ds:DigestValue></ds:DigestValue>\
</ds:Reference></ds:SignedInfo><ds:SignatureValue></ds:SignatureValue><ds:KeyInfo><ds:X509Data>\
<ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature>",
            self.cert_b64
        );
        let unsigned =
            format!("{prolog}<md:EntityDescriptor ID=\"_md1\"{attributes}>{template}{children}");
        Crypto::sign_xml(unsigned, &self.key_der).expect("xmlsec signs")
    }
}

/// Signature wrapping: a new root describing `entity_id` with `acs`, carrying
/// the genuine signature of `signed` (whose Reference names the genuine
/// entity, hidden in the new root's Extensions).
pub(crate) fn wrapped(signed: &str, entity_id: &str, acs: &str) -> String {
    let (_, from_signature) = signed.split_once("<ds:Signature").expect("signature");
    let (inside, _) = from_signature
        .split_once("</ds:Signature>")
        .expect("signature end");
    let signature = format!("<ds:Signature{inside}</ds:Signature>");
    let (_, genuine) = signed.split_once("<md:EntityDescriptor").expect("root");
    let genuine = format!("<md:EntityDescriptor{genuine}").replacen(&signature, "", 1);
    let evil = metadata(entity_id, acs);
    let (_, evil) = evil.split_once("<md:EntityDescriptor").expect("root");
    let (attributes, children) = evil.split_once('>').expect("start tag");
    format!(
        "<md:EntityDescriptor{attributes} ID=\"_evil\">{signature}\
<md:Extensions>{genuine}</md:Extensions>{children}"
    )
}

/// `usher serve` with one SP declared by `metadata_url`, re-read every second,
/// pinned to `pin` when given.
async fn start_usher(dir: &Scratch, url: &str, pin: Option<&PathBuf>) -> Server {
    let pin = pin
        .map(|p| format!("metadata_signing_certificate = \"{}\"\n", p.display()))
        .unwrap_or_default();
    start_usher_with(dir, url, &pin).await
}

#[tokio::test]
async fn metadata_signed_by_unpinned_key_is_refused_at_start_and_on_refresh() {
    let dir = Scratch::new();
    let pinned = MetadataSigner::new(&dir, "pinned");
    let attacker = MetadataSigner::new(&dir, "attacker");
    let (url, served, handle) = metadata_server(200, attacker.sign(&metadata(SP, ACS1))).await;
    let server = start_usher(&dir, &url, Some(&pinned.cert)).await;

    // At start: signed by another key, so the SP is not registered.
    served.wait_two_fetches().await;
    assert_eq!(sso(&server, ACS1).await, 400, "not registered");

    // Signed with the pinned certificate: loaded.
    served.set(
        200,
        "application/samlmetadata+xml",
        pinned.sign(&metadata(SP, ACS1)),
    );
    eventually(&server, ACS1, 303).await;

    // Each forged refresh (moving the ACS to ACS3) keeps the last good SP.
    let genuine_acs2 = pinned.sign(&metadata(SP, ACS2));
    let forged = [
        ("unsigned", metadata(SP, ACS3)),
        ("signed by another key", attacker.sign(&metadata(SP, ACS3))),
        ("altered after signing", genuine_acs2.replace(ACS2, ACS3)),
        ("wrapped", wrapped(&genuine_acs2, SP, ACS3)),
    ];
    for (what, body) in forged {
        served.set(200, "application/samlmetadata+xml", body);
        served.wait_two_fetches().await;
        assert_eq!(sso(&server, ACS1).await, 303, "kept after {what}");
        assert_eq!(sso(&server, ACS3).await, 400, "{what} not applied");
    }
    // A genuine change still goes through.
    served.set(200, "application/samlmetadata+xml", genuine_acs2);
    eventually(&server, ACS2, 303).await;

    let (_, log) = server.terminate();
    let key = "saml.service_providers[0].metadata_signing_certificate";
    assert!(
        log.lines().any(|l| l.contains("ERROR")
            && l.contains("unusable until it loads")
            && l.contains(key)
            && l.contains("does not verify")),
        "no error naming the key at start:\n{log}"
    );
    assert_refresh_failures(
        &log,
        key,
        &[
            "no signature",
            "does not verify",
            "does not name its parent element",
        ],
    );
    handle.stop(false).await;
}

/// An address of this machine that is not loopback, if it has one: where a
/// redirect can point to show it is refused rather than merely unreachable.
fn non_loopback_ip() -> Option<std::net::IpAddr> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    // Connecting a UDP socket sends nothing; it only picks the route.
    socket.connect("192.0.2.1:9").ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

#[tokio::test]
async fn metadata_redirected_from_loopback_to_plain_http_elsewhere_is_refused() {
    // Good metadata really is served at the non-loopback address, so a usher
    // that followed the redirect would register the SP.
    let Some(ip) = non_loopback_ip() else {
        // Skips are loud, and CI allows none.
        assert_ne!(
            std::env::var("USHER_TEST_REQUIRE_SERVICES").as_deref(),
            Ok("1"),
            "this machine has no non-loopback address but USHER_TEST_REQUIRE_SERVICES=1"
        );
        println!(
            "SKIPPED metadata_redirected_from_loopback_to_plain_http_elsewhere_is_refused: \
             this machine has no non-loopback address"
        );
        return;
    };
    let dir = Scratch::new();
    let (elsewhere, served, elsewhere_handle) =
        metadata_server_at(ip, 200, metadata(SP, ACS1)).await;
    let (url, hop, handle) = metadata_server(302, elsewhere.clone()).await;
    let server = start_usher(&dir, &url, None).await;
    hop.wait_two_fetches().await;
    assert_eq!(sso(&server, ACS1).await, 400, "the redirect was followed");
    assert_eq!(served.hits(), 0, "usher fetched {elsewhere}");

    let (_, log) = server.terminate();
    assert!(
        log.contains("a redirect to a URL other than https (or http on loopback) is refused"),
        "{log}"
    );
    handle.stop(false).await;
    elsewhere_handle.stop(false).await;
}

#[tokio::test]
async fn metadata_redirect_loops_are_bounded_and_loopback_hops_followed() {
    let dir = Scratch::new();
    // Loopback to loopback, once: followed.
    let (good, _, good_handle) = metadata_server(200, metadata(SP, ACS1)).await;
    let (hop, _, hop_handle) = metadata_server(302, good).await;
    let server = start_usher(&dir, &hop, None).await;
    eventually(&server, ACS1, 303).await;
    drop(server);

    // A loop: each fetch gives up after 5 redirects (6 requests).
    let (url, looping, handle) = metadata_server(302, "/metadata?n={n}".into()).await;
    let server = start_usher(&dir, &url, None).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while looping.hits() < 12 {
        assert!(Instant::now() < deadline, "usher stopped fetching");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(sso(&server, ACS1).await, 400);
    let (_, log) = server.terminate();
    let fetches = log.matches("too many redirects").count();
    assert!(fetches >= 2, "{log}");
    assert!(
        looping.hits() <= 6 * (fetches + 1),
        "{} requests for {fetches} fetches",
        looping.hits()
    );
    handle.stop(false).await;
    hop_handle.stop(false).await;
    good_handle.stop(false).await;
}

#[tokio::test]
async fn xml_declared_in_another_encoding_is_refused_before_parsing() {
    // libxml2 (xmlsec) decodes by the declaration, quick-xml as UTF-8: refused
    // before either sees the bytes, in metadata and in requests alike.
    let latin1 = |xml: String| {
        xml.replace(
            "<?xml version=\"1.0\"?>",
            "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>",
        )
    };
    let dir = Scratch::new();
    let (url, served, handle) = metadata_server(200, latin1(metadata(SP, ACS1))).await;
    let server = start_usher(&dir, &url, None).await;
    served.wait_two_fetches().await;
    assert_eq!(sso(&server, ACS1).await, 400, "not registered");

    served.set(200, "application/samlmetadata+xml", metadata(SP, ACS1));
    eventually(&server, ACS1, 303).await;
    // A refresh in UTF-16 (with its byte-order mark) keeps the last good SP.
    let mut wide = vec![0xFF, 0xFE];
    for unit in metadata(SP, ACS3)
        .replace("?>", " encoding=\"UTF-16\"?>")
        .encode_utf16()
    {
        wide.extend_from_slice(&unit.to_le_bytes());
    }
    served.set(200, "application/samlmetadata+xml", wide);
    served.wait_two_fetches().await;
    assert_eq!(sso(&server, ACS1).await, 303, "kept");
    assert_eq!(sso(&server, ACS3).await, 400);

    // An AuthnRequest so declared, from the registered SP, gets the error page.
    let declared = |e: &str| format!("<?xml version=\"1.0\" encoding=\"{e}\"?>");
    assert_eq!(sso_after(&server, ACS1, &declared("ISO-8859-1")).await, 400);
    assert_eq!(sso_after(&server, ACS1, &declared("UTF-8")).await, 303);

    let (_, log) = server.terminate();
    assert!(
        log.lines()
            .any(|l| l.contains("unusable until it loads") && l.contains("only UTF-8")),
        "{log}"
    );
    handle.stop(false).await;
}
