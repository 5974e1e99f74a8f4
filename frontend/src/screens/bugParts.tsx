/** Pieces shared by the bug screens: badges and the filterable, paged bug list. */
import { useEffect, useState, type ReactNode } from "react";
import { Link, useSearchParams } from "react-router";

import type { Bug, BugStatus } from "../api/client";
import { BUG_STATUSES, PRIORITIES, useBugs, type BugFilters } from "../api/bugs";
import { flattenPages } from "../api/queries";
import { Time } from "../ui/bits";
import { Field, SelectField } from "../ui/forms";
import { useDebounced } from "../ui/hooks";
import { EmptyState, ErrorState, Loading, SkeletonRows } from "../ui/states";
import { humanise, STATUS_LABEL } from "./bugText";

export function StatusBadge({ status }: { status: BugStatus }) {
  return <span className={`badge status-badge status-${status}`}>{STATUS_LABEL[status]}</span>;
}

export function PriorityLabel({ priority }: { priority: string }) {
  return <span className={`priority priority-${priority}`}>{priority}</span>;
}

const VIEWS: Record<string, { label: string; status?: BugStatus[] }> = {
  active: { label: "Open and in progress", status: ["open", "in_progress"] },
  resolved: { label: "Waiting for verification", status: ["resolved"] },
  all: { label: "All statuses" },
  ...Object.fromEntries(BUG_STATUSES.map((s) => [s, { label: STATUS_LABEL[s], status: [s] }])),
};

const SORTS: Record<string, string> = {
  "-updated_at": "Recently updated",
  "-created_at": "Newest first",
  created_at: "Oldest first",
  "-priority": "Highest priority",
};

/** The bug list with its filters kept in the URL, so a filtered view can be shared or bookmarked. */
export function BugList({ projectKey, leading }: { projectKey: string | null; leading?: ReactNode }) {
  const [params, setParams] = useSearchParams();
  const view = params.get("view") ?? "active";
  const assignee = params.get("assignee") ?? "";
  const priority = PRIORITIES.find((p) => p === params.get("priority")) ?? "";
  const sort = params.get("sort") ?? "-updated_at";
  const [search, setSearch] = useState(params.get("q") ?? "");
  const q = useDebounced(search);
  const filters: BugFilters = {
    ...(VIEWS[view]?.status ? { status: VIEWS[view].status } : {}),
    ...(assignee ? { assignee_id: assignee } : {}),
    ...(priority ? { priority: [priority] } : {}),
    ...(q.trim() ? { q: q.trim() } : {}),
    sort,
  };
  const bugs = useBugs(projectKey, filters);
  const items = flattenPages(bugs.data);

  // The search goes into the URL too (once typing pauses): Back returns to it, a link shares it.
  useEffect(() => {
    const wanted = q.trim();
    setParams(
      (current) => {
        if ((current.get("q") ?? "") === wanted) return current;
        const next = new URLSearchParams(current);
        if (wanted) next.set("q", wanted);
        else next.delete("q");
        return next;
      },
      { replace: true },
    );
  }, [q, setParams]);

  function setParam(name: string, value: string, fallback: string) {
    const next = new URLSearchParams(params);
    if (value === fallback) next.delete(name);
    else next.set(name, value);
    setParams(next, { replace: true });
  }

  return (
    <div>
      <form className="row g-2 mb-3" role="search" onSubmit={(e) => e.preventDefault()}>
        {leading}
        <Field
          className="col-md-3"
          label="Search bugs"
          type="search"
          placeholder="Words, or a key like WEB-12"
          value={search}
          onChange={(e) => setSearch(e.target.value)}
        />
        <SelectField
          className="col-6 col-md"
          label="Status"
          value={view}
          onChange={(e) => setParam("view", e.target.value, "active")}
        >
          {Object.entries(VIEWS).map(([value, { label }]) => (
            <option key={value} value={value}>
              {label}
            </option>
          ))}
        </SelectField>
        <SelectField
          className="col-6 col-md"
          label="Assignee"
          value={assignee}
          onChange={(e) => setParam("assignee", e.target.value, "")}
        >
          <option value="">Anyone</option>
          <option value="me">Me</option>
          <option value="none">Nobody</option>
        </SelectField>
        <SelectField
          className="col-6 col-md"
          label="Priority"
          value={priority}
          onChange={(e) => setParam("priority", e.target.value, "")}
        >
          <option value="">Any</option>
          {[...PRIORITIES].reverse().map((p) => (
            <option key={p} value={p}>
              {humanise(p)}
            </option>
          ))}
        </SelectField>
        <SelectField
          className="col-6 col-md"
          label="Sort"
          value={sort}
          onChange={(e) => setParam("sort", e.target.value, "-updated_at")}
        >
          {Object.entries(SORTS).map(([value, label]) => (
            <option key={value} value={value}>
              {label}
            </option>
          ))}
        </SelectField>
      </form>
      {bugs.isPending ? (
        <SkeletonRows label="Loading bugs…" rows={4} />
      ) : bugs.isError ? (
        <ErrorState error={bugs.error} onRetry={() => void bugs.refetch()} />
      ) : items.length === 0 ? (
        <EmptyState
          icon="✓"
          title={q || assignee || priority || view !== "active" ? "No bugs match" : "No open bugs"}
        >
          {q || assignee || priority || view !== "active"
            ? "Try another status, assignee, priority or search."
            : "Nothing is waiting to be worked on here."}
        </EmptyState>
      ) : (
        <div className="card">
          <BugTable bugs={items} showProject={projectKey === null} />
          {bugs.hasNextPage && (
            <div className="card-footer bg-transparent text-center">
              {bugs.isFetchingNextPage ? (
                <Loading label="Loading more bugs…" compact />
              ) : (
                <button
                  type="button"
                  className="btn btn-sm btn-outline-primary"
                  onClick={() => void bugs.fetchNextPage()}
                >
                  Load more
                </button>
              )}
            </div>
          )}
        </div>
      )}
    </div>
  );
}

export function BugTable({ bugs, showProject }: { bugs: Bug[]; showProject: boolean }) {
  return (
    <div className="table-responsive">
      <table className="table align-middle mb-0 bug-table">
        <caption className="visually-hidden">Bugs</caption>
        <thead>
          <tr>
            <th scope="col">Bug</th>
            <th scope="col">Status</th>
            <th scope="col" className="d-none d-md-table-cell">
              Priority
            </th>
            <th scope="col" className="d-none d-md-table-cell">
              Assignee
            </th>
            <th scope="col" className="d-none d-lg-table-cell">
              Updated
            </th>
          </tr>
        </thead>
        <tbody>
          {bugs.map((bug) => (
            <tr key={bug.id}>
              <td className="bug-title-cell">
                <span className="bug-key">{bug.key}</span>{" "}
                <Link to={`/bugs/${bug.key}`} className="fw-medium">
                  {bug.title}
                </Link>
                {bug.labels.length > 0 && (
                  <span className="ms-2">
                    {bug.labels.map((label) => (
                      <span key={label} className="badge label-badge me-1">
                        {label}
                      </span>
                    ))}
                  </span>
                )}
                {showProject && <span className="visually-hidden"> in {bug.project_key}</span>}
              </td>
              <td>
                <StatusBadge status={bug.status} />
              </td>
              <td className="d-none d-md-table-cell">
                <PriorityLabel priority={bug.priority} />
              </td>
              <td className="d-none d-md-table-cell">
                {bug.assignee ? bug.assignee.full_name : <span className="text-body-secondary">—</span>}
              </td>
              <td className="d-none d-lg-table-cell small text-body-secondary">
                <Time iso={bug.updated_at} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
