import { describe, expect, it } from "vitest";

import { describeReproduction, jobOf, REPRODUCTION_STATUS_LABEL, verdictLabel } from "./verdict";

const JOB = "0f8b7a9e-3c1d-4e2f-9a6b-5d4c3b2a1f00";

describe("verdicts", () => {
  it("calls a run that exits 1 Reproduces, not Failed", () => {
    expect(REPRODUCTION_STATUS_LABEL.failed).toBe("Reproduces");
    expect(verdictLabel("reproduces", { status: "open", resolution: null })).toBe("Reproduces");
  });

  it("says Verifying while a fix is checked, Running otherwise", () => {
    expect(verdictLabel("running", { status: "resolved", resolution: "fixed" })).toBe("Verifying…");
    expect(verdictLabel("running", { status: "open", resolution: null })).toBe("Running…");
    expect(verdictLabel(null, { status: "open", resolution: null })).toBe("Not run yet");
  });

  it("reads history entries as sentences", () => {
    expect(describeReproduction("reproduction", `started job ${JOB}`)).toBe("ran the reproduction script");
    expect(describeReproduction("reproduction", `job ${JOB} failed: reproduces`)).toBe(
      "found that the bug still reproduces",
    );
    expect(describeReproduction("reproduction", `job ${JOB} timed_out: inconclusive`)).toBe(
      "could not tell whether the bug reproduces (the run timed out)",
    );
    expect(
      describeReproduction("reproduction", `Fix not verified: the reproduction still fails (job ${JOB})`),
    ).toMatch(/fix was not verified/);
    expect(describeReproduction("verdict_override", "Closed although …")).toBe(
      "closed it although the reproduction still fails",
    );
    expect(jobOf(`Fix not verified: the reproduction still fails (job ${JOB})`)).toBe(JOB);
  });
});
