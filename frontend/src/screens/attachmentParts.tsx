/** The attachments of one thing (a bug's files, an expense's receipts): list, add, download, delete. */
import type { UseMutationResult, UseQueryResult } from "@tanstack/react-query";
import { useState, type ReactNode } from "react";

import { saveBlob } from "../api/attachments";
import type { Attachment } from "../api/client";
import { useApi } from "../api/context";
import { Time } from "../ui/bits";
import { describeError } from "../ui/errors";
import { FileDrop } from "../ui/FileDrop";
import { formatBytes } from "../ui/format";
import { FormAlert } from "../ui/forms";
import { ErrorState, SkeletonRows } from "../ui/states";

export function AttachmentsCard({
  title,
  titleId,
  files,
  upload,
  remove,
  canDelete,
  uploadLabel,
  hint,
  empty,
  closed,
}: {
  title: string;
  titleId: string;
  files: UseQueryResult<Attachment[]>;
  upload: UseMutationResult<Attachment, Error, File>;
  remove: UseMutationResult<unknown, Error, number>;
  canDelete: (attachment: Attachment) => boolean;
  uploadLabel: string;
  hint: ReactNode;
  empty: string;
  /** Why nothing can be added now (a deleted expense), or undefined. */
  closed?: string;
}) {
  const api = useApi();
  const [uploading, setUploading] = useState<string | null>(null);
  const [failures, setFailures] = useState<string[]>([]);
  const [downloadError, setDownloadError] = useState<unknown>(null);
  const items = files.data ?? [];

  async function uploadAll(chosen: File[]) {
    setFailures([]);
    const failed: string[] = [];
    for (const file of chosen) {
      setUploading(file.name);
      try {
        await upload.mutateAsync(file);
      } catch (error) {
        failed.push(`${file.name}: ${describeError(error).detail}`);
      }
    }
    setUploading(null);
    setFailures(failed);
  }

  async function download(attachment: Attachment) {
    setDownloadError(null);
    try {
      const { blob, filename } = await api.download(
        attachment.download_url || `/api/v1/attachments/${attachment.id}/download`,
      );
      saveBlob(blob, filename || attachment.filename);
    } catch (error) {
      setDownloadError(error);
    }
  }

  return (
    <section className="card mb-4" aria-labelledby={titleId}>
      <div className="card-body">
        <h2 id={titleId} className="h6 text-uppercase text-body-secondary mb-2">
          {title}{" "}
          {items.length > 0 && <span className="badge text-bg-light border ms-1">{items.length}</span>}
        </h2>
        {files.isPending ? (
          <SkeletonRows label={`Loading ${title.toLowerCase()}…`} rows={1} />
        ) : files.isError ? (
          <ErrorState error={files.error} onRetry={() => void files.refetch()} />
        ) : items.length === 0 ? (
          <p className="text-body-secondary">{empty}</p>
        ) : (
          <ul className="list-unstyled attachment-list mb-3">
            {items.map((a) => (
              <li key={a.id} className="d-flex flex-wrap align-items-center gap-2 py-2">
                <span className="fw-medium text-break">{a.filename}</span>
                <span className="small text-body-secondary">
                  {formatBytes(a.size)} · {a.content_type} · <Time iso={a.created_at} />
                </span>
                <span className="ms-auto d-flex gap-2">
                  <button
                    type="button"
                    className="btn btn-sm btn-outline-secondary"
                    onClick={() => void download(a)}
                  >
                    Download<span className="visually-hidden"> {a.filename}</span>
                  </button>
                  {canDelete(a) && (
                    <button
                      type="button"
                      className="btn btn-sm btn-outline-danger"
                      disabled={remove.isPending}
                      onClick={() => remove.mutate(a.id)}
                    >
                      Delete<span className="visually-hidden"> {a.filename}</span>
                    </button>
                  )}
                </span>
              </li>
            ))}
          </ul>
        )}
        {closed ? (
          <p className="small text-body-secondary mb-0">{closed}</p>
        ) : (
          <FileDrop
            label={uploadLabel}
            multiple
            disabled={uploading !== null}
            onFiles={(chosen) => void uploadAll(chosen)}
            hint={hint}
          />
        )}
        <div role="status" aria-live="polite" className="small mt-2">
          {uploading && (
            <>
              <span className="spinner-border spinner-border-sm me-2" aria-hidden="true" />
              Uploading {uploading}…
            </>
          )}
        </div>
        {failures.length > 0 && (
          <div className="alert alert-danger py-2 mt-2 mb-0" role="alert">
            {failures.map((f) => (
              <div key={f}>{f}</div>
            ))}
          </div>
        )}
        {remove.isError && <FormAlert message={describeError(remove.error).detail} />}
        {downloadError !== null && <FormAlert message={describeError(downloadError).detail} />}
      </div>
    </section>
  );
}
