/**
 * Identities of runs and stages: a hash of canonical JSON (keys sorted), so equal configs get
 * equal keys however their files were written.
 *
 * @module
 */
import { LABEL_FIELDS, type RunConfig } from "./schema.ts";

/**
 * Version of what a run record means; bumped when training or evaluation changes what a
 * record holds, so records made by older code are recomputed rather than shown beside new ones.
 */
export const RUN_RECORD_VERSION = 3;

/** JSON with object keys sorted at every level. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(
    value,
    (_k, v) =>
      v && typeof v === "object" && !Array.isArray(v)
        ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, v[k]]))
        : v,
  );
}

/** Hex SHA-256 of `text` (its first `hexDigits` digits). */
export async function sha256Hex(text: string, hexDigits = 64): Promise<string> {
  const hash = new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)),
  );
  return [...hash].map((b) => b.toString(16).padStart(2, "0")).join("").slice(0, hexDigits);
}

/** Hex SHA-256 (first `hexDigits`) of the canonical JSON of `value`. */
export function contentKey(value: unknown, hexDigits = 16): Promise<string> {
  return sha256Hex(canonicalJson(value), hexDigits);
}

/**
 * The part of a config that decides what a run computes (labels left out). Keys added after
 * record version 3 are left out while they hold their no-op value (`eval.extraInputSizes`
 * empty), so the runs made before they existed keep their keys.
 */
export function computedPart(cfg: RunConfig): Omit<RunConfig, "name" | "description"> {
  const out = { ...cfg } as Partial<RunConfig>;
  for (const f of LABEL_FIELDS) delete out[f];
  if (cfg.eval && (cfg.eval.extraInputSizes?.length ?? 0) === 0) {
    const { extraInputSizes: _none, ...evalRest } = cfg.eval;
    out.eval = evalRest as RunConfig["eval"];
  }
  return out as Omit<RunConfig, "name" | "description">;
}

/**
 * A run's identity: its computed config, the identity of its data (dataset descriptor,
 * anchors, encoder weights) and {@link RUN_RECORD_VERSION}.
 */
export function runKey(cfg: RunConfig, dataKey: string): Promise<string> {
  return contentKey({ config: computedPart(cfg), dataKey, version: RUN_RECORD_VERSION });
}
