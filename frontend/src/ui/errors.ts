/** Turns API errors into words for people: titles, details, and per-field messages. */
import { ApiError } from "../api/client";

export function describeError(error: unknown): { title: string; detail: string } {
  if (error instanceof ApiError) {
    if (error.status === 0) return { title: error.title, detail: error.detail };
    if (error.status === 403) return { title: "Not allowed", detail: error.detail };
    if (error.status === 429) {
      const wait = error.retryAfter ? ` Try again in ${error.retryAfter} seconds.` : "";
      return { title: "Too many attempts", detail: `${error.detail}${wait}` };
    }
    return { title: error.title, detail: error.detail };
  }
  return { title: "Something went wrong", detail: error instanceof Error ? error.message : "" };
}

/**
 * Splits a failed submit into messages for the fields the form shows and one summary for the
 * rest. `fieldForCode` maps conflict codes (e.g. `email_taken`) onto the field they concern.
 */
export function formErrors(
  error: unknown,
  fields: readonly string[],
  fieldForCode: Record<string, { field: string; message?: string }> = {},
): { fields: Record<string, string>; summary: string | null } {
  if (!error) return { fields: {}, summary: null };
  if (!(error instanceof ApiError)) return { fields: {}, summary: describeError(error).detail };
  const byCode = fieldForCode[error.code];
  if (byCode && fields.includes(byCode.field)) {
    return { fields: { [byCode.field]: byCode.message ?? error.detail }, summary: null };
  }
  const all = error.fieldErrors();
  const shown: Record<string, string> = {};
  const rest: string[] = [];
  for (const [field, message] of Object.entries(all)) {
    if (fields.includes(field)) shown[field] = message;
    else rest.push(field ? `${field}: ${message}` : message);
  }
  if (Object.keys(shown).length > 0) {
    return { fields: shown, summary: rest.length ? rest.join(" ") : null };
  }
  const described = describeError(error);
  const summary = rest.length ? rest.join(" ") : described.detail || described.title;
  return { fields: {}, summary };
}
