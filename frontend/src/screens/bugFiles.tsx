/** A bug's attachments (drop or pick files, download, delete) and its reproduction script runs. */
import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useState, type SubmitEvent } from "react";
import { Link } from "react-router";

import { useAttachments, useDeleteAttachment, useReproduce, useUploadAttachment } from "../api/attachments";
import { bugKeys, useUpdateBug } from "../api/bugs";
import type { Bug } from "../api/client";
import { useJobStream } from "../api/jobs";
import { hasPermission, useCurrentUser } from "../app/currentUser";
import { Time } from "../ui/bits";
import { describeError } from "../ui/errors";
import { FormAlert, SubmitButton } from "../ui/forms";
import { AttachmentsCard } from "./attachmentParts";
import { JobOutputView } from "./jobs/jobParts";
import { REPRODUCTION_STATUS_LABEL, VERDICT_TONE, verdictLabel } from "./verdict";

export function Attachments({ bugKey }: { bugKey: string }) {
  const user = useCurrentUser();
  return (
    <AttachmentsCard
      title="Attachments"
      titleId="attachments-title"
      files={useAttachments(bugKey)}
      upload={useUploadAttachment(bugKey)}
      remove={useDeleteAttachment(bugKey)}
      // the uploader's own, or anyone's with bugs:edit_any (API: SCOPED "attachments:delete")
      canDelete={(a) => a.uploader_id === user.id || hasPermission(user, "bugs:edit_any")}
      uploadLabel="Attach files"
      hint="Drop files here or choose them: screenshots, logs, anything that helps."
      empty="No files attached."
    />
  );
}

/** The bug's current verdict, shown next to its status and on its reproduction. */
export function VerdictBadge({ bug }: { bug: Bug }) {
  const tone = bug.verdict ? VERDICT_TONE[bug.verdict] : "text-bg-light border";
  return (
    <span className={`badge ${tone}`} data-verdict={bug.verdict ?? "none"}>
      {verdictLabel(bug.verdict, bug)}
    </span>
  );
}

export function Reproduction({ bug }: { bug: Bug }) {
  const queryClient = useQueryClient();
  const reproduce = useReproduce(bug.key);
  // The latest run, whoever started it: its output is the evidence behind the verdict.
  const [jobId, setJobId] = useState<string | null>(bug.repro_job_id);
  const [latest, setLatest] = useState(bug.repro_job_id);
  if (bug.repro_job_id !== latest) {
    // Someone ran it again (state adjusted while rendering, as React recommends over an effect).
    setLatest(bug.repro_job_id);
    setJobId(bug.repro_job_id);
  }
  const [editing, setEditing] = useState(false);
  const stream = useJobStream(jobId);
  const finished = stream.result !== null;

  // The verdict is written when the job ends; fetch the bug again to show it.
  useEffect(() => {
    if (finished) void queryClient.invalidateQueries({ queryKey: bugKeys.detail(bug.key), exact: true });
  }, [finished, queryClient, bug.key]);

  const running = jobId !== null && !finished && stream.error === null;

  return (
    <section className="card mb-4" aria-labelledby="repro-title">
      <div className="card-body">
        <div className="d-flex flex-wrap align-items-center gap-2 mb-2">
          <h2 id="repro-title" className="h6 text-uppercase text-body-secondary mb-0 flex-grow-1">
            Reproduction
          </h2>
          <VerdictBadge bug={bug} />
        </div>
        {editing ? (
          <ScriptForm bug={bug} onDone={() => setEditing(false)} />
        ) : bug.repro_script ? (
          <>
            <pre className="repro-script" tabIndex={0} aria-label="Reproduction script">
              <code>{bug.repro_script}</code>
            </pre>
            <p className="small text-body-secondary">
              The bug reproduces when the script exits with a non-zero code.
              {bug.repro_checked_at && (
                <>
                  {" "}
                  Last checked <Time iso={bug.repro_checked_at} />
                  {bug.repro_job_id && (
                    <>
                      {" "}
                      (<Link to={`/jobs/${bug.repro_job_id}`}>output</Link>)
                    </>
                  )}
                  .
                </>
              )}
            </p>
            <div className="d-flex flex-wrap gap-2">
              {bug.can.reproduce && (
                <button
                  type="button"
                  className="btn btn-sm btn-primary"
                  disabled={reproduce.isPending || running}
                  onClick={() => reproduce.mutate(undefined, { onSuccess: (job) => setJobId(job.id) })}
                >
                  {reproduce.isPending ? "Starting…" : running ? "Running…" : "Run reproduction"}
                </button>
              )}
              {bug.can.edit && (
                <button
                  type="button"
                  className="btn btn-sm btn-outline-secondary"
                  onClick={() => setEditing(true)}
                >
                  Edit script
                </button>
              )}
            </div>
          </>
        ) : (
          <>
            <p className="text-body-secondary small">
              No reproduction script.
              {bug.can.edit &&
                " Add a Python script that exits non-zero while the bug is there, and anyone can check it with one click."}
            </p>
            {bug.can.edit && (
              <button
                type="button"
                className="btn btn-sm btn-outline-primary"
                onClick={() => setEditing(true)}
              >
                Add a script
              </button>
            )}
          </>
        )}
        {reproduce.isError && <FormAlert message={describeError(reproduce.error).detail} />}
        {jobId && (
          <div className="mt-3">
            <JobOutputView
              jobId={jobId}
              stream={stream}
              label="Reproduction output"
              statusLabels={REPRODUCTION_STATUS_LABEL}
            />
          </div>
        )}
      </div>
    </section>
  );
}

function ScriptForm({ bug, onDone }: { bug: Bug; onDone: () => void }) {
  const update = useUpdateBug();
  const [script, setScript] = useState(bug.repro_script ?? "");

  function submit(event: SubmitEvent) {
    event.preventDefault();
    update.mutate({ bug, changes: { repro_script: script.trim() ? script : null } }, { onSuccess: onDone });
  }

  return (
    <form onSubmit={submit}>
      <label htmlFor="repro-script" className="form-label">
        Reproduction script <span className="text-body-secondary">(Python)</span>
      </label>
      <textarea
        id="repro-script"
        className="form-control font-monospace mb-2"
        rows={8}
        spellCheck={false}
        value={script}
        onChange={(e) => setScript(e.target.value)}
        placeholder={"import sys\nsys.exit(1 if still_broken() else 0)"}
      />
      {update.isError && <FormAlert message={describeError(update.error).detail} />}
      <div className="d-flex gap-2">
        <SubmitButton pending={update.isPending} pendingLabel="Saving…" className="btn btn-sm btn-primary">
          Save script
        </SubmitButton>
        <button type="button" className="btn btn-sm btn-outline-secondary" onClick={onDone}>
          Cancel
        </button>
      </div>
    </form>
  );
}
