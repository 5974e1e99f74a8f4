/** Home: my bugs, recent changes, this month's spend, my latest runs and my projects. */
import { Link } from "react-router";

import { useBugs, type BugFilters } from "../api/bugs";
import { flattenPages, useProjects } from "../api/queries";
import { hasPermission, useCurrentUser } from "../app/currentUser";
import { PageHeader } from "../ui/bits";
import { EmptyState, ErrorState, SkeletonRows } from "../ui/states";
import { StatusBadge } from "./bugParts";
import { ProjectGrid } from "./projectParts";
import { useDocumentTitle } from "../ui/hooks";
import { useExpenseSummary } from "../api/expenses";
import { useJobStorage, useJobs } from "../api/jobs";
import { Time } from "../ui/bits";
import { formatBytes, monthRange } from "../ui/format";
import { formatMoney } from "../ui/money";
import { JobOriginLabel } from "./jobs/jobInput";
import { JobStatusBadge } from "./jobs/jobParts";
import { formatDuration } from "./jobs/jobText";

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

  const seesAllProjects = hasPermission(user, "projects:see_all");
  const createsProjects = hasPermission(user, "projects:create");
  return (
    <>
      <PageHeader
        title={`${greeting()}, ${firstName}`}
        subtitle="Here's what's going on in your workspace."
      />
      <div className="row g-4 mb-4">
        <section className="col-lg-6" aria-labelledby="my-bugs">
          <DashboardBugs
            id="my-bugs"
            title="Assigned to me"
            filters={{ assignee_id: "me", status: ["open", "in_progress"], sort: "-priority" }}
            empty="Nothing assigned to you is open."
            more="/bugs?assignee=me"
          />
        </section>
        <section className="col-lg-6" aria-labelledby="recent-bugs">
          <DashboardBugs
            id="recent-bugs"
            title="Recently changed"
            filters={{ sort: "-updated_at" }}
            empty="No bugs have been filed yet."
            more="/bugs?view=all"
          />
        </section>
      </div>
      <div className="row g-4 mb-4">
        <section className="col-lg-6" aria-labelledby="month-spend">
          <MonthSpend />
        </section>
        <section className="col-lg-6" aria-labelledby="recent-jobs">
          <RecentJobs />
        </section>
      </div>
      {hasPermission(user, "jobs:see_all") && (
        <section aria-labelledby="job-storage" className="mb-4">
          <JobStorage />
        </section>
      )}
      <section aria-labelledby="my-projects" className="dashboard-section">
        <div className="section-header">
          <h2 id="my-projects" className="h5 mb-0">
            {seesAllProjects ? "Projects" : "My projects"}
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
              createsProjects ? (
                <Link className="btn btn-primary" to="/projects?new=1">
                  Create the first project
                </Link>
              ) : undefined
            }
          >
            {createsProjects
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

function DashboardBugs({
  id,
  title,
  filters,
  empty,
  more,
}: {
  id: string;
  title: string;
  filters: BugFilters;
  empty: string;
  more: string;
}) {
  const bugs = useBugs(null, filters, 6);
  const items = flattenPages(bugs.data).slice(0, 6);
  return (
    <div className="card h-100">
      <div className="card-body">
        <div className="section-header">
          <h2 id={id} className="h6 text-uppercase text-body-secondary mb-0">
            {title}
          </h2>
          {items.length > 0 && (
            <Link to={more} className="small">
              See all
            </Link>
          )}
        </div>
        {bugs.isPending ? (
          <SkeletonRows label={`Loading ${title.toLowerCase()}…`} rows={3} />
        ) : bugs.isError ? (
          <ErrorState error={bugs.error} onRetry={() => void bugs.refetch()} />
        ) : items.length === 0 ? (
          <p className="text-body-secondary mb-0">{empty}</p>
        ) : (
          <ul className="list-unstyled mb-0 dashboard-bugs">
            {items.map((bug) => (
              <li key={bug.id} className="d-flex align-items-center gap-2 py-1">
                <span className="bug-key">{bug.key}</span>
                <Link to={`/bugs/${bug.key}`} className="text-truncate flex-grow-1">
                  {bug.title}
                </Link>
                <StatusBadge status={bug.status} />
              </li>
            ))}
          </ul>
        )}
      </div>
    </div>
  );
}

function MonthSpend() {
  const range = monthRange();
  const summary = useExpenseSummary([], range);
  const rows = [...(summary.data?.rows ?? [])].sort((a, b) => a.currency.localeCompare(b.currency));
  const month = new Intl.DateTimeFormat(undefined, { month: "long" }).format(new Date());
  return (
    <div className="card h-100">
      <div className="card-body">
        <div className="section-header">
          <h2 id="month-spend" className="h6 text-uppercase text-body-secondary mb-0">
            Spent in {month}
          </h2>
          <Link to={`/expenses?from=${range.from}&to=${range.to}`} className="small">
            Expenses
          </Link>
        </div>
        {summary.isPending ? (
          <SkeletonRows label="Adding up this month…" rows={1} />
        ) : summary.isError ? (
          <ErrorState error={summary.error} onRetry={() => void summary.refetch()} />
        ) : rows.length === 0 ? (
          <p className="text-body-secondary mb-0">
            Nothing recorded this month. <Link to="/expenses/new">Record an expense</Link>
          </p>
        ) : (
          <ul className="list-unstyled d-flex flex-wrap gap-4 mb-0" aria-label="This month per currency">
            {rows.map((row) => (
              <li key={row.currency}>
                <div className="fs-4 fw-semibold money">{formatMoney(row.total, row.currency)}</div>
                <div className="small text-body-secondary">
                  {row.count} {row.count === 1 ? "expense" : "expenses"}
                </div>
              </li>
            ))}
          </ul>
        )}
      </div>
    </div>
  );
}

function RecentJobs() {
  const jobs = useJobs(5);
  const items = flattenPages(jobs.data).slice(0, 5);
  return (
    <div className="card h-100">
      <div className="card-body">
        <div className="section-header">
          <h2 id="recent-jobs" className="h6 text-uppercase text-body-secondary mb-0">
            Recent runs
          </h2>
          <Link to="/run" className="small">
            Code runner
          </Link>
        </div>
        {jobs.isPending ? (
          <SkeletonRows label="Loading your runs…" rows={2} />
        ) : jobs.isError ? (
          <ErrorState error={jobs.error} onRetry={() => void jobs.refetch()} />
        ) : items.length === 0 ? (
          <p className="text-body-secondary mb-0">You haven't run any code yet.</p>
        ) : (
          <ul className="list-unstyled mb-0">
            {items.map((job) => (
              <li key={job.id} className="d-flex align-items-center gap-2 py-1">
                <JobStatusBadge status={job.status} />
                <Link to={`/jobs/${job.id}`} className="text-truncate">
                  <code>{job.entrypoint}</code>
                </Link>
                <JobOriginLabel origin={job.origin} />
                <span className="small text-body-secondary ms-auto text-nowrap">
                  {formatDuration(job.duration_ms)} · <Time iso={job.created_at} />
                </span>
              </li>
            ))}
          </ul>
        )}
      </div>
    </div>
  );
}

function JobStorage() {
  const storage = useJobStorage();
  const data = storage.data;
  return (
    <div className="card">
      <div className="card-body">
        <div className="section-header">
          <h2 id="job-storage" className="h6 text-uppercase text-body-secondary mb-0">
            Stored by the code runner
          </h2>
        </div>
        {storage.isPending ? (
          <SkeletonRows label="Adding up what runs store…" rows={1} />
        ) : storage.isError ? (
          <ErrorState error={storage.error} onRetry={() => void storage.refetch()} />
        ) : data ? (
          <>
            <ul className="list-unstyled d-flex flex-wrap gap-4 mb-2" aria-label="Job storage">
              <li>
                <div className="fs-4 fw-semibold">{formatBytes(data.stored_bytes)}</div>
                <div className="small text-body-secondary">
                  output, files and events ({formatBytes(data.file_bytes)} in files)
                </div>
              </li>
              <li>
                <div className="fs-4 fw-semibold">{data.jobs}</div>
                <div className="small text-body-secondary">runs, {data.purged_jobs} with output removed</div>
              </li>
              <li>
                <div className="fs-4 fw-semibold">{data.events}</div>
                <div className="small text-body-secondary">stored events</div>
              </li>
            </ul>
            <p className="small text-body-secondary mb-0">
              {data.retention_days > 0
                ? `Output is removed ${data.retention_days} days after a run ends`
                : "Output is kept forever"}
              {data.storage_per_user_bytes > 0
                ? `, and a user's oldest runs beyond ${formatBytes(data.storage_per_user_bytes)}.`
                : "."}{" "}
              Reproductions of bugs that are not closed are kept.
            </p>
          </>
        ) : null}
      </div>
    </div>
  );
}
