/** Pieces shared by the dashboard and the projects screens. */
import { useState, type SubmitEvent } from "react";
import { Link } from "react-router";

import type { Project } from "../api/client";
import { useCreateProject } from "../api/queries";
import { Time } from "../ui/bits";
import { Field, FormAlert, SubmitButton } from "../ui/forms";
import { formErrors } from "../ui/errors";

export function ProjectCard({ project }: { project: Project }) {
  const summary = project.description.split("\n").find((line) => line.trim()) ?? "";
  return (
    <div className="card project-card h-100">
      <div className="card-body">
        <div className="d-flex align-items-center gap-2 mb-2">
          <span className="project-key">{project.key}</span>
          <h2 className="h6 mb-0 text-truncate">
            <Link className="stretched-link text-reset text-decoration-none" to={`/projects/${project.key}`}>
              {project.name}
            </Link>
          </h2>
        </div>
        <p className="card-text small text-body-secondary project-summary">
          {summary.replace(/[#*_`>]/g, "") || <em>No description</em>}
        </p>
      </div>
      <div className="card-footer small text-body-secondary bg-transparent">
        Updated <Time iso={project.updated_at} />
      </div>
    </div>
  );
}

export function ProjectGrid({ projects }: { projects: Project[] }) {
  return (
    <ul className="row row-cols-1 row-cols-sm-2 row-cols-lg-3 g-3 list-unstyled">
      {projects.map((project) => (
        <li className="col" key={project.id}>
          <ProjectCard project={project} />
        </li>
      ))}
    </ul>
  );
}

const FIELDS = ["key", "name", "description"] as const;

export function NewProjectForm({
  onCreated,
  onCancel,
}: {
  onCreated: (project: Project) => void;
  onCancel: () => void;
}) {
  const create = useCreateProject();
  const [form, setForm] = useState({ key: "", name: "", description: "" });
  const errors = formErrors(create.error, FIELDS, {
    project_key_taken: { field: "key", message: "Another project already uses this key." },
  });

  function submit(event: SubmitEvent) {
    event.preventDefault();
    create.mutate(form, { onSuccess: onCreated });
  }

  return (
    <form
      className="card card-body mb-4 new-project"
      onSubmit={submit}
      noValidate
      aria-labelledby="new-project-title"
    >
      <h2 id="new-project-title" className="h5 mb-3">
        New project
      </h2>
      <FormAlert message={errors.summary} />
      <div className="row g-3">
        <Field
          className="col-sm-4 col-md-3"
          label="Key"
          name="key"
          required
          autoFocus
          maxLength={10}
          value={form.key}
          onChange={(e) => setForm({ ...form, key: e.target.value.toUpperCase().replace(/[^A-Z0-9]/g, "") })}
          error={errors.fields.key}
          help="2–10 letters or digits, e.g. WEB. Used in bug keys like WEB-12."
        />
        <Field
          className="col-sm-8 col-md-9"
          label="Name"
          name="name"
          required
          value={form.name}
          onChange={(e) => setForm({ ...form, name: e.target.value })}
          error={errors.fields.name}
        />
      </div>
      <div className="mb-3 mt-3">
        <label htmlFor="new-project-description" className="form-label">
          Description <span className="text-body-secondary">(optional, Markdown)</span>
        </label>
        <textarea
          id="new-project-description"
          name="description"
          className={`form-control${errors.fields.description ? " is-invalid" : ""}`}
          rows={3}
          value={form.description}
          onChange={(e) => setForm({ ...form, description: e.target.value })}
        />
        {errors.fields.description && <div className="invalid-feedback">{errors.fields.description}</div>}
      </div>
      <div className="d-flex gap-2">
        <SubmitButton pending={create.isPending} pendingLabel="Creating…">
          Create project
        </SubmitButton>
        <button type="button" className="btn btn-outline-secondary" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
