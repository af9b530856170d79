// A portal's calls to the Quarterdeck API through a client generated from the gateway's
// /openapi.json (openapi-typescript for the types, openapi-fetch for the calls). Nothing here is
// cast: the request bodies, the path and query parameters, the headers, the answers and the error
// details are all typed by the document. `make lint` type-checks it with `tsc --strict`.
import createClient from "openapi-fetch";
import type { components, paths } from "@quarterdeck/api";

type Schemas = components["schemas"];
export type CostCenter = Schemas["quarterdeck.budget.v1.CostCenter"];
export type Status = Schemas["google.rpc.Status"];
export type FieldViolation = Schemas["google.rpc.BadRequest.FieldViolation"];

// The result of a form's submission: the saved resource, or the error with what to show by each
// field.
export type Result<T> =
  | { ok: true; value: T }
  | { ok: false; status: Status; reason: string; violations: FieldViolation[] };

export function portalClient(baseUrl: string, token: string) {
  return createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${token}` } });
}
type Client = ReturnType<typeof portalClient>;

// reason returns the ErrorInfo reason every error carries (branch on it, not on the message).
export function reason(status: Status): string {
  for (const d of status.details) {
    if (d["@type"] === "type.googleapis.com/google.rpc.ErrorInfo") {
      return d.reason;
    }
  }
  return "UNKNOWN";
}

// fieldViolations returns the invalid fields of an INVALID_ARGUMENT answer, all of them at once.
export function fieldViolations(status: Status): FieldViolation[] {
  const out: FieldViolation[] = [];
  for (const d of status.details) {
    if (d["@type"] === "type.googleapis.com/google.rpc.BadRequest") {
      out.push(...d.fieldViolations);
    }
  }
  return out;
}

// retryAfterSeconds reads the RetryInfo of a 429, if any.
export function retryAfterSeconds(status: Status): number | undefined {
  for (const d of status.details) {
    if (d["@type"] === "type.googleapis.com/google.rpc.RetryInfo") {
      return Number.parseFloat(d.retryDelay);
    }
  }
  return undefined;
}

function failed<T>(status: Status): Result<T> {
  return { ok: false, status, reason: reason(status), violations: fieldViolations(status) };
}

// createCostCenter submits the "new cost centre" form. The Idempotency-Key makes a retry after a
// lost answer safe.
export async function createCostCenter(
  client: Client,
  form: { id: string; displayName: string; code: string; parentId?: string },
): Promise<Result<CostCenter>> {
  const body: CostCenter = { displayName: form.displayName, code: form.code };
  if (form.parentId !== undefined) {
    body.parent = `costCenters/${form.parentId}`;
  }
  const { data, error } = await client.POST("/v1/costCenters", {
    params: {
      query: { costCenterId: form.id },
      header: { "Idempotency-Key": crypto.randomUUID() },
    },
    body,
  });
  if (error !== undefined) {
    return failed(error);
  }
  return { ok: true, value: data };
}

// renameCostCenter changes a display name unless someone changed the cost centre since it was read.
export async function renameCostCenter(client: Client, read: CostCenter, id: string, displayName: string): Promise<Result<CostCenter>> {
  const { data, error } = await client.PATCH("/v1/costCenters/{costCenter}", {
    params: {
      path: { costCenter: id },
      query: { updateMask: "displayName" },
      header: { "If-Match": read.etag ?? "*" },
    },
    body: { displayName, code: read.code },
  });
  if (error !== undefined) {
    return failed(error);
  }
  return { ok: true, value: data };
}

// listCostCenters reads every active cost centre, a page at a time.
export async function listCostCenters(client: Client): Promise<CostCenter[]> {
  const all: CostCenter[] = [];
  let pageToken: string | undefined;
  do {
    const { data, error } = await client.GET("/v1/costCenters", {
      params: { query: { pageSize: 100, filter: "active = true", ...(pageToken ? { pageToken } : {}) } },
    });
    if (error !== undefined) {
      throw new Error(`listing cost centres: ${reason(error)}: ${error.message ?? ""}`);
    }
    all.push(...(data.costCenters ?? []));
    pageToken = data.nextPageToken;
  } while (pageToken);
  return all;
}

// showViolations lays the violations of a submission out by form field: `cost_center.code` is the
// "code" input.
export function showViolations(violations: FieldViolation[]): Map<string, string> {
  const byField = new Map<string, string>();
  for (const v of violations) {
    const field = v.field.replace(/^cost_center\./, "");
    byField.set(field, `${v.description} (${v.reason})`);
  }
  return byField;
}
