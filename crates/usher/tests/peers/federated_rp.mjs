// The whole federation chain, driven the way a browser and an app would:
// openid-client 6 (the downstream app) signs in at usher, which sends the browser
// to the upstream IdP (oidc-provider, or samlify); the browser posts the IdP's dev
// login and consent forms (and a SAML IdP's auto-posting form), comes back through
// usher's callback or ACS and /login/federated, and the app gets its code and
// id_token from usher.
//
// Usage: node federated_rp.mjs '<json>'
//   { "peers", "base": usher URL, "client_id", "client_secret", "redirect_uri",
//     "runs": [{ "name", "login": "<account>", "idp_hint": "<upstream id>" }] }
// Prints `RESULT <json>`: per run { name, ok, claims?, userinfo?, status?, page? }.
//
// Login CSRF at the hand-off (runs by name, in order):
//   { "name", "stop_at_handoff": true, ... }  stops before /login/federated and
//       reports { handoff: URL }; `start` (e.g. a SAML IdP's IdP-initiated URL)
//       replaces the app's authorization request.
//   { "name", "open_handoff_of": NAME }  a fresh browser (the victim) opens that URL.
//   { "name", "resume": NAME }  the stopped browser follows its URL to the end.
// Those report `session`: whether the browser holds an usher session cookie.

import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const config = JSON.parse(process.argv[2]);
const oc = await import(
  pathToFileURL(join(config.peers, 'node_modules', 'openid-client', 'build', 'index.js')).href
);
const log = (...args) => console.error('[fed-rp]', ...args);

class CookieJar {
  constructor() { this.byHost = new Map(); }
  jar(url) {
    if (!this.byHost.has(url.host)) this.byHost.set(url.host, new Map());
    return this.byHost.get(url.host);
  }
  store(url, response) {
    const jar = this.jar(url);
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
      if (expired || value === '') jar.delete(name);
      else jar.set(name, value);
    }
  }
  header(url) {
    return [...this.jar(url)].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

const unescapeHtml = (s) => s
  .replace(/&#x([0-9a-f]+);/gi, (_, h) => String.fromCodePoint(parseInt(h, 16)))
  .replace(/&#([0-9]+);/g, (_, d) => String.fromCodePoint(Number(d)))
  .replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

function form(html, fill) {
  const m = html.match(/<form\b[^>]*method="post"[^>]*>([\s\S]*?)<\/form>/i);
  if (!m) return null;
  const open = m[0].slice(0, m[0].indexOf('>') + 1);
  const action = unescapeHtml((open.match(/action="([^"]*)"/i) ?? [])[1] ?? '');
  const fields = new URLSearchParams();
  for (const input of m[1].match(/<input\b[^>]*>/gi) ?? []) {
    const name = (input.match(/\sname="([^"]*)"/i) ?? [])[1];
    if (!name) continue;
    const value = (input.match(/\svalue="([^"]*)"/i) ?? [])[1];
    fields.set(name, name in fill ? fill[name] : unescapeHtml(value ?? ''));
  }
  return { action, fields };
}

// Follows redirects and posts the IdP's forms until the browser reaches `stopAt`
// (the app's redirect URI); a page that is neither is the end of the road.
const visited = [];
async function browse(jar, start, stopAt, login, stopAtHandoff = false) {
  let url = new URL(start);
  let method = 'GET';
  let body;
  for (let hop = 0; hop < 30; hop++) {
    if (url.href.startsWith(stopAt)) return { url };
    if (stopAtHandoff && url.pathname === '/login/federated') return { handoff: url.href };
    const headers = { accept: 'text/html' };
    const cookie = jar.header(url);
    if (cookie) headers.cookie = cookie;
    if (body) headers['content-type'] = 'application/x-www-form-urlencoded';
    let response;
    try {
      response = await fetch(url, { method, headers, body, redirect: 'manual' });
    } catch (e) {
      throw new Error(`${method} ${url.href} failed: ${e.cause ?? e}`);
    }
    jar.store(url, response);
    if ([301, 302, 303, 307, 308].includes(response.status)) {
      url = new URL(response.headers.get('location'), url);
      method = 'GET';
      body = undefined;
      continue;
    }
    const html = await response.text();
    // usher's /continue page moves on with a meta refresh.
    const refresh = html.match(/http-equiv="refresh" content="0;\s*url=([^"]+)"/i);
    if (response.status === 200 && refresh) {
      url = new URL(unescapeHtml(refresh[1]), url);
      method = 'GET';
      body = undefined;
      continue;
    }
    // oidc-provider's dev interactions: the login form, then consent.
    if (response.status === 200 && /name="prompt" value="login"/.test(html)) {
      const f = form(html, { login, password: 'any' });
      url = new URL(f.action, url); method = 'POST'; body = f.fields.toString();
      continue;
    }
    // oidc-provider's RP-initiated logout confirmation.
    if (response.status === 200 && /op\.logoutForm/.test(html)) {
      const f = form(html, {});
      f.fields.set('logout', 'yes');
      visited.push('upstream-logout');
      url = new URL(f.action, url); method = 'POST'; body = f.fields.toString();
      continue;
    }
    if (response.status === 200 && /name="prompt" value="consent"/.test(html)) {
      const f = form(html, {});
      url = new URL(f.action, url); method = 'POST'; body = f.fields.toString();
      continue;
    }
    // A SAML IdP's auto-submitting HTTP-POST binding form (Bindings §3.5).
    if (response.status === 200 && /name="SAMLResponse"/.test(html)) {
      const f = form(html, {});
      url = new URL(f.action, url); method = 'POST'; body = f.fields.toString();
      continue;
    }
    const text = html.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim();
    return { status: response.status, path: url.pathname, page: text.slice(0, 600) };
  }
  throw new Error('too many hops');
}

const as = await oc.discovery(new URL(config.base), config.client_id, {}, oc.ClientSecretBasic(config.client_secret), {
  execute: [oc.allowInsecureRequests],
});

const hasSession = (jar) => [...jar.jar(new URL(config.base)).keys()]
  .some((k) => k.endsWith('usher_session'));

async function finish(run, jar, end, { verifier, nonce, state }) {
  if (!end.url) {
    log(run.name, 'ended on a page', end.status, end.path);
    return { name: run.name, ok: false, session: hasSession(jar), ...end };
  }
  const tokens = await oc.authorizationCodeGrant(as, end.url, {
    pkceCodeVerifier: verifier,
    expectedNonce: nonce,
    expectedState: state,
    idTokenExpected: true,
  });
  const claims = tokens.claims();
  const userinfo = await oc.fetchUserInfo(as, tokens.access_token, claims.sub);
  return { name: run.name, ok: true, session: hasSession(jar), claims, userinfo };
}

const stopped = new Map();
const results = [];
for (const run of config.runs) {
  if (run.open_handoff_of || run.resume) {
    const s = stopped.get(run.open_handoff_of ?? run.resume);
    if (!s) throw new Error(`${run.name}: no stopped run ${run.open_handoff_of ?? run.resume}`);
    const jar = run.resume ? s.jar : new CookieJar();
    const end = await browse(jar, s.handoff, config.redirect_uri, s.run.login);
    results.push(await finish(run, jar, end, s.params));
    continue;
  }
  const jar = new CookieJar();
  const verifier = oc.randomPKCECodeVerifier();
  const nonce = oc.randomNonce();
  const state = oc.randomState();
  const params = {
    redirect_uri: config.redirect_uri,
    scope: 'openid email profile groups',
    code_challenge: await oc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    nonce,
    state,
  };
  if (run.idp_hint) params.kc_idp_hint = run.idp_hint;
  if (run.login_hint) params.login_hint = run.login_hint;
  const start = run.start ?? oc.buildAuthorizationUrl(as, params).href;
  const end = await browse(jar, start, config.redirect_uri, run.login, run.stop_at_handoff);
  if (end.handoff) {
    stopped.set(run.name, { run, jar, handoff: end.handoff, params: { verifier, nonce, state } });
    results.push({ name: run.name, ok: false, handoff: end.handoff });
    continue;
  }
  if (!end.url) {
    log(run.name, 'ended on a page', end.status, end.path);
    results.push({ name: run.name, ok: false, ...end });
    continue;
  }
  const tokens = await oc.authorizationCodeGrant(as, end.url, {
    pkceCodeVerifier: verifier,
    expectedNonce: nonce,
    expectedState: state,
    idTokenExpected: true,
  });
  const claims = tokens.claims();
  const userinfo = await oc.fetchUserInfo(as, tokens.access_token, claims.sub);
  const result = { name: run.name, ok: true, claims, userinfo };
  // The browser's usher cookies, for a SAML SP to continue in the same session.
  if (run.export_cookies) result.cookies = Object.fromEntries(jar.jar(new URL(config.base)));
  if (run.logout) {
    // RP-initiated logout at usher, which ends the upstream's session too and
    // comes back to the app's post-logout URL.
    visited.length = 0;
    const endUrl = oc.buildEndSessionUrl(as, {
      id_token_hint: tokens.id_token,
      post_logout_redirect_uri: config.post_logout_redirect_uri,
      state: 'app-state',
    });
    const done = await browse(jar, endUrl.href, config.post_logout_redirect_uri, run.login);
    result.logout = {
      back_at_app: Boolean(done.url),
      state: done.url?.searchParams.get('state'),
      upstream_logout: visited.includes('upstream-logout'),
      ended_at: done.url ? undefined : done,
    };
  }
  results.push(result);
}
console.log(`RESULT ${JSON.stringify(results)}`);
