/** Server state for a bug's attachments and its reproduction runs. */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";

import { everyItem, unwrap } from "./client";
import { bugKeys } from "./bugs";
import { useApi } from "./context";
import { jobKeys } from "./jobs";

export const attachmentKeys = {
  forBug: (key: string) => ["bugs", "detail", key.toUpperCase(), "attachments"] as const,
};

/** multipart/form-data with the one `file` field the upload endpoints read. */
export function fileForm(file: File): FormData {
  const form = new FormData();
  form.append("file", file, file.name);
  return form;
}

export function useAttachments(bugKey: string) {
  const api = useApi();
  return useQuery({
    queryKey: attachmentKeys.forBug(bugKey),
    queryFn: () =>
      everyItem((cursor) =>
        unwrap(
          api.client.GET("/api/v1/bugs/{bug_id}/attachments", {
            params: { path: { bug_id: bugKey }, query: { limit: 200, cursor } },
          }),
        ),
      ),
  });
}

export function useUploadAttachment(bugKey: string) {
  const api = useApi();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (file: File) =>
      unwrap(
        api.client.POST("/api/v1/bugs/{bug_id}/attachments", {
          params: { path: { bug_id: bugKey } },
          // The generated type says "string" for a binary field; the serializer sends the File.
          body: { file: file.name },
          bodySerializer: () => fileForm(file),
        }),
      ),
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: bugKeys.activity(bugKey) });
      return queryClient.invalidateQueries({ queryKey: attachmentKeys.forBug(bugKey) });
    },
  });
}

export function useDeleteAttachment(bugKey: string) {
  const api = useApi();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (attachmentId: number) =>
      unwrap(
        api.client.DELETE("/api/v1/attachments/{attachment_id}", {
          params: { path: { attachment_id: attachmentId } },
        }),
      ),
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: bugKeys.activity(bugKey) });
      return queryClient.invalidateQueries({ queryKey: attachmentKeys.forBug(bugKey) });
    },
  });
}

/** Runs the bug's reproduction script; the bug then points at the new job. */
export function useReproduce(bugKey: string) {
  const api = useApi();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: () =>
      unwrap(
        api.client.POST("/api/v1/bugs/{bug_id}/reproductions", { params: { path: { bug_id: bugKey } } }),
      ),
    onSuccess: (job) => {
      queryClient.setQueryData(jobKeys.detail(job.id), job);
      void queryClient.invalidateQueries({ queryKey: bugKeys.activity(bugKey) });
      return queryClient.invalidateQueries({ queryKey: bugKeys.detail(bugKey), exact: true });
    },
  });
}

/** Saves a Blob the API sent as a file on the user's disk. */
export function saveBlob(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  link.rel = "noopener";
  document.body.append(link);
  link.click();
  link.remove();
  // Give the browser time to start the download before the URL goes.
  window.setTimeout(() => URL.revokeObjectURL(url), 30_000);
}
