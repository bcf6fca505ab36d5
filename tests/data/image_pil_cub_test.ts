/**
 * The test view on real CUB images against torchvision itself: PIL decode + convert("RGB")
 * + `transforms.Resize((224, 224))`, computed by Debian's python (a reference only; the
 * product never runs python). Skips when CUB-50 or python/torchvision are absent.
 */
import { assertEquals } from "../assert.ts";
import { drawImageView, loadImageView } from "../../lib/data/image.ts";
import { sharedDataPath } from "../../lib/util/paths.ts";

const CUB = sharedDataPath("cub50", "CUB_200_2011");
const PY = "/usr/bin/python3";

async function hasTorchvision(): Promise<boolean> {
  try {
    const o = await new Deno.Command(PY, {
      args: ["-c", "import PIL, torchvision"],
      stdout: "null",
      stderr: "null",
    }).output();
    return o.success;
  } catch {
    return false;
  }
}

Deno.test("test view is byte-identical to torchvision Resize((224,224)) on real CUB images", async (t) => {
  if (CUB === null || !(await hasTorchvision())) {
    await t.step({
      name: "skipped: needs CUB-50 (../shared/data) and /usr/bin/python3 with torchvision",
      ignore: true,
      fn: () => {},
    });
    return;
  }
  const lines = (await Deno.readTextFile(`${CUB}/images.txt`)).trim().split("\n");
  const paths = lines.filter((_, i) => i % 240 === 0).map((l) =>
    `${CUB}/images/${l.split(" ")[1]}`
  );
  // the grayscale image and one with an embedded ICC profile (PIL ignores it)
  paths.push(
    `${CUB}/images/009.Brewer_Blackbird/Brewer_Blackbird_0028_2682.jpg`,
    `${CUB}/images/037.Acadian_Flycatcher/Acadian_Flycatcher_0038_795616.jpg`,
  );
  const dir = await Deno.makeTempDir();
  try {
    const script = [
      "import sys",
      "from PIL import Image",
      "import torchvision.transforms as T",
      "for k, p in enumerate(sys.argv[2:]):",
      "    out = T.Resize((224, 224))(Image.open(p).convert('RGB'))",
      "    open(f'{sys.argv[1]}/{k}.rgb', 'wb').write(out.tobytes())",
    ].join("\n");
    const o = await new Deno.Command(PY, { args: ["-c", script, dir, ...paths] }).output();
    assertEquals(o.code, 0, new TextDecoder().decode(o.stderr));
    for (const [k, p] of paths.entries()) {
      const ref = await Deno.readFile(`${dir}/${k}.rgb`);
      const ours = await loadImageView(p, drawImageView("test"));
      let worst = 0;
      for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(ref[i] - ours[i]));
      assertEquals(worst, 0, p);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
