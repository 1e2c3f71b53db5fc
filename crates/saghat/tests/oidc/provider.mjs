// The OpenID provider tests/oidc.rs signs in with: panva's oidc-provider (OpenID Certified),
// with its development sign-in and consent pages. Any login name signs in; the account's claims
// follow from the name (see `claimsOf`). Configured by the environment:
//   PORT     where to listen (127.0.0.1)
//   CLIENTS  JSON array of oidc-provider client metadata (client_id, client_secret, redirect_uris)
import Provider from 'oidc-provider';

const port = Number(process.env.PORT);
const issuer = `http://127.0.0.1:${port}`;

// "boss…" is in the fund-admins group, "unverified…" has an unverified e-mail, "nomail…" none.
function claimsOf(id) {
  const claims = { sub: id, name: id, groups: id.startsWith('boss') ? ['fund-admins'] : ['members'] };
  if (!id.startsWith('nomail')) {
    claims.email = `${id}@example.test`;
    claims.email_verified = !id.startsWith('unverified');
  }
  return claims;
}

const provider = new Provider(issuer, {
  clients: JSON.parse(process.env.CLIENTS),
  findAccount: (ctx, id) => ({ accountId: id, claims: () => claimsOf(id) }),
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'], groups: ['groups'] },
  scopes: ['openid', 'email', 'profile', 'groups', 'offline_access'],
  // The claims asked for go into the ID token, so Saghat needs no userinfo call.
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
  ttl: { IdToken: 60, AuthorizationCode: 60, Session: 3600, Interaction: 600, Grant: 3600 },
  cookies: { keys: ['saghat-test-provider-cookie-key'] },
});
provider.proxy = false;

provider.listen(port, '127.0.0.1', () => {
  console.log(`listening ${issuer}`);
});
