/** One project: what it is and who works on it (administrators manage membership). */
import { useState, type SubmitEvent } from "react";
import { Link, useParams } from "react-router";

import { ApiError, type Project, type ProjectMember } from "../api/client";
import {
  flattenPages,
  useAddMember,
  useMembers,
  useProject,
  useRemoveMember,
  useUsers,
} from "../api/queries";
import { Avatar, PageHeader, RoleBadge, Time } from "../ui/bits";
import { FormAlert, SelectField, SubmitButton } from "../ui/forms";
import { Markdown } from "../ui/Markdown";
import { BugList } from "./bugParts";
import { EmptyState, ErrorState, Loading, SkeletonRows } from "../ui/states";
import { useDocumentTitle } from "../ui/hooks";
import { describeError } from "../ui/errors";

export function ProjectPage() {
  const { projectKey = "" } = useParams();
  const project = useProject(projectKey);
  useDocumentTitle(project.data?.name ?? projectKey.toUpperCase());

  if (project.isPending) return <Loading label="Loading project…" />;
  if (project.isError) {
    if (project.error instanceof ApiError && project.error.status === 404) {
      return (
        <EmptyState
          level={1}
          icon="?"
          title={`No project “${projectKey.toUpperCase()}”`}
          action={
            <Link className="btn btn-primary" to="/projects">
              See your projects
            </Link>
          }
        >
          It doesn't exist, or you aren't a member of it.
        </EmptyState>
      );
    }
    return <ErrorState error={project.error} onRetry={() => void project.refetch()} />;
  }
  return <ProjectView project={project.data} />;
}

function ProjectView({ project }: { project: Project }) {
  return (
    <>
      <nav aria-label="Breadcrumb">
        <ol className="breadcrumb small mb-2">
          <li className="breadcrumb-item">
            <Link to="/projects">Projects</Link>
          </li>
          <li className="breadcrumb-item active" aria-current="page">
            {project.key}
          </li>
        </ol>
      </nav>
      <PageHeader
        title={
          <span className="d-inline-flex align-items-center gap-2 flex-wrap">
            <span className="project-key project-key-lg">{project.key}</span>
            <span>{project.name}</span>
          </span>
        }
        subtitle={
          <>
            Created <Time iso={project.created_at} /> · updated <Time iso={project.updated_at} />
          </>
        }
      />
      <div className="row g-4">
        <section className="col-lg-7" aria-labelledby="about">
          <div className="card h-100">
            <div className="card-body">
              <h2 id="about" className="h6 text-uppercase text-body-secondary mb-3">
                About
              </h2>
              {project.description.trim() ? (
                <Markdown source={project.description} />
              ) : (
                <p className="text-body-secondary mb-0">No description yet.</p>
              )}
            </div>
          </div>
        </section>
        <section className="col-lg-5" aria-labelledby="members">
          <Members projectKey={project.key} canManage={project.can.manage_members} />
        </section>
      </div>
      <section className="mt-4" aria-labelledby="bugs">
        <div className="section-header">
          <h2 id="bugs" className="h5 mb-0">
            Bugs
          </h2>
          {project.can.file_bugs && (
            <Link className="btn btn-primary btn-sm" to={`/projects/${project.key}/bugs/new`}>
              File a bug
            </Link>
          )}
        </div>
        <BugList projectKey={project.key} />
      </section>
    </>
  );
}

function Members({ projectKey, canManage }: { projectKey: string; canManage: boolean }) {
  const members = useMembers(projectKey);
  const count = members.data?.length;
  return (
    <div className="card h-100">
      <div className="card-body">
        <h2 id="members" className="h6 text-uppercase text-body-secondary mb-3">
          Members {count !== undefined && <span className="badge text-bg-light border ms-1">{count}</span>}
        </h2>
        {canManage && <AddMember projectKey={projectKey} members={members.data ?? []} />}
        {members.isPending ? (
          <SkeletonRows label="Loading members…" />
        ) : members.isError ? (
          <ErrorState error={members.error} onRetry={() => void members.refetch()} />
        ) : members.data.length === 0 ? (
          <p className="text-body-secondary mb-0">
            Nobody has been added yet.{canManage && " Pick someone above to add them."}
          </p>
        ) : (
          <ul className="list-unstyled mb-0 member-list">
            {members.data.map((member) => (
              <MemberRow key={member.user.id} projectKey={projectKey} member={member} canManage={canManage} />
            ))}
          </ul>
        )}
      </div>
    </div>
  );
}

function MemberRow({
  projectKey,
  member,
  canManage,
}: {
  projectKey: string;
  member: ProjectMember;
  canManage: boolean;
}) {
  const remove = useRemoveMember(projectKey);
  const [confirming, setConfirming] = useState(false);
  const { user } = member;
  return (
    <li className="member-row">
      <Avatar name={user.full_name} seed={user.email} />
      <div className="min-w-0 flex-grow-1">
        <div className="fw-medium text-truncate">
          {user.full_name} {!user.is_active && <span className="badge text-bg-secondary">inactive</span>}
        </div>
        <div className="small text-body-secondary text-truncate">{user.email}</div>
      </div>
      <RoleBadge role={user.role} />
      {canManage &&
        (confirming ? (
          <span className="d-flex gap-1">
            <button
              type="button"
              className="btn btn-sm btn-danger"
              disabled={remove.isPending}
              onClick={() => remove.mutate(user.id)}
            >
              Remove
            </button>
            <button
              type="button"
              className="btn btn-sm btn-outline-secondary"
              onClick={() => setConfirming(false)}
            >
              Keep
            </button>
          </span>
        ) : (
          <button
            type="button"
            className="btn btn-sm btn-outline-danger"
            aria-label={`Remove ${user.full_name} from the project`}
            onClick={() => setConfirming(true)}
          >
            Remove
          </button>
        ))}
      {remove.isError && (
        <div className="w-100 small text-danger" role="alert">
          {describeError(remove.error).detail}
        </div>
      )}
    </li>
  );
}

function AddMember({ projectKey, members }: { projectKey: string; members: ProjectMember[] }) {
  const users = useUsers({ is_active: true }, { pageSize: 200 });
  const add = useAddMember(projectKey);
  const [userId, setUserId] = useState("");
  const memberIds = new Set(members.map((m) => m.user.id));
  const candidates = flattenPages(users.data).filter((u) => !memberIds.has(u.id));

  function submit(event: SubmitEvent) {
    event.preventDefault();
    if (!userId) return;
    add.mutate(Number(userId), { onSuccess: () => setUserId("") });
  }

  return (
    <form className="add-member mb-3" onSubmit={submit}>
      <div className="d-flex gap-2 align-items-start">
        <SelectField
          label="Add a member"
          hideLabel
          className="flex-grow-1 mb-0"
          value={userId}
          onChange={(e) => setUserId(e.target.value)}
          disabled={users.isPending || candidates.length === 0}
        >
          <option value="">
            {users.isPending
              ? "Loading people…"
              : candidates.length === 0
                ? "Everyone is already a member"
                : "Choose a person to add…"}
          </option>
          {candidates.map((u) => (
            <option key={u.id} value={u.id}>
              {u.full_name} — {u.email} ({u.role})
            </option>
          ))}
        </SelectField>
        <SubmitButton pending={add.isPending} pendingLabel="Adding…" disabled={!userId}>
          Add
        </SubmitButton>
      </div>
      {users.isError && <FormAlert message={`Couldn't load people: ${describeError(users.error).detail}`} />}
      {add.isError && <FormAlert message={describeError(add.error).detail} />}
    </form>
  );
}
