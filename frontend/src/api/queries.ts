/** Server state for the screens: TanStack Query hooks over the typed client, one per resource. */
import {
  useInfiniteQuery,
  useMutation,
  useQuery,
  useQueryClient,
  type InfiniteData,
} from "@tanstack/react-query";

import {
  everyItem,
  ifMatch,
  unwrap,
  type PersonalAccessTokenCreated,
  type Project,
  type Role,
  type Schemas,
  type User,
} from "./client";
import { useApi, useAuthStatus } from "./context";

export const queryKeys = {
  me: ["me"] as const,
  tokens: ["me", "tokens"] as const,
  roles: ["roles"] as const,
  projects: ["projects"] as const,
  project: (ref: string) => ["projects", "detail", ref.toUpperCase()] as const,
  members: (ref: string) => ["projects", "detail", ref.toUpperCase(), "members"] as const,
  users: ["users"] as const,
  userList: (filters: UserFilters) => ["users", "list", filters] as const,
};

export interface Page<T> {
  items: T[];
  next_cursor?: string | null;
}

export function flattenPages<T>(data: InfiniteData<Page<T>> | undefined): T[] {
  return data?.pages.flatMap((page) => page.items) ?? [];
}

// --- me -------------------------------------------------------------------------------------

export function useMe() {
  const api = useApi();
  const status = useAuthStatus();
  return useQuery({
    queryKey: queryKeys.me,
    queryFn: () => unwrap(api.client.GET("/api/v1/users/me")),
    enabled: status === "signed-in",
    staleTime: 60_000,
  });
}

export type MeChanges = Schemas["MeUpdate"];

export function useUpdateMe() {
  const api = useApi();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: async ({ version, changes }: { version: number; changes: MeChanges }) => {
      const updated = await unwrap(
        api.client.PATCH("/api/v1/users/me", {
          params: { header: { "if-match": ifMatch(version) } },
          body: changes,
        }),
      );
      // A new password ended every session, this one too: carry on with the one it gave.
      if (updated.session) api.renewSession(updated.session);
      return updated;
    },
    onSuccess: (user) => {
      queryClient.setQueryData(queryKeys.me, user);
      if (user.session) void queryClient.invalidateQueries({ queryKey: queryKeys.tokens });
    },
  });
}

export function useTokens() {
  const api = useApi();
  return useQuery({
    queryKey: queryKeys.tokens,
    queryFn: () =>
      everyItem((cursor) =>
        unwrap(api.client.GET("/api/v1/users/me/tokens", { params: { query: { limit: 200, cursor } } })),
      ),
  });
}

export function useCreateToken() {
  const api = useApi();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (body: Schemas["PersonalAccessTokenCreate"]): Promise<PersonalAccessTokenCreated> =>
      unwrap(api.client.POST("/api/v1/users/me/tokens", { body })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: queryKeys.tokens }),
  });
}

export function useRevokeToken() {
  const api = useApi();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (tokenId: number) =>
      unwrap(
        api.client.DELETE("/api/v1/users/me/tokens/{token_id}", {
          params: { path: { token_id: tokenId } },
        }),
      ),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: queryKeys.tokens }),
  });
}

export function useRoles({ enabled = true }: { enabled?: boolean } = {}) {
  const api = useApi();
  return useQuery({
    queryKey: queryKeys.roles,
    queryFn: () => unwrap(api.client.GET("/api/v1/roles")),
    staleTime: Infinity,
    enabled,
  });
}

// --- projects -------------------------------------------------------------------------------

export function useProjects() {
  const api = useApi();
  return useInfiniteQuery({
    queryKey: queryKeys.projects,
    queryFn: ({ pageParam }) =>
      unwrap(
        api.client.GET("/api/v1/projects", {
          params: { query: { limit: 50, sort: "key", cursor: pageParam } },
        }),
      ),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  });
}

export function useProject(ref: string) {
  const api = useApi();
  return useQuery({
    queryKey: queryKeys.project(ref),
    queryFn: () =>
      unwrap(api.client.GET("/api/v1/projects/{project_id}", { params: { path: { project_id: ref } } })),
  });
}

export function useCreateProject() {
  const api = useApi();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (body: Schemas["ProjectCreate"]): Promise<Project> =>
      unwrap(api.client.POST("/api/v1/projects", { body })),
    onSuccess: (project) => {
      queryClient.setQueryData(queryKeys.project(project.key), project);
      return queryClient.invalidateQueries({ queryKey: queryKeys.projects, exact: true });
    },
  });
}

export function useMembers(ref: string) {
  const api = useApi();
  return useQuery({
    queryKey: queryKeys.members(ref),
    queryFn: () =>
      everyItem((cursor) =>
        unwrap(
          api.client.GET("/api/v1/projects/{project_id}/members", {
            params: { path: { project_id: ref }, query: { limit: 200, cursor } },
          }),
        ),
      ),
    enabled: ref !== "",
  });
}

export function useAddMember(ref: string) {
  const api = useApi();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (userId: number) =>
      unwrap(
        api.client.PUT("/api/v1/projects/{project_id}/members/{user_id}", {
          params: { path: { project_id: ref, user_id: userId } },
        }),
      ),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: queryKeys.members(ref) }),
  });
}

export function useRemoveMember(ref: string) {
  const api = useApi();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (userId: number) =>
      unwrap(
        api.client.DELETE("/api/v1/projects/{project_id}/members/{user_id}", {
          params: { path: { project_id: ref, user_id: userId } },
        }),
      ),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: queryKeys.members(ref) }),
  });
}

// --- users (admin) --------------------------------------------------------------------------

export interface UserFilters {
  q?: string;
  role?: Role;
  is_active?: boolean;
}

export function useUsers(filters: UserFilters, options: { pageSize?: number; enabled?: boolean } = {}) {
  const api = useApi();
  return useInfiniteQuery({
    queryKey: queryKeys.userList(filters),
    queryFn: ({ pageParam }) =>
      unwrap(
        api.client.GET("/api/v1/users", {
          params: {
            query: {
              ...filters,
              q: filters.q?.trim() || undefined,
              limit: options.pageSize ?? 25,
              sort: "email",
              cursor: pageParam,
            },
          },
        }),
      ),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.next_cursor ?? undefined,
    enabled: options.enabled ?? true,
  });
}

export function useCreateUser() {
  const api = useApi();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (body: Schemas["UserCreate"]): Promise<User> =>
      unwrap(api.client.POST("/api/v1/users", { body })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: queryKeys.users }),
  });
}

export function useUpdateUser() {
  const api = useApi();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: ({ user, changes }: { user: User; changes: Schemas["UserUpdate"] }) =>
      unwrap(
        api.client.PATCH("/api/v1/users/{user_id}", {
          params: { path: { user_id: user.id }, header: { "if-match": ifMatch(user.version) } },
          body: changes,
        }),
      ),
    onSuccess: (updated) => {
      // Patch the row in every cached list so the table doesn't jump while it refetches.
      queryClient.setQueriesData<InfiniteData<Page<User>>>({ queryKey: queryKeys.users }, (data) =>
        data
          ? {
              ...data,
              pages: data.pages.map((page) => ({
                ...page,
                items: page.items.map((u) => (u.id === updated.id ? updated : u)),
              })),
            }
          : data,
      );
    },
  });
}
