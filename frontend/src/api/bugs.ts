/** Server state for bugs: lists, one bug, its transitions, comments and activity. */
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";

import { ifMatch, unwrap, type Bug, type BugStatus, type Schemas } from "./client";
import { useApi } from "./context";

export interface BugFilters {
  status?: BugStatus[];
  assignee_id?: string;
  priority?: (typeof PRIORITIES)[number][];
  q?: string;
  sort?: string;
}

export const bugKeys = {
  all: ["bugs"] as const,
  list: (projectKey: string | null, filters: BugFilters) => ["bugs", "list", projectKey, filters] as const,
  detail: (key: string) => ["bugs", "detail", key.toUpperCase()] as const,
  transitions: (key: string) => ["bugs", "detail", key.toUpperCase(), "transitions"] as const,
  comments: (key: string) => ["bugs", "detail", key.toUpperCase(), "comments"] as const,
  activity: (key: string) => ["bugs", "detail", key.toUpperCase(), "activity"] as const,
};

export const BUG_STATUSES: readonly BugStatus[] = ["open", "in_progress", "resolved", "closed"];
export const PRIORITIES = ["lowest", "low", "medium", "high", "highest"] as const;
export const SEVERITIES = ["trivial", "minor", "normal", "major", "critical", "blocker"] as const;

/** Bugs of one project, or of every project I can see when `projectKey` is null. */
export function useBugs(projectKey: string | null, filters: BugFilters, pageSize = 25) {
  const api = useApi();
  return useInfiniteQuery({
    queryKey: bugKeys.list(projectKey, filters),
    queryFn: ({ pageParam }) => {
      const query = {
        ...filters,
        q: filters.q?.trim() || undefined,
        limit: pageSize,
        cursor: pageParam,
      };
      return projectKey
        ? unwrap(
            api.client.GET("/api/v1/projects/{project_id}/bugs", {
              params: { path: { project_id: projectKey }, query },
            }),
          )
        : unwrap(api.client.GET("/api/v1/bugs", { params: { query } }));
    },
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  });
}

export function useBug(key: string) {
  const api = useApi();
  return useQuery({
    queryKey: bugKeys.detail(key),
    queryFn: () => unwrap(api.client.GET("/api/v1/bugs/{bug_id}", { params: { path: { bug_id: key } } })),
  });
}

export function useTransitions(key: string) {
  const api = useApi();
  return useQuery({
    queryKey: bugKeys.transitions(key),
    queryFn: async () =>
      (
        await unwrap(
          api.client.GET("/api/v1/bugs/{bug_id}/transitions", { params: { path: { bug_id: key } } }),
        )
      ).items,
  });
}

export function useComments(key: string) {
  const api = useApi();
  return useInfiniteQuery({
    queryKey: bugKeys.comments(key),
    queryFn: ({ pageParam }) =>
      unwrap(
        api.client.GET("/api/v1/bugs/{bug_id}/comments", {
          params: { path: { bug_id: key }, query: { limit: 50, cursor: pageParam } },
        }),
      ),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  });
}

export function useActivity(key: string) {
  const api = useApi();
  return useInfiniteQuery({
    queryKey: bugKeys.activity(key),
    queryFn: ({ pageParam }) =>
      unwrap(
        api.client.GET("/api/v1/bugs/{bug_id}/activity", {
          params: { path: { bug_id: key }, query: { limit: 50, cursor: pageParam } },
        }),
      ),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  });
}

/** After any change to a bug: the bug itself, what may happen next, its history and the lists. */
function useBugChanged() {
  const queryClient = useQueryClient();
  return (bug: Bug) => {
    queryClient.setQueryData(bugKeys.detail(bug.key), bug);
    void queryClient.invalidateQueries({ queryKey: bugKeys.transitions(bug.key) });
    void queryClient.invalidateQueries({ queryKey: bugKeys.activity(bug.key) });
    void queryClient.invalidateQueries({ queryKey: ["bugs", "list"] });
  };
}

export function useCreateBug(projectKey: string) {
  const api = useApi();
  const changed = useBugChanged();
  return useMutation({
    mutationFn: (body: Schemas["BugCreate"]) =>
      unwrap(
        api.client.POST("/api/v1/projects/{project_id}/bugs", {
          params: { path: { project_id: projectKey } },
          body,
        }),
      ),
    onSuccess: changed,
  });
}

export function useUpdateBug() {
  const api = useApi();
  const changed = useBugChanged();
  return useMutation({
    mutationFn: ({ bug, changes }: { bug: Bug; changes: Schemas["BugUpdate"] }) =>
      unwrap(
        api.client.PATCH("/api/v1/bugs/{bug_id}", {
          params: { path: { bug_id: bug.key }, header: { "if-match": ifMatch(bug.version) } },
          body: changes,
        }),
      ),
    onSuccess: changed,
  });
}

export function useTransition() {
  const api = useApi();
  const changed = useBugChanged();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: ({ bug, body }: { bug: Bug; body: Schemas["TransitionRequest"] }) =>
      unwrap(
        api.client.POST("/api/v1/bugs/{bug_id}/transitions", {
          params: { path: { bug_id: bug.key }, header: { "if-match": ifMatch(bug.version) } },
          body,
        }),
      ),
    onSuccess: (bug) => {
      changed(bug);
      // A transition may carry a comment.
      void queryClient.invalidateQueries({ queryKey: bugKeys.comments(bug.key) });
    },
  });
}

export function useAddComment(key: string) {
  const api = useApi();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (body: string) =>
      unwrap(
        api.client.POST("/api/v1/bugs/{bug_id}/comments", {
          params: { path: { bug_id: key } },
          body: { body },
        }),
      ),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: bugKeys.comments(key) }),
  });
}

export function useWatch(key: string) {
  const api = useApi();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (watch: boolean) =>
      watch
        ? unwrap(api.client.PUT("/api/v1/bugs/{bug_id}/watchers/me", { params: { path: { bug_id: key } } }))
        : unwrap(
            api.client.DELETE("/api/v1/bugs/{bug_id}/watchers/me", { params: { path: { bug_id: key } } }),
          ),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: bugKeys.detail(key), exact: true }),
  });
}
