/** Words for jobs: status names, durations and what an outcome means. */
import type { JobStatus } from "../../api/client";
import type { JobSummary } from "../../api/jobs";
import { formatBytes } from "../../ui/format";

export const JOB_STATUS_LABEL: Record<JobStatus, string> = {
  queued: "Queued",
  running: "Running",
  succeeded: "Succeeded",
  failed: "Failed",
  timed_out: "Timed out",
  memory_exceeded: "Out of memory",
  output_exceeded: "Too much output",
  cancelled: "Cancelled",
  error: "Sandbox error",
};

/** "1234" ms → "1.23 s". */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "—";
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(2)} s`;
}

/** CPU time (user + system) of a run, e.g. "512 ms CPU"; null when it was not measured. */
export function formatCpuTime(ms: number | null | undefined): string | null {
  if (ms === null || ms === undefined) return null;
  return `${formatDuration(ms)} CPU`;
}

/** Peak memory of a run in binary units, e.g. "107 MiB peak"; null when it was not measured. */
export function formatPeakMemory(bytes: number | null | undefined): string | null {
  if (bytes === null || bytes === undefined) return null;
  const units = ["B", "KiB", "MiB", "GiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const shown = unit === 0 || value >= 10 ? Math.round(value).toString() : value.toFixed(1);
  return `${shown} ${units[unit] ?? "GiB"} peak`;
}

/** What a finished job's outcome means, in a sentence. */
export function outcome(result: JobSummary): string {
  switch (result.status) {
    case "succeeded":
      return "The script finished normally (exit code 0).";
    case "failed":
      return result.signal
        ? `The script was stopped by signal ${result.signal}.`
        : `The script exited with code ${result.exit_code ?? "?"}.`;
    case "timed_out":
      return `The script ran longer than ${result.limits.wall_time_s} s and was stopped.`;
    case "memory_exceeded":
      return `The script needed more than ${result.limits.memory_mb} MB of memory and was stopped.`;
    case "output_exceeded":
      return `The script wrote more than ${formatBytes(result.limits.output_bytes)} of output; the rest was cut.`;
    case "cancelled":
      return "The job was cancelled.";
    case "error":
      return `The sandbox failed, not your script: ${result.error ?? "unknown error"}.`;
    default:
      return "";
  }
}
