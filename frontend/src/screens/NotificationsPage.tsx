/** In-app notifications: assignments, status changes, comments on watched bugs. */
import { useState } from "react";
import { Link } from "react-router";

import { useMarkRead, useNotifications } from "../api/notifications";
import { flattenPages } from "../api/queries";
import { PageHeader, Time } from "../ui/bits";
import { describeError } from "../ui/errors";
import { FormAlert } from "../ui/forms";
import { useDocumentTitle } from "../ui/hooks";
import { EmptyState, ErrorState, Loading, SkeletonRows } from "../ui/states";

export function NotificationsPage() {
  useDocumentTitle("Notifications");
  const [unreadOnly, setUnreadOnly] = useState(false);
  const notifications = useNotifications(unreadOnly);
  const markRead = useMarkRead();
  const items = flattenPages(notifications.data);

  return (
    <>
      <PageHeader
        title="Notifications"
        actions={
          <button
            type="button"
            className="btn btn-outline-primary"
            disabled={markRead.isPending}
            onClick={() => markRead.mutate("all")}
          >
            Mark all as read
          </button>
        }
      />
      <div className="form-check form-switch mb-3">
        <input
          className="form-check-input"
          type="checkbox"
          role="switch"
          id="unread-only"
          checked={unreadOnly}
          onChange={(e) => setUnreadOnly(e.target.checked)}
        />
        <label className="form-check-label" htmlFor="unread-only">
          Unread only
        </label>
      </div>
      {markRead.isError && <FormAlert message={describeError(markRead.error).detail} />}
      {notifications.isPending ? (
        <SkeletonRows label="Loading notifications…" rows={4} />
      ) : notifications.isError ? (
        <ErrorState error={notifications.error} onRetry={() => void notifications.refetch()} />
      ) : items.length === 0 ? (
        <EmptyState icon="🔔" title={unreadOnly ? "You're all caught up" : "No notifications yet"}>
          You'll hear here when a bug is assigned to you, changes status, or gets a comment while you watch
          it.
        </EmptyState>
      ) : (
        <div className="card">
          <ul className="list-group list-group-flush">
            {items.map((n) => (
              <li
                key={n.id}
                className={`list-group-item notification d-flex gap-3 align-items-start${n.read_at ? "" : " unread"}`}
              >
                <div className="flex-grow-1 min-w-0">
                  <div className={n.read_at ? "" : "fw-semibold"}>
                    {!n.read_at && <span className="visually-hidden">Unread: </span>}
                    <Link to={n.link} onClick={() => !n.read_at && markRead.mutate(n.id)}>
                      {n.title}
                    </Link>
                  </div>
                  {n.body && <div className="small text-body-secondary text-truncate">{n.body}</div>}
                  <div className="small text-body-secondary">
                    <Time iso={n.created_at} />
                  </div>
                </div>
                {!n.read_at && (
                  <button
                    type="button"
                    className="btn btn-sm btn-outline-secondary"
                    aria-label={`Mark “${n.title}” as read`}
                    onClick={() => markRead.mutate(n.id)}
                  >
                    Mark read
                  </button>
                )}
              </li>
            ))}
          </ul>
          {notifications.hasNextPage && (
            <div className="card-footer bg-transparent text-center">
              {notifications.isFetchingNextPage ? (
                <Loading label="Loading more…" compact />
              ) : (
                <button
                  type="button"
                  className="btn btn-sm btn-outline-primary"
                  onClick={() => void notifications.fetchNextPage()}
                >
                  Load more
                </button>
              )}
            </div>
          )}
        </div>
      )}
    </>
  );
}
