/** Every project I can see; those who may create projects do it here. */
import { useNavigate, useSearchParams } from "react-router";

import { flattenPages, useProjects } from "../api/queries";
import { hasPermission, useCurrentUser } from "../app/currentUser";
import { PageHeader } from "../ui/bits";
import { EmptyState, ErrorState, Loading, SkeletonRows } from "../ui/states";
import { NewProjectForm, ProjectGrid } from "./projectParts";
import { useDocumentTitle } from "../ui/hooks";

export function ProjectsList() {
  useDocumentTitle("Projects");
  const user = useCurrentUser();
  const projects = useProjects();
  const navigate = useNavigate();
  const [params, setParams] = useSearchParams();
  const mayCreate = hasPermission(user, "projects:create");
  const creating = mayCreate && params.get("new") === "1";
  const items = flattenPages(projects.data);

  function setCreating(open: boolean) {
    setParams(open ? { new: "1" } : {}, { replace: true });
  }

  return (
    <>
      <PageHeader
        title="Projects"
        subtitle={
          hasPermission(user, "projects:see_all")
            ? "All projects in this workspace."
            : "Projects you are a member of."
        }
        actions={
          mayCreate && !creating ? (
            <button type="button" className="btn btn-primary" onClick={() => setCreating(true)}>
              New project
            </button>
          ) : undefined
        }
      />
      {creating && (
        <NewProjectForm
          onCancel={() => setCreating(false)}
          onCreated={(project) => void navigate(`/projects/${project.key}`)}
        />
      )}
      {projects.isPending ? (
        <SkeletonRows label="Loading projects…" rows={4} />
      ) : projects.isError ? (
        <ErrorState error={projects.error} onRetry={() => void projects.refetch()} />
      ) : items.length === 0 ? (
        creating ? null : (
          <EmptyState
            icon="▦"
            title="No projects yet"
            action={
              mayCreate ? (
                <button type="button" className="btn btn-primary" onClick={() => setCreating(true)}>
                  Create a project
                </button>
              ) : undefined
            }
          >
            {mayCreate
              ? "Create a project, then add the people who work on it."
              : "An administrator can add you to a project."}
          </EmptyState>
        )
      ) : (
        <>
          <ProjectGrid projects={items} />
          {projects.hasNextPage && (
            <div className="text-center mt-3">
              {projects.isFetchingNextPage ? (
                <Loading label="Loading more projects…" compact />
              ) : (
                <button
                  type="button"
                  className="btn btn-outline-primary"
                  onClick={() => void projects.fetchNextPage()}
                >
                  Load more
                </button>
              )}
            </div>
          )}
        </>
      )}
    </>
  );
}
