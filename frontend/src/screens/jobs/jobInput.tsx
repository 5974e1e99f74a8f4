/** What a past run ran: its code and files (read-only), stdin and args; Run again, Open in editor. */
import { Link, useNavigate } from "react-router";

import { useBug } from "../../api/bugs";
import { rerunRequest, useCreateJob, type JobDetail, type JobSummary } from "../../api/jobs";
import { describeError } from "../../ui/errors";
import { formatBytes } from "../../ui/format";
import { FormAlert } from "../../ui/forms";
import { draftOf } from "./inputFiles";

/** "Reproduction" and a link to the bug, for a run a bug's reproduction started. */
export function JobOriginLabel({ origin }: { origin: JobSummary["origin"] }) {
  if (!origin) return null;
  if (origin.kind !== "bug_reproduction")
    return <span className="badge text-bg-light border">{origin.kind}</span>;
  return (
    <span className="d-inline-flex align-items-center gap-1" data-origin="bug_reproduction">
      <span className="badge text-bg-info">Reproduction</span>
      {origin.bug_id !== null && origin.bug_id !== undefined && (
        <Link className="small" to={`/bugs/${origin.bug_id}`}>
          bug #{origin.bug_id}
        </Link>
      )}
    </span>
  );
}

/** On the job page: which bug this run reproduces, with its key and title. */
export function ReproductionNote({ bugId }: { bugId: number }) {
  const bug = useBug(String(bugId));
  return (
    <div className="alert alert-info py-2" role="note">
      A reproduction run of{" "}
      <Link to={`/bugs/${bug.data?.key ?? bugId}`}>
        {bug.data ? `${bug.data.key} ${bug.data.title}` : `bug #${bugId}`}
      </Link>
      : its script exits non-zero while the bug reproduces.
    </div>
  );
}

export function RunActions({ job }: { job: JobDetail }) {
  const navigate = useNavigate();
  const create = useCreateJob();
  const request = rerunRequest(job);
  if (request === null) return null;
  return (
    <div className="d-flex flex-wrap gap-2 align-items-start">
      <button
        type="button"
        className="btn btn-primary"
        disabled={create.isPending}
        onClick={() =>
          create.mutate(request, { onSuccess: (started) => void navigate(`/jobs/${started.id}`) })
        }
      >
        {create.isPending ? "Starting…" : "Run again"}
      </button>
      <button
        type="button"
        className="btn btn-outline-secondary"
        onClick={() => void navigate("/run", { state: { draft: draftOf(job) } })}
      >
        Open in editor
      </button>
      {create.isError && (
        <div className="w-100">
          <FormAlert message={describeError(create.error).detail} />
        </div>
      )}
    </div>
  );
}

export function JobCode({ job }: { job: JobDetail }) {
  if (job.purged_at) return null; // the page says the run's data was removed
  const files =
    typeof job.source === "string"
      ? [{ path: job.entrypoint, content: job.source, encoding: "utf8" as const, size: 0 }]
      : (job.input_files ?? []);
  return (
    <section aria-labelledby="run-code" className="mb-4">
      <h2 id="run-code" className="h6 text-uppercase text-body-secondary">
        Code
      </h2>
      {files.map((file) => (
        <figure key={file.path} className="mb-2" data-input-file={file.path}>
          <figcaption className="small mb-1">
            <code>{file.path}</code>
            {file.path === job.entrypoint && files.length > 1 && (
              <span className="badge text-bg-light border ms-2">entrypoint</span>
            )}
          </figcaption>
          {file.encoding === "utf8" ? (
            <pre className="repro-script job-code" tabIndex={0} aria-label={`Contents of ${file.path}`}>
              {file.content}
            </pre>
          ) : (
            <p className="small text-body-secondary mb-0">Binary file, {formatBytes(file.size)}.</p>
          )}
        </figure>
      ))}
    </section>
  );
}

/** stdin and args, for the job page's side card. */
export function JobInputMeta({ job }: { job: JobDetail }) {
  return (
    <>
      <dt>Arguments</dt>
      <dd>{job.args.length ? <code>{job.args.map((a) => JSON.stringify(a)).join(" ")}</code> : "none"}</dd>
      <dt>Standard input</dt>
      <dd>
        {job.stdin ? (
          <pre className="repro-script mb-0" aria-label="Standard input">
            {job.stdin}
          </pre>
        ) : (
          "none"
        )}
      </dd>
    </>
  );
}
