/** An inline preview of a file a job wrote: an image, a CSV table, JSON or text; never active. */
import { useQuery } from "@tanstack/react-query";
import { useEffect, useRef } from "react";

import { useApi } from "../../api/context";
import { describeError } from "../../ui/errors";
import { decodeText, imageType, jobFileUrl, parseCsv, prettyJson, type PreviewKind } from "./preview";

export function FilePreview({
  jobId,
  path,
  sha256,
  kind,
}: {
  jobId: string;
  path: string;
  sha256: string;
  kind: PreviewKind;
}) {
  const api = useApi();
  const bytes = useQuery({
    queryKey: ["jobs", "file", jobId, path, sha256],
    queryFn: async () => {
      const { blob } = await api.download(jobFileUrl(jobId, path));
      return new Uint8Array(await blob.arrayBuffer());
    },
    staleTime: Infinity, // a job's files never change (the key holds their hash)
  });
  if (bytes.isPending) return <p className="small text-body-secondary mb-0">Loading the preview…</p>;
  if (bytes.isError)
    return <p className="small text-danger mb-0">No preview: {describeError(bytes.error).detail}</p>;
  return <PreviewOf path={path} kind={kind} bytes={bytes.data} />;
}

function PreviewOf({ path, kind, bytes }: { path: string; kind: PreviewKind; bytes: Uint8Array }) {
  if (kind === "image") return <ImagePreview path={path} bytes={bytes} />;
  const text = decodeText(bytes);
  if (text === null) return <NoPreview why="It is not UTF-8 text." />;
  if (kind === "csv") return <CsvPreview text={text} />;
  const shown = kind === "json" ? prettyJson(text) : text;
  if (shown === null) return <NoPreview why="It is not valid JSON." />;
  return (
    <pre className="file-preview-text" data-preview="text" tabIndex={0} aria-label={`Contents of ${path}`}>
      {shown}
    </pre>
  );
}

function NoPreview({ why }: { why: string }) {
  return <p className="small text-body-secondary mb-0">No preview. {why} Download it instead.</p>;
}

function ImagePreview({ path, bytes }: { path: string; bytes: Uint8Array }) {
  const type = imageType(path, bytes);
  const image = useRef<HTMLImageElement>(null);
  useEffect(() => {
    const element = image.current;
    if (type === null || element === null) return;
    // The type is ours, from the allow-list: the browser never sniffs one from the bytes.
    const url = URL.createObjectURL(new Blob([bytes as BlobPart], { type }));
    element.src = url;
    return () => URL.revokeObjectURL(url);
  }, [bytes, type]);
  if (type === null) return <NoPreview why="Its contents are not the image its name says." />;
  return (
    <img
      ref={image}
      className="file-preview-image"
      alt={`Image ${path} written by the script`}
      data-preview="image"
    />
  );
}

function CsvPreview({ text }: { text: string }) {
  const { rows, truncated } = parseCsv(text);
  if (rows.length === 0) return <NoPreview why="The file is empty." />;
  const [head = [], ...body] = rows;
  return (
    <div className="file-preview-table table-responsive" data-preview="csv">
      <table className="table table-sm table-bordered small mb-0">
        <thead>
          <tr>
            {head.map((cell, i) => (
              <th key={i} scope="col">
                {cell}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {body.map((row, r) => (
            <tr key={r}>
              {row.map((cell, i) => (
                <td key={i}>{cell}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
      {truncated && <p className="small text-body-secondary mb-0">Only the first rows are shown.</p>}
    </div>
  );
}
