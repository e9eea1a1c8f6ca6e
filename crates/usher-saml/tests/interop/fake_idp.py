#!/usr/bin/env python3
"""A stand-in for usher's SAML IdP, only to test sp.py itself (run.sh --self-test).

It mimics usher's pages (login form with csrf and t, /continue page with
<a id="continue">, auto-submitting form to the ACS) and answers with Responses
signed by python3-saml's xmlsec helpers, so sp.py's whole flow can be checked
without usher. It proves nothing about usher: the interop test runs sp.py against
the real binary.

Usage: fake_idp.py PORT IDP_CERT IDP_KEY [assertion|response|both]
"""

import base64
import html
import secrets
import sys
import urllib.parse
import zlib

import xmlsec
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.utils import OneLogin_Saml2_Utils as U
from onelogin.saml2.xml_utils import OneLogin_Saml2_XML as X

PORT = int(sys.argv[1])
CERT = open(sys.argv[2]).read()
KEY = open(sys.argv[3]).read()
SIGN = sys.argv[4] if len(sys.argv) > 4 else "assertion"
BASE = f"http://127.0.0.1:{PORT}"
ENTITY = BASE + "/saml/metadata"
CERT_B64 = "".join(l for l in CERT.splitlines() if "-----" not in l)
PENDING, SESSIONS = {}, {}


def now(delta=0):
    return (datetime.now(timezone.utc) + timedelta(seconds=delta)).strftime("%Y-%m-%dT%H:%M:%SZ")


METADATA = f"""<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{ENTITY}">
 <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol" WantAuthnRequestsSigned="false">
  <md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>{CERT_B64}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
  <md:SingleLogoutService Binding="{C.BINDING_HTTP_REDIRECT}" Location="{BASE}/saml/slo"/>
  <md:SingleLogoutService Binding="{C.BINDING_HTTP_POST}" Location="{BASE}/saml/slo"/>
  <md:NameIDFormat>{C.NAMEID_EMAIL_ADDRESS}</md:NameIDFormat>
  <md:SingleSignOnService Binding="{C.BINDING_HTTP_REDIRECT}" Location="{BASE}/saml/sso"/>
  <md:SingleSignOnService Binding="{C.BINDING_HTTP_POST}" Location="{BASE}/saml/sso"/>
 </md:IDPSSODescriptor>
</md:EntityDescriptor>"""


def response_xml(req, status=C.STATUS_SUCCESS, sub=None):
    rid, aid = "_" + secrets.token_hex(16), "_" + secrets.token_hex(16)
    head = (f'<samlp:Response xmlns:samlp="{C.NS_SAMLP}" xmlns:saml="{C.NS_SAML}" ID="{rid}" Version="2.0" '
            f'IssueInstant="{now()}" Destination="{req["acs"]}" InResponseTo="{req["id"]}">'
            f'<saml:Issuer>{ENTITY}</saml:Issuer>')
    if status != C.STATUS_SUCCESS:
        inner = f'<samlp:StatusCode Value="{sub}"/>' if sub else ""
        return head + f'<samlp:Status><samlp:StatusCode Value="{status}">{inner}</samlp:StatusCode></samlp:Status></samlp:Response>'
    assertion = (
        f'<saml:Assertion xmlns:saml="{C.NS_SAML}" xmlns:xs="http://www.w3.org/2001/XMLSchema" '
        f'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ID="{aid}" Version="2.0" IssueInstant="{now()}">'
        f'<saml:Issuer>{ENTITY}</saml:Issuer>'
        f'<saml:Subject><saml:NameID Format="{C.NAMEID_EMAIL_ADDRESS}">alice@example.test</saml:NameID>'
        f'<saml:SubjectConfirmation Method="{C.CM_BEARER}"><saml:SubjectConfirmationData '
        f'NotOnOrAfter="{now(300)}" Recipient="{req["acs"]}" InResponseTo="{req["id"]}"/></saml:SubjectConfirmation></saml:Subject>'
        f'<saml:Conditions NotBefore="{now(-60)}" NotOnOrAfter="{now(300)}"><saml:AudienceRestriction>'
        f'<saml:Audience>{req["issuer"]}</saml:Audience></saml:AudienceRestriction></saml:Conditions>'
        f'<saml:AuthnStatement AuthnInstant="{now()}" SessionIndex="_sess{req["sid"]}"><saml:AuthnContext>'
        f'<saml:AuthnContextClassRef>{C.AC_PASSWORD_PROTECTED}</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>'
        f'<saml:AttributeStatement>'
        f'<saml:Attribute Name="email"><saml:AttributeValue xsi:type="xs:string">alice@example.test</saml:AttributeValue></saml:Attribute>'
        f'<saml:Attribute Name="groups"><saml:AttributeValue xsi:type="xs:string">admins</saml:AttributeValue>'
        f'<saml:AttributeValue xsi:type="xs:string">&lt;b&gt;devs&lt;/b&gt;</saml:AttributeValue></saml:Attribute>'
        f'</saml:AttributeStatement></saml:Assertion>')
    if SIGN in ("assertion", "both"):
        assertion = U.add_sign(assertion, KEY, CERT, sign_algorithm=C.RSA_SHA256, digest_algorithm=C.SHA256).decode()
        assertion = assertion.split("?>", 1)[-1] if assertion.startswith("<?xml") else assertion
    xml = head + f'<samlp:Status><samlp:StatusCode Value="{C.STATUS_SUCCESS}"/></samlp:Status>' + assertion + "</samlp:Response>"
    if SIGN in ("response", "both"):
        xml = U.add_sign(xml, KEY, CERT, sign_algorithm=C.RSA_SHA256, digest_algorithm=C.SHA256).decode()
    return xml


def post_form(action, fields):
    inputs = "".join(f'<input type="hidden" name="{k}" value="{html.escape(v)}">' for k, v in fields.items())
    return (f'<html><body onload="document.forms[0].submit()"><form method="post" action="{html.escape(action)}">'
            f'{inputs}<noscript><button type="submit">Continue</button></noscript></form>'
            f'<script>document.forms[0].submit()</script></body></html>')


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def send(self, status, body="", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        data = body.encode()
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Content-Type", "text/html" if "<html" in body else "application/xml")
        self.end_headers()
        self.wfile.write(data)

    def params(self):
        url = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(url.query))
        if self.command == "POST":
            n = int(self.headers.get("Content-Length", 0))
            q.update(urllib.parse.parse_qsl(self.rfile.read(n).decode()))
        return url.path, q

    def session(self):
        for part in (self.headers.get("Cookie") or "").split(";"):
            k, _, v = part.strip().partition("=")
            if k == "sid" and v in SESSIONS:
                return v
        return None

    def do_GET(self):
        self.route()

    def do_POST(self):
        self.route()

    def route(self):
        path, q = self.params()
        if path == "/saml/metadata":
            return self.send(200, METADATA)
        if path == "/saml/sso":
            raw = base64.b64decode(q["SAMLRequest"])
            xml = zlib.decompress(raw, -15) if self.command == "GET" else raw
            doc = X.to_etree(xml)
            req = {"id": doc.get("ID"), "acs": doc.get("AssertionConsumerServiceURL"),
                   "issuer": X.element_text(X.query(doc, "/samlp:AuthnRequest/saml:Issuer")[0]),
                   "relay": q.get("RelayState", ""), "passive": doc.get("IsPassive") == "true"}
            t = secrets.token_hex(8)
            PENDING[t] = req
            if self.session():
                return self.resume(t)
            if req["passive"]:
                xml = response_xml(dict(req, sid="none"), C.STATUS_RESPONDER, C.STATUS_NO_PASSIVE)
                return self.send(200, post_form(req["acs"], {"SAMLResponse": base64.b64encode(xml.encode()).decode(),
                                                             "RelayState": req["relay"]}))
            return self.send(302, "", [("Location", f"/login?t={t}")])
        if path == "/login" and self.command == "GET":
            return self.send(200, f'<html><form method="post" action="/login"><input type="hidden" name="csrf" value="c1">'
                                  f'<input type="hidden" name="t" value="{q["t"]}"><input name="username">'
                                  f'<input type="password" name="password"><button type="submit">Sign in</button></form></html>')
        if path == "/login":
            assert q["csrf"] == "c1" and q["password"] == "pw", q
            sid = secrets.token_hex(8)
            SESSIONS[sid] = q["username"]
            to = urllib.parse.quote(f"/saml/sso/resume?t={q['t']}")
            return self.send(303, "", [("Location", f"/continue?to={to}"), ("Set-Cookie", f"sid={sid}; Path=/; HttpOnly; Secure")])
        if path == "/continue":
            return self.send(200, f'<html><a id="continue" href="{html.escape(q["to"])}">Continue</a></html>')
        if path == "/saml/sso/resume":
            return self.resume(q["t"])
        if path == "/saml/slo":
            raw = base64.b64decode(q["SAMLRequest"])
            xml = zlib.decompress(raw, -15) if self.command == "GET" else raw
            doc = X.to_etree(xml)
            sid = self.session()
            SESSIONS.pop(sid, None)
            sp_slo = "http://127.0.0.1:9/slo"
            resp = (f'<samlp:LogoutResponse xmlns:samlp="{C.NS_SAMLP}" xmlns:saml="{C.NS_SAML}" ID="_{secrets.token_hex(16)}" '
                    f'Version="2.0" IssueInstant="{now()}" Destination="{sp_slo}" InResponseTo="{doc.get("ID")}">'
                    f'<saml:Issuer>{ENTITY}</saml:Issuer><samlp:Status><samlp:StatusCode Value="{C.STATUS_SUCCESS}"/>'
                    f'</samlp:Status></samlp:LogoutResponse>')
            cookie = ("Set-Cookie", "sid=; Path=/; Max-Age=0")
            if self.command == "GET":
                msg = base64.b64encode(zlib.compress(resp.encode())[2:-4]).decode()
                signed = (f"SAMLResponse={urllib.parse.quote_plus(msg)}&RelayState={urllib.parse.quote_plus(q.get('RelayState', ''))}"
                          f"&SigAlg={urllib.parse.quote_plus(C.RSA_SHA256)}")
                sig = base64.b64encode(U.sign_binary(signed, KEY, xmlsec.Transform.RSA_SHA256)).decode()
                return self.send(302, "", [("Location", f"{sp_slo}?{signed}&Signature={urllib.parse.quote_plus(sig)}"), cookie])
            resp = U.add_sign(resp, KEY, CERT, sign_algorithm=C.RSA_SHA256, digest_algorithm=C.SHA256).decode()
            return self.send(200, post_form(sp_slo, {"SAMLResponse": base64.b64encode(resp.encode()).decode(),
                                                     "RelayState": q.get("RelayState", "")}), [cookie])
        self.send(404, "<html>not found</html>")

    def resume(self, t):
        req = PENDING.pop(t)
        xml = response_xml(dict(req, sid=self.session()))
        self.send(200, post_form(req["acs"], {"SAMLResponse": base64.b64encode(xml.encode()).decode(),
                                              "RelayState": req["relay"]}))


ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
