/**
 * The centre-Gaussian sanity baseline on the real CUB-50 test split (1,389 images) through
 * BoxEvaluator, against the Python reference (tests/fixtures/metrics/cub50_gaussian.json,
 * made by `make_metrics_fixtures.py --cub`) and the numbers in docs (method.md).
 * A tiny CUB reader lives here; the product's loader is `prepare-cub` in lib/data.
 */
import { assertAlmostEquals, assertEquals } from "../assert.ts";
import { BoxEvaluator } from "../../lib/metrics/box.ts";
import { centerGaussianMap } from "../../lib/metrics/scoremap.ts";
import { type Box, emptyMetadata, type WsolMetadata } from "../../lib/data/metadata.ts";
import { sharedDataPath } from "../../lib/util/paths.ts";

/** (width, height) from a JPEG's SOF marker. */
function jpegSize(bytes: Uint8Array): [number, number] {
  let i = 2;
  while (i + 9 < bytes.length) {
    if (bytes[i] !== 0xff) {
      i++;
      continue;
    }
    const m = bytes[i + 1];
    if (m === 0xd8 || m === 0x01 || (m >= 0xd0 && m <= 0xd7)) {
      i += 2;
      continue;
    }
    const len = (bytes[i + 2] << 8) | bytes[i + 3];
    if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) {
      return [(bytes[i + 7] << 8) | bytes[i + 8], (bytes[i + 5] << 8) | bytes[i + 6]];
    }
    i += 2 + len;
  }
  throw new Error("no SOF marker");
}

/** wsolevaluation's CUB test metadata from the original CUB-200-2011 files. */
async function cubTestMetadata(root: string): Promise<WsolMetadata> {
  const table = async (name: string) =>
    (await Deno.readTextFile(`${root}/${name}`)).split("\n").filter((l) => l.trim()).map((l) =>
      l.trim().split(/\s+/)
    );
  const paths = new Map((await table("images.txt")).map((r) => [r[0], r[1]]));
  const labels = new Map((await table("image_class_labels.txt")).map((r) => [r[0], +r[1] - 1]));
  const test = (await table("train_test_split.txt")).filter((r) => r[1] === "0").map((r) => r[0]);
  const boxes = new Map<string, Box[]>();
  for (const r of await table("bounding_boxes.txt")) {
    const [x, y, w, h] = r.slice(1).map(Number);
    const b: Box = [Math.trunc(x), Math.trunc(y), Math.trunc(x + w), Math.trunc(y + h)];
    boxes.set(r[0], [...(boxes.get(r[0]) ?? []), b]);
  }
  const m = emptyMetadata();
  for (const k of test) {
    const id = paths.get(k)!;
    m.imageIds.push(id);
    m.classLabels.set(id, labels.get(k)!);
    m.boxes.set(id, boxes.get(k)!);
    m.imageSizes.set(id, jpegSize(await Deno.readFile(`${root}/images/${id}`)));
  }
  return m;
}

const CUB = sharedDataPath("cub50", "CUB_200_2011");

Deno.test("CUB-50: centre Gaussian scores MaxBoxAcc 58.0, MaxBoxAccV2 56.35", async (t) => {
  await t.step({
    name: CUB === null ? "CUB-50 test split (skipped: shared data absent)" : "CUB-50 test split",
    ignore: CUB === null,
    fn: async () => {
      const want = JSON.parse(
        await Deno.readTextFile(
          new URL("../fixtures/metrics/cub50_gaussian.json", import.meta.url),
        ),
      );
      const metadata = await cubTestMetadata(CUB!);
      assertEquals(metadata.imageIds.length, want.images);
      const ev = new BoxEvaluator({ metadata, camCurveInterval: want.interval });
      const map = centerGaussianMap(224, 56);
      for (const id of metadata.imageIds) ev.accumulate(map, id);
      const m = ev.compute();
      assertAlmostEquals(m.maxBoxAcc, want.maxBoxAcc, 1e-9);
      assertAlmostEquals(m.maxBoxAccV2, want.maxBoxAccV2, 1e-9);
      for (const mode of ["largest", "multi"] as const) {
        m[mode].forEach((c, i) => {
          assertAlmostEquals(c.max, want[mode][i].max, 1e-9, `${mode} δ=${c.iou}`);
          assertEquals(c.bestTau, want[mode][i].bestTau, `${mode} δ=${c.iou} best τ`);
        });
      }
      // the published sanity numbers (docs/method.md), to one decimal
      assertEquals(m.maxBoxAcc.toFixed(1), "58.0");
      assertEquals(m.multi.map((c) => c.max.toFixed(1)), ["93.7", "58.0", "17.4"]);
    },
  });
});
