// samlify 2 (npm) as the upstream SAML IdP in front of usher's service provider
// (issue 5, item 8). Driven by crates/usher-saml/tests/upstream/interop.rs: reads
// one JSON job on stdin, prints one JSON line on stdout, exits non-zero on error.
//
// Job: { mode: "sp-initiated" | "idp-initiated", template: "default" | "custom",
//        sp_metadata, idp_entity_id, sso_url, idp_key_pem, idp_cert_pem,
//        redirect_url (sp-initiated: usher's Location header), user: {...} }
// sp-initiated: samlify parses usher's AuthnRequest from the redirect URL and
// verifies its signature over the raw query (octet string) with the certificate
// in usher's SP metadata, then answers it. idp-initiated: no request.
// Output: { saml_response (base64), relay_state, request_id, sp_entity_id }.
'use strict';

const saml = require('samlify');
const validator = require('@authenio/samlify-node-xmllint');

saml.setSchemaValidator(validator);

// Custom template: an AuthnStatement with a SessionIndex and a multi-valued
// attribute, which samlify's default template does not have.
function customTemplate(solicited) {
  const irt = solicited ? ' InResponseTo="{InResponseTo}"' : '';
  return '<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{ID}" Version="2.0" IssueInstant="{IssueInstant}" Destination="{Destination}"' + irt + '>'
    + '<saml:Issuer>{Issuer}</saml:Issuer><samlp:Status><samlp:StatusCode Value="{StatusCode}"/></samlp:Status>'
    + '<saml:Assertion ID="{AssertionID}" Version="2.0" IssueInstant="{IssueInstant}"><saml:Issuer>{Issuer}</saml:Issuer>'
    + '<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">{NameID}</saml:NameID>'
    + '<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="{SubjectConfirmationDataNotOnOrAfter}" Recipient="{SubjectRecipient}"' + irt + '/></saml:SubjectConfirmation></saml:Subject>'
    + '<saml:Conditions NotBefore="{ConditionsNotBefore}" NotOnOrAfter="{ConditionsNotOnOrAfter}"><saml:AudienceRestriction><saml:Audience>{Audience}</saml:Audience></saml:AudienceRestriction></saml:Conditions>'
    + '<saml:AuthnStatement AuthnInstant="{IssueInstant}" SessionIndex="{SessionIndex}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>'
    + '<saml:AttributeStatement><saml:Attribute Name="mail"><saml:AttributeValue>{Mail}</saml:AttributeValue></saml:Attribute>'
    + '<saml:Attribute Name="groups"><saml:AttributeValue>{Group1}</saml:AttributeValue><saml:AttributeValue>{Group2}</saml:AttributeValue></saml:Attribute>'
    + '<saml:Attribute Name="displayName"><saml:AttributeValue>{DisplayName}</saml:AttributeValue></saml:Attribute></saml:AttributeStatement>'
    + '</saml:Assertion></samlp:Response>';
}

function readStdin() {
  return new Promise((resolve, reject) => {
    let data = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (c) => { data += c; });
    process.stdin.on('end', () => resolve(data));
    process.stdin.on('error', reject);
  });
}

async function main() {
  const job = JSON.parse(await readStdin());
  const solicited = job.mode === 'sp-initiated';
  const idpSettings = {
    entityID: job.idp_entity_id,
    privateKey: job.idp_key_pem,
    signingCert: job.idp_cert_pem,
    isAssertionEncrypted: false,
    wantAuthnRequestsSigned: true,
    nameIDFormat: ['urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress'],
    singleSignOnService: [
      { Binding: saml.Constants.namespace.binding.redirect, Location: job.sso_url },
    ],
  };
  if (job.template === 'custom') {
    idpSettings.loginResponseTemplate = { context: customTemplate(solicited) };
  }
  const idp = saml.IdentityProvider(idpSettings);
  const sp = saml.ServiceProvider({ metadata: job.sp_metadata });

  let requestInfo = {};
  let relayState;
  if (solicited) {
    const url = new URL(job.redirect_url);
    const raw = url.search.slice(1);
    const octetString = raw.slice(0, raw.indexOf('&Signature='));
    const query = {};
    for (const [k, v] of url.searchParams) query[k] = v;
    requestInfo = await idp.parseLoginRequest(sp, 'redirect', { query, octetString });
    relayState = query.RelayState;
  }
  const user = job.user;
  const custom = job.template !== 'custom' ? undefined : (template) => {
    const id = idp.entitySetting.generateID();
    const now = new Date();
    const later = new Date(now.getTime() + 5 * 60 * 1000);
    const acs = sp.entityMeta.getAssertionConsumerService('post');
    const values = {
      ID: id,
      AssertionID: idp.entitySetting.generateID(),
      Destination: acs,
      Audience: sp.entityMeta.getEntityID(),
      SubjectRecipient: acs,
      Issuer: idp.entityMeta.getEntityID(),
      IssueInstant: now.toISOString(),
      StatusCode: saml.Constants.StatusCode.Success,
      ConditionsNotBefore: now.toISOString(),
      ConditionsNotOnOrAfter: later.toISOString(),
      SubjectConfirmationDataNotOnOrAfter: later.toISOString(),
      InResponseTo: solicited ? requestInfo.extract.request.id : '',
      NameID: user.name_id,
      SessionIndex: user.session_index,
      Mail: user.email,
      Group1: user.groups[0],
      Group2: user.groups[1],
      DisplayName: user.display_name,
    };
    return { id, context: saml.SamlLib.replaceTagsByValue(template, values) };
  };
  const res = await idp.createLoginResponse(sp, requestInfo, 'post', user, custom, false, relayState);
  process.stdout.write(JSON.stringify({
    saml_response: res.context,
    relay_state: relayState || null,
    request_id: solicited ? requestInfo.extract.request.id : null,
    sp_entity_id: sp.entityMeta.getEntityID(),
  }) + '\n');
}

main().catch((e) => {
  process.stderr.write(`samlify_idp.js: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
