#!/usr/bin/env python3
"""A real SAML service provider drives a running usher (issue 4, item 8).

python3-saml (OneLogin's SAML toolkit from PyPI, a library this project did not
write) in strict mode reads usher's IdP metadata, sends AuthnRequests over
HTTP-Redirect or HTTP-POST, signed or not, validates usher's Response (signature
with the metadata's certificate, audience, destination, InResponseTo, conditions,
subject confirmation, schema) and then runs SP-initiated Single Logout. The
"browser" is requests with a small cookie jar of its own: it follows redirects,
posts usher's login form (CSRF field included), follows the /continue page and
stops at the auto-submitting form usher addresses to the ACS URL, which nobody
serves: the script reads the form instead of posting it.

Usage (run with the venv that scripts/peers.sh installs, target-peers/python):

    target-peers/python/bin/python sp.py CONFIG [--want-signed assertion|response|both]
                                                [--binding redirect|post]
                                                [--signed | --unsigned]
                                                [--want-encrypted]

CONFIG is a JSON object, or @path to a file holding one (README.md next to this
file lists the keys). Prints exactly one line `RESULT <json>` on stdout, also on
failure (with "ok": false and "errors"); logs go to stderr. Exit status 0 when
every step passed, 1 when a check failed, 2 when the config is unusable.
"""

import argparse
import base64
import json
import secrets
import sys
import traceback
import urllib.parse
from html.parser import HTMLParser

try:
    import requests
    from onelogin.saml2.auth import OneLogin_Saml2_Auth
    from onelogin.saml2.authn_request import OneLogin_Saml2_Authn_Request
    from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
    from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser
    from onelogin.saml2.logout_request import OneLogin_Saml2_Logout_Request
    from onelogin.saml2.logout_response import OneLogin_Saml2_Logout_Response
    from onelogin.saml2.response import OneLogin_Saml2_Response
    from onelogin.saml2.settings import OneLogin_Saml2_Settings
    from onelogin.saml2.utils import OneLogin_Saml2_Utils
    from onelogin.saml2.xml_utils import OneLogin_Saml2_XML
except ImportError as e:  # pragma: no cover - environment problem
    print(f"[sp] python3-saml is not importable ({e}); run scripts/peers.sh and use "
          "target-peers/python/bin/python", file=sys.stderr)
    print("RESULT " + json.dumps({"ok": False, "stage": "import", "errors": [str(e)]}))
    sys.exit(2)

BINDINGS = {"redirect": C.BINDING_HTTP_REDIRECT, "post": C.BINDING_HTTP_POST}
MAX_HOPS = 25


def log(*args):
    print("[sp]", *args, file=sys.stderr, flush=True)


class Failure(Exception):
    """A step failed; `stage` says which, the message says what was seen."""

    def __init__(self, stage, message):
        super().__init__(f"{stage}: {message}")
        self.stage = stage


# --- A small browser ---------------------------------------------------------------


class Page(HTMLParser):
    """Forms (action, method, inputs, named buttons), the continue link, meta refresh."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms = []
        self.continue_href = None
        self.refresh = None
        self.has_script = False
        self._form = None

    def handle_starttag(self, tag, attrs):
        a = {k.lower(): (v if v is not None else "") for k, v in attrs}
        if tag == "form":
            self._form = {"action": a.get("action"), "method": a.get("method", "get").lower(),
                          "fields": [], "buttons": [], "submit": False}
            self.forms.append(self._form)
        elif tag == "input" and self._form is not None:
            kind = a.get("type", "text").lower()
            if kind == "submit":
                self._form["submit"] = True
                if a.get("name"):
                    self._form["buttons"].append((a["name"], a.get("value", "")))
            elif a.get("name"):
                self._form["fields"].append((a["name"], a.get("value", ""), kind))
        elif tag == "button" and self._form is not None:
            if a.get("type", "submit").lower() == "submit":
                self._form["submit"] = True
                if a.get("name"):
                    self._form["buttons"].append((a["name"], a.get("value", "")))
        elif tag == "a" and a.get("id") == "continue":
            self.continue_href = a.get("href")
        elif tag == "meta" and a.get("http-equiv", "").lower() == "refresh":
            content = a.get("content", "")
            if "url=" in content.lower():
                self.refresh = content[content.lower().index("url=") + 4:].strip()
        elif tag == "script":
            self.has_script = True

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None

    def post_form(self):
        return next((f for f in self.forms if f["method"] == "post"), None)


def form_data(form, fill=None, press=None):
    fill = fill or {}
    data = {name: fill.get(name, value) for name, value, _ in form["fields"]}
    if form["buttons"]:
        name, value = next((b for b in form["buttons"] if b[1] == press), form["buttons"][0])
        data[name] = value
    return data


class Browser:
    """requests with a cookie jar that behaves like a browser's on http://127.0.0.1
    (requests' own jar drops `Secure` cookies on plain http; usher may set them)."""

    def __init__(self, username, password, cookies=None):
        self.http = requests.Session()
        self.cookies = dict(cookies or {})
        self.username = username
        self.password = password

    def _store(self, response):
        for line in response.raw.headers.getlist("Set-Cookie"):
            pair, *attrs = line.split(";")
            name, _, value = pair.partition("=")
            name, value = name.strip(), value.strip()
            expired = False
            for attr in attrs:
                k, _, v = attr.strip().partition("=")
                if k.lower() == "max-age" and v.strip().lstrip("-").isdigit() and int(v) <= 0:
                    expired = True
            if expired or value == "":
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        self.http.cookies.clear()

    def request(self, method, url, data=None):
        headers = {"Accept": "text/html"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        try:
            response = self.http.request(method, url, data=data, headers=headers,
                                         allow_redirects=False, timeout=30)
        except requests.RequestException as e:
            raise Failure("http", f"{method} {url} failed: {e}") from e
        self._store(response)
        return response

    def browse(self, method, url, data, stop_at, pages, allow_login=True):
        """Follows redirects and usher's pages until the browser is sent to a URL
        that starts with one of `stop_at` (by redirect or by a form addressed there).

        Returns {"kind": "redirect", "url"} or {"kind": "form", "action", "fields",
        "auto_submit", "no_js_button"}, or {"kind": "login_prompt"} when a password
        is asked for and `allow_login` is false, or {"kind": "page"|"status", ...} for
        anything else (an error page, say), for the caller to judge.
        """
        for _ in range(MAX_HOPS):
            if any(url.startswith(s) for s in stop_at):
                return {"kind": "redirect", "url": url}
            response = self.request(method, url, data)
            if response.status_code in (301, 302, 303, 307, 308):
                location = response.headers.get("Location")
                if not location:
                    raise Failure("browse", f"{method} {url} answered {response.status_code} without Location")
                url = urllib.parse.urljoin(url, location)
                if response.status_code in (301, 302, 303) or method != "POST":
                    method, data = "GET", None
                continue
            path = urllib.parse.urlsplit(url).path
            body = response.text
            if response.status_code != 200:
                pages.append(f"status:{response.status_code}:{path}")
                return {"kind": "status", "status": response.status_code, "url": url,
                        "body": body[:4000]}
            page = Page()
            page.feed(body)
            form = page.post_form()
            if form is not None:
                action = urllib.parse.urljoin(url, form["action"] or url)
                names = [n for n, _, _ in form["fields"]]
                if "SAMLResponse" in names or "SAMLRequest" in names:
                    pages.append("saml-form")
                    return {"kind": "form", "action": action,
                            "fields": {n: v for n, v, _ in form["fields"]},
                            "auto_submit": page.has_script,
                            "no_js_button": form["submit"]}
                if "password" in names:
                    if not allow_login:
                        pages.append("login-prompt")
                        return {"kind": "login_prompt", "url": url}
                    if "csrf" not in names:
                        raise Failure("login", f"the login form at {path} has no csrf field")
                    pages.append("login")
                    url, method = action, "POST"
                    data = form_data(form, {"username": self.username, "password": self.password})
                    continue
                if "decision" in names or any(b[0] == "decision" for b in form["buttons"]):
                    pages.append("consent")
                    url, method, data = action, "POST", form_data(form, press="allow")
                    continue
                if urllib.parse.urlsplit(action).path.startswith("/logout"):
                    pages.append("logout-confirm")
                    url, method, data = action, "POST", form_data(form)
                    continue
            nxt = page.refresh or page.continue_href
            if nxt:
                pages.append("continue")
                url, method, data = urllib.parse.urljoin(url, nxt), "GET", None
                continue
            pages.append(f"stopped:{path}")
            return {"kind": "page", "url": url, "body": body[:600]}
        raise Failure("browse", f"more than {MAX_HOPS} hops from {url}")


# --- Settings ------------------------------------------------------------------------


def read_pem(path, what):
    try:
        with open(path, encoding="ascii") as f:
            return f.read()
    except OSError as e:
        raise Failure("config", f"cannot read the SP {what} {path}: {e}") from e


def request_data(url, get_data=None, post_data=None, query_string=None):
    """What python3-saml needs to know about the request it is 'receiving' at url."""
    parts = urllib.parse.urlsplit(url)
    data = {"https": "on" if parts.scheme == "https" else "off",
            "http_host": parts.netloc, "script_name": parts.path,
            "get_data": get_data or {}, "post_data": post_data or {}}
    if query_string is not None:
        data["query_string"] = query_string
        data["validate_signature_from_qs"] = True
    return data


def fetch_metadata(cfg):
    url = cfg["metadata_url"]
    try:
        response = requests.get(url, timeout=30, headers={"Accept": "application/samlmetadata+xml"})
    except requests.RequestException as e:
        raise Failure("metadata", f"cannot fetch the IdP metadata at {url}: {e}") from e
    if response.status_code != 200:
        raise Failure("metadata", f"GET {url} answered {response.status_code}: {response.text[:300]}")
    return response.text


def describe_idp(xml):
    """Endpoints per binding, NameID formats and the signing flag, as advertised."""
    try:
        dom = OneLogin_Saml2_XML.to_etree(xml)
    except Exception as e:
        raise Failure("metadata", f"the IdP metadata is not well-formed XML: {e}") from e
    idp = OneLogin_Saml2_XML.query(dom, "//md:EntityDescriptor/md:IDPSSODescriptor")
    if not idp:
        raise Failure("metadata", "the metadata has no EntityDescriptor/IDPSSODescriptor")
    idp = idp[0]
    ed = idp.getparent()

    def endpoints(tag):
        return {name: [n.get("Location") for n in OneLogin_Saml2_XML.query(
            idp, f"./md:{tag}[@Binding='{binding}']")] for name, binding in BINDINGS.items()}

    return {
        "entity_id": ed.get("entityID"),
        "sso": endpoints("SingleSignOnService"),
        "slo": endpoints("SingleLogoutService"),
        "name_id_formats": [OneLogin_Saml2_XML.element_text(n)
                            for n in OneLogin_Saml2_XML.query(idp, "./md:NameIDFormat")],
        "want_authn_requests_signed": idp.get("WantAuthnRequestsSigned") == "true",
        "signing_certs": len(OneLogin_Saml2_XML.query(
            idp, "./md:KeyDescriptor[not(@use='encryption')]/ds:KeyInfo/ds:X509Data/ds:X509Certificate")),
        "metadata_signed": bool(OneLogin_Saml2_XML.query(ed, "./ds:Signature")),
    }


def build_settings(cfg, metadata_xml, sso_binding, slo_binding, signed):
    """python3-saml settings in strict mode; the IdP part comes from usher's metadata."""
    want = cfg["want_signed"]
    base = {
        "strict": True,
        "debug": bool(cfg.get("debug")),
        "sp": {
            "entityId": cfg["sp_entity_id"],
            "assertionConsumerService": {"url": cfg["acs_url"], "binding": C.BINDING_HTTP_POST},
            "singleLogoutService": {"url": cfg["slo_url"], "binding": C.BINDING_HTTP_REDIRECT},
            "NameIDFormat": cfg.get("name_id_format") or C.NAMEID_UNSPECIFIED,
            "x509cert": cfg.get("_sp_cert", ""),
            "privateKey": cfg.get("_sp_key", ""),
        },
        "idp": {},
        "security": {},
    }
    idp = OneLogin_Saml2_IdPMetadataParser.parse(
        metadata_xml, required_sso_binding=BINDINGS[sso_binding],
        required_slo_binding=BINDINGS[slo_binding], entity_id=cfg.get("idp_entity_id"))
    if not idp or "idp" not in idp:
        raise Failure("metadata", "python3-saml found no IDPSSODescriptor in the metadata"
                      + (f" for entity {cfg['idp_entity_id']}" if cfg.get("idp_entity_id") else ""))
    if "singleSignOnService" not in idp["idp"]:
        raise Failure("metadata", f"the metadata has no SingleSignOnService for {BINDINGS[sso_binding]}")
    if "x509cert" not in idp["idp"] and "x509certMulti" not in idp["idp"]:
        raise Failure("metadata", "the metadata has no signing certificate (KeyDescriptor/X509Certificate)")
    merged = OneLogin_Saml2_IdPMetadataParser.merge_settings(base, idp)
    # The metadata's first NameIDFormat and WantAuthnRequestsSigned must not decide
    # what this run tests: the config and the flow do.
    merged["sp"]["NameIDFormat"] = base["sp"]["NameIDFormat"]
    merged["security"] = {
        "nameIdEncrypted": False,
        "authnRequestsSigned": signed,
        "logoutRequestSigned": signed,
        "logoutResponseSigned": signed,
        "signMetadata": False,
        "wantMessagesSigned": want in ("response", "both"),
        "wantAssertionsSigned": want in ("assertion", "both"),
        "wantAssertionsEncrypted": bool(cfg.get("want_assertions_encrypted")),
        "wantNameId": True,
        "wantNameIdEncrypted": False,
        "wantAttributeStatement": cfg.get("want_attribute_statement", True),
        "requestedAuthnContext": False,
        "wantXMLValidation": True,
        "rejectDeprecatedAlgorithm": True,
        "allowSingleLabelDomains": True,
        "allowRepeatAttributeName": False,
        "signatureAlgorithm": C.RSA_SHA256,
        "digestAlgorithm": C.SHA256,
    }
    try:
        return OneLogin_Saml2_Settings(merged, sp_validation_only=False)
    except Exception as e:
        raise Failure("settings", f"python3-saml refused the settings: {e}") from e


# --- SSO -----------------------------------------------------------------------------


def b64(xml):
    return base64.b64encode(xml.encode("utf-8") if isinstance(xml, str) else xml).decode("ascii")


def signature_facts(document, decrypted=None):
    """Which elements carry a signature and with which algorithms. With an
    EncryptedAssertion, the assertion's signature is looked for in the decrypted
    document (python3-saml's `decrypted_document`): it is signed, then encrypted."""
    inner = decrypted if decrypted is not None else document

    def algs(xpath, doc=inner):
        return sorted({n.get("Algorithm") for n in OneLogin_Saml2_XML.query(doc, xpath)})
    return {
        "response": bool(OneLogin_Saml2_XML.query(document, OneLogin_Saml2_Utils.RESPONSE_SIGNATURE_XPATH)),
        "assertion": bool(OneLogin_Saml2_XML.query(inner, OneLogin_Saml2_Utils.ASSERTION_SIGNATURE_XPATH)),
        "encrypted_assertion": bool(OneLogin_Saml2_XML.query(document, "/samlp:Response/saml:EncryptedAssertion")),
        "decrypted": decrypted is not None,
        "encryption_methods": algs("//xenc:EncryptionMethod", document),
        "signature_methods": algs("//ds:SignatureMethod"),
        "digest_methods": algs("//ds:DigestMethod"),
        "c14n_methods": algs("//ds:CanonicalizationMethod"),
    }


def status_of(document, root):
    codes = OneLogin_Saml2_XML.query(document, f"/samlp:{root}/samlp:Status/samlp:StatusCode")
    top = codes[0].get("Value") if codes else None
    sub = OneLogin_Saml2_XML.query(document, f"/samlp:{root}/samlp:Status/samlp:StatusCode/samlp:StatusCode")
    return {"code": top, "sub": sub[0].get("Value") if sub else None}


def send_authn_request(cfg, browser, settings, binding, signed, pages, force_authn=False,
                       is_passive=False, allow_login=True):
    """Sends one AuthnRequest; returns (request_id, relay_state, browse outcome)."""
    relay = "relay-" + secrets.token_urlsafe(12)
    if binding == "redirect":
        auth = OneLogin_Saml2_Auth(request_data(cfg["acs_url"]), settings)
        url = auth.login(return_to=relay, force_authn=force_authn, is_passive=is_passive)
        request_id = auth.get_last_request_id()
        log(f"AuthnRequest {request_id} over HTTP-Redirect{' signed' if signed else ''}")
        outcome = browser.browse("GET", url, None, [cfg["acs_url"]], pages, allow_login)
    else:
        request = OneLogin_Saml2_Authn_Request(settings, force_authn, is_passive, True)
        xml = request.get_xml()
        if signed:
            sp = settings.get_sp_data()
            xml = OneLogin_Saml2_Utils.add_sign(xml, sp["privateKey"], sp["x509cert"],
                                                sign_algorithm=C.RSA_SHA256, digest_algorithm=C.SHA256)
        request_id = request.get_id()
        log(f"AuthnRequest {request_id} over HTTP-POST{' signed' if signed else ''}")
        outcome = browser.browse("POST", settings.get_idp_sso_url(),
                                 {"SAMLRequest": b64(xml), "RelayState": relay},
                                 [cfg["acs_url"]], pages, allow_login)
    return request_id, relay, outcome


def validate_response(cfg, settings, outcome, request_id, relay):
    """Validates what usher posted to the ACS; returns the flow's report."""
    out = {"errors": []}
    if outcome["kind"] != "form":
        raise Failure("sso", f"usher did not post a SAMLResponse to the ACS: {json.dumps(outcome)[:700]}")
    if outcome["action"] != cfg["acs_url"]:
        raise Failure("sso", f"the SAMLResponse form posts to {outcome['action']}, not to the ACS {cfg['acs_url']}")
    fields = outcome["fields"]
    if "SAMLResponse" not in fields:
        raise Failure("sso", f"the form to the ACS has no SAMLResponse field: {sorted(fields)}")
    out["auto_submit"] = outcome["auto_submit"]
    out["no_js_button"] = outcome["no_js_button"]
    out["relay_state_ok"] = fields.get("RelayState") == relay
    if not out["relay_state_ok"]:
        out["errors"].append(f"RelayState came back as {fields.get('RelayState')!r}, sent {relay!r}")
    try:
        response = OneLogin_Saml2_Response(settings, fields["SAMLResponse"])
    except Exception as e:
        raise Failure("sso", f"python3-saml cannot read the SAMLResponse: {e}") from e
    document = response.document
    out["status"] = status_of(document, "Response")
    out["signed"] = signature_facts(document, response.decrypted_document if response.encrypted else None)
    out["issuer"] = (response.get_issuers() or [None])[0] if out["status"]["code"] == C.STATUS_SUCCESS else None
    out["destination"] = document.get("Destination")
    out["in_response_to"] = document.get("InResponseTo")
    data = request_data(cfg["acs_url"], post_data=dict(fields))
    out["valid"] = bool(response.is_valid(data, request_id))
    if not out["valid"]:
        out["errors"].append(f"python3-saml (strict) rejected the Response: {response.get_error()}")
    # Strict mode checks InResponseTo only when present; an SP-initiated answer must carry it.
    if out["in_response_to"] != request_id:
        out["errors"].append(f"InResponseTo is {out['in_response_to']!r}, the request was {request_id!r}")
    if out["status"]["code"] != C.STATUS_SUCCESS:
        return out
    for key, getter in (("name_id", response.get_nameid), ("name_id_format", response.get_nameid_format),
                        ("attributes", response.get_attributes),
                        ("session_index", response.get_session_index),
                        ("audiences", response.get_audiences)):
        try:
            out[key] = getter()
        except Exception as e:
            out[key] = None
            out["errors"].append(f"{key}: {e}")
    for key, getter in (("session_not_on_or_after", response.get_session_not_on_or_after),
                        ("assertion_not_on_or_after", response.get_assertion_not_on_or_after)):
        try:
            out[key] = getter()
        except Exception:
            out[key] = None
    return out


def sso_flow(cfg, browser, metadata_xml, flow):
    binding, signed = flow["binding"], flow["signed"]
    settings = build_settings(cfg, metadata_xml, binding, cfg["slo_binding"], signed)
    pages = []
    request_id, relay, outcome = send_authn_request(
        cfg, browser, settings, binding, signed, pages,
        force_authn=flow.get("force_authn", False), is_passive=flow.get("is_passive", False))
    out = {"binding": binding, "signed_request": signed, "request_id": request_id}
    if flow.get("expect_denied"):
        # A user not assigned to the app: usher shows a page and posts nothing to the ACS.
        out["pages"] = pages
        out["errors"] = []
        if outcome["kind"] == "status":
            out["denied"] = {"status": outcome["status"], "body": outcome["body"]}
        else:
            out["denied"] = None
            out["errors"].append(f"expected a refusal page, got {json.dumps(outcome)[:400]}")
        return out
    out.update(validate_response(cfg, settings, outcome, request_id, relay))
    out["pages"] = pages
    out["prompted_for_password"] = "login" in pages
    if flow.get("expect_login") is not None and out["prompted_for_password"] != flow["expect_login"]:
        out["errors"].append(f"expected {'a' if flow['expect_login'] else 'no'} password prompt; pages {pages}")
    return out


# --- SLO -----------------------------------------------------------------------------


def slo(cfg, browser, metadata_xml, idp, session):
    """SP-initiated logout for the session of the first flow."""
    binding = cfg["slo_binding"]
    if not idp["slo"]["redirect"] and not idp["slo"]["post"]:
        return "unsupported"
    if not idp["slo"][binding]:
        raise Failure("slo", f"the metadata advertises SLO but not over {BINDINGS[binding]}")
    signed = cfg["slo_signed"]
    settings = build_settings(cfg, metadata_xml, cfg["binding"], binding, signed)
    out = {"binding": binding, "signed_request": signed, "errors": []}
    pages = []
    relay = "bye-" + secrets.token_urlsafe(12)
    stop = [cfg["slo_url"], cfg["acs_url"]]
    if binding == "redirect":
        auth = OneLogin_Saml2_Auth(request_data(cfg["slo_url"]), settings)
        url = auth.logout(return_to=relay, name_id=session["name_id"], session_index=session["session_index"],
                          name_id_format=session["name_id_format"])
        request_id = auth.get_last_request_id()
        outcome = browser.browse("GET", url, None, stop, pages)
    else:
        request = OneLogin_Saml2_Logout_Request(settings, name_id=session["name_id"],
                                                session_index=session["session_index"],
                                                name_id_format=session["name_id_format"])
        xml = request.get_xml()
        if signed:
            sp = settings.get_sp_data()
            xml = OneLogin_Saml2_Utils.add_sign(xml, sp["privateKey"], sp["x509cert"],
                                                sign_algorithm=C.RSA_SHA256, digest_algorithm=C.SHA256)
        request_id = request.id
        outcome = browser.browse("POST", settings.get_idp_slo_url(),
                                 {"SAMLRequest": b64(xml), "RelayState": relay}, stop, pages)
    log(f"LogoutRequest {request_id} over {binding}")
    out["request_id"] = request_id
    out["pages"] = pages
    security = settings.get_security_data()
    if outcome["kind"] == "redirect" and outcome["url"].startswith(cfg["slo_url"]):
        out["response_binding"] = "redirect"
        query = urllib.parse.urlsplit(outcome["url"]).query
        get_data = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
        if "SAMLResponse" not in get_data:
            raise Failure("slo", f"usher redirected to the SP's SLO URL without SAMLResponse: {outcome['url'][:300]}")
        auth = OneLogin_Saml2_Auth(request_data(cfg["slo_url"], get_data=get_data, query_string=query), settings)
        auth.process_slo(keep_local_session=True, request_id=request_id)
        response = OneLogin_Saml2_Logout_Response(settings, get_data["SAMLResponse"])
        out["signed"] = "Signature" in get_data
        out["sig_alg"] = get_data.get("SigAlg")
        out["relay_state_ok"] = get_data.get("RelayState") == relay
        errors = auth.get_errors()
        if errors:
            out["errors"].append(f"python3-saml (strict) rejected the LogoutResponse: {errors} "
                                 f"{auth.get_last_error_reason() or ''}".strip())
    elif outcome["kind"] == "form" and outcome["action"] == cfg["slo_url"]:
        out["response_binding"] = "post"
        fields = outcome["fields"]
        if "SAMLResponse" not in fields:
            raise Failure("slo", f"the form to the SP's SLO URL has no SAMLResponse: {sorted(fields)}")
        response = OneLogin_Saml2_Logout_Response(settings, fields["SAMLResponse"])
        out["relay_state_ok"] = fields.get("RelayState") == relay
        # python3-saml validates a LogoutResponse's signature only on the Redirect
        # binding; on POST the signature is in the XML, checked here with its helpers.
        sig = OneLogin_Saml2_XML.query(response.document, "/samlp:LogoutResponse/ds:Signature")
        out["signed"] = bool(sig)
        if sig:
            idp_data = settings.get_idp_data()
            try:
                OneLogin_Saml2_Utils.validate_sign(
                    response.document, settings.get_idp_cert(), xpath="/samlp:LogoutResponse/ds:Signature",
                    multicerts=(idp_data.get("x509certMulti") or {}).get("signing"))
            except Exception as e:
                out["errors"].append(f"the LogoutResponse signature does not verify: {e}")
        elif security["wantMessagesSigned"]:
            out["errors"].append("the LogoutResponse (POST) is not signed and the SP requires it")
        data = request_data(cfg["slo_url"], post_data=dict(fields))
        # The POST signature was handled above; the rest of strict validation here.
        security["wantMessagesSigned"] = False
        if not response.is_valid(data, request_id):
            out["errors"].append(f"python3-saml (strict) rejected the LogoutResponse: {response.get_error()}")
    else:
        raise Failure("slo", f"usher did not send a LogoutResponse to the SP's SLO URL: {json.dumps(outcome)[:700]}")
    out["status"] = status_of(response.document, "LogoutResponse")
    out["in_response_to"] = response.document.get("InResponseTo")
    out["destination"] = response.document.get("Destination")
    if out["status"]["code"] != C.STATUS_SUCCESS:
        out["errors"].append(f"LogoutResponse status {out['status']}")
    if out["in_response_to"] != request_id:
        out["errors"].append(f"LogoutResponse InResponseTo is {out['in_response_to']!r}, the request was {request_id!r}")
    if not out.get("relay_state_ok"):
        out["errors"].append("RelayState did not come back with the LogoutResponse")
    return out


def after_logout(cfg, browser, metadata_xml):
    """A passive AuthnRequest once signed out must not log in silently."""
    settings = build_settings(cfg, metadata_xml, "redirect", cfg["slo_binding"], cfg["slo_signed"])
    pages = []
    request_id, _, outcome = send_authn_request(cfg, browser, settings, "redirect", cfg["slo_signed"],
                                                pages, is_passive=True, allow_login=False)
    out = {"pages": pages, "errors": []}
    if outcome["kind"] == "form" and "SAMLResponse" in outcome["fields"]:
        response = OneLogin_Saml2_Response(settings, outcome["fields"]["SAMLResponse"])
        out["status"] = status_of(response.document, "Response")
        out["in_response_to"] = response.document.get("InResponseTo")
        if out["status"]["code"] == C.STATUS_SUCCESS:
            out["errors"].append("a passive request after logout got a successful Response: the session survived")
    else:
        out["outcome"] = outcome["kind"]
        if outcome["kind"] == "login_prompt":
            out["errors"].append("IsPassive was not honoured: usher showed its login page")
    return out


# --- Main ----------------------------------------------------------------------------


def load_config(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config", help="JSON object, or @path to a JSON file")
    parser.add_argument("--want-signed", choices=["assertion", "response", "both"])
    parser.add_argument("--binding", choices=["redirect", "post"])
    parser.add_argument("--want-encrypted", dest="want_assertions_encrypted", action="store_true",
                        default=None, help="wantAssertionsEncrypted: refuse a plaintext assertion; "
                        "decrypts with sp_key")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--signed", dest="signed", action="store_true", default=None)
    group.add_argument("--unsigned", dest="signed", action="store_false")
    args = parser.parse_args(argv)
    text = args.config
    if text.startswith("@"):
        with open(text[1:], encoding="utf-8") as f:
            text = f.read()
    cfg = json.loads(text)
    for key in ("want_signed", "binding", "signed", "want_assertions_encrypted"):
        if getattr(args, key) is not None:
            cfg[key] = getattr(args, key)
    missing = [k for k in ("base", "sp_entity_id", "acs_url", "username", "password") if not cfg.get(k)]
    if missing:
        raise Failure("config", f"missing keys {missing}")
    cfg["base"] = cfg["base"].rstrip("/")
    cfg.setdefault("metadata_url", cfg["base"] + "/saml/metadata")
    acs = urllib.parse.urlsplit(cfg["acs_url"])
    cfg.setdefault("slo_url", f"{acs.scheme}://{acs.netloc}/slo")
    cfg.setdefault("binding", "redirect")
    cfg.setdefault("signed", False)
    cfg.setdefault("want_signed", "assertion")
    cfg.setdefault("slo", True)
    cfg.setdefault("slo_binding", "redirect")
    cfg.setdefault("check_after_logout", True)
    if cfg["want_signed"] not in ("assertion", "response", "both"):
        raise Failure("config", f"want_signed must be assertion, response or both, not {cfg['want_signed']!r}")
    flows = cfg.get("flows") or [{"binding": cfg["binding"], "signed": cfg["signed"]}]
    for flow in flows:
        flow.setdefault("binding", cfg["binding"])
        flow.setdefault("signed", cfg["signed"])
        if flow["binding"] not in BINDINGS or cfg["slo_binding"] not in BINDINGS:
            raise Failure("config", f"binding must be redirect or post: {flow}")
    cfg["flows"] = flows
    cfg.setdefault("slo_signed", flows[0]["signed"])
    if cfg.get("sp_cert"):
        cfg["_sp_cert"] = read_pem(cfg["sp_cert"], "certificate")
    if cfg.get("sp_key"):
        cfg["_sp_key"] = read_pem(cfg["sp_key"], "private key")
    if any(f["signed"] for f in flows) or cfg["slo_signed"]:
        if not (cfg.get("_sp_cert") and cfg.get("_sp_key")):
            raise Failure("config", "signed requests need sp_cert and sp_key (PEM paths)")
    if cfg.get("want_assertions_encrypted") and not cfg.get("_sp_key"):
        raise Failure("config", "want_assertions_encrypted needs sp_key (PEM path) to decrypt with")
    return cfg


def main(argv):
    result = {"ok": False, "errors": []}
    try:
        cfg = load_config(argv)
    except (Failure, ValueError, OSError) as e:
        result.update(stage="config", errors=[str(e)])
        print("RESULT " + json.dumps(result))
        return 2
    browser = Browser(cfg["username"], cfg["password"], cfg.get("cookies"))
    try:
        metadata_xml = fetch_metadata(cfg)
        idp = describe_idp(metadata_xml)
        result["idp"] = idp
        if cfg.get("idp_entity_id") and idp["entity_id"] != cfg["idp_entity_id"]:
            result["errors"].append(f"the metadata's entityID is {idp['entity_id']!r}, expected {cfg['idp_entity_id']!r}")
        result["flows"] = []
        for flow in cfg["flows"]:
            result["stage"] = f"sso:{flow['binding']}:{'signed' if flow['signed'] else 'unsigned'}"
            report = sso_flow(cfg, browser, metadata_xml, flow)
            result["flows"].append(report)
            result["errors"] += [f"{result['stage']}: {e}" for e in report["errors"]]
        first = result["flows"][0]
        for key in ("name_id", "name_id_format", "attributes", "session_index"):
            result[key] = first.get(key)
        result["cookies"] = dict(browser.cookies)
        if cfg["slo"]:
            result["stage"] = "slo"
            if not first.get("name_id"):
                raise Failure("slo", "no NameID from the first flow to log out")
            result["slo"] = slo(cfg, browser, metadata_xml, idp, first)
            if isinstance(result["slo"], dict):
                result["errors"] += [f"slo: {e}" for e in result["slo"]["errors"]]
                if cfg["check_after_logout"]:
                    result["stage"] = "after_logout"
                    result["after_logout"] = after_logout(cfg, browser, metadata_xml)
                    result["errors"] += [f"after_logout: {e}" for e in result["after_logout"]["errors"]]
        result.pop("stage", None)
    except Failure as e:
        result["errors"].append(str(e))
    except Exception as e:  # a bug here or in the peer: say where
        result["errors"].append(f"{result.get('stage', 'setup')}: unexpected {type(e).__name__}: {e}")
        traceback.print_exc(file=sys.stderr)
    result["ok"] = not result["errors"]
    for err in result["errors"]:
        log("ERROR", err)
    print("RESULT " + json.dumps(result, default=str))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
