// oidc-provider 9 (npm, an OpenID-certified OP this project did not write) as
// usher's upstream IdP. Accounts come from a JSON file re-read at every sign-in, so
// the test can change someone's groups between logins. devInteractions gives the
// login and consent forms the federated_rp.mjs "browser" posts.
//
// Usage: node upstream_op.mjs '<json>'
//   { "peers": "/abs/target-peers/node", "port": 1234, "accounts": "/abs/accounts.json",
//     "client": { "client_id", "client_secret", "redirect_uris": [..],
//                 "post_logout_redirect_uris": [..] } }
// accounts.json: { "<login>": { "sub": "...", "email": "...", ... claims } }
// Prints `READY <issuer>` once listening.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const config = JSON.parse(process.argv[2]);
const { default: Provider } = await import(
  pathToFileURL(join(config.peers, 'node_modules', 'oidc-provider', 'lib', 'index.js')).href
);

const issuer = `http://127.0.0.1:${config.port}`;
const accounts = () => JSON.parse(readFileSync(config.accounts, 'utf8'));

const provider = new Provider(issuer, {
  clients: [{
    ...config.client,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  scopes: ['openid', 'email', 'profile', 'groups'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['preferred_username', 'name', 'given_name', 'family_name'],
    groups: ['groups'],
  },
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
  pkce: { required: () => true },
  // The dev login form takes any login: it is the account id.
  async findAccount(ctx, id) {
    const account = accounts()[id];
    if (!account) return undefined;
    return {
      accountId: id,
      async claims() { return { ...account, sub: account.sub ?? id }; },
    };
  },
  cookies: { keys: ['usher-interop-cookie-key'] },
});
provider.proxy = false;

const server = provider.listen(config.port, '127.0.0.1', () => {
  console.log(`READY ${issuer}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
