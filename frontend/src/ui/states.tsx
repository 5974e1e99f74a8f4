/** Designed loading, empty and error states, so no screen falls back to a blank page. */
import type { ReactNode } from "react";

import { describeError } from "./errors";

export function Loading({ label, compact = false }: { label: string; compact?: boolean }) {
  return (
    <div className={compact ? "state state-compact" : "state"} role="status" aria-live="polite">
      <span className="spinner-border spinner-border-sm text-primary" aria-hidden="true" />
      <span className="state-text">{label}</span>
    </div>
  );
}

/** Placeholder rows while a table's first page loads, so the layout doesn't jump. */
export function SkeletonRows({ rows = 3, label }: { rows?: number; label: string }) {
  return (
    <div role="status" aria-live="polite" className="skeleton-list">
      <span className="visually-hidden">{label}</span>
      {Array.from({ length: rows }, (_, i) => (
        <div key={i} className="skeleton-row" aria-hidden="true">
          <span className="skeleton skeleton-avatar" />
          <span className="skeleton skeleton-line" style={{ width: `${60 - i * 10}%` }} />
        </div>
      ))}
    </div>
  );
}

export function EmptyState({
  icon,
  title,
  children,
  action,
  level = 2,
}: {
  icon?: ReactNode;
  title: string;
  /** 1 when the empty state is the whole page (not found), so the page still has its h1. */
  level?: 1 | 2;
  children?: ReactNode;
  action?: ReactNode;
}) {
  return (
    <div className="state state-empty">
      {icon && (
        <div className="state-icon" aria-hidden="true">
          {icon}
        </div>
      )}
      {level === 1 ? <h1 className="h5 mb-1">{title}</h1> : <h2 className="h5 mb-1">{title}</h2>}
      {children && <p className="text-body-secondary mb-3">{children}</p>}
      {action}
    </div>
  );
}

export function ErrorState({
  error,
  onRetry,
  title,
}: {
  error: unknown;
  onRetry?: () => void;
  title?: string;
}) {
  const described = describeError(error);
  return (
    <div className="alert alert-danger state-error" role="alert">
      <div className="fw-semibold">{title ?? described.title}</div>
      {described.detail && described.detail !== (title ?? described.title) && (
        <div className="small mt-1">{described.detail}</div>
      )}
      {onRetry && (
        <button type="button" className="btn btn-sm btn-outline-danger mt-2" onClick={onRetry}>
          Try again
        </button>
      )}
    </div>
  );
}

/** A save that lost an optimistic-concurrency race: explain it and offer a fresh copy. */
export function ConflictNotice({ what, onReload }: { what: string; onReload: () => void }) {
  return (
    <div className="alert alert-warning d-flex flex-wrap align-items-center gap-2" role="alert">
      <span className="flex-grow-1">
        <strong>Someone changed {what} while you were editing.</strong> Reload to see their changes, then try
        again.
      </span>
      <button type="button" className="btn btn-sm btn-warning" onClick={onReload}>
        Reload
      </button>
    </div>
  );
}
