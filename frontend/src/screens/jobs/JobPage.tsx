/** One run: what it was given, its output (replayed, or live while it runs) and its files. */
import { Link, useParams } from "react-router";

import { ApiError } from "../../api/client";
import { isFinal, useCancelJob, useJob } from "../../api/jobs";
import { hasPermission, useCurrentUser } from "../../app/currentUser";
import { PageHeader, Time } from "../../ui/bits";
import { describeError } from "../../ui/errors";
import { formatBytes } from "../../ui/format";
import { FormAlert } from "../../ui/forms";
import { useDocumentTitle } from "../../ui/hooks";
import { EmptyState, ErrorState, Loading } from "../../ui/states";
import { JobCode, JobInputMeta, ReproductionNote, RunActions } from "./jobInput";
import { JobOutput } from "./jobParts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function JobPage() {
  const { jobId = "" } = useParams();
  useDocumentTitle("Run");
  const valid = UUID.test(jobId);
  const job = useJob(jobId, { enabled: valid });
  const cancel = useCancelJob();
  const user = useCurrentUser();

  if (!valid || (job.error instanceof ApiError && job.error.status === 404)) {
    return (
      <EmptyState
        level={1}
        icon="?"
        title="No such run"
        action={
          <Link className="btn btn-primary" to="/run">
            Open the code runner
          </Link>
        }
      >
        It doesn't exist, or it isn't yours.
      </EmptyState>
    );
  }
  if (job.isPending) return <Loading label="Loading the run…" />;
  if (job.isError) return <ErrorState error={job.error} onRetry={() => void job.refetch()} />;
  const data = job.data;
  // Others may read a bug's reproduction; only its owner, or who holds jobs:see_all, cancels it.
  const canCancel = data.owner_id === user.id || hasPermission(user, "jobs:see_all");

  return (
    <>
      <nav aria-label="Breadcrumb">
        <ol className="breadcrumb small mb-2">
          <li className="breadcrumb-item">
            <Link to="/run">Code runner</Link>
          </li>
          <li className="breadcrumb-item active" aria-current="page">
            Run {data.id.slice(0, 8)}
          </li>
        </ol>
      </nav>
      <PageHeader
        title={
          <>
            Run <code className="fs-5">{data.id.slice(0, 8)}</code>
          </>
        }
        subtitle={
          <>
            {data.runtime} · <code>{data.entrypoint}</code> · queued <Time iso={data.queued_at} />
          </>
        }
        actions={
          !isFinal(data.status) && canCancel ? (
            <button
              type="button"
              className="btn btn-outline-danger"
              disabled={cancel.isPending}
              onClick={() => cancel.mutate(data.id)}
            >
              Cancel
            </button>
          ) : (
            <RunActions job={data} />
          )
        }
      />
      {data.origin?.kind === "bug_reproduction" && typeof data.origin.bug_id === "number" && (
        <ReproductionNote bugId={data.origin.bug_id} />
      )}
      {cancel.isError && <FormAlert message={describeError(cancel.error).detail} />}
      <div className="row g-4">
        <section className="col-lg-8" aria-labelledby="run-output">
          <JobCode job={data} />
          <h2 id="run-output" className="h6 text-uppercase text-body-secondary">
            Output
          </h2>
          {data.purged_at ? (
            <div className="alert alert-secondary" role="status">
              The output, files and events of this run were removed on <Time iso={data.purged_at} />
              {data.purge_reason === "quota"
                ? ": your stored runs had reached the storage quota, and this was among the oldest."
                : ", after the retention period for finished runs."}
            </div>
          ) : (
            <JobOutput jobId={data.id} />
          )}
        </section>
        <aside className="col-lg-4" aria-label="Limits">
          <div className="card card-body">
            <h2 className="h6 text-uppercase text-body-secondary">Limits</h2>
            <dl className="meta-list mb-0">
              <dt>Time</dt>
              <dd>{data.limits.wall_time_s} s</dd>
              <dt>Memory</dt>
              <dd>{data.limits.memory_mb} MB</dd>
              <dt>Output</dt>
              <dd>{formatBytes(data.limits.output_bytes)}</dd>
              <dt>Attempts</dt>
              <dd>{data.attempts}</dd>
              <JobInputMeta job={data} />
            </dl>
          </div>
        </aside>
      </div>
    </>
  );
}

export default JobPage;
