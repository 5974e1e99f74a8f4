/** File a bug in a project. */
import { useState, type SubmitEvent } from "react";
import { Link, useNavigate, useParams, useSearchParams } from "react-router";

import { PRIORITIES, SEVERITIES, useCreateBug } from "../api/bugs";
import { flattenPages, useMembers, useProjects } from "../api/queries";
import { useHasPermission } from "../app/currentUser";
import { PageHeader } from "../ui/bits";
import { formErrors } from "../ui/errors";
import { Field, FormAlert, SelectField, SubmitButton } from "../ui/forms";
import { useDocumentTitle } from "../ui/hooks";
import { Markdown } from "../ui/Markdown";
import { humanise } from "./bugText";

const FIELDS = ["title", "description", "priority", "severity", "labels", "assignee_id"] as const;

export function NewBug() {
  const { projectKey } = useParams();
  const [params] = useSearchParams();
  // /bugs/new (from the Bugs page) lets the user pick the project; ?project= preselects it
  const [chosen, setChosen] = useState(params.get("project") ?? "");
  const key = (projectKey ?? chosen).toUpperCase();
  useDocumentTitle(key ? `New bug in ${key}` : "New bug");
  const navigate = useNavigate();
  const create = useCreateBug(key);
  const members = useMembers(key);
  const assignable = (members.data ?? []).filter((m) => m.assignable);
  const mayAssign = useHasPermission("bugs:assign");
  const [preview, setPreview] = useState(false);
  const [form, setForm] = useState({
    title: "",
    description: "",
    priority: "medium" as (typeof PRIORITIES)[number],
    severity: "normal" as (typeof SEVERITIES)[number],
    labels: "",
    assignee: "",
  });
  const errors = formErrors(create.error, FIELDS);

  function submit(event: SubmitEvent) {
    event.preventDefault();
    create.mutate(
      {
        title: form.title,
        description: form.description,
        priority: form.priority,
        severity: form.severity,
        labels: form.labels
          .split(",")
          .map((l) => l.trim())
          .filter(Boolean),
        assignee_id: form.assignee ? Number(form.assignee) : null,
      },
      { onSuccess: (bug) => void navigate(`/bugs/${bug.key}`) },
    );
  }

  return (
    <>
      <nav aria-label="Breadcrumb">
        <ol className="breadcrumb small mb-2">
          {projectKey === undefined ? (
            <li className="breadcrumb-item">
              <Link to="/bugs">Bugs</Link>
            </li>
          ) : (
            <>
              <li className="breadcrumb-item">
                <Link to="/projects">Projects</Link>
              </li>
              <li className="breadcrumb-item">
                <Link to={`/projects/${key}`}>{key}</Link>
              </li>
            </>
          )}
          <li className="breadcrumb-item active" aria-current="page">
            New bug
          </li>
        </ol>
      </nav>
      <PageHeader title="File a bug" subtitle="Say what happened, what you expected, and how to see it." />
      <form className="card card-body" onSubmit={submit} noValidate>
        <FormAlert message={errors.summary} />
        {projectKey === undefined && <ProjectChoice value={chosen} onChange={setChosen} />}
        <Field
          label="Title"
          name="title"
          required
          autoFocus
          maxLength={300}
          value={form.title}
          onChange={(e) => setForm({ ...form, title: e.target.value })}
          error={errors.fields.title}
        />
        <div className="mb-3">
          <div className="d-flex justify-content-between align-items-end mb-2">
            <label htmlFor="bug-description" className="form-label mb-0">
              Description <span className="text-body-secondary">(Markdown)</span>
            </label>
            <button
              type="button"
              className="btn btn-sm btn-link p-0"
              aria-pressed={preview}
              onClick={() => setPreview(!preview)}
            >
              {preview ? "Edit" : "Preview"}
            </button>
          </div>
          {preview ? (
            <div className="border rounded p-3 bg-body-tertiary" aria-live="polite">
              {form.description.trim() ? (
                <Markdown source={form.description} />
              ) : (
                <em className="text-body-secondary">Nothing to preview.</em>
              )}
            </div>
          ) : (
            <textarea
              id="bug-description"
              className={`form-control font-monospace${errors.fields.description ? " is-invalid" : ""}`}
              rows={8}
              placeholder={"Steps to reproduce:\n1. …\n\nExpected: …\nActual: …"}
              value={form.description}
              onChange={(e) => setForm({ ...form, description: e.target.value })}
            />
          )}
          {errors.fields.description && (
            <div className="invalid-feedback d-block">{errors.fields.description}</div>
          )}
        </div>
        <div className="row g-3">
          <SelectField
            className="col-sm-6 col-lg-3"
            label="Priority"
            value={form.priority}
            onChange={(e) => setForm({ ...form, priority: e.target.value as (typeof PRIORITIES)[number] })}
            error={errors.fields.priority}
          >
            {PRIORITIES.map((p) => (
              <option key={p} value={p}>
                {humanise(p)}
              </option>
            ))}
          </SelectField>
          <SelectField
            className="col-sm-6 col-lg-3"
            label="Severity"
            value={form.severity}
            onChange={(e) => setForm({ ...form, severity: e.target.value as (typeof SEVERITIES)[number] })}
            error={errors.fields.severity}
          >
            {SEVERITIES.map((s) => (
              <option key={s} value={s}>
                {humanise(s)}
              </option>
            ))}
          </SelectField>
          {mayAssign && (
            <SelectField
              className="col-sm-6 col-lg-3"
              label="Assignee"
              value={form.assignee}
              onChange={(e) => setForm({ ...form, assignee: e.target.value })}
              error={errors.fields.assignee_id}
            >
              <option value="">Nobody yet</option>
              {assignable.map((m) => (
                <option key={m.user.id} value={m.user.id}>
                  {m.user.full_name}
                </option>
              ))}
            </SelectField>
          )}
          <Field
            className="col-sm-6 col-lg-3"
            label="Labels"
            placeholder="checkout, ui"
            value={form.labels}
            onChange={(e) => setForm({ ...form, labels: e.target.value })}
            error={errors.fields.labels}
            help="Comma-separated."
          />
        </div>
        <div className="d-flex gap-2 mt-2">
          <SubmitButton pending={create.isPending} pendingLabel="Filing…" disabled={!key}>
            File bug
          </SubmitButton>
          <Link
            className="btn btn-outline-secondary"
            to={projectKey === undefined ? "/bugs" : `/projects/${key}`}
          >
            Cancel
          </Link>
        </div>
      </form>
    </>
  );
}

/** Which project a bug filed from the Bugs page goes to. */
function ProjectChoice({ value, onChange }: { value: string; onChange: (key: string) => void }) {
  const projects = flattenPages(useProjects().data);
  return (
    <SelectField
      label="Project"
      name="project"
      required
      value={value}
      onChange={(e) => onChange(e.target.value)}
    >
      <option value="">Choose a project…</option>
      {projects.map((p) => (
        <option key={p.key} value={p.key}>
          {p.key} · {p.name}
        </option>
      ))}
    </SelectField>
  );
}
