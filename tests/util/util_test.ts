import { assert, assertEquals, assertRejects } from "../assert.ts";
import { Progress } from "../../lib/util/progress.ts";
import { Rng } from "../../lib/util/rng.ts";
import { numberFlag, parseCli, requireFlag, UsageError } from "../../lib/util/cli.ts";
import { writeDirAtomic, writeTextAtomic } from "../../lib/io/atomic.ts";
import { InputError } from "../../lib/io/errors.ts";

Deno.test("Rng: same seed same stream, different seeds differ, uniform-ish", () => {
  const a = new Rng(7), b = new Rng(7), c = new Rng(8);
  const xs = Array.from({ length: 1000 }, () => a.next());
  assertEquals(xs.slice(0, 5), Array.from({ length: 5 }, () => b.next()));
  assert(xs[0] !== c.next());
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  assert(Math.abs(mean - 0.5) < 0.05, `mean ${mean}`);
  assert(xs.every((x) => x >= 0 && x < 1));
  const saved = a.state;
  const next = a.next();
  a.state = saved;
  assertEquals(a.next(), next, "state restores the stream");
  assertEquals(new Rng(3).shuffle([1, 2, 3, 4, 5]).sort(), [1, 2, 3, 4, 5]);
});

Deno.test("Progress: plain mode prints a first and a final line with counts and rate", () => {
  const out: string[] = [];
  const p = new Progress("work", 4, { tty: false, write: (t) => out.push(t), unit: "img" });
  for (let i = 0; i < 4; i++) p.tick(1, `loss ${i}`);
  p.done();
  assertEquals(out.length, 2, out.join(""));
  assert(out[0].startsWith("work: 0/4 (0%)"));
  assert(
    out[1].startsWith("work: 4/4 (100%)") && out[1].includes("img/s") && out[1].includes("loss 3"),
  );
});

Deno.test("Progress: tty mode redraws one line", () => {
  const out: string[] = [];
  const p = new Progress("x", 2, { tty: true, write: (t) => out.push(t) });
  p.tick();
  p.tick();
  p.done();
  assert(out.every((t) => t.startsWith("\r")));
  assert(out[out.length - 1].endsWith("\n"));
});

Deno.test("parseCli: flags, defaults, help, and clear usage errors", async () => {
  const spec = {
    usage: "deno task x",
    description: "d",
    options: {
      in: { type: "string" as const, help: "input" },
      step: { type: "string" as const, help: "step", default: "0.01" },
      fast: { type: "boolean" as const, help: "go fast" },
    },
  };
  const a = parseCli(["--in", "f.txt", "--fast"], spec)!;
  assertEquals(requireFlag(a, "in"), "f.txt");
  assertEquals(numberFlag(a, "step"), 0.01);
  assertEquals(a.values.fast, true);
  await assertRejects(() => parseCli(["--nope"], spec), "--nope");
  await assertRejects(() => requireFlag(parseCli([], spec)!, "in"), "missing required --in");
  await assertRejects(
    () => numberFlag(parseCli(["--step", "abc"], spec)!, "step"),
    "--step must be a number",
  );
  let threw: unknown;
  try {
    parseCli(["--zzz"], spec);
  } catch (e) {
    threw = e;
  }
  assert(threw instanceof UsageError);
});

Deno.test("InputError: message names file and line", () => {
  assertEquals(new InputError("bad", { file: "a.txt", line: 3 }).message, "a.txt:3: bad");
  assertEquals(new InputError("bad", { file: "a.txt" }).message, "a.txt: bad");
  assertEquals(new InputError("bad").message, "bad");
});

Deno.test("writeDirAtomic: a failing fill leaves the old folder untouched and no temp behind", async () => {
  const root = await Deno.makeTempDir();
  await writeTextAtomic(`${root}/out/a.txt`, "old");
  await assertRejects(() =>
    writeDirAtomic(`${root}/out`, async (tmp) => {
      await Deno.writeTextFile(`${tmp}/a.txt`, "new");
      throw new Error("validation failed");
    }), "validation failed");
  assertEquals(await Deno.readTextFile(`${root}/out/a.txt`), "old");
  assertEquals([...Deno.readDirSync(root)].map((e) => e.name), ["out"]);
  await writeDirAtomic(`${root}/out`, (tmp) => Deno.writeTextFile(`${tmp}/b.txt`, "new"));
  assertEquals([...Deno.readDirSync(`${root}/out`)].map((e) => e.name), ["b.txt"]);
  assertEquals([...Deno.readDirSync(root)].map((e) => e.name), ["out"]);
  await Deno.remove(root, { recursive: true });
});
