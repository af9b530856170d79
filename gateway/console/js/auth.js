// Sign-in. The credential (an API key, or an access token from the identity provider) is kept in
// sessionStorage: for this browser tab's session only, never in localStorage or a cookie.

const CREDENTIAL = "quarterdeck.credential";
const PENDING = "quarterdeck.oidc";

export function credential() {
  const raw = sessionStorage.getItem(CREDENTIAL);
  if (!raw) return null;
  try {
    const c = JSON.parse(raw);
    if (c.expiresAt && Date.now() >= c.expiresAt) {
      sessionStorage.removeItem(CREDENTIAL);
      return null;
    }
    return c;
  } catch {
    sessionStorage.removeItem(CREDENTIAL);
    return null;
  }
}

export function signInWithKey(key) {
  sessionStorage.setItem(CREDENTIAL, JSON.stringify({ kind: "key", token: key.trim() }));
}

export function signOut() {
  sessionStorage.removeItem(CREDENTIAL);
  sessionStorage.removeItem(PENDING);
}

function base64url(bytes) {
  let s = "";
  for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function random(n = 32) {
  return base64url(crypto.getRandomValues(new Uint8Array(n)));
}

// redirectURI is the console's own page: the identity provider sends the browser back to it.
export function redirectURI() {
  return location.origin + "/console/";
}

async function discover(issuer) {
  const res = await fetch(issuer + "/.well-known/openid-configuration", { headers: { Accept: "application/json" } });
  if (!res.ok) throw new Error(`the identity provider's discovery document answered ${res.status}`);
  const doc = await res.json();
  if (doc.issuer !== issuer) throw new Error(`the discovery document names issuer ${doc.issuer}, not ${issuer}`);
  if (!doc.authorization_endpoint || !doc.token_endpoint) throw new Error("the discovery document has no authorization or token endpoint");
  const methods = doc.code_challenge_methods_supported;
  if (Array.isArray(methods) && !methods.includes("S256")) throw new Error("the identity provider does not support PKCE with S256");
  return doc;
}

// startOIDC sends the browser to the identity provider: authorization code with PKCE (S256),
// a state against cross-site request forgery and a nonce.
export async function startOIDC(oidc) {
  const doc = await discover(oidc.issuer);
  const verifier = random(48);
  const challenge = base64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  const state = random();
  const nonce = random();
  sessionStorage.setItem(PENDING, JSON.stringify({ verifier, state, nonce, tokenEndpoint: doc.token_endpoint, clientId: oidc.clientId }));
  const u = new URL(doc.authorization_endpoint);
  u.search = new URLSearchParams({
    response_type: "code", client_id: oidc.clientId, redirect_uri: redirectURI(), scope: oidc.scopes,
    state, nonce, code_challenge: challenge, code_challenge_method: "S256",
  }).toString();
  location.assign(u.toString());
}

// finishOIDC completes a sign-in when the page is loaded back from the identity provider with a
// code: it checks the state, exchanges the code and the verifier for tokens, and removes the code
// from the address bar. It returns false when the page was not such a return.
export async function finishOIDC() {
  const params = new URLSearchParams(location.search);
  if (!params.has("code") && !params.has("error")) return false;
  history.replaceState(null, "", location.pathname + location.hash);
  const pending = JSON.parse(sessionStorage.getItem(PENDING) || "null");
  sessionStorage.removeItem(PENDING);
  if (params.has("error")) throw new Error(`the identity provider refused the sign-in: ${params.get("error")} ${params.get("error_description") || ""}`.trim());
  if (!pending || params.get("state") !== pending.state) throw new Error("the sign-in's state does not match: start it again");
  const res = await fetch(pending.tokenEndpoint, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
    body: new URLSearchParams({
      grant_type: "authorization_code", code: params.get("code"), redirect_uri: redirectURI(),
      client_id: pending.clientId, code_verifier: pending.verifier,
    }),
  });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(`the token endpoint answered ${res.status}: ${body.error || ""}`.trim());
  if (body.id_token && !idTokenNonceMatches(body.id_token, pending.nonce)) throw new Error("the ID token's nonce does not match the sign-in's");
  // The gateway takes JWTs: the access token when the provider issues one as a JWT, else the ID token.
  const token = isJWT(body.access_token) ? body.access_token : body.id_token;
  if (!token) throw new Error("the token endpoint returned no JWT");
  const expiresAt = body.expires_in ? Date.now() + Number(body.expires_in) * 1000 : undefined;
  sessionStorage.setItem(CREDENTIAL, JSON.stringify({ kind: "oidc", token, expiresAt }));
  return true;
}

function isJWT(t) {
  return typeof t === "string" && t.split(".").length === 3;
}

function idTokenNonceMatches(jwt, nonce) {
  try {
    const payload = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(payload)).nonce === nonce;
  } catch {
    return false;
  }
}
