// An independent OpenID relying party drives a running usher: openid-client 6
// (npm, an OpenID-certified RP library this project did not write) does discovery,
// PKCE, the code exchange with id_token validation against the JWKS (signature,
// iss, aud, nonce, exp), the RFC 9207 `iss` check, userinfo, refresh, revocation
// and RP-initiated logout. The "browser" is fetch with manual redirects and a
// small cookie jar; it posts usher's HTML forms (CSRF field included) the way a
// browser would.
//
// Usage: node rp.mjs '<json config>'
//   { "base": "http://127.0.0.1:PORT", "peers": "/abs/target-peers/node",
//     "username": "...", "password": "...",
//     "clients": [{ "name": "confidential", "client_id": "...", "client_secret": "...",
//                   "redirect_uri": "...", "post_logout_redirect_uri": "..." }, ...] }
//   A client may add "sign_in_only": true (stop after the code exchange and userinfo) or
//   "expect_denied": true (report the refusal page usher shows instead of a code),
//   and "username"/"password" to sign in as someone else than the config's user.
// Prints one line `RESULT <json>`; exits non-zero on any failure.

import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const config = JSON.parse(process.argv[2]);
const oc = await import(
  pathToFileURL(join(config.peers, 'node_modules', 'openid-client', 'build', 'index.js')).href
);

const log = (...args) => console.error('[rp]', ...args);

// --- A small browser ---------------------------------------------------------------

class CookieJar {
  constructor() { this.cookies = new Map(); }
  store(response) {
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attrs.some((a) => {
        const [k, v] = a.trim().split('=');
        return (k.toLowerCase() === 'max-age' && Number(v) <= 0)
          || (k.toLowerCase() === 'expires' && Date.parse(v) < Date.now());
      });
      if (expired || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
  header() {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

const unescapeHtml = (s) => s
  .replace(/&#x([0-9a-f]+);/gi, (_, h) => String.fromCodePoint(parseInt(h, 16)))
  .replace(/&#([0-9]+);/g, (_, d) => String.fromCodePoint(Number(d)))
  .replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

const attr = (tag, name) => {
  const m = tag.match(new RegExp(`\\s${name}="([^"]*)"`, 'i'));
  return m ? unescapeHtml(m[1]) : undefined;
};

// The first POST form of a page: its action and the fields a browser would send
// when the user fills `fill` in and presses the submit button named `press`
// (or the first one).
function parseForm(html, fill, press) {
  const m = html.match(/<form\b[^>]*method="post"[^>]*>([\s\S]*?)<\/form>/i);
  if (!m) return null;
  const action = attr(m[0].slice(0, m[0].indexOf('>') + 1), 'action');
  const fields = new URLSearchParams();
  for (const input of m[1].match(/<input\b[^>]*>/gi) ?? []) {
    const name = attr(input, 'name');
    if (!name) continue;
    fields.set(name, name in fill ? fill[name] : (attr(input, 'value') ?? ''));
  }
  const buttons = (m[1].match(/<button\b[^>]*>/gi) ?? []).filter((b) => attr(b, 'name'));
  const button = buttons.find((b) => attr(b, 'value') === press) ?? buttons[0];
  if (button) fields.set(attr(button, 'name'), attr(button, 'value') ?? '');
  return { action, fields, names: [...fields.keys()] };
}

// Follows redirects and posts usher's forms until the browser is sent to a URL
// under `stopAt`; returns that URL. `pages` collects what was seen on the way.
async function browse(jar, start, stopAt, pages) {
  let url = new URL(start);
  let method = 'GET';
  let body;
  for (let hop = 0; hop < 25; hop++) {
    if (url.href.startsWith(stopAt)) return url;
    const headers = { accept: 'text/html' };
    const cookie = jar.header();
    if (cookie) headers.cookie = cookie;
    if (body) headers['content-type'] = 'application/x-www-form-urlencoded';
    const response = await fetch(url, { method, headers, body, redirect: 'manual' });
    jar.store(response);
    if ([301, 302, 303, 307, 308].includes(response.status)) {
      url = new URL(response.headers.get('location'), url);
      if (response.status === 303 || method !== 'POST' || response.status <= 302) {
        method = 'GET';
        body = undefined;
      }
      continue;
    }
    const html = await response.text();
    if (response.status !== 200) {
      const error = new Error(`${method} ${url.pathname} answered ${response.status}: ${html.slice(0, 400)}`);
      error.page = { status: response.status, path: url.pathname, html };
      throw error;
    }
    const csp = response.headers.get('content-security-policy') ?? '';
    if (!csp.includes("frame-ancestors 'none'")) throw new Error(`${url.pathname} has no CSP frame-ancestors`);
    if (/name="password"/.test(html)) {
      const form = parseForm(html, { username: creds.username, password: creds.password });
      if (!form.names.includes('csrf')) throw new Error('the login form has no CSRF field');
      pages.push('login');
      ({ url, method, body } = submit(url, form));
      continue;
    }
    if (/name="decision"/.test(html)) {
      const form = parseForm(html, {}, 'allow');
      pages.push('consent');
      ({ url, method, body } = submit(url, form));
      continue;
    }
    const form = parseForm(html, {});
    if (form && form.action && form.action.startsWith('/logout')) {
      pages.push('logout-confirm');
      ({ url, method, body } = submit(url, form));
      continue;
    }
    // usher's /continue page moves on with a meta refresh / link.
    const next = html.match(/<meta http-equiv="refresh" content="0;url=([^"]*)"/i)
      ?? html.match(/<a\b[^>]*id="continue"[^>]*href="([^"]*)"/i)
      ?? html.match(/<a\b[^>]*href="([^"]*)"[^>]*id="continue"/i);
    if (next) {
      pages.push('continue');
      url = new URL(unescapeHtml(next[1]), url);
      method = 'GET';
      body = undefined;
      continue;
    }
    pages.push(`stopped:${url.pathname}`);
    return url;
  }
  throw new Error('too many hops');
}

function submit(url, form) {
  return { url: new URL(form.action ?? url.href, url), method: 'POST', body: form.fields.toString() };
}

// --- The relying party -----------------------------------------------------------

// Who signs in: the config's user unless the client names another.
let creds = { username: config.username, password: config.password };

async function run(client) {
  creds = { username: client.username ?? config.username, password: client.password ?? config.password };
  const server = new URL(config.base);
  const confidential = Boolean(client.client_secret);
  const auth = confidential ? oc.ClientSecretBasic(client.client_secret) : oc.None();
  const metadata = confidential
    ? { client_secret: client.client_secret }
    : { token_endpoint_auth_method: 'none' };
  // Plain http on 127.0.0.1: openid-client refuses it unless told.
  const rp = await oc.discovery(server, client.client_id, metadata, auth, {
    execute: [oc.allowInsecureRequests],
  });
  const as = rp.serverMetadata();
  const out = { client: client.name, issuer: as.issuer, pages: [] };
  const jar = new CookieJar();

  const verifier = oc.randomPKCECodeVerifier();
  const challenge = await oc.calculatePKCECodeChallenge(verifier);
  const state = oc.randomState();
  const nonce = oc.randomNonce();
  const scope = 'openid profile email groups offline_access';
  const authUrl = oc.buildAuthorizationUrl(rp, {
    redirect_uri: client.redirect_uri,
    scope,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  if (client.expect_denied) {
    // Signing in to an app the user is not assigned to: usher must show its page
    // and never send the browser back to the client.
    try {
      const landed = await browse(jar, authUrl, client.redirect_uri, out.pages);
      out.denied = null;
      out.landed = landed.href;
    } catch (e) {
      if (!e.page) throw e;
      const title = e.page.html.match(/<h1>([\s\S]*?)<\/h1>/);
      out.denied = {
        status: e.page.status,
        path: e.page.path,
        title: title ? unescapeHtml(title[1]) : null,
        text: unescapeHtml(e.page.html.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ')),
      };
    }
    return out;
  }
  const callback = await browse(jar, authUrl, client.redirect_uri, out.pages);
  out.callback_has_iss = callback.searchParams.get('iss') === as.issuer;

  // Validates the response (state, iss), exchanges the code with the verifier and
  // validates the id_token (signature against the JWKS, iss, aud, exp, nonce).
  const tokens = await oc.authorizationCodeGrant(rp, callback, {
    pkceCodeVerifier: verifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  });
  const claims = tokens.claims();
  out.id_token = { sub: claims.sub, sid: claims.sid, nonce_ok: claims.nonce === nonce,
    aud: claims.aud, auth_time: claims.auth_time, amr: claims.amr };
  out.token_type = tokens.token_type;
  out.scope = tokens.scope;
  out.got_refresh_token = Boolean(tokens.refresh_token);

  const userinfo = await oc.fetchUserInfo(rp, tokens.access_token, claims.sub);
  out.userinfo = { sub: userinfo.sub, email: userinfo.email, preferred_username: userinfo.preferred_username };
  if (client.sign_in_only) return out;

  const refreshed = await oc.refreshTokenGrant(rp, tokens.refresh_token);
  out.refreshed = Boolean(refreshed.access_token) && refreshed.refresh_token !== tokens.refresh_token;
  if (refreshed.id_token) out.refreshed_id_token_sub = refreshed.claims().sub;

  await oc.tokenRevocation(rp, refreshed.refresh_token);
  out.revoked = true;
  // The revoked token no longer refreshes.
  try {
    await oc.refreshTokenGrant(rp, refreshed.refresh_token);
    out.refresh_after_revocation = 'accepted';
  } catch (e) {
    out.refresh_after_revocation = e.error ?? e.code ?? String(e);
  }
  if (confidential) {
    const introspected = await oc.tokenIntrospection(rp, refreshed.access_token);
    out.access_token_active_after_revocation = introspected.active;
  }

  const endUrl = oc.buildEndSessionUrl(rp, {
    id_token_hint: tokens.id_token,
    post_logout_redirect_uri: client.post_logout_redirect_uri,
    state: `bye-${state}`,
  });
  const landed = await browse(jar, endUrl, client.post_logout_redirect_uri, out.pages);
  out.logout_state_ok = landed.searchParams.get('state') === `bye-${state}`;

  // Signed out: a silent request now needs a login.
  const silent = oc.buildAuthorizationUrl(rp, {
    redirect_uri: client.redirect_uri,
    scope: 'openid',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state,
    prompt: 'none',
  });
  const after = await browse(jar, silent, client.redirect_uri, out.pages);
  out.after_logout_error = after.searchParams.get('error');
  return out;
}

try {
  const results = [];
  for (const client of config.clients) {
    log(`running ${client.name}`);
    results.push(await run(client));
  }
  console.log(`RESULT ${JSON.stringify(results)}`);
} catch (e) {
  console.error('[rp] FAILED:', e?.stack ?? e, e?.cause ?? '', e?.error ?? '', e?.error_description ?? '');
  process.exit(1);
}
