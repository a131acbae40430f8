/**
 * Field readers for decoded frames: each returns the typed value or throws a {@linkcode RequestError}
 * (errno 4) whose message names the field and the rule it broke.
 */
import { Errno } from "./errno.ts";
import { RequestError } from "./errors.ts";

/** A decoded frame: a JSON object. */
export type Frame = Record<string, unknown>;

function invalid(field: string, rule: string): RequestError {
  return new RequestError(Errno.INVALID_REQUEST, `invalid request: "${field}" ${rule}`);
}

/** Characters as a person counts them (code points), computed only when UTF-16 length could exceed `max`. */
function characterCount(text: string, max: number): number {
  if (text.length <= max) return text.length;
  let count = 0;
  for (const _ of text) count++;
  return count;
}

function isId(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value > 0;
}

/** A required positive integer id. */
export function requireId(frame: Frame, field: string): number {
  const value = frame[field];
  if (value === undefined || value === null) throw invalid(field, "is missing");
  if (!isId(value)) throw invalid(field, "must be a positive integer");
  return value;
}

/** An optional positive integer id (`undefined` when absent or null). */
export function optionalId(frame: Frame, field: string): number | undefined {
  const value = frame[field];
  if (value === undefined || value === null) return undefined;
  if (!isId(value)) throw invalid(field, "must be a positive integer");
  return value;
}

/** A required string of `min`..`max` characters. */
export function requireText(frame: Frame, field: string, min: number, max: number): string {
  const value = frame[field];
  if (value === undefined || value === null) throw invalid(field, "is missing");
  return checkText(value, field, min, max);
}

/** An optional string of at most `max` characters (`undefined` when absent or null). */
export function optionalText(frame: Frame, field: string, max: number): string | undefined {
  const value = frame[field];
  if (value === undefined || value === null) return undefined;
  return checkText(value, field, 0, max);
}

function checkText(value: unknown, field: string, min: number, max: number): string {
  if (typeof value !== "string") throw invalid(field, "must be a string");
  const count = characterCount(value, max);
  if (count < min) {
    throw invalid(field, min === 1 ? "must not be empty" : `must have at least ${min} characters`);
  }
  if (count > max) throw invalid(field, `must have at most ${max} characters`);
  return value;
}

/** The client's correlation id: a string or a number, echoed back as is. */
export function optionalCid(frame: Frame, max: number): string | number | undefined {
  const value = frame.cid;
  if (value === undefined || value === null) return undefined;
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (typeof value === "string" && value.length <= max) return value;
  throw invalid("cid", `must be a number or a string of at most ${max} characters`);
}

/**
 * An optional integer from `min` to `max` (`undefined` when absent or null): sequence numbers and page
 * sizes.
 */
export function optionalInteger(frame: Frame, field: string, min: number, max: number): number | undefined {
  const value = frame[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "number" || !Number.isSafeInteger(value)) throw invalid(field, "must be an integer");
  if (value < min || value > max) throw invalid(field, `must be from ${min} to ${max}`);
  return value;
}

/** A required integer from `min` to `max`. */
export function requireInteger(frame: Frame, field: string, min: number, max: number): number {
  const value = frame[field];
  if (value === undefined || value === null) throw invalid(field, "is missing");
  return optionalInteger(frame, field, min, max)!;
}

/** A required boolean (`true` or `false`, nothing that merely looks like one). */
export function requireBoolean(frame: Frame, field: string): boolean {
  const value = frame[field];
  if (value === undefined || value === null) throw invalid(field, "is missing");
  if (typeof value !== "boolean") throw invalid(field, "must be true or false");
  return value;
}
