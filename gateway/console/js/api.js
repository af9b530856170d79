// Calls to the public REST API with the signed-in caller's credential.
import { credential } from "./auth.js";

export class APIError extends Error {
  constructor(status, body) {
    super(body?.message || `HTTP ${status}`);
    this.status = status;
    this.body = body;
    const info = (body?.details || []).find((d) => d["@type"]?.endsWith("ErrorInfo"));
    this.reason = info?.reason || "";
  }
}

// unauthenticated is called when the API refuses the credential (HTTP 401).
let unauthenticated = () => {};
export function onUnauthenticated(fn) {
  unauthenticated = fn;
}

export async function get(path, params) {
  const c = credential();
  if (!c) {
    unauthenticated();
    throw new APIError(401, { message: "not signed in" });
  }
  const u = new URL(path, location.origin);
  for (const [k, v] of Object.entries(params || {})) if (v !== undefined && v !== "") u.searchParams.set(k, v);
  let res;
  for (let attempt = 1; ; attempt++) {
    res = await fetch(u, { headers: { Authorization: "Bearer " + c.token, Accept: "application/json" } });
    // The gateway's rate limit: wait as long as it says (a few seconds at most) and ask again.
    if (res.status !== 429 || attempt === 3) break;
    const wait = Math.min(Number(res.headers.get("Retry-After")) || 1, 5);
    await new Promise((resolve) => setTimeout(resolve, wait * 1000));
  }
  const body = await res.json().catch(() => null);
  if (res.status === 401) unauthenticated();
  if (!res.ok) throw new APIError(res.status, body);
  return body;
}

// list reads every page of a collection, up to max items.
export async function list(path, field, params = {}, max = 1000) {
  const items = [];
  let pageToken;
  do {
    const page = await get(path, { ...params, pageSize: Math.min(max - items.length, 500), pageToken });
    items.push(...(page?.[field] || []));
    pageToken = page?.nextPageToken;
  } while (pageToken && items.length < max);
  return items;
}

// eachLimited calls fn on every item, at most limit calls at a time, and returns their results
// in the items' order: for a call per item of a list (a framework's posture, a policy's campaign)
// without a burst of them.
export async function eachLimited(items, limit, fn) {
  const out = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

// id is the last segment of a resource name.
export function id(name) {
  return (name || "").split("/").pop();
}
