import { assertEquals } from "../assert.ts";

async function child(threads: string) {
  const o = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-check", new URL("./wasm_threads_child.ts", import.meta.url).pathname],
    env: { TEDLOC_WASM_THREADS: threads, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000), // a process kept alive by its pthreads fails here
  }).output();
  const dec = new TextDecoder();
  return { code: o.code, out: dec.decode(o.stdout).trim(), err: dec.decode(o.stderr).trim() };
}

Deno.test("wasm threads: TEDLOC_WASM_THREADS=2 gives XNNPACK 2 threads, the same conv output, and exits", async () => {
  const one = await child("1"), two = await child("2");
  assertEquals([one.code, two.code], [0, 0], `${one.err}\n${two.err}`);
  const a = JSON.parse(one.out), b = JSON.parse(two.out);
  assertEquals([a.threads, b.threads], [1, 2]);
  assertEquals(b.first, a.first);
  assertEquals(b.sum, a.sum);
  const bad = await child("9");
  assertEquals(bad.code, 1);
  assertEquals(/TEDLOC_WASM_THREADS='9': use an integer 1..4/.test(bad.err), true, bad.err);
});
