/** Input files next to the runner's script: reading them for `POST /jobs` and the caps they obey. */
import type { Schemas } from "../../api/client";
import type { JobDetail } from "../../api/jobs";
import { formatBytes } from "../../ui/format";

export type InputFile = Schemas["JobInputFile"] & { size: number };

export interface InputCaps {
  maxBytes: number;
  maxFiles: number;
}

export function toBase64(bytes: Uint8Array): string {
  let binary = "";
  const step = 0x8000;
  for (let i = 0; i < bytes.length; i += step) {
    binary += String.fromCharCode(...bytes.subarray(i, i + step));
  }
  return btoa(binary);
}

/** A file as the API takes it: UTF-8 text as such, anything else in base64. */
export async function readInputFile(file: File): Promise<InputFile> {
  const bytes = new Uint8Array(await file.arrayBuffer());
  try {
    const text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    return { path: file.name, content: text, encoding: "utf8", size: bytes.length };
  } catch {
    return { path: file.name, content: toBase64(bytes), encoding: "base64", size: bytes.length };
  }
}

const utf8Length = (text: string) => new TextEncoder().encode(text).length;

/** Files added to ``current``: a new file of the same name replaces the old one. */
export function addFiles(current: InputFile[], added: InputFile[]): InputFile[] {
  const names = new Set(added.map((f) => f.path));
  return [...current.filter((f) => !names.has(f.path)), ...added];
}

/**
 * Why the script, its files and stdin cannot be sent, in words (the same caps the server
 * applies: it answers 413 or 422 otherwise), or null when they fit.
 */
export function inputProblem(
  entrypoint: string,
  source: string,
  stdin: string,
  files: InputFile[],
  caps: InputCaps,
): string | null {
  if (files.some((f) => f.path === entrypoint))
    return `A file may not be called ${entrypoint}: that is the script's name.`;
  if (files.length + 1 > caps.maxFiles)
    return `At most ${caps.maxFiles - 1} files can go with the script; there are ${files.length}.`;
  const total = utf8Length(source) + utf8Length(stdin) + files.reduce((sum, f) => sum + f.size, 0);
  if (total > caps.maxBytes)
    return `The script, its files and the standard input come to ${formatBytes(total)}; at most ${formatBytes(caps.maxBytes)} can be sent.`;
  return null;
}

/** What the runner page opens with when a past run is loaded into its editor. */
export interface RunnerDraft {
  source: string;
  stdin: string;
  files: { path: string; content: string; encoding: "utf8" | "base64"; size: number }[];
}

function decodeBase64(content: string): string {
  const bytes = Uint8Array.from(atob(content), (c) => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

/** The runner's draft for ``job``: the entrypoint in the editor, the other files beside it. */
export function draftOf(job: JobDetail): RunnerDraft {
  if (typeof job.source === "string") return { source: job.source, stdin: job.stdin, files: [] };
  const files = job.input_files ?? [];
  const entry = files.find((f) => f.path === job.entrypoint);
  const source = !entry ? "" : entry.encoding === "utf8" ? entry.content : decodeBase64(entry.content);
  return {
    source,
    stdin: job.stdin,
    files: files
      .filter((f) => f.path !== job.entrypoint)
      .map(({ path, content, encoding, size }) => ({ path, content, encoding, size })),
  };
}
