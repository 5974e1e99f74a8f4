import { screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";

import type { JobStream, JobSummary } from "../../api/jobs";
import { renderScreen } from "../../test/render";
import { JobOutputView } from "./jobParts";

const HINT = "The script read more than the standard input it was given: input() found no more lines.";

function finished(overrides: Partial<JobSummary>): JobStream {
  const result = {
    id: "j1",
    status: "failed",
    exit_code: 1,
    signal: null,
    limits: { wall_time_s: 10, memory_mb: 128, output_bytes: 1048576 },
    duration_ms: 40,
    stdout_truncated: false,
    stderr_truncated: false,
    files: [],
    files_truncated: false,
    hint: null,
    ...overrides,
  } as JobSummary;
  const traceback = "Traceback (most recent call last):\nEOFError: EOF when reading a line\n";
  return { status: result.status, chunks: [{ stream: "stderr", text: traceback }], result, error: null };
}

describe("a finished run's output", () => {
  it("explains input() past the end of the standard input next to the traceback", () => {
    renderScreen(
      <JobOutputView jobId="j1" stream={finished({ hint: { code: "stdin_exhausted", message: HINT } })} />,
      {},
    );
    expect(screen.getByRole("log")).toHaveTextContent("EOFError: EOF when reading a line");
    expect(screen.getByText(HINT)).toBeInTheDocument();
  });

  it("adds nothing to a failure without a hint", () => {
    renderScreen(<JobOutputView jobId="j1" stream={finished({})} />, {});
    expect(screen.getByText("The script exited with code 1.")).toBeInTheDocument();
    expect(screen.queryByText(/standard input it was given/)).not.toBeInTheDocument();
  });

  it("shows CPU time and peak memory next to the wall time", () => {
    renderScreen(
      <JobOutputView
        jobId="j1"
        stream={finished({ duration_ms: 640, cpu_time_ms: 512, peak_memory_bytes: 107 * 1024 * 1024 })}
      />,
      {},
    );
    expect(screen.getByText("exit code 1 · 640 ms · 512 ms CPU · 107 MiB peak")).toBeInTheDocument();
  });

  it("shows only the wall time when the figures were not measured", () => {
    renderScreen(
      <JobOutputView jobId="j1" stream={finished({ cpu_time_ms: null, peak_memory_bytes: null })} />,
      {},
    );
    expect(screen.getByText("exit code 1 · 40 ms")).toBeInTheDocument();
  });
});
