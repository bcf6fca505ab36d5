import { join } from "node:path";
import { assert, assertArrayClose, assertEquals, assertRejects } from "../assert.ts";
import { initBackend } from "../../lib/backend/mod.ts";
import { CamHead } from "../../lib/model/baselines.ts";
import { readCamHead, writeCamHead } from "../../lib/train/cam.ts";
import { writeSafetensors } from "../../lib/io/safetensors.ts";
import { InputError } from "../../lib/io/errors.ts";

Deno.test("CAM baseline file: round trip, key check, bad files named", async () => {
  await initBackend("cpu");
  const dir = await Deno.makeTempDir();
  try {
    const cam = new CamHead(5, 3, 7);
    const path = join(dir, "cam.safetensors");
    await writeCamHead(path, cam, "recipe-A");
    const back = await readCamHead(path, "recipe-A");
    assert(back !== null);
    assertEquals([back.inDim, back.numClasses], [5, 3]);
    const w0 = await cam.getWeights(), w1 = await back.getWeights();
    assertArrayClose(w1["cam.weight"].data, w0["cam.weight"].data, 0);
    assertArrayClose(w1["cam.bias"].data, w0["cam.bias"].data, 0);
    assertEquals(await readCamHead(path, "recipe-B"), null, "another recipe is not reused");
    assert((await readCamHead(path)) !== null, "no key asked: any CAM file");
    const bad = join(dir, "bad.safetensors");
    await writeSafetensors(bad, { x: { shape: [1], data: new Float32Array(1) } });
    const err = await assertRejects(() => readCamHead(bad), "not a CAM baseline file");
    assert(err instanceof InputError && err.message.includes("bad.safetensors"));
    [cam, back].forEach((c) => c.dispose());
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
