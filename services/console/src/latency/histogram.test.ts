import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { add, parseHistogram, quantile, subtract } from "./histogram";

const TEXT = `# HELP hotpin_edge_stage_seconds time from end of speech to each pipeline mark, by stage
# TYPE hotpin_edge_stage_seconds histogram
hotpin_edge_stage_seconds_bucket{le="0.5",stage="first_audio",service="edge"} 0
hotpin_edge_stage_seconds_bucket{le="1",stage="first_audio",service="edge"} 4
hotpin_edge_stage_seconds_bucket{le="2",stage="first_audio",service="edge"} 8
hotpin_edge_stage_seconds_bucket{le="+Inf",stage="first_audio",service="edge"} 10
hotpin_edge_stage_seconds_sum{stage="first_audio",service="edge"} 12
hotpin_edge_stage_seconds_count{stage="first_audio",service="edge"} 10
hotpin_edge_stage_seconds_bucket{le="1",stage="stt_final",service="edge"} 10
hotpin_edge_stage_seconds_bucket{le="+Inf",stage="stt_final",service="edge"} 10
hotpin_other_bucket{le="1",stage="first_audio"} 99
`;

describe("latency histograms", () => {
  it("histogram - reads one metric's buckets per stage from the text format", () => {
    const h = parseHistogram(TEXT, "hotpin_edge_stage_seconds", "stage");
    assert.deepEqual([...h.keys()].sort(), ["first_audio", "stt_final"]);
    assert.deepEqual(
      [...h.get("first_audio")!.entries()],
      [
        [0.5, 0],
        [1, 4],
        [2, 8],
        [Number.POSITIVE_INFINITY, 10],
      ],
    );
  });

  it("histogram - quantiles interpolate inside the bucket, the +Inf bucket answers its lower bound", () => {
    const b = parseHistogram(TEXT, "hotpin_edge_stage_seconds", "stage").get("first_audio")!;
    assert.equal(quantile(b, 0.5), 1.25); // rank 5: one of four in (1, 2]
    assert.equal(quantile(b, 0.2), 0.75); // rank 2: half-way through (0.5, 1]
    assert.equal(quantile(b, 0.95), 2); // rank 9.5 is in +Inf
    assert.equal(quantile(new Map([[1, 0]]), 0.5), undefined);
  });

  it("histogram - differences per bucket, and a replica restart counts from zero", () => {
    const before = new Map([
      [1, 4],
      [Number.POSITIVE_INFINITY, 6],
    ]);
    const later = new Map([
      [1, 5],
      [Number.POSITIVE_INFINITY, 9],
    ]);
    assert.deepEqual([...subtract(later, before).values()], [1, 3]);
    const restarted = new Map([
      [1, 1],
      [Number.POSITIVE_INFINITY, 2],
    ]);
    assert.deepEqual([...subtract(restarted, before).values()], [1, 2]);
    assert.deepEqual([...add(before, later).values()], [9, 15]);
  });
});
