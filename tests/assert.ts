/**
 * Minimal assertions (jsr:@std/assert cannot be fetched on the project's machines).
 * @module
 */

/** Fail with `msg` unless `cond` holds. */
export function assert(cond: unknown, msg = "assertion failed"): asserts cond {
  if (!cond) throw new Error(msg);
}

/** Deep equality via structural comparison (arrays, typed arrays, plain objects). */
export function assertEquals<T>(actual: T, expected: T, msg?: string): void {
  if (!deepEqual(actual, expected)) {
    throw new Error(
      `${msg ? msg + ": " : ""}values differ\n  actual:   ${show(actual)}\n  expected: ${
        show(expected)
      }`,
    );
  }
}

/** |actual − expected| ≤ tol. */
export function assertAlmostEquals(
  actual: number,
  expected: number,
  tol = 1e-7,
  msg?: string,
): void {
  if (!(Math.abs(actual - expected) <= tol)) {
    throw new Error(`${msg ? msg + ": " : ""}${actual} is not within ${tol} of ${expected}`);
  }
}

/** Every element of two numeric arrays within tol. */
export function assertArrayClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol = 1e-6,
  msg?: string,
): void {
  if (actual.length !== expected.length) {
    throw new Error(`${msg ? msg + ": " : ""}length ${actual.length} != ${expected.length}`);
  }
  let worst = 0, at = -1;
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    if (!(d <= worst) || Number.isNaN(d)) {
      worst = Number.isNaN(d) ? Infinity : d;
      at = i;
    }
  }
  if (worst > tol) {
    throw new Error(
      `${msg ? msg + ": " : ""}max abs diff ${worst} at [${at}] (${actual[at]} vs ${
        expected[at]
      }) > ${tol}`,
    );
  }
}

/** `fn` throws (or rejects) an error whose message contains every `parts` string. */
export async function assertRejects(
  fn: () => unknown,
  ...parts: string[]
): Promise<Error> {
  let err: unknown;
  try {
    await fn();
  } catch (e) {
    err = e;
  }
  if (!(err instanceof Error)) {
    throw new Error(`expected an error containing ${show(parts)}, none thrown`);
  }
  for (const p of parts) {
    if (!err.message.includes(p)) {
      throw new Error(`error message ${show(err.message)} lacks ${show(p)}`);
    }
  }
  return err;
}

function show(v: unknown): string {
  try {
    return JSON.stringify(
      v,
      (
        _k,
        x,
      ) => (ArrayBuffer.isView(x)
        ? Array.from(x as Uint8Array)
        : typeof x === "bigint"
        ? String(x)
        : x),
    );
  } catch {
    return String(v);
  }
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (ArrayBuffer.isView(a) && ArrayBuffer.isView(b)) {
    const x = a as unknown as ArrayLike<unknown>, y = b as unknown as ArrayLike<unknown>;
    if (a.constructor !== b.constructor || x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) return false;
    return true;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((v, i) => deepEqual(v, b[i]));
  }
  if (a instanceof Map && b instanceof Map) {
    if (a.size !== b.size) return false;
    for (const [k, v] of a) if (!b.has(k) || !deepEqual(v, b.get(k))) return false;
    return true;
  }
  if (a && b && typeof a === "object" && typeof b === "object") {
    const ka = Object.keys(a), kb = Object.keys(b);
    return ka.length === kb.length &&
      ka.every((k) =>
        deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])
      );
  }
  return false;
}
