import { join } from "node:path";
import { assert, assertEquals, assertRejects } from "../assert.ts";
import { main } from "../../tasks/evaluate.ts";
import { emptyMetadata, writeMetadata } from "../../lib/data/metadata.ts";
import { writeNpy } from "../../lib/io/npy.ts";
import { OutputError } from "../../lib/io/errors.ts";
import { centerGaussianMap } from "../../lib/metrics/scoremap.ts";
import { InterruptedError, requestInterrupt, resetInterrupt } from "../../lib/util/interrupt.ts";

const IDS = ["001.A/a_1.jpg", "002.B/b_1.jpg"];

async function setup(): Promise<{ dir: string; args: string[]; sm: string }> {
  const dir = await Deno.makeTempDir();
  const m = emptyMetadata();
  IDS.forEach((id, k) => {
    m.imageIds.push(id);
    m.classLabels.set(id, k);
    m.imageSizes.set(id, [300, 200]);
    m.boxes.set(id, [[50, 40, 250, 160]]);
  });
  await writeMetadata(join(dir, "meta"), m);
  const sm = join(dir, "maps");
  for (const id of IDS) await writeNpy(join(sm, `${id}.npy`), centerGaussianMap(), [224, 224]);
  return { dir, sm, args: ["--metadata", join(dir, "meta"), "--scoremaps", sm] };
}

Deno.test("evaluate: says how many score maps are not in the metadata", async () => {
  const { dir, sm, args } = await setup();
  try {
    await writeNpy(join(sm, "001.A", "stray.jpg.npy"), centerGaussianMap(), [224, 224]);
    await writeNpy(join(sm, "other.jpg.npy"), centerGaussianMap(), [224, 224]);
    const out = await main(args) as { count: number; unusedScoremaps: number };
    assertEquals([out.count, out.unusedScoremaps], [2, 2]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("evaluate: --json that cannot be written fails before any map is read; Ctrl-C stops it with no JSON", async () => {
  const { dir, sm, args } = await setup();
  try {
    // a map that would fail if it were read: the output check must come first
    await Deno.writeTextFile(join(sm, `${IDS[0]}.npy`), "junk");
    const e = await assertRejects(
      () => main([...args, "--json", dir]),
      dir,
      "cannot write: it is a folder",
    );
    assert(e instanceof OutputError);
    await writeNpy(join(sm, `${IDS[0]}.npy`), centerGaussianMap(), [224, 224]);
    const json = join(dir, "m.json");
    requestInterrupt();
    try {
      const err = await assertRejects(() => main([...args, "--json", json]), "interrupted");
      assert(err instanceof InterruptedError);
    } finally {
      resetInterrupt();
    }
    assert(!(await Deno.stat(json).catch(() => null)), "no JSON after an interrupt");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
