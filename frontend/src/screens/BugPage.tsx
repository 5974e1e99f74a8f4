/** One bug: description, workflow transitions, people and fields, comments and history. */
import { useState, type SubmitEvent } from "react";
import { Link, useParams } from "react-router";

import {
  PRIORITIES,
  SEVERITIES,
  useActivity,
  useAddComment,
  useBug,
  useComments,
  useTransition,
  useTransitions,
  useUpdateBug,
  useWatch,
} from "../api/bugs";
import { ApiError, type Bug, type BugStatus, type Resolution, type TransitionOption } from "../api/client";
import { flattenPages, useMembers } from "../api/queries";
import { Avatar, Time } from "../ui/bits";
import { describeError, formErrors } from "../ui/errors";
import { Field, FormAlert, SelectField, SubmitButton } from "../ui/forms";
import { useDocumentTitle } from "../ui/hooks";
import { Markdown } from "../ui/Markdown";
import { ConflictNotice, EmptyState, ErrorState, Loading, SkeletonRows } from "../ui/states";
import { Attachments, Reproduction, VerdictBadge } from "./bugFiles";
import { StatusBadge } from "./bugParts";
import { humanise, STATUS_LABEL } from "./bugText";
import { describeReproduction, jobOf } from "./verdict";

export function BugPage() {
  const { bugKey = "" } = useParams();
  const bug = useBug(bugKey);
  useDocumentTitle(bug.data ? `${bug.data.key} ${bug.data.title}` : bugKey.toUpperCase());

  if (bug.isPending) return <Loading label="Loading bug…" />;
  if (bug.isError) {
    if (bug.error instanceof ApiError && bug.error.status === 404) {
      return (
        <EmptyState
          level={1}
          icon="?"
          title={`No bug “${bugKey.toUpperCase()}”`}
          action={
            <Link className="btn btn-primary" to="/bugs">
              See all bugs
            </Link>
          }
        >
          It doesn't exist, or it belongs to a project you aren't a member of.
        </EmptyState>
      );
    }
    return <ErrorState error={bug.error} onRetry={() => void bug.refetch()} />;
  }
  return <BugView bug={bug.data} onReload={() => void bug.refetch()} />;
}

function BugView({ bug, onReload }: { bug: Bug; onReload: () => void }) {
  const update = useUpdateBug();
  const conflict = update.error instanceof ApiError && update.error.isConflict;

  function reload() {
    update.reset();
    onReload();
  }

  return (
    <>
      <nav aria-label="Breadcrumb">
        <ol className="breadcrumb small mb-2">
          <li className="breadcrumb-item">
            <Link to="/projects">Projects</Link>
          </li>
          <li className="breadcrumb-item">
            <Link to={`/projects/${bug.project_key}`}>{bug.project_key}</Link>
          </li>
          <li className="breadcrumb-item active" aria-current="page">
            {bug.key}
          </li>
        </ol>
      </nav>
      <div className="page-header">
        <div className="min-w-0">
          <h1 className="h3 mb-1">
            <span className="bug-key fs-5 me-2">{bug.key}</span>
            {bug.title}
          </h1>
          <div className="d-flex flex-wrap align-items-center gap-2 text-body-secondary">
            <StatusBadge status={bug.status} />
            {bug.repro_script && <VerdictBadge bug={bug} />}
            {bug.resolution && (
              <span>
                Resolution: <strong>{humanise(bug.resolution)}</strong>
                {bug.duplicate_of && (
                  <>
                    {" "}
                    of <Link to={`/bugs/${bug.duplicate_of}`}>{bug.duplicate_of}</Link>
                  </>
                )}
              </span>
            )}
            <span>
              · reported by {bug.reporter.full_name} <Time iso={bug.created_at} />
            </span>
          </div>
        </div>
      </div>
      {conflict && <ConflictNotice what="this bug" onReload={reload} />}
      {update.isError && !conflict && (
        <FormAlert message={formErrors(update.error, []).summary ?? describeError(update.error).detail} />
      )}
      <Transitions bug={bug} onReload={onReload} />
      <div className="row g-4">
        <div className="col-lg-8">
          <Description bug={bug} update={update} />
          <Attachments bugKey={bug.key} />
          <Reproduction bug={bug} />
          <Comments bugKey={bug.key} canComment={bug.can.comment} />
          <ActivityTimeline bugKey={bug.key} projectKey={bug.project_key} />
        </div>
        <div className="col-lg-4">
          <Details bug={bug} update={update} />
        </div>
      </div>
    </>
  );
}

type UpdateMutation = ReturnType<typeof useUpdateBug>;

const TRANSITION_LABEL: Record<string, string> = {
  "open>in_progress": "Start progress",
  "in_progress>open": "Stop progress",
  "in_progress>resolved": "Resolve",
  "resolved>closed": "Verify and close",
  "resolved>open": "Reopen (failed verification)",
  "closed>open": "Reopen",
  "open>closed": "Close without fixing",
};

function transitionLabel(from: BugStatus, to: BugStatus): string {
  return TRANSITION_LABEL[`${from}>${to}`] ?? `Move to ${STATUS_LABEL[to]}`;
}

function Transitions({ bug, onReload }: { bug: Bug; onReload: () => void }) {
  const options = useTransitions(bug.key);
  const transition = useTransition();
  const [chosen, setChosen] = useState<TransitionOption | null>(null);
  const conflict = transition.error instanceof ApiError && transition.error.isConflict;

  if (options.isPending) return <Loading label="Checking what you can do next…" compact />;
  if (options.isError) return <ErrorState error={options.error} onRetry={() => void options.refetch()} />;
  if (options.data.length === 0) return null;

  return (
    <section className="card card-body mb-4" aria-label="Workflow">
      <div className="d-flex flex-wrap gap-2 align-items-center">
        <span className="small text-body-secondary me-1">Next step:</span>
        {options.data.map((option) => (
          <button
            key={option.to}
            type="button"
            className={`btn btn-sm ${chosen?.to === option.to ? "btn-primary" : "btn-outline-primary"}`}
            aria-pressed={chosen?.to === option.to}
            disabled={transition.isPending}
            onClick={() => {
              transition.reset();
              if (option.requires.length === 0 && option.resolutions.length === 0) {
                setChosen(null);
                transition.mutate({ bug, body: { to: option.to } });
              } else {
                setChosen(option);
              }
            }}
          >
            {transitionLabel(bug.status, option.to)}
          </button>
        ))}
      </div>
      {chosen && (
        <TransitionForm
          key={chosen.to}
          bug={bug}
          option={chosen}
          pending={transition.isPending}
          onCancel={() => setChosen(null)}
          onSubmit={(body) =>
            transition.mutate({ bug, body: { to: chosen.to, ...body } }, { onSuccess: () => setChosen(null) })
          }
        />
      )}
      {conflict ? (
        <div className="mt-3">
          <ConflictNotice
            what="this bug"
            onReload={() => {
              transition.reset();
              onReload();
            }}
          />
        </div>
      ) : (
        transition.isError && (
          <div className="mt-3">
            <FormAlert message={describeError(transition.error).detail} />
          </div>
        )
      )}
    </section>
  );
}

function TransitionForm({
  bug,
  option,
  pending,
  onSubmit,
  onCancel,
}: {
  bug: Bug;
  option: TransitionOption;
  pending: boolean;
  onSubmit: (body: { resolution?: Resolution; duplicate_of?: string; comment?: string }) => void;
  onCancel: () => void;
}) {
  const [resolution, setResolution] = useState<Resolution | "">(option.resolutions[0] ?? "");
  const [duplicateOf, setDuplicateOf] = useState("");
  const [comment, setComment] = useState("");

  function submit(event: SubmitEvent) {
    event.preventDefault();
    onSubmit({
      ...(resolution ? { resolution } : {}),
      ...(resolution === "duplicate" ? { duplicate_of: duplicateOf.trim().toUpperCase() } : {}),
      ...(comment.trim() ? { comment } : {}),
    });
  }

  return (
    <form
      className="mt-3 row g-2 align-items-end"
      onSubmit={submit}
      aria-label={transitionLabel(bug.status, option.to)}
    >
      {option.resolutions.length > 0 && (
        <SelectField
          className="col-sm-4"
          label="Resolution"
          value={resolution}
          onChange={(e) => setResolution(e.target.value as Resolution)}
        >
          {option.resolutions.map((r) => (
            <option key={r} value={r}>
              {humanise(r)}
            </option>
          ))}
        </SelectField>
      )}
      {resolution === "duplicate" && (
        <Field
          className="col-sm-3"
          label="Duplicate of"
          placeholder={`${bug.project_key}-1`}
          required
          value={duplicateOf}
          onChange={(e) => setDuplicateOf(e.target.value)}
        />
      )}
      <Field
        className="col"
        label="Comment (optional)"
        value={comment}
        onChange={(e) => setComment(e.target.value)}
      />
      <div className="col-auto mb-3 d-flex gap-2">
        <SubmitButton pending={pending} pendingLabel="Saving…">
          Confirm
        </SubmitButton>
        <button type="button" className="btn btn-outline-secondary" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

function Description({ bug, update }: { bug: Bug; update: UpdateMutation }) {
  const [editing, setEditing] = useState(false);
  const [form, setForm] = useState({ title: bug.title, description: bug.description });
  const errors = formErrors(update.error, ["title", "description"]);

  function start() {
    update.reset();
    setForm({ title: bug.title, description: bug.description });
    setEditing(true);
  }

  function submit(event: SubmitEvent) {
    event.preventDefault();
    update.mutate({ bug, changes: form }, { onSuccess: () => setEditing(false) });
  }

  return (
    <section className="card mb-4" aria-labelledby="description-title">
      <div className="card-body">
        <div className="d-flex justify-content-between align-items-center mb-2">
          <h2 id="description-title" className="h6 text-uppercase text-body-secondary mb-0">
            Description
          </h2>
          {!editing && bug.can.edit && (
            <button type="button" className="btn btn-sm btn-outline-secondary" onClick={start}>
              Edit
            </button>
          )}
        </div>
        {editing ? (
          <form onSubmit={submit} noValidate>
            <Field
              label="Title"
              value={form.title}
              onChange={(e) => setForm({ ...form, title: e.target.value })}
              error={errors.fields.title}
            />
            <div className="mb-3">
              <label htmlFor="bug-description" className="form-label">
                Description <span className="text-body-secondary">(Markdown)</span>
              </label>
              <textarea
                id="bug-description"
                className="form-control font-monospace"
                rows={8}
                value={form.description}
                onChange={(e) => setForm({ ...form, description: e.target.value })}
              />
            </div>
            <div className="d-flex gap-2">
              <SubmitButton pending={update.isPending} pendingLabel="Saving…">
                Save
              </SubmitButton>
              <button type="button" className="btn btn-outline-secondary" onClick={() => setEditing(false)}>
                Cancel
              </button>
            </div>
          </form>
        ) : bug.description.trim() ? (
          <Markdown source={bug.description} />
        ) : (
          <p className="text-body-secondary mb-0">No description.</p>
        )}
      </div>
    </section>
  );
}

function Details({ bug, update }: { bug: Bug; update: UpdateMutation }) {
  const members = useMembers(bug.project_key);
  const watch = useWatch(bug.key);
  const assignable = (members.data ?? []).filter((m) => m.assignable);
  const { can } = bug;
  const [labels, setLabels] = useState(bug.labels.join(", "));

  function saveLabels() {
    const next = labels
      .split(",")
      .map((l) => l.trim())
      .filter(Boolean);
    if (next.join(",") !== bug.labels.join(",")) update.mutate({ bug, changes: { labels: next } });
  }

  return (
    <aside className="card" aria-label="Details">
      <div className="card-body">
        <button
          type="button"
          className={`btn btn-sm w-100 mb-3 ${bug.watching ? "btn-secondary" : "btn-outline-secondary"}`}
          aria-pressed={bug.watching}
          disabled={watch.isPending}
          onClick={() => watch.mutate(!bug.watching)}
        >
          {bug.watching ? "Watching — stop watching" : "Watch this bug"}
        </button>
        {can.assign ? (
          <SelectField
            label="Assignee"
            value={bug.assignee?.id ?? ""}
            disabled={update.isPending || members.isPending}
            onChange={(e) =>
              update.mutate({ bug, changes: { assignee_id: e.target.value ? Number(e.target.value) : null } })
            }
          >
            <option value="">Nobody</option>
            {bug.assignee && !assignable.some((m) => m.user.id === bug.assignee?.id) && (
              <option value={bug.assignee.id}>{bug.assignee.full_name}</option>
            )}
            {assignable.map((m) => (
              <option key={m.user.id} value={m.user.id}>
                {m.user.full_name}
              </option>
            ))}
          </SelectField>
        ) : null}
        {can.edit ? (
          <>
            <SelectField
              label="Priority"
              value={bug.priority}
              disabled={update.isPending}
              onChange={(e) =>
                update.mutate({ bug, changes: { priority: e.target.value as (typeof PRIORITIES)[number] } })
              }
            >
              {PRIORITIES.map((p) => (
                <option key={p} value={p}>
                  {humanise(p)}
                </option>
              ))}
            </SelectField>
            <SelectField
              label="Severity"
              value={bug.severity}
              disabled={update.isPending}
              onChange={(e) =>
                update.mutate({ bug, changes: { severity: e.target.value as (typeof SEVERITIES)[number] } })
              }
            >
              {SEVERITIES.map((s) => (
                <option key={s} value={s}>
                  {humanise(s)}
                </option>
              ))}
            </SelectField>
            <Field
              label="Labels"
              value={labels}
              onChange={(e) => setLabels(e.target.value)}
              onBlur={saveLabels}
              onKeyDown={(e) => {
                if (e.key === "Enter") {
                  e.preventDefault();
                  saveLabels();
                }
              }}
              help="Comma-separated; saved when you leave the field."
            />
          </>
        ) : null}
        <dl className="meta-list mb-0">
          {!can.assign && (
            <>
              <dt>Assignee</dt>
              <dd>{bug.assignee?.full_name ?? "Nobody"}</dd>
            </>
          )}
          {!can.edit && (
            <>
              <dt>Priority</dt>
              <dd>{humanise(bug.priority)}</dd>
              <dt>Severity</dt>
              <dd>{humanise(bug.severity)}</dd>
              <dt>Labels</dt>
              <dd>{bug.labels.length > 0 ? bug.labels.join(", ") : "None"}</dd>
            </>
          )}
          <dt>Reporter</dt>
          <dd>{bug.reporter.full_name}</dd>
          <dt>Updated</dt>
          <dd>
            <Time iso={bug.updated_at} />
          </dd>
        </dl>
        {watch.isError && <FormAlert message={describeError(watch.error).detail} />}
      </div>
    </aside>
  );
}

function Comments({ bugKey, canComment }: { bugKey: string; canComment: boolean }) {
  const comments = useComments(bugKey);
  const add = useAddComment(bugKey);
  const [body, setBody] = useState("");
  const items = flattenPages(comments.data);
  const errors = formErrors(add.error, ["body"]);

  function submit(event: SubmitEvent) {
    event.preventDefault();
    if (!body.trim()) return;
    add.mutate(body, { onSuccess: () => setBody("") });
  }

  return (
    <section className="card mb-4" aria-labelledby="comments-title">
      <div className="card-body">
        <h2 id="comments-title" className="h6 text-uppercase text-body-secondary mb-2">
          Comments{" "}
          {items.length > 0 && <span className="badge text-bg-light border ms-1">{items.length}</span>}
        </h2>
        {comments.isPending ? (
          <SkeletonRows label="Loading comments…" rows={2} />
        ) : comments.isError ? (
          <ErrorState error={comments.error} onRetry={() => void comments.refetch()} />
        ) : items.length === 0 ? (
          <p className="text-body-secondary">No comments yet.</p>
        ) : (
          <ol className="list-unstyled mb-2">
            {items.map((comment) => (
              <li key={comment.id} className="comment">
                <Avatar name={comment.author.full_name} />
                <div className="min-w-0 flex-grow-1">
                  <div className="small mb-1">
                    <strong>{comment.author.full_name}</strong>{" "}
                    <span className="text-body-secondary">
                      <Time iso={comment.created_at} />
                      {comment.edited_at && " · edited"}
                    </span>
                  </div>
                  <Markdown source={comment.body} />
                </div>
              </li>
            ))}
          </ol>
        )}
        {comments.hasNextPage && (
          <button
            type="button"
            className="btn btn-sm btn-link px-0"
            onClick={() => void comments.fetchNextPage()}
          >
            Show more comments
          </button>
        )}
        {canComment && (
          <form onSubmit={submit} className="mt-2">
            <label htmlFor="new-comment" className="form-label">
              Add a comment <span className="text-body-secondary">(Markdown)</span>
            </label>
            <textarea
              id="new-comment"
              className={`form-control${errors.fields.body ? " is-invalid" : ""}`}
              rows={3}
              value={body}
              onChange={(e) => setBody(e.target.value)}
              onKeyDown={(e) => {
                // Ctrl+Enter (⌘+Enter on a Mac) posts, as in every tracker people come from
                if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) e.currentTarget.form?.requestSubmit();
              }}
              aria-describedby="new-comment-hint"
            />
            <div id="new-comment-hint" className="form-text">
              Ctrl+Enter posts.
            </div>
            {errors.fields.body && <div className="invalid-feedback">{errors.fields.body}</div>}
            <FormAlert message={errors.summary} />
            <SubmitButton
              pending={add.isPending}
              pendingLabel="Posting…"
              disabled={!body.trim()}
              className="btn btn-primary mt-2"
            >
              Comment
            </SubmitButton>
          </form>
        )}
      </div>
    </section>
  );
}

function ActivityTimeline({ bugKey, projectKey }: { bugKey: string; projectKey: string }) {
  const activity = useActivity(bugKey);
  const members = useMembers(projectKey);
  // Activity stores user ids; show the names of the people we know.
  const names = new Map((members.data ?? []).map((m) => [String(m.user.id), m.user.full_name]));
  const items = flattenPages(activity.data);
  return (
    <section className="card" aria-labelledby="activity-title">
      <div className="card-body">
        <h2 id="activity-title" className="h6 text-uppercase text-body-secondary mb-3">
          History
        </h2>
        {activity.isPending ? (
          <SkeletonRows label="Loading history…" rows={2} />
        ) : activity.isError ? (
          <ErrorState error={activity.error} onRetry={() => void activity.refetch()} />
        ) : items.length === 0 ? (
          <p className="text-body-secondary mb-0">No changes yet.</p>
        ) : (
          <ol className="timeline">
            {items.map((entry) => (
              <li key={entry.id} className="small">
                <strong>{entry.actor?.full_name ?? "Nimbus"}</strong>{" "}
                {describeChange(entry.field, entry.old, entry.new, names)}{" "}
                <RunLink field={entry.field} text={entry.new} />
                <span className="text-body-secondary">
                  <Time iso={entry.at} />
                </span>
              </li>
            ))}
          </ol>
        )}
        {activity.hasNextPage && (
          <button
            type="button"
            className="btn btn-sm btn-link px-0"
            onClick={() => void activity.fetchNextPage()}
          >
            Show older changes
          </button>
        )}
      </div>
    </section>
  );
}

/** The run a reproduction entry of the history is about: its output is the evidence. */
function RunLink({ field, text }: { field: string; text: string | null }) {
  const job = field === "reproduction" || field === "verdict_override" ? jobOf(text) : null;
  if (job === null) return null;
  return (
    <>
      (<Link to={`/jobs/${job}`}>see the run</Link>){" "}
    </>
  );
}

function describeChange(
  field: string,
  from: string | null,
  to: string | null,
  names: Map<string, string>,
): string {
  const quote = (v: string | null) =>
    v === null || v === "" ? "nothing" : `“${v.length > 60 ? `${v.slice(0, 60)}…` : v}”`;
  if (field === "created") return "filed the bug";
  if (field === "comment") return "commented";
  if (field === "attachment")
    return to === null ? `removed the attachment ${quote(from)}` : `attached ${quote(to)}`;
  if (field === "repro_script")
    return to === null ? "removed the reproduction script" : "changed the reproduction script";
  if (field === "reproduction" || field === "verdict_override") return describeReproduction(field, to);
  if (field.startsWith("comment:")) return to === null ? "deleted a comment" : "edited a comment";
  if (field === "assignee_id") {
    const person = (id: string | null) => (id === null ? "nobody" : (names.get(id) ?? `user #${id}`));
    return to === null ? `unassigned ${person(from)}` : `assigned it to ${person(to)}`;
  }
  if (field === "status") {
    const label = (v: string | null) => (v && v in STATUS_LABEL ? STATUS_LABEL[v as BugStatus] : quote(v));
    return `moved it from ${label(from)} to ${label(to)}`;
  }
  const name = field.replace(/_/g, " ");
  if (from === null) return `set ${name} to ${quote(to)}`;
  if (to === null) return `cleared ${name} (was ${quote(from)})`;
  return `changed ${name} from ${quote(from)} to ${quote(to)}`;
}
