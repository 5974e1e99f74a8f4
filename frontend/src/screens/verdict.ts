/** How a bug's reproduction verdict and its history read: words, not job statuses or ids. */
import type { JobStatus, Schemas } from "../api/client";

type Verdict = Schemas["Verdict"];

/** What a reproduction run's job status means for the bug (exit 1 is the bug, not a failure). */
export const REPRODUCTION_STATUS_LABEL: Partial<Record<JobStatus, string>> = {
  queued: "Waiting…",
  running: "Running…",
  succeeded: "Does not reproduce",
  failed: "Reproduces",
};

export function verdictLabel(
  verdict: Verdict | null,
  bug: { status: string; resolution: string | null },
): string {
  if (verdict === "running")
    return bug.status === "resolved" && bug.resolution === "fixed" ? "Verifying…" : "Running…";
  if (verdict === "reproduces") return "Reproduces";
  if (verdict === "does_not_reproduce") return "Does not reproduce";
  if (verdict === "error") return "Inconclusive";
  return "Not run yet";
}

export const VERDICT_TONE: Record<Verdict, string> = {
  running: "text-bg-primary",
  reproduces: "text-bg-danger",
  does_not_reproduce: "text-bg-success",
  error: "text-bg-warning",
};

const JOB_END = /^job \S+ (\w+): (.*)$/;

/** A history entry about a reproduction, as a sentence after the actor's name. */
export function describeReproduction(field: string, to: string | null): string {
  if (field === "verdict_override") return "closed it although the reproduction still fails";
  const text = to ?? "";
  if (text.startsWith("started")) return "ran the reproduction script";
  if (text.startsWith("Fix not verified"))
    return "reopened the work: the fix was not verified, the reproduction still fails";
  if (text.startsWith("not re-run")) return `could not re-run the reproduction (${text.slice(12)})`;
  const end = JOB_END.exec(text);
  if (end) {
    const said = end[2];
    if (said === "reproduces") return "found that the bug still reproduces";
    if (said === "does not reproduce") return "found that the bug no longer reproduces";
    return `could not tell whether the bug reproduces (the run ${(end[1] ?? "").replace(/_/g, " ")})`;
  }
  return `noted: ${text}`;
}

/** The job a history entry names, to link to its output. */
export function jobOf(text: string | null): string | null {
  const match = /\bjob ([0-9a-f-]{36})\b/.exec(text ?? "");
  return match?.[1] ?? null;
}
