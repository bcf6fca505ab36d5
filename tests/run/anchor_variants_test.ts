/**
 * `anchors.ortho`: `none` = the anchors as they come, `centre` = centred then none, `qr` /
 * `symmetric` unchanged; their geometry (lib/report `configAnchorGeometry`). The embedded
 * default on the ci profile; CUB-50 when its data is present.
 */
import { assert, assertEquals } from "../assert.ts";
import { initBackend } from "../../lib/backend/mod.ts";
import { resolveRunConfig } from "../../lib/config/resolve.ts";
import { anchorVariant, disposeRunInputs, loadRunInputs } from "../../lib/run/inputs.ts";
import { buildAnchorSpace } from "../../lib/model/anchor_space.ts";
import { configAnchorGeometry } from "../../lib/report/anchor_rows.ts";
import { centredAnchorVectors } from "../../lib/text/sources.ts";
import { cubRootFromEnv } from "../../lib/data/cub.ts";

await initBackend("wasm");

Deno.test("anchor variants: centre = the given anchors centred on their mean, its own data key; none unchanged", async () => {
  try {
    const at = (v: string) =>
      resolveRunConfig({ file: `configs/default/${v}.json`, profile: "ci" });
    const none = await at("ortho-none"),
      centre = await at("ortho-centred"),
      qr = await at("ortho-qr");
    assertEquals(centre.anchors.ortho, "centre");
    assertEquals([anchorVariant(none), anchorVariant(centre), anchorVariant(qr)], [
      "given",
      "own-centred",
      "given",
    ]);
    const [iNone, iCentre, iQr] = await Promise.all([none, centre, qr].map(loadRunInputs));
    assertEquals(iNone.dataKey, iQr.dataKey); // the same anchors file
    assert(iCentre.dataKey !== iNone.dataKey, "centred anchors are other data");
    assert(iCentre.encoder === iNone.encoder, "the encoder is shared, not loaded twice");
    const a = iNone.anchors;
    assertEquals(
      iCentre.anchors.vectors,
      centredAnchorVectors(a.vectors, a.count, a.dim, a.classNames),
    );
    // "centre" builds the space "none" would build on the centred anchors
    const space = buildAnchorSpace(iCentre.anchors, centre.anchors);
    assertEquals(space.ortho, "centre");
    assertEquals(
      space.vectors,
      buildAnchorSpace(iCentre.anchors, { ...centre.anchors, ortho: "none" }).vectors,
    );
    const gNone = await configAnchorGeometry(none), gCentre = await configAnchorGeometry(centre);
    const gQr = await configAnchorGeometry(qr);
    assert(gNone.meanCosine > 0.5, `raw default anchors are crowded: ${gNone.meanCosine}`);
    assert(gCentre.meanCosine < 0.05, `centred: ${gCentre.meanCosine}`);
    assert(Math.abs(gQr.nearestCosine) < 1e-5, `QR: ${gQr.nearestCosine}`);
  } finally {
    await disposeRunInputs();
  }
});

Deno.test("centredAnchorVectors: rows lose their shared part; identical rows are a clear error", () => {
  const v = new Float32Array([1, 1, 0, 1, 0, 1]); // two rows sharing x
  const c = centredAnchorVectors(v, 2, 3, ["a", "b"]);
  assert(Math.abs(c[0]) < 1e-7 && Math.abs(c[3]) < 1e-7, `shared x removed: ${c}`);
  let msg = "";
  try {
    centredAnchorVectors(new Float32Array([1, 0, 1, 0]), 2, 2, ["a", "b"]);
  } catch (e) {
    msg = (e as Error).message;
  }
  assert(msg.includes("centred anchor of class 'a' is zero"), msg);
});

const cub = cubRootFromEnv();
Deno.test({
  name: `anchor variants on CUB-50: none is uncentred (crowded), centre the 200-class-centred${
    cub ? "" : " (skipped: CUB-200-2011 not found)"
  }`,
  ignore: !cub,
  fn: async () => {
    try {
      const at = (v: string) =>
        resolveRunConfig({ file: `configs/cub50/${v}.json`, profile: "quick" });
      const none = await configAnchorGeometry(await at("ortho-none"));
      const centre = await configAnchorGeometry(await at("ortho-centred"));
      assert(none.source.includes("(raw)") && centre.source.includes("(centred)"), none.source);
      assert(none.meanCosine > 0.5 && none.nearestCosine > 0.8, JSON.stringify(none));
      assert(centre.meanCosine < 0.1, JSON.stringify(centre));
    } finally {
      await disposeRunInputs();
    }
  },
});
