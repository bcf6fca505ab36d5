/**
 * Resolving a run configuration: defaults ← config file (and the files it `extends`) ←
 * profile overlay ← programmatic overrides ← `--set key.path=value`, each layer validated
 * against {@link RUN_CONFIG_SCHEMA} before any slow work. Every error is one line that names
 * the file (and line), the key path, the value and what is allowed; an unknown key names the
 * nearest valid one.
 *
 * @module
 */
import { dirname, join, resolve } from "node:path";
import { InputError } from "../io/errors.ts";
import { projectPath } from "../util/paths.ts";
import { DEFAULT_RUN_CONFIG, type FieldSpec, RUN_CONFIG_SCHEMA, type RunConfig } from "./schema.ts";

/** A partial config as written in a file or given in code (validated, merged over defaults). */
export type ConfigLayer = Record<string, unknown>;

/** What {@link resolveRunConfig} merges, in order. */
export interface ResolveSources {
  /** A config file (JSON); may `extends` another file, relative to itself. */
  file?: string;
  /**
   * Size of the embedded default: `configs/<dataset kind>/profile-<p>.json` goes under the file
   * (its epochs apply unless the file sets its own) and `dataset.profile` over it; other
   * dataset kinds ignore it.
   */
  profile?: string;
  /** Overrides from code (e.g. `{ train: { seed: 2 } }`). */
  override?: ConfigLayer;
  /** Overrides each named in errors by `where` (e.g. the command-line flag it came from). */
  overrides?: { layer: ConfigLayer; where: string }[];
  /** `key.path=value` overrides from the command line (value parsed as JSON, else a string). */
  set?: string[];
}

/** Where the README's experiment configs live. */
export function configsDir(): string {
  return projectPath("configs");
}

/**
 * The complete, validated config of a run.
 *
 * @example
 * ```ts
 * const cfg = await resolveRunConfig({ file: "configs/cub50/main.json", set: ["train.seed=1"] });
 * ```
 */
export async function resolveRunConfig(sources: ResolveSources = {}): Promise<RunConfig> {
  const fileLayers = sources.file === undefined ? [] : await readConfigChain(sources.file);
  let merged: ConfigLayer = structuredClone(DEFAULT_RUN_CONFIG) as unknown as ConfigLayer;
  const kindOf = (c: ConfigLayer) => (c.dataset as { kind: string }).kind;
  const fileOnly = fileLayers.reduce(mergeLayer, merged);
  // the profile's overlay goes under the file (a file's own epochs win), the profile itself over it
  const profile = sources.profile;
  const overlay = profile === undefined
    ? null
    : join(configsDir(), kindOf(fileOnly), `profile-${profile}.json`);
  if (overlay !== null && (await isFile(overlay))) {
    for (const layer of await readConfigChain(overlay)) merged = mergeLayer(merged, layer);
  }
  for (const layer of fileLayers) merged = mergeLayer(merged, layer);
  if (profile !== undefined && kindOf(merged) === "default") {
    merged = mergeLayer(merged, checkedLayer({ dataset: { profile } }, "--profile"));
  }
  if (sources.override) merged = mergeLayer(merged, checkedLayer(sources.override, "override"));
  for (const o of sources.overrides ?? []) {
    merged = mergeLayer(merged, checkedLayer(o.layer, o.where));
  }
  for (const s of sources.set ?? []) merged = mergeLayer(merged, parseSetFlag(s));
  const cfg = merged as unknown as RunConfig;
  checkCrossFields(cfg, sources.file);
  return cfg;
}

/** Config layers of `file`, the files it extends first; each validated (keys, types, ranges). */
export async function readConfigChain(file: string, seen: string[] = []): Promise<ConfigLayer[]> {
  const path = resolve(file);
  if (seen.includes(path)) {
    throw new InputError(`'extends' forms a cycle: ${[...seen, path].join(" → ")}`, { file });
  }
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    const why = err instanceof Deno.errors.NotFound ? "file not found" : (err as Error).message;
    throw new InputError(`cannot read config: ${why}`, { file });
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new InputError(`not valid JSON: ${(err as Error).message}`, {
      file,
      line: jsonErrorLine(text, err as Error),
    });
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    throw new InputError(
      `a config must be a JSON object ({...}), got ${describeType(data)}`,
      { file },
    );
  }
  const { extends: parent, ...rest } = data as ConfigLayer;
  const chain: ConfigLayer[] = [];
  if (parent !== undefined) {
    if (typeof parent !== "string" || parent === "") {
      throw new InputError(`'extends' must be a file path, got ${JSON.stringify(parent)}`, {
        file,
        line: keyLine(text, ["extends"]),
      });
    }
    chain.push(...await readConfigChain(join(dirname(path), parent), [...seen, path]));
  }
  chain.push(checkedLayer(rest, file, text));
  return chain;
}

/**
 * Validate one partial layer against the schema; returns it unchanged. `where` names the file
 * (or flag) in errors; `text` (the file's JSON) lets errors give a line.
 */
export function checkedLayer(layer: unknown, where: string, text?: string): ConfigLayer {
  checkValue(layer, RUN_CONFIG_SCHEMA, [], where, text, true);
  return layer as ConfigLayer;
}

/** `train.epochs=5` → `{ train: { epochs: 5 } }`, validated; errors name the flag. */
export function parseSetFlag(s: string): ConfigLayer {
  const eq = s.indexOf("=");
  return checkedLayer(setLayer(s), `--set ${eq > 0 ? s.slice(0, eq) : s}`);
}

/**
 * A one-key layer from `key.path=value` (value parsed as JSON, else kept as a string), not
 * yet validated.
 */
export function setLayer(s: string): ConfigLayer {
  const eq = s.indexOf("=");
  if (eq <= 0) {
    throw new InputError(`--set takes key.path=value (e.g. train.epochs=5), got '${s}'`);
  }
  const path = s.slice(0, eq).trim().split(".");
  const raw = s.slice(eq + 1).trim();
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    value = raw; // a bare word: a string
  }
  const layer: ConfigLayer = {};
  let at = layer;
  path.forEach((k, i) => {
    if (i === path.length - 1) at[k] = value;
    else at = (at[k] = {}) as ConfigLayer;
  });
  return layer;
}

function checkValue(
  value: unknown,
  spec: FieldSpec,
  path: string[],
  where: string,
  text: string | undefined,
  partial: boolean,
): void {
  const fail = (what: string) => {
    const key = path.join(".");
    throw new InputError(
      `${key} must be ${what}, got ${JSON.stringify(value)}${
        typeof value === "string" && spec.kind !== "string" && spec.kind !== "enum"
          ? " (a string)"
          : ""
      }`,
      { file: where, line: text ? keyLine(text, path) : undefined },
    );
  };
  switch (spec.kind) {
    case "nullable":
      if (value !== null) checkValue(value, spec.inner, path, where, text, partial);
      return;
    case "bool":
      if (typeof value !== "boolean") fail("true or false");
      return;
    case "list": {
      const most = spec.maxLength === undefined ? "" : ` of at most ${spec.maxLength}`;
      if (
        !Array.isArray(value) || (spec.maxLength !== undefined && value.length > spec.maxLength)
      ) {
        fail(`a list${most} (e.g. [448])`);
      }
      (value as unknown[]).forEach((v, i) =>
        checkValue(v, spec.item, [...path, String(i)], where, text, partial)
      );
      return;
    }
    case "string":
      if (typeof value !== "string" || (spec.nonEmpty && value === "")) {
        fail(spec.nonEmpty ? "a non-empty string" : "a string");
      }
      return;
    case "enum":
      if (typeof value !== "string" || !spec.values.includes(value)) {
        fail(`one of ${spec.values.map((v) => `"${v}"`).join(", ")}`);
      }
      return;
    case "int":
    case "number": {
      const isInt = spec.kind === "int";
      const what = rangeText(spec);
      if (typeof value !== "number" || !Number.isFinite(value)) fail(what);
      const v = value as number;
      if (isInt && !Number.isInteger(v)) fail(what);
      if (spec.min !== undefined && v < spec.min) fail(what);
      if (spec.max !== undefined && v > spec.max) fail(what);
      if (spec.kind === "number" && spec.above !== undefined && !(v > spec.above)) fail(what);
      return;
    }
    case "object": {
      if (typeof value !== "object" || value === null || Array.isArray(value)) {
        if (path.length === 0) {
          throw new InputError(`a config must be a JSON object, got ${describeType(value)}`, {
            file: where,
          });
        }
        fail("an object");
      }
      const obj = value as Record<string, unknown>;
      for (const [k, v] of Object.entries(obj)) {
        const sub = spec.fields[k];
        if (!sub) {
          const near = nearestKey(k, Object.keys(spec.fields));
          const full = [...path, k].join(".");
          const hint = near
            ? ` (did you mean '${[...path, near].join(".")}'?)`
            : ` (valid keys: ${Object.keys(spec.fields).join(", ")})`;
          throw new InputError(`unknown key '${full}'${hint}`, {
            file: where,
            line: text ? keyLine(text, [...path, k]) : undefined,
          });
        }
        checkValue(v, sub, [...path, k], where, text, partial);
      }
      if (!partial) {
        for (const k of Object.keys(spec.fields)) {
          if (!(k in obj)) {
            throw new InputError(`missing key '${[...path, k].join(".")}'`, { file: where });
          }
        }
      }
      return;
    }
  }
}

function rangeText(spec: Extract<FieldSpec, { kind: "int" | "number" }>): string {
  const base = spec.kind === "int" ? "an integer" : "a number";
  const parts: string[] = [];
  if (spec.kind === "number" && spec.above !== undefined) parts.push(`> ${spec.above}`);
  if (spec.min !== undefined) parts.push(`≥ ${spec.min}`);
  if (spec.max !== undefined) parts.push(`≤ ${spec.max}`);
  return parts.length ? `${base} ${parts.join(" and ")}` : base;
}

function describeType(v: unknown): string {
  if (Array.isArray(v)) return "an array";
  if (v === null) return "null";
  return typeof v === "object" ? "an object" : `${typeof v} ${JSON.stringify(v)}`;
}

/** Deep merge: objects merge key by key, everything else replaces. */
export function mergeLayer(base: ConfigLayer, over: ConfigLayer): ConfigLayer {
  const out: ConfigLayer = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isPlainObject(v) && isPlainObject(b)
      ? mergeLayer(b as ConfigLayer, v as ConfigLayer)
      : structuredClone(v);
  }
  return out;
}

function isPlainObject(v: unknown): boolean {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Checks between fields that the per-key schema cannot express. */
function checkCrossFields(cfg: RunConfig, file?: string): void {
  if (cfg.dataset.kind === "folder" && cfg.dataset.path === null) {
    throw new InputError("dataset.kind 'folder' needs dataset.path (the dataset folder)", {
      file,
    });
  }
  const d = cfg.model.decoder;
  if (d.kind === "transformer" && cfg.anchors.projDim !== null && cfg.anchors.projDim % d.heads) {
    throw new InputError(
      `model.decoder.heads (${d.heads}) must divide anchors.projDim (${cfg.anchors.projDim})`,
      { file },
    );
  }
}

/** The closest of `keys` to `k` (edit distance ≤ max(2, |k|/3)), or null. */
export function nearestKey(k: string, keys: string[]): string | null {
  let best: string | null = null, bestD = Infinity;
  for (const c of keys) {
    const d = editDistance(k.toLowerCase(), c.toLowerCase());
    if (d < bestD) [best, bestD] = [c, d];
  }
  return bestD <= Math.max(2, Math.floor(k.length / 3)) ? best : null;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

/** 1-based line of the last key of `path` in a JSON text (searched in nesting order), or undefined. */
export function keyLine(text: string, path: string[]): number | undefined {
  let at = 0;
  for (const k of path) {
    const re = new RegExp(`"${k.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}"\\s*:`, "g");
    re.lastIndex = at;
    const m = re.exec(text);
    if (!m) return undefined;
    at = m.index;
  }
  return text.slice(0, at).split("\n").length;
}

function jsonErrorLine(text: string, err: Error): number | undefined {
  const line = /line (\d+)/.exec(err.message);
  if (line) return Number(line[1]);
  const pos = /position (\d+)/.exec(err.message);
  return pos ? text.slice(0, Number(pos[1])).split("\n").length : undefined;
}

async function isFile(p: string): Promise<boolean> {
  try {
    return (await Deno.stat(p)).isFile;
  } catch {
    return false;
  }
}
