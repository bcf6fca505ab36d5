import { join } from "node:path";
import { assert, assertEquals, assertRejects } from "../assert.ts";
import { describeFsError, InputError, OutputError } from "../../lib/io/errors.ts";
import { checkOutputDir, checkOutputFile } from "../../lib/util/output.ts";
import { cliErrorLine, floatFlag, intFlag, parseCli, UsageError } from "../../lib/util/cli.ts";

Deno.test("checkOutputDir/File: a file where a folder goes, a folder where a file goes, a file inside a path", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const f = join(dir, "f");
    await Deno.writeTextFile(f, "hi");
    const e = await assertRejects(() => checkOutputDir(f), f, "not a folder");
    assert(e instanceof OutputError && e instanceof InputError);
    await assertRejects(() => checkOutputDir(join(f, "sub", "x")), "is a file, not a folder");
    await assertRejects(() => checkOutputFile(dir), dir, "it is a folder");
    await assertRejects(() => checkOutputFile(join(f, "out.json")), "not a folder");
    // fine: an existing folder, a folder to make, a new file, an existing file
    await checkOutputDir(dir);
    await checkOutputDir(join(dir, "new", "deeper"), { atomic: true });
    await checkOutputFile(join(dir, "new", "x.json"));
    await checkOutputFile(f);
    assertEquals(
      [...Deno.readDirSync(dir)].map((x) => x.name),
      ["f"],
      "probes removed, nothing made",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name:
    "checkOutputDir: a folder that refuses writes (sysfs: EACCES even for root) names the cause",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    let writable = true;
    try {
      Deno.writeFileSync("/sys/tedloc-probe", new Uint8Array(1));
      Deno.removeSync("/sys/tedloc-probe");
    } catch {
      writable = false;
    }
    if (writable) return; // an unusual /sys: nothing to test here
    await assertRejects(() => checkOutputDir("/sys/tedloc-out"), "/sys/tedloc-out", "cannot write");
  },
});

Deno.test("describeFsError / cliErrorLine: EROFS, EACCES, ENOSPC, EEXIST as one line with path and cause", () => {
  const mk = (cls: new (m: string) => Error, msg: string, code: string) =>
    Object.assign(new cls(msg), { code });
  const rofs = mk(
    Deno.errors.PermissionDenied,
    "Read-only file system (os error 30): mkdir '/ro/x'",
    "EROFS",
  );
  assertEquals(describeFsError(rofs), "/ro/x: cannot mkdir: read-only file system (EROFS)");
  const acc = mk(
    Deno.errors.PermissionDenied,
    "Permission denied (os error 13): open '/a/b'",
    "EACCES",
  );
  assertEquals(describeFsError(acc), "/a/b: cannot open: permission denied (EACCES)");
  const exists = mk(
    Deno.errors.AlreadyExists,
    "File exists (os error 17): mkdir '/tmp/f'",
    "EEXIST",
  );
  assertEquals(cliErrorLine(exists), {
    line: "error: /tmp/f: cannot mkdir: it already exists",
    code: 1,
  });
  // sharp (libvips) write failures carry strerror text instead of a code
  const vips = new Error(
    "/d/x.png: write error\nsystem error: No space left on device\nwbuffer_write: write failed",
  );
  assertEquals(describeFsError(vips), "/d/x.png: cannot write: no space left on device (ENOSPC)");
  const vipsRo = new Error(
    "/d/x.png: unable to open for write\nsystem error: Read-only file system",
  );
  assertEquals(describeFsError(vipsRo), "/d/x.png: cannot write: read-only file system (EROFS)");
  assertEquals(describeFsError(new Error("boom")), null);
  assertEquals(cliErrorLine(new Error("boom")), null, "a bug keeps its stack");
  assertEquals(cliErrorLine(new UsageError("x"))?.code, 2);
});

Deno.test({
  name: "describeFsError: a real ENOSPC (/dev/full)",
  ignore: Deno.build.os !== "linux",
  fn: () => {
    let err: unknown;
    try {
      Deno.writeFileSync("/dev/full", new Uint8Array(16));
    } catch (e) {
      err = e;
    }
    assertEquals(
      describeFsError(err),
      "/dev/full: cannot writefile: no space left on device (ENOSPC)",
    );
  },
});

Deno.test("intFlag/floatFlag: ranges checked, one line naming the flag", () => {
  const spec = {
    usage: "x",
    description: "",
    options: {
      topk: { type: "string" as const, help: "", default: "5" },
      threshold: { type: "string" as const, help: "" },
      lr: { type: "string" as const, help: "" },
    },
  };
  const a = parseCli(["--topk", "0", "--threshold", "2", "--lr", "0"], spec)!;
  const msg = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      assert(e instanceof UsageError);
      return e.message;
    }
    return "";
  };
  assertEquals(msg(() => intFlag(a, "topk", { min: 1 })), "--topk must be an integer ≥ 1, got '0'");
  assertEquals(
    msg(() => floatFlag(a, "threshold", { min: 0, max: 1 })),
    "--threshold must be a number ≥ 0 and ≤ 1, got '2'",
  );
  assertEquals(msg(() => floatFlag(a, "lr", { above: 0 })), "--lr must be a number > 0, got '0'");
  const b = parseCli(["--topk", "2.5"], spec)!;
  assertEquals(
    msg(() => intFlag(b, "topk", { min: 1 })),
    "--topk must be an integer ≥ 1, got '2.5'",
  );
  assertEquals(intFlag(parseCli([], spec)!, "topk", { min: 1 }), 5, "default");
  assertEquals(floatFlag(parseCli([], spec)!, "lr"), undefined, "absent");
});

Deno.test({
  name: "atomic writers: a file-system failure names the output (not its temporary) and the cause",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    const { writeDirAtomic, writeFileAtomic } = await import("../../lib/io/atomic.ts");
    const e = await assertRejects(
      () => writeFileAtomic("/sys/tedloc-x/y.json", new Uint8Array(1)),
      "/sys/tedloc-x/y.json: cannot write: ",
    );
    assert(e instanceof OutputError && !e.message.includes(".tmp-"), e.message);
    const dir = await Deno.makeTempDir();
    try {
      await Deno.writeTextFile(join(dir, "f"), "");
      // inside the fill, a file is in the way of a sub-folder: named under the final folder
      await assertRejects(
        () =>
          writeDirAtomic(join(dir, "out"), async (tmp) => {
            await Deno.writeTextFile(join(tmp, "a"), "");
            await Deno.writeTextFile(join(tmp, "a", "b"), "");
          }),
        `${join(dir, "out", "a", "b")}: cannot write: `,
      );
      assertEquals([...Deno.readDirSync(dir)].map((x) => x.name), ["f"]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
