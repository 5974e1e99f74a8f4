/** Home: for now the projects I belong to; bugs, spend and jobs join as their APIs land. */
import { Link } from "react-router";

import { flattenPages, useProjects } from "../api/queries";
import { useCurrentUser } from "../app/currentUser";
import { PageHeader } from "../ui/bits";
import { EmptyState, ErrorState, SkeletonRows } from "../ui/states";
import { ProjectGrid } from "./projectParts";
import { useDocumentTitle } from "../ui/hooks";

const SHOWN = 6;

function greeting(now = new Date()): string {
  const hour = now.getHours();
  if (hour < 12) return "Good morning";
  if (hour < 18) return "Good afternoon";
  return "Good evening";
}

export function Dashboard() {
  useDocumentTitle("Dashboard");
  const user = useCurrentUser();
  const projects = useProjects();
  const items = flattenPages(projects.data);
  const firstName = user.full_name.split(/\s+/)[0] ?? user.full_name;

  return (
    <>
      <PageHeader
        title={`${greeting()}, ${firstName}`}
        subtitle="Here's what's going on in your workspace."
      />
      <section aria-labelledby="my-projects" className="dashboard-section">
        <div className="section-header">
          <h2 id="my-projects" className="h5 mb-0">
            {user.role === "admin" ? "Projects" : "My projects"}
          </h2>
          {items.length > 0 && <Link to="/projects">All projects</Link>}
        </div>
        {projects.isPending ? (
          <SkeletonRows label="Loading your projects…" />
        ) : projects.isError ? (
          <ErrorState error={projects.error} onRetry={() => void projects.refetch()} />
        ) : items.length === 0 ? (
          <EmptyState
            icon="▦"
            title="No projects yet"
            action={
              user.role === "admin" ? (
                <Link className="btn btn-primary" to="/projects?new=1">
                  Create the first project
                </Link>
              ) : undefined
            }
          >
            {user.role === "admin"
              ? "Projects hold bugs, budgets and their members."
              : "You'll see projects here once an administrator adds you to one."}
          </EmptyState>
        ) : (
          <ProjectGrid projects={items.slice(0, SHOWN)} />
        )}
      </section>
    </>
  );
}
