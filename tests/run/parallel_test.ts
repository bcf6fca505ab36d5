import { assertEquals } from "../assert.ts";
import { defaultParallelRuns } from "../../lib/run/worker.ts";
import { defaultExtractionWorkers } from "../../lib/run/pipeline.ts";

Deno.test("runs at once follow the cores, capped by free memory at ~1.5 GB a run", () => {
  assertEquals(defaultParallelRuns(2, 20e9), 2, "2 cores, plenty of memory: 2 (as before)");
  assertEquals(defaultParallelRuns(16, 64e9), 16);
  assertEquals(defaultParallelRuns(16, 6e9), 4, "memory-bound");
  assertEquals(defaultParallelRuns(8, 1e9), 1, "never below one");
  assertEquals(defaultParallelRuns(4, null), 4, "unknown memory: the cores");
  assertEquals(defaultExtractionWorkers(2), 2);
  assertEquals(defaultExtractionWorkers(0), 1);
});
