// samlify 2 (npm) as a running upstream SAML IdP in front of the real `usher
// serve` (issue 5, item 8: upstream SAML to downstream OIDC). A small HTTP server:
//   GET  /metadata  the IdP's metadata (samlify's), which usher fetches
//   GET  /sso       HTTP-Redirect AuthnRequest: samlify verifies usher's signature
//                   over the raw query with the certificate in usher's SP metadata
//                   (fetched from the request's Issuer, usher's default SP entity
//                   id being its metadata URL), then shows a login form
//   POST /login     signs a Response for the account (xml-crypto, RSA-SHA256) and
//                   auto-posts it with the RelayState to usher's ACS
//   GET  /initiate?login=ACCOUNT&upstream=ID
//                   IdP-initiated: an unsolicited Response (no InResponseTo) for
//                   the account, auto-posted to usher's ACS of upstream ID
//
// Usage: node upstream_saml_idp.mjs '<json>'
//   { "peers", "port", "entity_id", "key_pem", "cert_pem", "accounts": <file>,
//     "usher": usher's base URL }
// accounts: { "<login>": { name_id, email, uid, display_name, groups: [] } },
// re-read on every login. Prints `READY <port>` once listening.

import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { inflateRawSync } from 'node:zlib';

const config = JSON.parse(process.argv[2]);
const require = createRequire(join(config.peers, 'node_modules', 'noop.js'));
const saml = require('samlify');
saml.setSchemaValidator(require('@authenio/samlify-node-xmllint'));
const log = (...args) => console.error('[saml-idp]', ...args);

const base = `http://127.0.0.1:${config.port}`;
const idp = saml.IdentityProvider({
  entityID: config.entity_id,
  privateKey: config.key_pem,
  signingCert: config.cert_pem,
  isAssertionEncrypted: false,
  wantAuthnRequestsSigned: true,
  nameIDFormat: ['urn:oasis:names:tc:SAML:2.0:nameid-format:persistent'],
  singleSignOnService: [
    { Binding: saml.Constants.namespace.binding.redirect, Location: `${base}/sso` },
  ],
});

const pending = new Map();
const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;')
  .replace(/>/g, '&gt;').replace(/"/g, '&quot;');

// A response with a persistent NameID, a session and the account's attributes
// (samlify's default template has no multi-valued attribute); an unsolicited one
// has no InResponseTo.
function template(groups, solicited) {
  const irt = solicited ? ' InResponseTo="{InResponseTo}"' : '';
  const values = groups.map((_, i) => `<saml:AttributeValue>{Group${i}}</saml:AttributeValue>`).join('');
  return '<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{ID}" Version="2.0" IssueInstant="{IssueInstant}" Destination="{Destination}"' + irt + '>'
    + '<saml:Issuer>{Issuer}</saml:Issuer><samlp:Status><samlp:StatusCode Value="{StatusCode}"/></samlp:Status>'
    + '<saml:Assertion ID="{AssertionID}" Version="2.0" IssueInstant="{IssueInstant}"><saml:Issuer>{Issuer}</saml:Issuer>'
    + '<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">{NameID}</saml:NameID>'
    + '<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="{NotOnOrAfter}" Recipient="{Destination}"' + irt + '/></saml:SubjectConfirmation></saml:Subject>'
    + '<saml:Conditions NotBefore="{IssueInstant}" NotOnOrAfter="{NotOnOrAfter}"><saml:AudienceRestriction><saml:Audience>{Audience}</saml:Audience></saml:AudienceRestriction></saml:Conditions>'
    + '<saml:AuthnStatement AuthnInstant="{IssueInstant}" SessionIndex="{SessionIndex}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>'
    + '<saml:AttributeStatement><saml:Attribute Name="mail"><saml:AttributeValue>{Mail}</saml:AttributeValue></saml:Attribute>'
    + '<saml:Attribute Name="uid"><saml:AttributeValue>{Uid}</saml:AttributeValue></saml:Attribute>'
    + (groups.length ? `<saml:Attribute Name="groups">${values}</saml:Attribute>` : '')
    + '<saml:Attribute Name="displayName"><saml:AttributeValue>{DisplayName}</saml:AttributeValue></saml:Attribute></saml:AttributeStatement>'
    + '</saml:Assertion></samlp:Response>';
}

async function sso(url, res) {
  const raw = url.search.slice(1);
  const octetString = raw.slice(0, raw.indexOf('&Signature='));
  const query = Object.fromEntries(url.searchParams);
  const xml = inflateRawSync(Buffer.from(query.SAMLRequest, 'base64')).toString('utf8');
  const issuer = (xml.match(/<(?:\w+:)?Issuer[^>]*>([^<]+)</) ?? [])[1] ?? '';
  if (!issuer.startsWith(`${config.usher}/federation/`)) throw new Error(`unknown SP ${issuer}`);
  const metadata = await (await fetch(issuer)).text();
  const sp = saml.ServiceProvider({ metadata });
  const info = await idp.parseLoginRequest(sp, 'redirect', { query, octetString });
  const token = randomBytes(16).toString('hex');
  pending.set(token, { sp, info, relayState: query.RelayState });
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  res.end(`<!doctype html><title>samlify IdP</title><form method="post" action="/login">`
    + `<input type="hidden" name="prompt" value="login"><input type="hidden" name="token" value="${token}">`
    + `<input name="login"><input name="password" type="password"><button>Sign in</button></form>`);
}

async function login(body, res) {
  const form = new URLSearchParams(body);
  const p = pending.get(form.get('token'));
  pending.delete(form.get('token'));
  const accounts = JSON.parse(readFileSync(config.accounts, 'utf8'));
  const user = accounts[form.get('login')];
  if (!p || !user) {
    res.writeHead(400, { 'content-type': 'text/plain' });
    res.end('unknown login or request');
    return;
  }
  await respond(res, p.sp, p.info, p.relayState, user);
}

// IdP-initiated: usher's SP metadata for the upstream, then an unsolicited
// Response.
async function initiate(url, res) {
  const accounts = JSON.parse(readFileSync(config.accounts, 'utf8'));
  const user = accounts[url.searchParams.get('login')];
  const upstream = url.searchParams.get('upstream') ?? '';
  if (!user || !/^[A-Za-z0-9_-]+$/.test(upstream)) {
    res.writeHead(400, { 'content-type': 'text/plain' });
    res.end('unknown login or upstream');
    return;
  }
  const metadata = await (await fetch(`${config.usher}/federation/${upstream}/saml/metadata`)).text();
  await respond(res, saml.ServiceProvider({ metadata }), null, undefined, user);
}

// Signs a Response for `user` (answering `info`, or unsolicited when null) and
// auto-posts it to the SP's ACS.
async function respond(res, sp, info, relayState, user) {
  const p = { sp, info, relayState };
  const acs = p.sp.entityMeta.getAssertionConsumerService('post');
  const custom = (tpl) => {
    const id = idp.entitySetting.generateID();
    const now = new Date();
    const later = new Date(now.getTime() + 5 * 60 * 1000);
    const values = {
      ID: id,
      AssertionID: idp.entitySetting.generateID(),
      Destination: acs,
      Audience: p.sp.entityMeta.getEntityID(),
      Issuer: idp.entityMeta.getEntityID(),
      IssueInstant: now.toISOString(),
      NotOnOrAfter: later.toISOString(),
      StatusCode: saml.Constants.StatusCode.Success,
      InResponseTo: p.info ? p.info.extract.request.id : '',
      NameID: user.name_id,
      SessionIndex: `_s${randomBytes(8).toString('hex')}`,
      Mail: user.email,
      Uid: user.uid,
      DisplayName: user.display_name,
    };
    user.groups.forEach((g, i) => { values[`Group${i}`] = g; });
    return { id, context: saml.SamlLib.replaceTagsByValue(tpl, values) };
  };
  idp.entitySetting.loginResponseTemplate = { context: template(user.groups, Boolean(p.info)) };
  const out = await idp.createLoginResponse(p.sp, p.info ?? {}, 'post', user, custom, false, p.relayState);
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  res.end(`<!doctype html><body onload="document.forms[0].submit()">`
    + `<form method="post" action="${esc(acs)}">`
    + `<input type="hidden" name="SAMLResponse" value="${esc(out.context)}">`
    + (p.relayState === undefined ? ''
      : `<input type="hidden" name="RelayState" value="${esc(p.relayState)}">`)
    + `</form></body>`);
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, base);
  try {
    if (req.method === 'GET' && url.pathname === '/metadata') {
      res.writeHead(200, { 'content-type': 'application/samlmetadata+xml' });
      res.end(idp.getMetadata());
    } else if (req.method === 'GET' && url.pathname === '/sso') {
      await sso(url, res);
    } else if (req.method === 'GET' && url.pathname === '/initiate') {
      await initiate(url, res);
    } else if (req.method === 'POST' && url.pathname === '/login') {
      let body = '';
      for await (const chunk of req) body += chunk;
      await login(body, res);
    } else {
      res.writeHead(404);
      res.end();
    }
  } catch (e) {
    log(e && e.stack ? e.stack : e);
    res.writeHead(500, { 'content-type': 'text/plain' });
    res.end(`samlify IdP error: ${e}`);
  }
});
server.listen(config.port, '127.0.0.1', () => console.log(`READY ${config.port}`));
