//! Bad configuration: every mistake exits non-zero naming the file, the key and
//! what is expected; secrets never appear in output.

use std::time::Duration;

use crate::saml_metadata::metadata;
use crate::saml_metadata_trust::MetadataSigner;
use crate::support::{Scratch, Server, run, stderr, stdout, usher};

fn check(dir: &Scratch, toml: &str) -> std::process::Output {
    let file = dir.write("usher.toml", toml);
    run(usher(&dir.0).arg("--config").arg(file).arg("check-config"))
}

#[test]
fn malformed_toml_names_the_file_and_the_place() {
    let dir = Scratch::new();
    let out = check(&dir, "[server\nbind = 1\n");
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("usher.toml"), "{err}");
}

#[test]
fn unknown_keys_are_reported_not_ignored() {
    let dir = Scratch::new();
    let out = check(&dir, "[server]\nbnd = \"127.0.0.1:9\"\n");
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("bnd") && err.contains("server"), "{err}");
    assert!(err.contains("usher.toml"), "{err}");

    let out = check(&dir, "[sever]\nbind = \"127.0.0.1:9\"\n");
    assert!(!out.status.success());
    assert!(stderr(&out).contains("sever"), "{}", stderr(&out));
}

#[test]
fn a_bad_value_names_its_key_and_what_is_expected() {
    let dir = Scratch::new();
    let out = check(&dir, "[server]\nbind = \"not-an-address\"\n");
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("server.bind"), "{err}");

    let out = check(
        &dir,
        "[server]\npublic_url = \"https://login.example.com/?x=1\"\n",
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("server.public_url"),
        "{}",
        stderr(&out)
    );

    let out = check(&dir, "[keys]\npublish_retired_for = \"soon\"\n");
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("keys.publish_retired_for"),
        "{}",
        stderr(&out)
    );

    for retention in ["\"soon\"", "\"0s\"", "\"4000d\""] {
        let out = check(&dir, &format!("[outbox]\nretention = {retention}\n"));
        assert!(!out.status.success(), "{retention}");
        assert!(
            stderr(&out).contains("outbox.retention"),
            "{retention}: {}",
            stderr(&out)
        );
    }
    let out = check(&dir, "[outbox]\nretention = \"30d\"\n");
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn ephemeral_and_pending_budget_mistakes_name_the_key() {
    let dir = Scratch::new();
    for (toml, key) in [
        (
            "[pending_sign_ins]\nper_ip = 0\n",
            "pending_sign_ins.per_ip",
        ),
        (
            "[pending_sign_ins]\nwindow = \"0s\"\n",
            "pending_sign_ins.window",
        ),
        (
            "[pending_sign_ins]\nwindow = \"soon\"\n",
            "pending_sign_ins.window",
        ),
        ("[ephemeral]\nmax_bytes = 1000\n", "ephemeral.max_bytes"),
        (
            "[pending_sign_ins]\nper_ip = 100\nper_ipv6_48 = 10\n",
            "pending_sign_ins.per_ipv6_48",
        ),
        (
            "[pending_sign_ins]\nper_ipv6_48 = -1\n",
            "pending_sign_ins.per_ipv6_48",
        ),
    ] {
        let out = check(&dir, toml);
        assert!(!out.status.success(), "{toml}");
        assert!(stderr(&out).contains(key), "{toml}: {}", stderr(&out));
    }
    let out = check(
        &dir,
        "[pending_sign_ins]\nper_ip = 500\nper_ipv6_48 = 4000\nwindow = \"5m\"\n\n[ephemeral]\nmax_bytes = 1073741824\n",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let printed: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    assert_eq!(printed["pending_sign_ins"]["per_ip"], 500);
    assert_eq!(printed["ephemeral"]["max_bytes"], 1_073_741_824u64);
}

#[test]
fn a_bad_environment_value_names_the_variable_key() {
    let dir = Scratch::new();
    let out = run(usher(&dir.0)
        .env("USHER_SERVER__BIND", "nowhere")
        .arg("check-config"));
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("server.bind"), "{err}");
    assert!(
        err.to_lowercase().contains("environment") || err.contains("USHER_"),
        "{err}"
    );
}

#[test]
fn a_missing_config_file_says_so() {
    let dir = Scratch::new();
    let out = run(usher(&dir.0).args(["--config", "nope.toml", "check-config"]));
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("nope.toml does not exist"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn secrets_come_from_files_and_never_print() {
    let dir = Scratch::new();
    let key = "q2c1bXZ6b1N5c3RlbVRlc3RNYXN0ZXJLZXkxMjM0NTY=";
    let key_file = dir.write("master.key", &format!("{key}\n"));
    let out = run(usher(&dir.0)
        .env("USHER_KEYS__MASTER_KEY_FILE", &key_file)
        .env(
            "USHER_DATABASE__URL",
            "postgres://usher:pg-password-42@db.internal/usher",
        )
        .arg("check-config"));
    assert!(out.status.success(), "{}", stderr(&out));
    let printed = format!("{}{}", stdout(&out), stderr(&out));
    assert!(!printed.contains(key), "master key printed: {printed}");
    assert!(
        !printed.contains("pg-password-42"),
        "database password printed: {printed}"
    );
    assert!(printed.contains("[redacted]"), "{printed}");
}

#[test]
fn a_secret_given_twice_is_refused() {
    let dir = Scratch::new();
    let key_file = dir.write("master.key", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    let out = run(usher(&dir.0)
        .env(
            "USHER_KEYS__MASTER_KEY",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        )
        .env("USHER_KEYS__MASTER_KEY_FILE", &key_file)
        .arg("check-config"));
    assert!(!out.status.success());
    assert!(stderr(&out).contains("not both"), "{}", stderr(&out));
}

#[test]
fn a_short_master_key_is_refused() {
    let dir = Scratch::new();
    let out = run(usher(&dir.0)
        .env("USHER_KEYS__MASTER_KEY", "c2hvcnQ=")
        .arg("check-config"));
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("keys.master_key") && err.contains("32"),
        "{err}"
    );
}

#[test]
fn postgres_without_a_master_key_is_refused() {
    let dir = Scratch::new();
    let out = run(usher(&dir.0)
        .env("USHER_DATABASE__URL", "postgres://usher@db.internal/usher")
        .arg("check-config"));
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("keys.master_key_file") && err.contains("openssl rand"),
        "{err}"
    );
}

#[test]
fn unsupported_schemes_are_refused_with_a_way_forward() {
    let dir = Scratch::new();
    let out = run(usher(&dir.0)
        .env("USHER_REDIS__URL", "rediss://cache:6380")
        .arg("check-config"));
    assert!(!out.status.success());
    assert!(stderr(&out).contains("redis.url"), "{}", stderr(&out));

    let out = run(usher(&dir.0)
        .env("USHER_DATABASE__URL", "mysql://db/usher")
        .arg("check-config"));
    assert!(!out.status.success());
    assert!(stderr(&out).contains("database.url"), "{}", stderr(&out));
}

#[test]
fn zero_config_is_valid() {
    let dir = Scratch::new();
    let out = run(usher(&dir.0).arg("check-config"));
    assert!(out.status.success(), "{}", stderr(&out));
    let printed: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    assert_eq!(printed["server"]["bind"], "127.0.0.1:8080");
    assert_eq!(printed["server"]["public_url"], "http://127.0.0.1:8080");
}

#[test]
fn client_mistakes_name_the_client_and_the_key() {
    let dir = Scratch::new();
    let cases = [
        (
            "client_secret = \"short\"\nredirect_uris = [\"https://app.test/cb\"]",
            "oidc.clients[0].client_secret",
            "32",
        ),
        (
            "client_secret = \"0123456789abcdef0123456789abcdef\"\nredirect_uris = [\"https://app.test/cb#frag\"]",
            "oidc.clients[0].redirect_uris[0]",
            "fragment",
        ),
        (
            "client_secret = \"0123456789abcdef0123456789abcdef\"\nredirect_uris = [\"https://*.app.test/cb\"]",
            "oidc.clients[0].redirect_uris[0]",
            "wildcard",
        ),
        (
            "redirect_uris = [\"https://app.test/cb\"]\ngrant_types = [\"client_credentials\"]",
            "grant_types",
            "public",
        ),
        (
            "redirect_uris = [\"https://app.test/cb\"]\ngrant_types = [\"implicit\"]",
            "grant_types",
            "implicit",
        ),
        ("redirect_uris = []", "redirect_uris", "at least one"),
        (
            "redirect_uris = [\"https://app.test/cb\"]\ntoken_endpoint_auth_method = \"private_key_jwt\"",
            "jwks",
            "public keys",
        ),
        (
            "redirect_uris = [\"https://app.test/cb\"]\nid_token_signed_response_alg = \"none\"",
            "id_token_signed_response_alg",
            "RS256",
        ),
    ];
    for (body, key, expected) in cases {
        let out = check(
            &dir,
            &format!("[[oidc.clients]]\nclient_id = \"app\"\n{body}\n"),
        );
        assert!(!out.status.success(), "accepted: {body}");
        let err = stderr(&out);
        assert!(
            err.contains(key) && err.contains(expected),
            "{body}\n=> {err}"
        );
    }
    let twice = "[[oidc.clients]]\nclient_id = \"app\"\nredirect_uris = [\"https://a.test/cb\"]\n";
    let out = check(&dir, &format!("{twice}{twice}"));
    assert!(stderr(&out).contains("declared twice"), "{}", stderr(&out));
}

#[test]
fn user_mistakes_are_reported() {
    let dir = Scratch::new();
    let out = check(
        &dir,
        "[[users]]\nusername = \"alice\"\npassword = \"x\"\npassword_hash = \"$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA\"\n",
    );
    assert!(
        stderr(&out).contains("users[0].password") && stderr(&out).contains("not both"),
        "{}",
        stderr(&out)
    );
    let out = check(
        &dir,
        "[[users]]\nusername = \"alice\"\npassword_hash = \"md5:abc\"\n",
    );
    assert!(stderr(&out).contains("argon2id"), "{}", stderr(&out));
    let out = check(&dir, "[[users]]\nusername = \" \"\n");
    assert!(stderr(&out).contains("users[0]"), "{}", stderr(&out));
    let out = check(&dir, "[passwords]\nmemory_kib = 4\n");
    assert!(stderr(&out).contains("passwords"), "{}", stderr(&out));
    let out = check(
        &dir,
        "[sessions]\nidle_timeout = \"2h\"\nabsolute_timeout = \"1h\"\n",
    );
    assert!(stderr(&out).contains("sessions"), "{}", stderr(&out));
}

#[test]
fn password_and_client_secrets_never_print() {
    let dir = Scratch::new();
    let out = check(
        &dir,
        "[[users]]\nusername = \"alice\"\npassword = \"alice-password-77\"\n\n[[oidc.clients]]\nclient_id = \"app\"\nclient_secret = \"app-secret-0123456789abcdef-0123456789\"\nredirect_uris = [\"https://app.test/cb\"]\n",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let printed = stdout(&out);
    assert!(
        !printed.contains("alice-password-77") && !printed.contains("app-secret-0123"),
        "{printed}"
    );
}

#[test]
fn service_provider_mistakes_name_the_key() {
    let dir = Scratch::new();
    let cases = [
        ("", "acs_urls", "metadata_file"),
        (
            "acs_urls = [\"https://sp.test/acs#x\"]",
            "acs_urls[0]",
            "fragment",
        ),
        (
            "acs_urls = [\"https://sp.test/acs\"]\nsign = \"nothing\"",
            "sign",
            "response",
        ),
        (
            "acs_urls = [\"https://sp.test/acs\"]\nname_id_format = \"x509\"",
            "name_id_format",
            "persistent",
        ),
        (
            "acs_urls = [\"https://sp.test/acs\"]\nattributes = { mail = \"shoe_size\" }",
            "attributes.mail",
            "email",
        ),
        (
            "acs_urls = [\"https://sp.test/acs\"]\nwant_signed_requests = true",
            "certificate_file",
            "no SP certificate",
        ),
        (
            "acs_urls = [\"https://sp.test/acs\"]\ncertificate_file = \"missing.pem\"",
            "certificate_file",
            "cannot read",
        ),
        (
            "acs_urls = [\"https://sp.test/acs\"]\nencryption_certificate_file = \"missing.pem\"",
            "encryption_certificate_file",
            "cannot read",
        ),
        (
            "acs_urls = [\"https://sp.test/acs\"]\nencryption_certificate_file = \"usher.toml\"",
            "encryption_certificate_file",
            "expected a PEM X.509 certificate",
        ),
        (
            "metadata_file = \"missing.xml\"",
            "metadata_file",
            "cannot read",
        ),
        (
            "metadata_file = \"sp.xml\"\nmetadata_url = \"https://sp.test/md\"",
            "metadata_url",
            "not both",
        ),
        (
            "metadata_url = \"ftp://sp.test/md\"",
            "metadata_url",
            "http",
        ),
        ("metadata_url = \"sp.test/md\"", "metadata_url", "absolute"),
        (
            "acs_urls = [\"https://sp.test/acs\"]\nmetadata_signing_certificate = \"x.pem\"",
            "metadata_signing_certificate",
            "only applies",
        ),
        (
            "metadata_url = \"https://sp.test/md\"\nmetadata_signing_certificate = \"missing.pem\"",
            "metadata_signing_certificate",
            "cannot read",
        ),
        (
            "metadata_url = \"https://sp.test/md\"\nmetadata_signing_certificate = \"usher.toml\"",
            "metadata_signing_certificate",
            "certificate",
        ),
        (
            "metadata_url = \"https://sp.test/md\"\nmetadata_refresh = \"500ms\"",
            "metadata_refresh",
            "at least 1s",
        ),
        (
            "acs_urls = [\"https://sp.test/acs\"]\nmetadata_refresh = \"1h\"",
            "metadata_refresh",
            "only applies",
        ),
        (
            "acs_urls = [\"https://sp.test/acs\"]\nsession_lifetime = \"10s\"",
            "session_lifetime",
            "at least 1m",
        ),
    ];
    for (body, key, expected) in cases {
        let out = check(
            &dir,
            &format!("[[saml.service_providers]]\nentity_id = \"https://sp.test\"\n{body}\n"),
        );
        assert!(!out.status.success(), "accepted: {body}");
        let err = stderr(&out);
        assert!(
            err.contains(&format!("saml.service_providers[0].{key}")) && err.contains(expected),
            "{body}\n=> {err}"
        );
    }
    // A metadata file with a DOCTYPE is refused before parsing (XXE).
    let xml = dir.write(
        "sp.xml",
        "<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><EntityDescriptor entityID=\"https://sp.test\"/>",
    );
    let out = check(
        &dir,
        &format!(
            "[[saml.service_providers]]\nentity_id = \"https://sp.test\"\nmetadata_file = \"{}\"\n",
            xml.display()
        ),
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("metadata_file"), "{}", stderr(&out));
}

#[test]
fn a_metadata_url_is_not_fetched_by_check_config() {
    let dir = Scratch::new();
    let out = check(
        &dir,
        "[[saml.service_providers]]\nentity_id = \"https://sp.test\"\n\
         metadata_url = \"http://127.0.0.1:9/metadata\"\nmetadata_refresh = \"15m\"\n",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("\"metadata_url\": \"http://127.0.0.1:9/metadata\""),
        "{}",
        stdout(&out)
    );
}

/// RFC 9700 §2.1, RFC 8252 §7.3: a code sent to a plain-http redirect URI on
/// another host crosses the network in clear text.
#[test]
fn plain_http_client_uris_are_refused_except_on_loopback() {
    let dir = Scratch::new();
    let secret = "client_secret = \"0123456789abcdef0123456789abcdef\"";
    let cases = [
        (
            "redirect_uris = [\"https://app.example.com/ok\", \"http://app.example.com/cb\"]",
            "oidc.clients[0].redirect_uris[1]",
        ),
        (
            "redirect_uris = [\"https://app.example.com/cb\"]\npost_logout_redirect_uris = [\"http://app.example.com/\"]",
            "oidc.clients[0].post_logout_redirect_uris[0]",
        ),
        (
            "redirect_uris = [\"https://app.example.com/cb\"]\nbackchannel_logout_uri = \"http://app.example.com/bcl\"",
            "oidc.clients[0].backchannel_logout_uri",
        ),
    ];
    for (body, key) in cases {
        let out = check(
            &dir,
            &format!("[[oidc.clients]]\nclient_id = \"app\"\n{secret}\n{body}\n"),
        );
        assert!(!out.status.success(), "accepted: {body}");
        let err = stderr(&out);
        assert!(
            err.contains(key) && err.contains("use https") && err.contains("development = true"),
            "{body}\n=> {err}"
        );
    }

    let loopback = "redirect_uris = [\"http://127.0.0.1:9000/cb\", \"http://[::1]:9000/cb\", \
                    \"http://localhost:9000/cb\"]\npost_logout_redirect_uris = [\"http://127.0.0.1:9000/\"]\n\
                    backchannel_logout_uri = \"http://127.0.0.1:9000/bcl\"";
    let out = check(
        &dir,
        &format!("[[oidc.clients]]\nclient_id = \"app\"\n{secret}\n{loopback}\n"),
    );
    assert!(out.status.success(), "loopback refused: {}", stderr(&out));

    let development = "development = true\nredirect_uris = [\"http://app.test.internal/cb\"]\n\
                       post_logout_redirect_uris = [\"http://app.test.internal/\"]";
    let out = check(
        &dir,
        &format!("[[oidc.clients]]\nclient_id = \"app\"\n{secret}\n{development}\n"),
    );
    assert!(
        out.status.success(),
        "development client refused: {}",
        stderr(&out)
    );
}

#[test]
fn an_account_wide_throttle_below_the_per_address_one_is_refused() {
    let dir = Scratch::new();
    let out = check(
        &dir,
        "[login_throttle]\nper_account_and_ip = 5\nper_account = 3\n",
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("login_throttle.per_account") && err.contains("per_account_and_ip"),
        "{err}"
    );
    let out = check(&dir, "[login_throttle]\nper_account_and_ip = 3\n");
    assert!(out.status.success(), "{}", stderr(&out));
    let printed: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    assert_eq!(printed["login_throttle"]["per_account"], 100);
}

/// `link_by_external_id` must say which SCIM client's users it may link (issue 10,
/// item 3: otherwise any upstream asserting a pushed user's externalId, which is
/// no secret, takes the account over). The bare string of earlier versions is
/// refused by check-config with what to write; a name no SCIM client has stops
/// `usher serve` at start; a client made with `usher scim-tokens create` counts.
#[tokio::test]
async fn link_by_external_id_must_name_a_known_scim_client() {
    let dir = Scratch::new();
    let upstream = |link: &str| {
        format!(
            "[[upstreams]]\nid = \"corp\"\nkind = \"oidc\"\n[upstreams.oidc]\n\
             issuer = \"https://login.example.com\"\nclient_id = \"usher\"\n\
             client_secret = \"s3cret\"\n[upstreams.jit]\nlink_by_external_id = {link}\n"
        )
    };
    let out = check(&dir, &upstream(r#""{oid}""#));
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("upstreams[0].jit.link_by_external_id")
            && err.contains(r#"link_by_external_id = { claim = "{oid}", scim_client = "NAME" }"#),
        "{err}"
    );

    let scoped = upstream(r#"{ claim = "{oid}", scim_client = "entra" }"#);
    let out = check(&dir, &scoped);
    assert!(out.status.success(), "{}", stderr(&out));
    let config = dir.write("usher.toml", &scoped);
    let mut cmd = usher(&dir.0);
    cmd.arg("--config").arg(&config);
    let (ok, log) = Server::spawn(cmd).wait_exit(Duration::from_secs(30));
    assert!(!ok, "started with an unknown SCIM client: {log}");
    assert!(
        log.contains("upstreams[0].jit.link_by_external_id.scim_client")
            && log.contains("usher scim-tokens create entra"),
        "{log}"
    );

    let out =
        run(usher(&dir.0)
            .arg("--config")
            .arg(&config)
            .args(["scim-tokens", "create", "entra"]));
    assert!(out.status.success(), "{}", stderr(&out));
    let mut cmd = usher(&dir.0);
    cmd.arg("--config").arg(&config);
    let mut server = Server::spawn(cmd);
    server.wait_ready().await;
    let (ok, log) = server.terminate();
    assert!(ok, "{log}");
}

#[test]
fn metadata_over_plain_http_to_remote_host_is_refused() {
    // Anyone on the path could add a signing certificate or move an ACS.
    let dir = Scratch::new();
    let sp = |url: &str| {
        format!(
            "[[saml.service_providers]]\nentity_id = \"https://sp.test\"\nmetadata_url = \"{url}\"\n"
        )
    };
    let upstream = |url: &str| {
        format!(
            "[[upstreams]]\nid = \"partner\"\nkind = \"saml\"\n[upstreams.saml]\nmetadata_url = \"{url}\"\n"
        )
    };
    for (toml, key) in [
        (
            sp("http://sp.test/metadata"),
            "saml.service_providers[0].metadata_url",
        ),
        (
            sp("HTTP://10.1.2.3/metadata"),
            "saml.service_providers[0].metadata_url",
        ),
        (
            upstream("http://idp.partner.test/metadata"),
            "upstreams[0].saml.metadata_url",
        ),
        (
            upstream("http://127.0.0.1.evil.test/metadata"),
            "upstreams[0].saml.metadata_url",
        ),
    ] {
        let out = check(&dir, &toml);
        assert!(!out.status.success(), "accepted: {toml}");
        let err = stderr(&out);
        assert!(
            err.contains(key) && err.contains("expected an https:// URL"),
            "{toml}\n=> {err}"
        );
    }
    // Plain http on loopback stays allowed (tests, an IdP on the same machine).
    for toml in [
        sp("http://127.0.0.1:9/metadata"),
        sp("http://[::1]:9/metadata"),
        upstream("http://localhost:9/metadata"),
        upstream("https://idp.partner.test/metadata"),
    ] {
        let out = check(&dir, &toml);
        assert!(out.status.success(), "{toml}\n=> {}", stderr(&out));
    }
}

/// IdP metadata naming `cert` (base64 DER) as its signing certificate.
fn idp_metadata(cert: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?>\n<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" \
entityID=\"https://idp.partner.test\"><md:IDPSSODescriptor \
protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\"><md:KeyDescriptor use=\"signing\">\
<ds:KeyInfo xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:X509Data><ds:X509Certificate>{cert}\
</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:SingleSignOnService \
Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\" Location=\"https://idp.partner.test/sso\"/>\
</md:IDPSSODescriptor></md:EntityDescriptor>"
    )
}

#[test]
fn pinned_metadata_file_signed_by_unpinned_key_is_refused_at_start() {
    let dir = Scratch::new();
    let pinned = MetadataSigner::new(&dir, "pinned");
    let attacker = MetadataSigner::new(&dir, "attacker");
    let n = std::cell::Cell::new(0);
    let file = |xml: &str| {
        n.set(n.get() + 1);
        dir.write(&format!("metadata-{}.xml", n.get()), xml)
    };
    let sp = |xml: &str| {
        let file = file(xml);
        format!(
            "[[saml.service_providers]]\nentity_id = \"https://sp.meta.test/metadata\"\n\
             metadata_file = \"{}\"\nmetadata_signing_certificate = \"{}\"\n",
            file.display(),
            pinned.cert.display()
        )
    };
    let upstream = |xml: &str| {
        let file = file(xml);
        format!(
            "[[upstreams]]\nid = \"partner\"\nkind = \"saml\"\n[upstreams.saml]\n\
             metadata_file = \"{}\"\nmetadata_signing_certificate = \"{}\"\n",
            file.display(),
            pinned.cert.display()
        )
    };
    let sp_md = metadata("https://sp.meta.test/metadata", "https://sp.meta.test/acs");
    let idp_md = idp_metadata(&pinned.cert_base64());

    let ok = check(&dir, &sp(&pinned.sign(&sp_md)));
    assert!(ok.status.success(), "{}", stderr(&ok));
    let ok = check(&dir, &upstream(&pinned.sign(&idp_md)));
    assert!(ok.status.success(), "{}", stderr(&ok));

    let attacker_idp_md = idp_metadata(&attacker.cert_base64());
    let cases = [
        (
            sp(&attacker.sign(&sp_md)),
            "saml.service_providers[0]",
            "does not verify",
        ),
        (sp(&sp_md), "saml.service_providers[0]", "no signature"),
        (
            upstream(&attacker.sign(&attacker_idp_md)),
            "upstreams[0].saml",
            "does not verify",
        ),
        (
            upstream(&attacker_idp_md),
            "upstreams[0].saml",
            "no signature",
        ),
    ];
    for (toml, prefix, why) in cases {
        let out = check(&dir, &toml);
        assert!(!out.status.success(), "accepted: {toml}");
        let err = stderr(&out);
        assert!(
            err.contains(&format!("{prefix}.metadata_signing_certificate")) && err.contains(why),
            "{toml}\n=> {err}"
        );
    }
}

/// A signed assertion is a bearer credential: posted to a plain-http ACS on
/// another host, anyone on the path reads it and signs in as the user (the SAML
/// counterpart of RFC 9700 §2.1). ACS and SLO URLs are https, or http on
/// loopback, unless the SP is marked as a development SP.
#[test]
fn assertion_posted_to_plain_http_acs_on_remote_host_is_refused() {
    let dir = Scratch::new();
    let sp = |body: &str| {
        format!("[[saml.service_providers]]\nentity_id = \"https://sp.test\"\n{body}\n")
    };
    let cases = [
        (
            "acs_urls = [\"https://sp.test/ok\", \"http://sp.test/acs\"]",
            "saml.service_providers[0].acs_urls[1]",
        ),
        (
            "acs_urls = [\"https://sp.test/acs\"]\nslo_url = \"http://sp.test/slo\"",
            "saml.service_providers[0].slo_url",
        ),
        (
            "acs_urls = [\"http://127.0.0.1@sp.test/acs\"]",
            "saml.service_providers[0].acs_urls[0]",
        ),
    ];
    for (body, key) in cases {
        let out = check(&dir, &sp(body));
        assert!(!out.status.success(), "accepted: {body}");
        let err = stderr(&out);
        assert!(
            err.contains(key) && err.contains("https://") && err.contains("development = true"),
            "{body}\n=> {err}"
        );
    }
    let loopback = "acs_urls = [\"http://127.0.0.1:9000/acs\", \"http://localhost:9000/acs\"]\n\
                    slo_url = \"http://[::1]:9000/slo\"";
    let out = check(&dir, &sp(loopback));
    assert!(out.status.success(), "loopback refused: {}", stderr(&out));
    let development = "development = true\nacs_urls = [\"http://sp.test.internal/acs\"]";
    let out = check(&dir, &sp(development));
    assert!(
        out.status.success(),
        "development SP refused: {}",
        stderr(&out)
    );
}
