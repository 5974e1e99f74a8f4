/** Pieces shared by the runner, the job page and a bug's reproduction: status, live output, files. */
import { useEffect, useRef, useState } from "react";

import { saveBlob } from "../../api/attachments";
import type { JobStatus } from "../../api/client";
import { useApi } from "../../api/context";
import { isFinal, useJobStream, type JobStream, type JobSummary } from "../../api/jobs";
import { describeError } from "../../ui/errors";
import { formatBytes } from "../../ui/format";
import { ErrorState } from "../../ui/states";
import { FilePreview } from "./FilePreview";
import { formatCpuTime, formatDuration, formatPeakMemory, JOB_STATUS_LABEL, outcome } from "./jobText";
import { jobFileUrl, previewKind } from "./preview";

const AUTO_PREVIEWS = 3;

const STATUS_TONE: Record<JobStatus, string> = {
  queued: "text-bg-secondary",
  running: "text-bg-primary",
  succeeded: "text-bg-success",
  failed: "text-bg-danger",
  timed_out: "text-bg-warning",
  memory_exceeded: "text-bg-warning",
  output_exceeded: "text-bg-warning",
  cancelled: "text-bg-secondary",
  error: "text-bg-dark",
};

export function JobStatusBadge({
  status,
  labels,
}: {
  status: JobStatus;
  /** Words for some statuses where the job has a meaning (a reproduction: failed = Reproduces). */
  labels?: Partial<Record<JobStatus, string>>;
}) {
  return (
    <span className={`badge job-status ${STATUS_TONE[status]}`}>
      {!isFinal(status) && (
        <span className="spinner-grow spinner-grow-sm me-1 job-pulse" aria-hidden="true" />
      )}
      {labels?.[status] ?? JOB_STATUS_LABEL[status]}
    </span>
  );
}

/**
 * Live output of a job: follows its event stream from the first byte, so a finished job shows
 * its full replay and a running one grows line by line.
 */
export function JobOutput({ jobId, label = "Output" }: { jobId: string; label?: string }) {
  const stream = useJobStream(jobId);
  return <JobOutputView jobId={jobId} stream={stream} label={label} />;
}

/** The output of a stream someone else follows (the runner also needs its status). */
export function JobOutputView({
  jobId,
  stream,
  label = "Output",
  statusLabels,
}: {
  jobId: string;
  stream: JobStream;
  label?: string;
  statusLabels?: Partial<Record<JobStatus, string>>;
}) {
  const pre = useRef<HTMLPreElement>(null);
  const stick = useRef(true);
  const result = stream.result;
  const status = stream.status ?? "queued";

  // Keep the newest output in view unless the reader scrolled up to look at something.
  useEffect(() => {
    const element = pre.current;
    if (element && stick.current) element.scrollTop = element.scrollHeight;
  }, [stream.chunks]);

  const empty = stream.chunks.length === 0;
  return (
    <div className="job-output" data-job-id={jobId} data-status={status}>
      <div className="d-flex flex-wrap align-items-center gap-2 mb-2">
        <JobStatusBadge status={status} labels={statusLabels} />
        {result && (
          <span className="small text-body-secondary">
            {[
              `exit code ${result.exit_code ?? "—"}`,
              formatDuration(result.duration_ms),
              formatCpuTime(result.cpu_time_ms),
              formatPeakMemory(result.peak_memory_bytes),
            ]
              .filter((part) => part !== null)
              .join(" · ")}
          </span>
        )}
      </div>
      <pre
        ref={pre}
        className="job-log"
        role="log"
        aria-label={label}
        tabIndex={0}
        onScroll={(event) => {
          const el = event.currentTarget;
          stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
        }}
      >
        {empty ? (
          <span className="text-body-secondary">
            {result ? "(no output)" : status === "queued" ? "Waiting for a sandbox…" : "Running…"}
          </span>
        ) : (
          stream.chunks.map((chunk, i) => (
            <span key={i} className={chunk.stream === "stderr" ? "stderr" : "stdout"}>
              {chunk.text}
            </span>
          ))
        )}
      </pre>
      {result && (
        <div className="mt-2" role="status">
          <p className={`mb-1 small ${result.status === "succeeded" ? "text-success" : "text-body"}`}>
            {outcome(result)}
          </p>
          {result.hint && <p className="small alert alert-info py-1 px-2 mb-1">{result.hint.message}</p>}
          {(result.stdout_truncated || result.stderr_truncated) && (
            <p className="small text-warning-emphasis mb-1">Output was cut at the job's output limit.</p>
          )}
          <JobFiles jobId={jobId} files={result.files} truncated={result.files_truncated} />
        </div>
      )}
      {stream.error !== null && <ErrorState error={stream.error} title="Lost the job's output" />}
    </div>
  );
}

export function JobFiles({
  jobId,
  files,
  truncated,
}: {
  jobId: string;
  files: JobSummary["files"];
  truncated: boolean;
}) {
  const api = useApi();
  const [failure, setFailure] = useState<unknown>(null);
  // The first few previewable files open by themselves; the others on request.
  const [shown, setShown] = useState<Record<string, boolean>>({});
  if (files.length === 0) return null;
  const openByDefault = new Set(
    files
      .filter((f) => previewKind(f.path, f.size) !== null)
      .slice(0, AUTO_PREVIEWS)
      .map((f) => f.path),
  );

  async function download(path: string) {
    setFailure(null);
    try {
      const { blob, filename } = await api.download(jobFileUrl(jobId, path));
      saveBlob(blob, filename);
    } catch (error) {
      setFailure(error);
    }
  }

  return (
    <section aria-label="Files the script wrote" className="mt-2">
      <h3 className="h6 mb-1">Files the script wrote</h3>
      <ul className="list-unstyled mb-0 job-files">
        {files.map((file) => {
          const kind = previewKind(file.path, file.size);
          const open = kind !== null && (shown[file.path] ?? openByDefault.has(file.path));
          return (
            <li key={file.path} className="py-1" data-file={file.path}>
              <div className="d-flex align-items-center gap-2">
                <code className="text-truncate">{file.path}</code>
                <span className="small text-body-secondary">{formatBytes(file.size)}</span>
                {kind !== null && (
                  <button
                    type="button"
                    className="btn btn-sm btn-link ms-auto"
                    aria-expanded={open}
                    onClick={() => setShown({ ...shown, [file.path]: !open })}
                  >
                    {open ? "Hide preview" : "Preview"}
                    <span className="visually-hidden"> {file.path}</span>
                  </button>
                )}
                <button
                  type="button"
                  className={`btn btn-sm btn-outline-secondary${kind === null ? " ms-auto" : ""}`}
                  onClick={() => void download(file.path)}
                >
                  Download<span className="visually-hidden"> {file.path}</span>
                </button>
              </div>
              {open && (
                <div className="file-preview mt-1">
                  <FilePreview jobId={jobId} path={file.path} sha256={file.sha256} kind={kind} />
                </div>
              )}
            </li>
          );
        })}
      </ul>
      {truncated && <p className="small text-body-secondary mb-0">Only the first files were kept.</p>}
      {failure !== null && <p className="small text-danger mb-0">{describeError(failure).detail}</p>}
    </section>
  );
}
