// A real OpenID provider on 127.0.0.1 for the console's sign-in tests and for OAuth2 mail sign-in
// (oidc-provider from npm, installed into tools/ by `make tools`).
// Usage: node server.mjs PORT REDIRECT_URI TOOLS_DIR. Prints "ready ISSUER", then "issued CLIENT"
// for every client-credentials token it hands out (tests count token requests with it).
//
// Console sign-in: its development login page takes any login name (no password check): the
// login name is the e-mail address, and the groups claim follows from it:
//   eind...@  -> ["eindredactie"];  geengroep...@ -> [];  anything else -> ["redactie"].
//
// Mail sign-in (client credentials, like an app registration in Microsoft Entra ID): `mailer`
// (secret mailer-secret) gets tokens for the mailbox statenleden@ipo.example; `mailer-elders`
// (secret elders-secret) for another mailbox, so a mail server refuses its tokens for ours;
// `mailer-cert` signs with a key instead of a secret when MAILER_CERT_JWK is set.
// The mailbox is the token's `email` claim; Dovecot's oauth2 passdb reads it by introspection
// as the client `dovecot` (secret dovecot-secret). Tokens can be revoked at /token/revocation.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [port, redirectUri, tools] = [Number(process.argv[2]), process.argv[3], process.argv[4]];
const entry = pathToFileURL(join(tools, 'node_modules', 'oidc-provider', 'lib', 'index.js'));
const { default: Provider } = await import(entry.href);

function groupsOf(login) {
  if (login.startsWith('eind')) return ['eindredactie'];
  if (login.startsWith('geengroep')) return [];
  return ['redactie'];
}

const MAILBOXES = {
  mailer: 'statenleden@ipo.example',
  'mailer-cert': 'statenleden@ipo.example',
  'mailer-elders': 'griffie@gld.example',
};
// As Microsoft Entra ID takes them: the secret in the form (client_secret_post).
const mailClient = (id, secret) => ({
  client_id: id, client_secret: secret, grant_types: ['client_credentials'],
  redirect_uris: [], response_types: [], token_endpoint_auth_method: 'client_secret_post',
});
// MAILER_CERT_JWK (a public JWK): `mailer-cert` signs in with a certificate (private_key_jwt).
const certClients = process.env.MAILER_CERT_JWK ? [{
  client_id: 'mailer-cert', grant_types: ['client_credentials'], redirect_uris: [],
  response_types: [], token_endpoint_auth_method: 'private_key_jwt',
  jwks: { keys: [JSON.parse(process.env.MAILER_CERT_JWK)] },
}] : [];

const issuer = `http://127.0.0.1:${port}`;
const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'console', client_secret: 'console-secret',
      redirect_uris: [redirectUri], grant_types: ['authorization_code'], response_types: ['code'],
    },
    mailClient('mailer', 'mailer-secret'),
    mailClient('mailer-elders', 'elders-secret'),
    { ...mailClient('dovecot', 'dovecot-secret'), token_endpoint_auth_method: 'client_secret_basic' },
    ...certClients,
  ],
  features: {
    devInteractions: { enabled: true },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
  },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'], groups: ['groups'] },
  scopes: ['openid', 'email', 'profile', 'groups', 'mail'],
  async extraTokenClaims(ctx, token) {
    if (token.kind === 'ClientCredentials' && MAILBOXES[token.clientId]) {
      return { email: MAILBOXES[token.clientId] };
    }
    return undefined;
  },
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        const name = id.split('@')[0].replace(/[.-]/g, ' ');
        return { sub: id, email: id, email_verified: true, name, groups: groupsOf(id) };
      },
    };
  },
  pkce: { required: () => false },
});
provider.on('client_credentials.saved', (token) => console.log(`issued ${token.clientId}`));
provider.listen(port, '127.0.0.1', () => console.log(`ready ${issuer}`));
