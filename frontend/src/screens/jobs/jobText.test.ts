import { describe, expect, it } from "vitest";

import { formatCpuTime, formatPeakMemory } from "./jobText";

describe("a run's resource figures", () => {
  it("shows CPU time in ms, then seconds", () => {
    expect(formatCpuTime(512)).toBe("512 ms CPU");
    expect(formatCpuTime(1234)).toBe("1.23 s CPU");
    expect(formatCpuTime(0)).toBe("0 ms CPU");
  });

  it("shows peak memory in binary units", () => {
    expect(formatPeakMemory(107 * 1024 * 1024 + 123)).toBe("107 MiB peak");
    expect(formatPeakMemory(512 * 1024)).toBe("512 KiB peak");
    expect(formatPeakMemory(1.5 * 1024 ** 3)).toBe("1.5 GiB peak");
    expect(formatPeakMemory(900)).toBe("900 B peak");
  });

  it("leaves out what the sandbox did not measure", () => {
    expect(formatCpuTime(null)).toBeNull();
    expect(formatPeakMemory(undefined)).toBeNull();
  });
});
