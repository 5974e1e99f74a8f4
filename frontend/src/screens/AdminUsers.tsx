/** Administrators: every account, its role and whether it may sign in. */
import { useQueryClient } from "@tanstack/react-query";
import { useState, type SubmitEvent } from "react";

import { ApiError, type Role, type User } from "../api/client";
import {
  flattenPages,
  queryKeys,
  useCreateUser,
  useRoles,
  useUpdateUser,
  useUsers,
  type UserFilters,
} from "../api/queries";
import { useCurrentUser } from "../app/currentUser";
import { Avatar, PageHeader, Time } from "../ui/bits";
import { Field, FormAlert, SelectField, SubmitButton } from "../ui/forms";
import { EmptyState, ErrorState, Loading, SkeletonRows } from "../ui/states";
import { useDebounced, useDocumentTitle } from "../ui/hooks";
import { formErrors, describeError } from "../ui/errors";

const ROLES: readonly Role[] = ["admin", "developer", "tester"];
const ROLE_HELP: Record<Role, string> = {
  admin: "Everything, including users and projects",
  developer: "Works on bugs in their projects",
  tester: "Files and verifies bugs",
};

type StatusFilter = "all" | "active" | "inactive";

const SELF_HINT = "Another administrator can change your own account";

export function AdminUsers() {
  useDocumentTitle("Users");
  const [search, setSearch] = useState("");
  const [role, setRole] = useState<Role | "">("");
  const [status, setStatus] = useState<StatusFilter>("all");
  const [creating, setCreating] = useState(false);
  const q = useDebounced(search);
  const filters: UserFilters = {
    ...(q.trim() ? { q: q.trim() } : {}),
    ...(role ? { role } : {}),
    ...(status === "all" ? {} : { is_active: status === "active" }),
  };
  const users = useUsers(filters);
  const items = flattenPages(users.data);
  const filtered = Object.keys(filters).length > 0;

  return (
    <>
      <PageHeader
        title="Users"
        subtitle="Create accounts, change roles, and switch off access for people who have left."
        actions={
          !creating && (
            <button type="button" className="btn btn-primary" onClick={() => setCreating(true)}>
              New user
            </button>
          )
        }
      />
      {creating && <NewUserForm onDone={() => setCreating(false)} />}
      <RolesMatrix />
      <form className="filters row g-2 mb-3" role="search" onSubmit={(e) => e.preventDefault()}>
        <Field
          className="col-md-6"
          label="Search"
          type="search"
          placeholder="Name or email"
          value={search}
          onChange={(e) => setSearch(e.target.value)}
        />
        <SelectField
          className="col-6 col-md-3"
          label="Role"
          value={role}
          onChange={(e) => setRole(e.target.value as Role | "")}
        >
          <option value="">Any role</option>
          {ROLES.map((r) => (
            <option key={r} value={r}>
              {r}
            </option>
          ))}
        </SelectField>
        <SelectField
          className="col-6 col-md-3"
          label="Status"
          value={status}
          onChange={(e) => setStatus(e.target.value as StatusFilter)}
        >
          <option value="all">Everyone</option>
          <option value="active">Active</option>
          <option value="inactive">Deactivated</option>
        </SelectField>
      </form>
      {users.isPending ? (
        <SkeletonRows label="Loading users…" rows={5} />
      ) : users.isError ? (
        <ErrorState error={users.error} onRetry={() => void users.refetch()} />
      ) : items.length === 0 ? (
        <EmptyState icon="☺" title={filtered ? "Nobody matches these filters" : "No users yet"}>
          {filtered ? "Try a different name, role or status." : "Create the first account above."}
        </EmptyState>
      ) : (
        <div className="card">
          <div className="table-responsive">
            <table className="table align-middle mb-0 users-table">
              <caption className="visually-hidden">Users</caption>
              <thead>
                <tr>
                  <th scope="col">Person</th>
                  <th scope="col">Role</th>
                  <th scope="col">Status</th>
                  <th scope="col" className="d-none d-md-table-cell">
                    Joined
                  </th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {items.map((user) => (
                  <UserRow key={user.id} user={user} />
                ))}
              </tbody>
            </table>
          </div>
          <div className="card-footer bg-transparent d-flex justify-content-between align-items-center">
            <span className="small text-body-secondary" aria-live="polite">
              Showing {items.length}
              {users.hasNextPage ? "" : items.length === 1 ? " user" : " users"}
            </span>
            {users.hasNextPage &&
              (users.isFetchingNextPage ? (
                <Loading label="Loading more…" compact />
              ) : (
                <button
                  type="button"
                  className="btn btn-sm btn-outline-primary"
                  onClick={() => void users.fetchNextPage()}
                >
                  Load more
                </button>
              ))}
          </div>
        </div>
      )}
    </>
  );
}

function UserRow({ user }: { user: User }) {
  const me = useCurrentUser();
  const update = useUpdateUser();
  const queryClient = useQueryClient();
  const isMe = user.id === me.id;
  const error = update.error;
  const conflict = error instanceof ApiError && error.isConflict;

  function reload() {
    update.reset();
    void queryClient.invalidateQueries({ queryKey: queryKeys.users });
  }

  return (
    <>
      <tr className={user.is_active ? undefined : "row-inactive"}>
        <td>
          <div className="d-flex align-items-center gap-2 min-w-0">
            <Avatar name={user.full_name} seed={user.email} />
            <div className="min-w-0">
              <div className="fw-medium text-truncate">
                {user.full_name} {isMe && <span className="badge text-bg-light border">you</span>}
              </div>
              <div className="small text-body-secondary text-truncate">{user.email}</div>
            </div>
          </div>
        </td>
        <td>
          <label className="visually-hidden" htmlFor={`role-${user.id}`}>
            Role of {user.full_name}
          </label>
          <select
            id={`role-${user.id}`}
            className="form-select form-select-sm role-select"
            value={user.role}
            // Changing your own role or switching yourself off is a lock-out waiting to happen;
            // another administrator can do it deliberately.
            disabled={update.isPending || isMe}
            title={isMe ? SELF_HINT : undefined}
            onChange={(e) => update.mutate({ user, changes: { role: e.target.value as Role } })}
          >
            {ROLES.map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
        </td>
        <td>
          {user.is_active ? (
            <span className="badge text-bg-success-subtle text-success-emphasis border border-success-subtle">
              Active
            </span>
          ) : (
            <span className="badge text-bg-secondary">Deactivated</span>
          )}
        </td>
        <td className="d-none d-md-table-cell small text-body-secondary">
          <Time iso={user.created_at} />
        </td>
        <td className="text-end text-nowrap">
          <button
            type="button"
            className={`btn btn-sm ${user.is_active ? "btn-outline-danger" : "btn-outline-success"}`}
            disabled={update.isPending || isMe}
            title={isMe ? SELF_HINT : undefined}
            aria-label={`${user.is_active ? "Deactivate" : "Reactivate"} ${user.full_name}`}
            onClick={() => update.mutate({ user, changes: { is_active: !user.is_active } })}
          >
            {user.is_active ? "Deactivate" : "Reactivate"}
          </button>
        </td>
      </tr>
      {error && (
        <tr className="row-message">
          <td colSpan={5}>
            <div
              className={`alert ${conflict ? "alert-warning" : "alert-danger"} d-flex flex-wrap align-items-center gap-2 py-2 mb-0`}
              role="alert"
            >
              <span className="flex-grow-1">
                {conflict ? (
                  <>
                    <strong>Someone changed {user.full_name} while you were looking.</strong> Reload to see
                    the current state, then try again.
                  </>
                ) : error instanceof ApiError && error.code === "last_admin" ? (
                  "Nimbus needs at least one active administrator, so this change was not made."
                ) : (
                  describeError(error).detail
                )}
              </span>
              {conflict ? (
                <button type="button" className="btn btn-sm btn-warning" onClick={reload}>
                  Reload
                </button>
              ) : (
                <button
                  type="button"
                  className="btn btn-sm btn-outline-secondary"
                  onClick={() => update.reset()}
                >
                  Dismiss
                </button>
              )}
            </div>
          </td>
        </tr>
      )}
    </>
  );
}

const NEW_USER_FIELDS = ["full_name", "email", "password", "role"] as const;

function NewUserForm({ onDone }: { onDone: () => void }) {
  const create = useCreateUser();
  const [form, setForm] = useState({ full_name: "", email: "", password: "", role: "tester" as Role });
  const errors = formErrors(create.error, NEW_USER_FIELDS, {
    email_taken: { field: "email", message: "An account with this email already exists." },
  });

  function submit(event: SubmitEvent) {
    event.preventDefault();
    create.mutate(form, { onSuccess: onDone });
  }

  return (
    <form className="card card-body mb-4" onSubmit={submit} noValidate aria-labelledby="new-user-title">
      <h2 id="new-user-title" className="h5 mb-3">
        New user
      </h2>
      <FormAlert message={errors.summary} />
      <div className="row g-3">
        <Field
          className="col-md-6"
          label="Full name"
          autoFocus
          required
          value={form.full_name}
          onChange={(e) => setForm({ ...form, full_name: e.target.value })}
          error={errors.fields.full_name}
        />
        <Field
          className="col-md-6"
          label="Email"
          type="email"
          required
          autoComplete="off"
          value={form.email}
          onChange={(e) => setForm({ ...form, email: e.target.value })}
          error={errors.fields.email}
        />
        <Field
          className="col-md-6"
          label="Initial password"
          type="password"
          autoComplete="new-password"
          required
          minLength={8}
          value={form.password}
          onChange={(e) => setForm({ ...form, password: e.target.value })}
          error={errors.fields.password}
          help="At least 8 characters. Share it privately; they can change it on their profile."
        />
        <SelectField
          className="col-md-6"
          label="Role"
          value={form.role}
          onChange={(e) => setForm({ ...form, role: e.target.value as Role })}
          error={errors.fields.role}
        >
          {ROLES.map((r) => (
            <option key={r} value={r}>
              {r} — {ROLE_HELP[r]}
            </option>
          ))}
        </SelectField>
      </div>
      <div className="d-flex gap-2 mt-3">
        <SubmitButton pending={create.isPending} pendingLabel="Creating…">
          Create user
        </SubmitButton>
        <button type="button" className="btn btn-outline-secondary" onClick={onDone}>
          Cancel
        </button>
      </div>
    </form>
  );
}

/** What each role may do, straight from GET /roles: the matrix the API actually enforces. */
function RolesMatrix() {
  const [open, setOpen] = useState(false);
  const roles = useRoles({ enabled: open });
  return (
    <details className="card card-body mb-4 roles-matrix" onToggle={(e) => setOpen(e.currentTarget.open)}>
      <summary className="fw-medium">What can each role do?</summary>
      <div className="mt-3">
        {roles.isPending ? (
          <Loading label="Loading permissions…" compact />
        ) : roles.isError ? (
          <ErrorState error={roles.error} onRetry={() => void roles.refetch()} />
        ) : (
          <div className="table-responsive">
            <table className="table table-sm align-middle mb-0">
              <caption className="visually-hidden">Permissions by role</caption>
              <thead>
                <tr>
                  <th scope="col">Permission</th>
                  {roles.data.roles.map((role) => (
                    <th scope="col" key={role} className="text-center">
                      {role}
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {roles.data.permissions.map((permission) => (
                  <tr key={permission.name}>
                    <th scope="row" className="fw-normal">
                      {permission.description}
                      <div className="small text-body-secondary font-monospace">{permission.name}</div>
                    </th>
                    {roles.data.roles.map((role) => (
                      <td key={role} className="text-center">
                        {permission.roles.includes(role) ? (
                          <span className="text-success" aria-label="allowed">
                            ✓
                          </span>
                        ) : (
                          <span className="text-body-tertiary" aria-label="not allowed">
                            –
                          </span>
                        )}
                      </td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </div>
    </details>
  );
}
