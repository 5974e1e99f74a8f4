/**
 * What an output file may be previewed as, and the checks that keep a preview inert.
 *
 * The server sends job files as `application/octet-stream` attachments under `CSP: sandbox`; the
 * app fetches them as bytes and never lets the browser choose a type. Images are shown only for
 * an allow-list of raster formats whose first bytes match, through a `blob:` URL of the type we
 * set (an `<img>` runs no script). SVG, HTML and anything else are shown as escaped text at most.
 */

export function jobFileUrl(jobId: string, path: string): string {
  return `/api/v1/jobs/${jobId}/files/${path.split("/").map(encodeURIComponent).join("/")}`;
}

export type PreviewKind = "image" | "csv" | "json" | "text";

export const MAX_TEXT_PREVIEW_BYTES = 512 * 1024;
export const MAX_IMAGE_PREVIEW_BYTES = 5 * 1024 * 1024;
export const MAX_CSV_PREVIEW_ROWS = 200;

const IMAGE_TYPES: Record<string, string> = {
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  webp: "image/webp",
};

const TEXT_EXTENSIONS = new Set([
  "txt",
  "log",
  "md",
  "py",
  "out",
  "err",
  "ini",
  "cfg",
  "toml",
  "yaml",
  "yml",
  "xml",
  "svg", // as its source: never drawn, it may hold script
  "html",
  "htm",
  "tsv",
]);

function extension(path: string): string {
  const name = path.split("/").pop() ?? "";
  const dot = name.lastIndexOf(".");
  return dot > 0 ? name.slice(dot + 1).toLowerCase() : "";
}

/** How a file may be previewed, or null when only its download is offered. */
export function previewKind(path: string, size: number): PreviewKind | null {
  const ext = extension(path);
  if (ext in IMAGE_TYPES) return size <= MAX_IMAGE_PREVIEW_BYTES ? "image" : null;
  if (size > MAX_TEXT_PREVIEW_BYTES) return null;
  if (ext === "csv") return "csv";
  if (ext === "json") return "json";
  if (TEXT_EXTENSIONS.has(ext)) return "text";
  return null;
}

const SIGNATURES: [string, (b: Uint8Array) => boolean][] = [
  ["image/png", (b) => [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a].every((v, i) => b[i] === v)],
  ["image/jpeg", (b) => b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff],
  ["image/gif", (b) => ascii(b, 0, 4) === "GIF8"],
  ["image/webp", (b) => ascii(b, 0, 4) === "RIFF" && ascii(b, 8, 12) === "WEBP"],
];

function ascii(bytes: Uint8Array, start: number, end: number): string {
  return String.fromCharCode(...bytes.subarray(start, end));
}

/**
 * The image type to show ``bytes`` as: only when the name says an allowed raster type and the
 * bytes begin like one (a script named `x.png` is not shown as anything).
 */
export function imageType(path: string, bytes: Uint8Array): string | null {
  const claimed = IMAGE_TYPES[extension(path)];
  if (!claimed) return null;
  const actual = SIGNATURES.find(([, matches]) => matches(bytes))?.[0];
  return actual === claimed ? actual : null;
}

/** Rows of a CSV text (RFC 4180 quoting), at most ``maxRows``; `truncated` says if more exist. */
export function parseCsv(
  text: string,
  maxRows = MAX_CSV_PREVIEW_ROWS,
): { rows: string[][]; truncated: boolean } {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = "";
  let quoted = false;
  let i = 0;
  const endRow = () => {
    row.push(cell);
    rows.push(row);
    row = [];
    cell = "";
  };
  while (i < text.length) {
    const ch = text.charAt(i);
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"';
        i += 2;
        continue;
      }
      if (ch === '"') quoted = false;
      else cell += ch;
      i += 1;
      continue;
    }
    if (ch === '"' && cell === "") quoted = true;
    else if (ch === ",") {
      row.push(cell);
      cell = "";
    } else if (ch === "\n" || ch === "\r") {
      if (ch === "\r" && text[i + 1] === "\n") i += 1;
      endRow();
      if (rows.length > maxRows) return { rows: rows.slice(0, maxRows), truncated: true };
    } else cell += ch;
    i += 1;
  }
  if (cell !== "" || row.length > 0) endRow();
  return { rows: rows.slice(0, maxRows), truncated: rows.length > maxRows };
}

/** JSON pretty-printed, or null when the text is not JSON. */
export function prettyJson(text: string): string | null {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return null;
  }
}

/** Text of UTF-8 bytes, or null when they are not text (binary data under a text name). */
export function decodeText(bytes: Uint8Array): string | null {
  try {
    const text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    return text.includes("\u0000") ? null : text;
  } catch {
    return null;
  }
}
