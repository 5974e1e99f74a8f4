/** The runner's input files: picked or dropped next to the script, listed, removable. */
import { useState } from "react";

import { describeError } from "../../ui/errors";
import { FileDrop } from "../../ui/FileDrop";
import { formatBytes } from "../../ui/format";
import { addFiles, readInputFile, type InputFile } from "./inputFiles";

export function InputFilesField({
  files,
  onChange,
  problem,
}: {
  files: InputFile[];
  onChange: (files: InputFile[]) => void;
  /** Why these files cannot be sent (over a cap), shown under the list. */
  problem: string | null;
}) {
  const [failure, setFailure] = useState<unknown>(null);

  async function add(picked: File[]) {
    setFailure(null);
    try {
      onChange(addFiles(files, await Promise.all(picked.map(readInputFile))));
    } catch (error) {
      setFailure(error);
    }
  }

  return (
    <div className="mt-2">
      <FileDrop
        label="Input files"
        hint="Put next to main.py in the working directory, for the script to open by name."
        multiple
        onFiles={(picked) => void add(picked)}
      />
      {files.length > 0 && (
        <ul className="list-unstyled small mb-0 mt-1" aria-label="Input files">
          {files.map((file) => (
            <li key={file.path} className="d-flex align-items-center gap-2 py-1" data-input-file={file.path}>
              <code className="text-truncate">{file.path}</code>
              <span className="text-body-secondary">{formatBytes(file.size)}</span>
              <button
                type="button"
                className="btn btn-sm btn-link text-danger ms-auto"
                onClick={() => onChange(files.filter((f) => f.path !== file.path))}
              >
                Remove<span className="visually-hidden"> {file.path}</span>
              </button>
            </li>
          ))}
        </ul>
      )}
      {problem && (
        <p className="small text-danger mb-0 mt-1" role="alert">
          {problem}
        </p>
      )}
      {failure !== null && <p className="small text-danger mb-0">{describeError(failure).detail}</p>}
    </div>
  );
}
