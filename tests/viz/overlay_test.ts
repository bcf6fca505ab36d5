/** Heat-map overlays, boxes, colour scales and image grids (sharp; no browser). */
import sharp from "sharp";
import { assert, assertEquals, assertRejects } from "../assert.ts";
import {
  colormapRgb,
  heatmapOverlayPng,
  heatmapOverlayRgb,
  imageGrid,
  rgbToPng,
} from "../../lib/viz/mod.ts";

const S = 224;

function gray(v: number, size = S): Uint8Array {
  return new Uint8Array(size * size * 3).fill(v);
}

function pixel(px: Uint8Array, x: number, y: number, width = S): number[] {
  const o = 3 * (y * width + x);
  return [px[o], px[o + 1], px[o + 2]];
}

async function decode(
  png: Uint8Array,
): Promise<{ data: Uint8Array; width: number; height: number }> {
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data), width: info.width, height: info.height };
}

Deno.test("colormapRgb: jet and viridis end points and clamping", () => {
  assertEquals(colormapRgb(0, "jet"), [0, 0, 128]); // dark blue
  assertEquals(colormapRgb(0.5, "jet"), [128, 255, 128]);
  assertEquals(colormapRgb(1, "jet"), [128, 0, 0]); // dark red
  assertEquals(colormapRgb(2, "jet"), colormapRgb(1, "jet"));
  assertEquals(colormapRgb(NaN, "jet"), colormapRgb(0, "jet"));
  assertEquals(colormapRgb(0, "viridis"), [68, 1, 84]);
  assertEquals(colormapRgb(1, "viridis"), [253, 231, 37]);
  assertEquals(colormapRgb(0.05, "viridis"), [70, 19, 101]); // halfway between the first stops
});

Deno.test("heatmapOverlayRgb: blends the map, draws GT green and predictions red", () => {
  const map = new Float32Array(S * S);
  map[5 * S + 7] = 1; // hot pixel at (7, 5)
  const px = heatmapOverlayRgb(gray(100), map, {
    gtBoxes: [[10, 20, 50, 60]],
    predBoxes: [[30.5, 40.2, 80, 90]],
    lineWidth: 2,
  });
  const [r0, g0, b0] = colormapRgb(0, "jet"), [r1, g1, b1] = colormapRgb(1, "jet");
  assertEquals(pixel(px, 0, 0), [50 + r0 / 2, 50 + g0 / 2, 50 + b0 / 2]);
  assertEquals(pixel(px, 7, 5), [50 + r1 / 2, 50 + g1 / 2, 50 + b1 / 2]);
  // GT [10,20,50,60): outline on columns 10,11 and 48,49, rows 20,21 and 58,59.
  for (const [x, y] of [[10, 30], [11, 30], [49, 30], [48, 30], [20, 20], [20, 59]]) {
    assertEquals(pixel(px, x, y), [0, 220, 0], `GT edge at ${x},${y}`);
  }
  for (const [x, y] of [[12, 30], [47, 30], [9, 30], [50, 30], [20, 22], [20, 60]]) {
    assert(pixel(px, x, y)[1] !== 220, `not an edge at ${x},${y}`);
  }
  // Fractional prediction [30.5, 40.2, 80, 90): covers pixel columns 30..79, rows 40..89;
  // drawn over the GT where they cross.
  assertEquals(pixel(px, 30, 60), [230, 0, 0]);
  assertEquals(pixel(px, 79, 89), [230, 0, 0]);
  assertEquals(pixel(px, 49, 40), [230, 0, 0], "red on top of green");
});

Deno.test("heatmapOverlayRgb: alpha, normalisation, viridis, boxes clipped to the image", () => {
  const map = new Float32Array(S * S).fill(3);
  map[0] = 5;
  const noMap = heatmapOverlayRgb(gray(77), map, { alpha: 0 });
  assertEquals(pixel(noMap, 100, 100), [77, 77, 77]);
  const norm = heatmapOverlayRgb(gray(0), map, { alpha: 1, normalize: true, colormap: "viridis" });
  assertEquals(pixel(norm, 0, 0), colormapRgb(1, "viridis"));
  assertEquals(pixel(norm, 9, 9), colormapRgb(0, "viridis"));
  const clipped = heatmapOverlayRgb(gray(0), new Float32Array(S * S), {
    alpha: 0,
    predBoxes: [[-20, -20, 500, 500]],
  });
  assertEquals(pixel(clipped, 0, 100), [230, 0, 0]);
  assertEquals(pixel(clipped, S - 1, 100), [230, 0, 0]);
  assertEquals(pixel(clipped, 100, 100), [0, 0, 0]);
});

Deno.test("heatmapOverlayRgb: wrong sizes and bad boxes are refused", async () => {
  const map = new Float32Array(S * S);
  await assertRejects(() => heatmapOverlayRgb(gray(0, 10), map), "224×224×3");
  await assertRejects(() => heatmapOverlayRgb(gray(0), new Float32Array(14 * 14)), "map must be");
  await assertRejects(() => heatmapOverlayRgb(gray(0), map, { gtBoxes: [[1, 2, 3]] }), "a box is");
  await assertRejects(() => heatmapOverlayRgb(gray(0), map, { alpha: 2 }), "alpha");
});

Deno.test("heatmapOverlayPng: the PNG decodes to the overlay's pixels", async () => {
  const rgb = new Uint8Array(S * S * 3).map((_, i) => i % 251);
  const map = new Float32Array(S * S).map((_, i) => (i % S) / S);
  const opts = { gtBoxes: [[20, 20, 100, 120]], predBoxes: [[30, 25, 110, 100]] };
  const png = await heatmapOverlayPng(rgb, map, opts);
  const { data, width, height } = await decode(png);
  assertEquals([width, height], [S, S]);
  assertEquals(data, heatmapOverlayRgb(rgb, map, opts));
  assertEquals((await decode(await rgbToPng(rgb, S, S))).data, rgb);
});

Deno.test("imageGrid: tiles at their places, blank cells, titles drawn", async () => {
  const red = await rgbToPng(
    new Uint8Array(20 * 10 * 3).map((_, i) => (i % 3 === 0 ? 255 : 0)),
    20,
    10,
  );
  const blue = await rgbToPng(
    new Uint8Array(20 * 10 * 3).map((_, i) => (i % 3 === 2 ? 255 : 0)),
    20,
    10,
  );
  const plain = await decode(await imageGrid([[red, blue], [null, red]], { gap: 2 }));
  assertEquals([plain.width, plain.height], [2 + 2 * 22, 2 + 2 * 12]);
  assertEquals(pixel(plain.data, 2, 2, plain.width), [255, 0, 0]);
  assertEquals(pixel(plain.data, 2 + 22 + 19, 2 + 9, plain.width), [0, 0, 255]);
  assertEquals(
    pixel(plain.data, 5, 2 + 12 + 5, plain.width),
    [255, 255, 255],
    "null cell is blank",
  );
  assertEquals(pixel(plain.data, 2 + 22 + 5, 2 + 12 + 5, plain.width), [255, 0, 0]);

  const titled = await decode(
    await imageGrid([[red, blue]], {
      gap: 2,
      fontSize: 12,
      columnTitles: ["input", "CAM & <map>"],
      rowTitles: ["a"],
    }),
  );
  const top = Math.ceil(12 * 1.6), left = Math.ceil(12 * 1.6);
  assertEquals([titled.width, titled.height], [left + 2 + 2 * 22, top + 2 + 12]);
  let dark = 0;
  for (let y = 0; y < top; y++) {
    for (let x = left; x < titled.width; x++) {
      if (pixel(titled.data, x, y, titled.width)[0] < 128) dark++;
    }
  }
  assert(dark > 20, `title text is drawn (${dark} dark pixels)`);
  assertEquals(pixel(titled.data, left + 2, top + 2, titled.width), [255, 0, 0]);
  await assertRejects(() => imageGrid([]), "at least one tile");
});
