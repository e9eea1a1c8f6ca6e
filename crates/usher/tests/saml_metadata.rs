//! SAML service providers declared by `metadata_url`: the real `usher serve` fetches
//! SP metadata from a server on 127.0.0.1, re-reads it every `metadata_refresh`,
//! picks up a new ACS URL, keeps the last good SP when a refresh fails (garbage,
//! wrong entityID, DOCTYPE, oversized body, wrong type, HTTP error), and starts
//! ready when the metadata cannot be fetched yet, registering the SP once it can.

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpResponse, HttpServer, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::support::{Scratch, Server, usher};

pub(crate) const SP: &str = "https://sp.meta.test/metadata";
pub(crate) const ACS1: &str = "https://sp.meta.test/acs-one";
pub(crate) const ACS2: &str = "https://sp.meta.test/acs-two";
pub(crate) const ACS3: &str = "https://sp.meta.test/acs-three";

/// What the metadata server answers, and how many requests it got.
#[derive(Clone)]
pub(crate) struct Served {
    answer: Arc<Mutex<(u16, String, Vec<u8>)>>,
    hits: Arc<AtomicUsize>,
}

impl Served {
    pub(crate) fn set(&self, status: u16, content_type: &str, body: impl Into<Vec<u8>>) {
        *self.answer.lock().unwrap_or_else(|p| p.into_inner()) =
            (status, content_type.to_owned(), body.into());
    }

    pub(crate) fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    /// Waits until usher has fetched twice more: the second fetch started after
    /// the answer changed, and the one before it has been fully handled.
    pub(crate) async fn wait_two_fetches(&self) {
        let target = self.hits() + 2;
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.hits() < target {
            assert!(Instant::now() < deadline, "usher stopped re-reading");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// SP metadata for `entity_id` with one HTTP-POST ACS.
pub(crate) fn metadata(entity_id: &str, acs: &str) -> String {
    format!(
        r#"<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{entity_id}">
  <md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="{acs}" index="0" isDefault="true"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>"#
    )
}

/// A metadata server on 127.0.0.1 answering `GET /metadata` (a 3xx status
/// redirects to the body, `{n}` in it replaced by the request count).
pub(crate) async fn metadata_server(
    status: u16,
    body: String,
) -> (String, Served, actix_web::dev::ServerHandle) {
    metadata_server_at([127, 0, 0, 1].into(), status, body).await
}

/// [`metadata_server`] on `ip`.
pub(crate) async fn metadata_server_at(
    ip: std::net::IpAddr,
    status: u16,
    body: String,
) -> (String, Served, actix_web::dev::ServerHandle) {
    let served = Served {
        answer: Arc::new(Mutex::new((
            status,
            "application/samlmetadata+xml".into(),
            body.into_bytes(),
        ))),
        hits: Arc::new(AtomicUsize::new(0)),
    };
    let s = served.clone();
    let server = HttpServer::new(move || {
        let s = s.clone();
        App::new().route(
            "/metadata",
            web::get().to(move || {
                let s = s.clone();
                async move {
                    let n = s.hits.fetch_add(1, Ordering::SeqCst) + 1;
                    let (status, ct, body) =
                        s.answer.lock().unwrap_or_else(|p| p.into_inner()).clone();
                    let status = actix_web::http::StatusCode::from_u16(status).unwrap_or_default();
                    let mut answer = HttpResponse::build(status);
                    if status.is_redirection() {
                        // A redirect: the body is where to, `{n}` the request count.
                        let to = String::from_utf8_lossy(&body).replace("{n}", &n.to_string());
                        return answer.insert_header(("location", to)).finish();
                    }
                    answer.content_type(ct).body(body)
                }
            }),
        )
    })
    .workers(1)
    .disable_signals()
    .bind((ip, 0))
    .expect("binds");
    let addr = server.addrs()[0];
    let server = server.run();
    let handle = server.handle();
    tokio::spawn(server);
    (format!("http://{addr}/metadata"), served, handle)
}

/// `usher serve` with one SP declared by `metadata_url`, re-read every second.
async fn start_usher(dir: &Scratch, url: &str) -> Server {
    start_usher_with(dir, url, "sign = \"both\"\n").await
}

/// [`start_usher`], with `extra` lines in the SP's table.
pub(crate) async fn start_usher_with(dir: &Scratch, url: &str, extra: &str) -> Server {
    let config = dir.write(
        "usher.toml",
        &format!(
            "[[saml.service_providers]]\nentity_id = \"{SP}\"\nmetadata_url = \"{url}\"\n\
             metadata_refresh = \"1s\"\n{extra}"
        ),
    );
    let mut cmd = usher(&dir.0);
    cmd.arg("--config").arg(&config);
    let mut server = Server::start(cmd).await;
    server.wait_ready().await;
    server
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Sends an SP-initiated HTTP-Redirect AuthnRequest naming `acs`, without a
/// session: 303 to the sign-in page when usher accepts it, 400 when the SP or
/// the ACS URL is not registered.
pub(crate) async fn sso(server: &Server, acs: &str) -> u16 {
    sso_after(server, acs, "").await
}

/// [`sso`] with `prolog` (an XML declaration, say) before the request.
pub(crate) async fn sso_after(server: &Server, acs: &str, prolog: &str) -> u16 {
    static N: AtomicUsize = AtomicUsize::new(0);
    let id = format!("_meta{}", N.fetch_add(1, Ordering::SeqCst));
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .expect("formats");
    let xml = format!(
        "{prolog}<samlp:AuthnRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" \
xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"{id}\" Version=\"2.0\" \
IssueInstant=\"{now}\" AssertionConsumerServiceURL=\"{acs}\"><saml:Issuer>{SP}</saml:Issuer></samlp:AuthnRequest>"
    );
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(xml.as_bytes()).expect("deflates");
    let deflated = STANDARD.encode(e.finish().expect("deflates"));
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let res = client
        .get(server.url(&format!(
            "/saml/sso?SAMLRequest={}&RelayState=r",
            urlencode(&deflated)
        )))
        .send()
        .await
        .expect("usher answers");
    let status = res.status().as_u16();
    if status == 303 {
        let location = res
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(
            location.contains("/login"),
            "a 303 to the sign-in page: {location}"
        );
    }
    status
}

/// Polls until `acs` gets `want`.
pub(crate) async fn eventually(server: &Server, acs: &str, want: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got = sso(server, acs).await;
        if got == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{acs} still answers {got}, not {want}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn sp_metadata_by_url_is_refreshed_and_a_bad_refresh_keeps_the_last_good_sp() {
    let (url, served, handle) = metadata_server(200, metadata(SP, ACS1)).await;
    let dir = Scratch::new();
    let server = start_usher(&dir, &url).await;

    assert_eq!(sso(&server, ACS1).await, 303, "the SP is usable");
    assert_eq!(
        sso(&server, ACS2).await,
        400,
        "an unregistered ACS is refused"
    );

    // The SP rotates its ACS URL through its metadata.
    served.set(200, "text/xml; charset=utf-8", metadata(SP, ACS2));
    eventually(&server, ACS2, 303).await;
    assert_eq!(sso(&server, ACS1).await, 400, "the old ACS is gone");

    // Each bad refresh keeps the last good SP (with ACS2), never drops it.
    let oversized = metadata(SP, ACS3).replace(
        "<md:SPSSODescriptor",
        &format!("<!-- {} --><md:SPSSODescriptor", "x".repeat(1024 * 1024)),
    );
    let bad: [(u16, &str, Vec<u8>); 6] = [
        (200, "application/xml", b"this is not metadata".to_vec()),
        (
            200,
            "application/xml",
            metadata("https://other.test/", ACS3).into(),
        ),
        (
            200,
            "application/xml",
            metadata(SP, ACS3)
                .replace(
                    "<?xml version=\"1.0\"?>",
                    "<?xml version=\"1.0\"?><!DOCTYPE x>",
                )
                .into(),
        ),
        (200, "application/xml", oversized.into()),
        (200, "application/json", metadata(SP, ACS3).into()),
        (500, "text/plain", b"down".to_vec()),
    ];
    for (status, content_type, body) in bad {
        served.set(status, content_type, body);
        served.wait_two_fetches().await;
        assert_eq!(
            sso(&server, ACS2).await,
            303,
            "kept after a bad refresh ({status} {content_type})"
        );
        assert_eq!(sso(&server, ACS3).await, 400, "{status} {content_type}");
    }

    let (_, log) = server.terminate();
    assert_refresh_failures(
        &log,
        SP,
        &[
            "SP metadata",
            "describes \"https://other.test/\"",
            "DTD",
            "more than 1 MiB",
            "application/json",
            "500",
        ],
    );
    handle.stop(false).await;
}

/// `log` has a refresh warning naming `who` for each of `reasons`.
pub(crate) fn assert_refresh_failures(log: &str, who: &str, reasons: &[&str]) {
    for reason in reasons {
        assert!(
            log.lines()
                .any(|l| l.contains("refresh failed") && l.contains(who) && l.contains(reason)),
            "no refresh warning naming {who} and {reason:?}:\n{log}"
        );
    }
}

#[tokio::test]
async fn sp_metadata_url_down_at_start_leaves_usher_ready_and_the_sp_loads_later() {
    let (url, served, handle) = metadata_server(503, "later".into()).await;
    let dir = Scratch::new();
    let server = start_usher(&dir, &url).await;
    assert_eq!(sso(&server, ACS1).await, 400, "unusable until it loads");

    served.set(200, "application/samlmetadata+xml", metadata(SP, ACS1));
    eventually(&server, ACS1, 303).await;

    let (_, log) = server.terminate();
    assert!(
        log.lines().any(|l| l.contains("ERROR")
            && l.contains(SP)
            && l.contains("unusable until it loads")),
        "no error at start:\n{log}"
    );
    handle.stop(false).await;
}
