// A real OpenID provider on 127.0.0.1 for the console's sign-in tests (oidc-provider from npm,
// installed into tools/ by `make tools`). Usage: node server.mjs PORT REDIRECT_URI TOOLS_DIR
// Prints "ready ISSUER". Its development login page takes any login name (no password check):
// the login name is the e-mail address, and the groups claim follows from it:
//   eind...@  -> ["eindredactie"];  geengroep...@ -> [];  anything else -> ["redactie"].
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

const issuer = `http://127.0.0.1:${port}`;
const provider = new Provider(issuer, {
  clients: [{
    client_id: 'console', client_secret: 'console-secret',
    redirect_uris: [redirectUri], grant_types: ['authorization_code'], response_types: ['code'],
  }],
  features: { devInteractions: { enabled: true } },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'], groups: ['groups'] },
  scopes: ['openid', 'email', 'profile', 'groups'],
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
provider.listen(port, '127.0.0.1', () => console.log(`ready ${issuer}`));
