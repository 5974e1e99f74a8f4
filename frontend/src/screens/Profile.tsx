/** My account: name, email and notifications, password, and personal access tokens. */
import { useState, type SubmitEvent } from "react";

import { ApiError, type PersonalAccessTokenCreated, type User } from "../api/client";
import { useCreateToken, useMe, useRevokeToken, useTokens, useUpdateMe } from "../api/queries";
import { useCurrentUser } from "../app/currentUser";
import { CopyButton, PageHeader, RoleBadge, Time } from "../ui/bits";
import { Field, FormAlert, SelectField, SubmitButton } from "../ui/forms";
import { ConflictNotice, EmptyState, ErrorState, SkeletonRows } from "../ui/states";
import { useDocumentTitle } from "../ui/hooks";
import { formErrors, describeError } from "../ui/errors";

export function ProfilePage() {
  useDocumentTitle("Profile");
  const user = useCurrentUser();
  return (
    <>
      <PageHeader
        title="Your profile"
        subtitle={
          <>
            Signed in as {user.email} · <RoleBadge role={user.role} />
          </>
        }
      />
      <div className="row g-4">
        <div className="col-lg-6">
          <AccountCard user={user} />
        </div>
        <div className="col-lg-6">
          <PasswordCard user={user} />
        </div>
        <div className="col-12">
          <TokensCard />
        </div>
      </div>
    </>
  );
}

function Saved({ show, children }: { show: boolean; children: string }) {
  return (
    <span className="text-success small ms-2" role="status" aria-live="polite">
      {show ? children : ""}
    </span>
  );
}

function formFrom(user: User) {
  return {
    full_name: user.full_name,
    email: user.email,
    email_notifications: user.email_notifications,
    current_password: "",
  };
}

function AccountCard({ user }: { user: User }) {
  const update = useUpdateMe();
  const me = useMe();
  const [form, setForm] = useState(() => formFrom(user));
  const emailChanged = form.email.trim().toLowerCase() !== user.email;
  const errors = formErrors(update.error, ["full_name", "email", "current_password"], {
    email_taken: { field: "email", message: "Another account already uses this email." },
    current_password_required: {
      field: "current_password",
      message: "Enter your current password to change your email.",
    },
  });
  const conflict = update.error instanceof ApiError && update.error.isConflict;

  function submit(event: SubmitEvent) {
    event.preventDefault();
    update.mutate(
      {
        version: user.version,
        changes: {
          full_name: form.full_name,
          email_notifications: form.email_notifications,
          ...(emailChanged ? { email: form.email.trim(), current_password: form.current_password } : {}),
        },
      },
      { onSuccess: (saved) => setForm(formFrom(saved)) },
    );
  }

  async function reload() {
    const fresh = await me.refetch();
    if (fresh.data) setForm(formFrom(fresh.data));
    update.reset();
  }

  return (
    <form className="card h-100" onSubmit={submit} noValidate aria-labelledby="account-title">
      <div className="card-body">
        <h2 id="account-title" className="h5 mb-3">
          Account
        </h2>
        {conflict ? (
          <ConflictNotice what="your profile" onReload={() => void reload()} />
        ) : (
          <FormAlert message={errors.summary} />
        )}
        <Field
          label="Full name"
          name="full_name"
          autoComplete="name"
          value={form.full_name}
          onChange={(e) => setForm({ ...form, full_name: e.target.value })}
          error={errors.fields.full_name}
        />
        <Field
          label="Email"
          type="email"
          name="email"
          autoComplete="email"
          value={form.email}
          onChange={(e) => setForm({ ...form, email: e.target.value })}
          error={errors.fields.email}
        />
        {emailChanged && (
          <Field
            label="Current password"
            type="password"
            name="current_password"
            autoComplete="current-password"
            value={form.current_password}
            onChange={(e) => setForm({ ...form, current_password: e.target.value })}
            error={errors.fields.current_password}
            help="Needed to change your email."
          />
        )}
        <div className="form-check form-switch mb-3">
          <input
            className="form-check-input"
            type="checkbox"
            role="switch"
            id="email-notifications"
            checked={form.email_notifications}
            onChange={(e) => setForm({ ...form, email_notifications: e.target.checked })}
          />
          <label className="form-check-label" htmlFor="email-notifications">
            Email me about assignments, status changes and comments
          </label>
        </div>
        <SubmitButton pending={update.isPending} pendingLabel="Saving…">
          Save changes
        </SubmitButton>
        <Saved show={update.isSuccess}>Saved.</Saved>
      </div>
    </form>
  );
}

function PasswordCard({ user }: { user: User }) {
  const me = useMe();
  const update = useUpdateMe();
  const [form, setForm] = useState({ current_password: "", password: "", confirm: "" });
  const [mismatch, setMismatch] = useState(false);
  const [done, setDone] = useState(false);
  const errors = formErrors(update.error, ["current_password", "password"], {
    current_password_required: { field: "current_password", message: "That isn't your current password." },
  });
  const conflict = update.error instanceof ApiError && update.error.isConflict;

  function submit(event: SubmitEvent) {
    event.preventDefault();
    setDone(false);
    if (form.password !== form.confirm) {
      setMismatch(true);
      return;
    }
    setMismatch(false);
    update.mutate(
      {
        version: user.version,
        changes: { password: form.password, current_password: form.current_password },
      },
      {
        onSuccess: () => {
          // The change ended every session and token of the account; the answer carried a new
          // session, which useUpdateMe has already taken over.
          setForm({ current_password: "", password: "", confirm: "" });
          setDone(true);
        },
      },
    );
  }

  return (
    <form className="card h-100" onSubmit={submit} noValidate aria-labelledby="password-title">
      <div className="card-body">
        <h2 id="password-title" className="h5 mb-1">
          Password
        </h2>
        <p className="small text-body-secondary mb-3">
          Changing it signs you out everywhere else and revokes your personal access tokens.
        </p>
        {conflict ? (
          <ConflictNotice what="your profile" onReload={() => void me.refetch().then(() => update.reset())} />
        ) : (
          <FormAlert message={errors.summary} />
        )}
        <Field
          label="Current password"
          type="password"
          name="current_password"
          autoComplete="current-password"
          required
          value={form.current_password}
          onChange={(e) => setForm({ ...form, current_password: e.target.value })}
          error={errors.fields.current_password}
        />
        <Field
          label="New password"
          type="password"
          name="new_password"
          autoComplete="new-password"
          required
          minLength={8}
          value={form.password}
          onChange={(e) => setForm({ ...form, password: e.target.value })}
          error={errors.fields.password}
          help="At least 8 characters and hard to guess: a few unrelated words work well."
        />
        <Field
          label="Repeat new password"
          type="password"
          name="confirm_password"
          autoComplete="new-password"
          required
          value={form.confirm}
          onChange={(e) => setForm({ ...form, confirm: e.target.value })}
          error={mismatch ? "The two passwords don't match." : undefined}
        />
        <SubmitButton pending={update.isPending} pendingLabel="Changing…">
          Change password
        </SubmitButton>
        <Saved show={done}>Password changed; you stay signed in here.</Saved>
      </div>
    </form>
  );
}

const EXPIRY_CHOICES = [
  { value: "30", label: "30 days" },
  { value: "90", label: "90 days" },
  { value: "365", label: "1 year" },
  { value: "never", label: "Never" },
] as const;

function expiryDate(choice: string, now = Date.now()): string | null {
  if (choice === "never") return null;
  return new Date(now + Number(choice) * 86_400_000).toISOString();
}

function TokensCard() {
  const tokens = useTokens();
  const create = useCreateToken();
  const [name, setName] = useState("");
  const [expiry, setExpiry] = useState("90");
  const [created, setCreated] = useState<PersonalAccessTokenCreated | null>(null);
  const errors = formErrors(create.error, ["name", "expires_at"]);

  function submit(event: SubmitEvent) {
    event.preventDefault();
    create.mutate(
      { name: name.trim(), expires_at: expiryDate(expiry) },
      {
        onSuccess: (token) => {
          setCreated(token);
          setName("");
        },
      },
    );
  }

  return (
    <section className="card" aria-labelledby="tokens-title">
      <div className="card-body">
        <h2 id="tokens-title" className="h5 mb-1">
          Personal access tokens
        </h2>
        <p className="small text-body-secondary mb-3">
          For scripts and the command line: send one as <code>Authorization: Bearer nmb_…</code>. A token acts
          as you, with your role.
        </p>
        {created && <NewToken token={created} onDismiss={() => setCreated(null)} />}
        <form className="row g-2 align-items-start mb-4" onSubmit={submit} noValidate>
          <Field
            className="col-sm-6 col-md-5"
            label="Token name"
            name="token_name"
            placeholder="e.g. CI pipeline"
            required
            maxLength={100}
            value={name}
            onChange={(e) => setName(e.target.value)}
            error={errors.fields.name}
          />
          <SelectField
            className="col-sm-3 col-md-3"
            label="Expires after"
            value={expiry}
            onChange={(e) => setExpiry(e.target.value)}
            error={errors.fields.expires_at}
          >
            {EXPIRY_CHOICES.map((choice) => (
              <option key={choice.value} value={choice.value}>
                {choice.label}
              </option>
            ))}
          </SelectField>
          <div className="col-sm-3 col-md-4 token-submit">
            <SubmitButton pending={create.isPending} pendingLabel="Creating…">
              Create token
            </SubmitButton>
          </div>
          {errors.summary && (
            <div className="col-12">
              <FormAlert message={errors.summary} />
            </div>
          )}
        </form>
        {tokens.isPending ? (
          <SkeletonRows label="Loading your tokens…" rows={2} />
        ) : tokens.isError ? (
          <ErrorState error={tokens.error} onRetry={() => void tokens.refetch()} />
        ) : tokens.data.length === 0 ? (
          <EmptyState icon="⚿" title="No tokens yet">
            Create one above when a script needs to talk to Nimbus.
          </EmptyState>
        ) : (
          <div className="table-responsive">
            <table className="table align-middle mb-0">
              <caption className="visually-hidden">Your personal access tokens</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Token</th>
                  <th scope="col">Created</th>
                  <th scope="col">Last used</th>
                  <th scope="col">Expires</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {tokens.data.map((token) => (
                  <tr key={token.id}>
                    <td className="fw-medium">{token.name}</td>
                    <td>
                      <code>{token.token_prefix}…</code>
                    </td>
                    <td>
                      <Time iso={token.created_at} />
                    </td>
                    <td>
                      {token.last_used_at ? (
                        <Time iso={token.last_used_at} />
                      ) : (
                        <span className="text-body-secondary">Never</span>
                      )}
                    </td>
                    <td>
                      {token.expires_at ? (
                        <Time iso={token.expires_at} />
                      ) : (
                        <span className="text-body-secondary">Never</span>
                      )}
                    </td>
                    <td className="text-end">
                      <RevokeButton tokenId={token.id} name={token.name} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </div>
    </section>
  );
}

function NewToken({ token, onDismiss }: { token: PersonalAccessTokenCreated; onDismiss: () => void }) {
  return (
    <div className="alert alert-success new-token" role="status">
      <p className="fw-semibold mb-1">Token “{token.name}” created.</p>
      <p className="small mb-2">Copy it now: it is shown only this once and can't be recovered later.</p>
      <div className="input-group mb-2">
        <label className="visually-hidden" htmlFor="new-token-value">
          New token
        </label>
        <input
          id="new-token-value"
          className="form-control font-monospace"
          readOnly
          value={token.token}
          onFocus={(e) => e.target.select()}
        />
        <CopyButton text={token.token} />
      </div>
      <button type="button" className="btn btn-sm btn-link p-0 text-success" onClick={onDismiss}>
        I've copied it — hide the token
      </button>
    </div>
  );
}

function RevokeButton({ tokenId, name }: { tokenId: number; name: string }) {
  const revoke = useRevokeToken();
  const [confirming, setConfirming] = useState(false);
  if (revoke.isError) {
    return (
      <span className="small text-danger" role="alert">
        {describeError(revoke.error).detail}
      </span>
    );
  }
  if (!confirming) {
    return (
      <button
        type="button"
        className="btn btn-sm btn-outline-danger"
        aria-label={`Revoke token ${name}`}
        onClick={() => setConfirming(true)}
      >
        Revoke
      </button>
    );
  }
  return (
    <span className="d-inline-flex gap-1">
      <button
        type="button"
        className="btn btn-sm btn-danger"
        disabled={revoke.isPending}
        aria-label={`Confirm revoking token ${name}`}
        onClick={() => revoke.mutate(tokenId)}
      >
        {revoke.isPending ? "Revoking…" : "Revoke now"}
      </button>
      <button type="button" className="btn btn-sm btn-outline-secondary" onClick={() => setConfirming(false)}>
        Cancel
      </button>
    </span>
  );
}
