/** Server state for in-app notifications: the unread count for the bell and the list. */
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";

import { unwrap } from "./client";
import { useApi } from "./context";

export const notificationKeys = {
  all: ["notifications"] as const,
  unread: ["notifications", "unread"] as const,
  list: (unreadOnly: boolean) => ["notifications", "list", unreadOnly] as const,
};

/** Polled, so the bell notices new notifications without a reload. */
export function useUnreadCount() {
  const api = useApi();
  return useQuery({
    queryKey: notificationKeys.unread,
    queryFn: () => unwrap(api.client.GET("/api/v1/notifications/unread-count")),
    refetchInterval: 30_000,
  });
}

export function useNotifications(unreadOnly: boolean) {
  const api = useApi();
  return useInfiniteQuery({
    queryKey: notificationKeys.list(unreadOnly),
    queryFn: ({ pageParam }) =>
      unwrap(
        api.client.GET("/api/v1/notifications", {
          params: { query: { unread: unreadOnly || undefined, limit: 30, cursor: pageParam } },
        }),
      ),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  });
}

export function useMarkRead() {
  const api = useApi();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (id: number | "all") =>
      id === "all"
        ? unwrap(api.client.POST("/api/v1/notifications/read-all"))
        : unwrap(
            api.client.POST("/api/v1/notifications/{notification_id}/read", {
              params: { path: { notification_id: id } },
            }),
          ),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: notificationKeys.all }),
  });
}
