// The authentication side of a SCIM app, in front of scim2-server (which knows
// only one static bearer token): a gate that checks what usher's connector sends
// and forwards accepted requests to scim2-server with its token.
//
// - basic: `Authorization: Basic` must carry the configured user and password.
// - oauth: oidc-provider 9 (npm, an OpenID-certified authorization server this
//   project did not write) issues client-credentials access tokens at /token;
//   the gate accepts a bearer token only if oidc-provider finds it valid
//   (`ClientCredentials.find`: issued by it, not expired, not revoked) with the
//   required scope, as a resource server would by introspection.
//
// Usage: node scim_gate.mjs '<json>'
//   { "peers": "/abs/target-peers/node", "port": 1234,
//     "upstream": "http://127.0.0.1:P/v2", "upstream_token": "...",
//     "tls": { "cert": "/abs/cert.pem", "key": "/abs/key.pem" }  (optional: serve https)
//     "basic": { "username", "password" }                       (or)
//     "oauth": { "port": 1235, "ttl": 3600, "scope": "scim",
//                "clients": [{ "client_id", "client_secret", "token_endpoint_auth_method" }] } }
// Prints `READY` once both listen.
//
// Control, for the test (not forwarded): GET /_gate/stats gives
// { token_requests, scim_requests, refused, client_secret_basic, client_secret_post }; POST /_gate/revoke revokes every
// token issued so far; POST /_gate/refuse makes the gate refuse every token.

import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const config = JSON.parse(process.argv[2]);
const upstream = new URL(config.upstream);
const stats = {
  token_requests: 0, scim_requests: 0, refused: 0, client_secret_basic: 0, client_secret_post: 0,
};
let refuseAll = false;

let provider;
const issued = [];
if (config.oauth) {
  const { default: Provider } = await import(
    pathToFileURL(join(config.peers, 'node_modules', 'oidc-provider', 'lib', 'index.js')).href
  );
  provider = new Provider(`http://127.0.0.1:${config.oauth.port}`, {
    clients: config.oauth.clients.map((c) => ({
      ...c,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      scope: config.oauth.scope,
    })),
    // A second scope the server knows but the client may not ask for
    // (invalid_scope, RFC 6749 §5.2).
    scopes: [config.oauth.scope, 'admin'],
    features: {
      clientCredentials: { enabled: true },
      devInteractions: { enabled: false },
    },
    ttl: { ClientCredentials: config.oauth.ttl },
    cookies: { keys: ['usher-scim-gate-cookie-key'] },
  });
  provider.proxy = false;
  provider.use(async (ctx, next) => {
    if (ctx.path === '/token') {
      stats.token_requests += 1;
      // How the client authenticated (RFC 6749 §2.3.1): oidc-provider takes
      // either method from a client registered with one, so the gate tells.
      const basic = (ctx.get('authorization') || '').startsWith('Basic ');
      stats[basic ? 'client_secret_basic' : 'client_secret_post'] += 1;
    }
    await next();
  });
  provider.on('client_credentials.saved', (token) => issued.push(token));
}

async function accepted(authorization) {
  if (refuseAll || !authorization) return false;
  if (config.basic) {
    const expected = Buffer.from(`${config.basic.username}:${config.basic.password}`, 'utf8');
    return authorization === `Basic ${expected.toString('base64')}`;
  }
  const match = /^Bearer ([\x21-\x7e]+)$/.exec(authorization);
  if (!match) return false;
  const token = await provider.ClientCredentials.find(match[1]);
  return !!token && (token.scope ?? '').split(' ').includes(config.oauth.scope);
}

function control(req, res) {
  if (req.url === '/_gate/stats') {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(stats));
  } else if (req.url === '/_gate/revoke' && req.method === 'POST') {
    Promise.all(issued.splice(0).map((t) => t.destroy())).then(() => res.end('revoked'));
  } else if (req.url === '/_gate/refuse' && req.method === 'POST') {
    refuseAll = true;
    res.end('refusing');
  } else {
    res.statusCode = 404;
    res.end();
  }
}

// Over TLS when given a certificate and key (PEM files), to test verification.
const serve = (handler) => (config.tls
  ? https.createServer({ cert: readFileSync(config.tls.cert), key: readFileSync(config.tls.key) }, handler)
  : http.createServer(handler));

const gate = serve(async (req, res) => {
  if (req.url.startsWith('/_gate/')) return control(req, res);
  stats.scim_requests += 1;
  if (!(await accepted(req.headers.authorization))) {
    stats.refused += 1;
    res.statusCode = 401;
    res.setHeader('www-authenticate', config.basic ? 'Basic realm="scim"' : 'Bearer error="invalid_token"');
    res.setHeader('content-type', 'application/scim+json');
    res.end(JSON.stringify({
      schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'],
      status: '401',
      detail: 'authentication required',
    }));
    return;
  }
  const headers = { ...req.headers, authorization: `Bearer ${config.upstream_token}` };
  delete headers.host;
  const forward = http.request({
    host: upstream.hostname,
    port: upstream.port,
    method: req.method,
    path: req.url,
    headers,
  }, (answer) => {
    res.writeHead(answer.statusCode, answer.headers);
    answer.pipe(res);
  });
  forward.on('error', () => { res.statusCode = 502; res.end(); });
  req.pipe(forward);
});

let pending = config.oauth ? 2 : 1;
const ready = () => { pending -= 1; if (pending === 0) console.log('READY'); };
gate.listen(config.port, '127.0.0.1', ready);
if (provider) provider.listen(config.oauth.port, '127.0.0.1', ready);
process.on('SIGTERM', () => process.exit(0));
