/** CSV import in two steps: a dry run that shows every bad row, then the real import. */
import { useState } from "react";
import { Link } from "react-router";

import type { ImportReport } from "../../api/client";
import { useImportExpenses } from "../../api/expenses";
import { PageHeader } from "../../ui/bits";
import { describeError } from "../../ui/errors";
import { FileDrop } from "../../ui/FileDrop";
import { formatBytes } from "../../ui/format";
import { FormAlert } from "../../ui/forms";
import { useDocumentTitle } from "../../ui/hooks";
import { Loading } from "../../ui/states";
import { ImportPreview } from "./ImportPreview";

export function ImportPage() {
  useDocumentTitle("Import expenses");
  const check = useImportExpenses();
  const run = useImportExpenses();
  const [file, setFile] = useState<File | null>(null);
  const [preview, setPreview] = useState<ImportReport | null>(null);
  const [done, setDone] = useState<ImportReport | null>(null);

  function choose(files: File[]) {
    const chosen = files[0];
    if (!chosen) return;
    setFile(chosen);
    setPreview(null);
    setDone(null);
    run.reset();
    check.mutate({ file: chosen, dryRun: true }, { onSuccess: setPreview });
  }

  function importNow() {
    if (!file) return;
    run.mutate(
      { file, dryRun: false },
      {
        onSuccess: (report) => {
          if (report.valid) setDone(report);
          else setPreview(report); // something changed since the dry run: show why
        },
      },
    );
  }

  const error = check.error ?? run.error;

  return (
    <>
      <nav aria-label="Breadcrumb">
        <ol className="breadcrumb small mb-2">
          <li className="breadcrumb-item">
            <Link to="/expenses">Expenses</Link>
          </li>
          <li className="breadcrumb-item active" aria-current="page">
            Import
          </li>
        </ol>
      </nav>
      <PageHeader
        title="Import expenses"
        subtitle="A CSV file is checked first; it is imported whole or not at all."
      />
      <div className="card card-body mb-4">
        <FileDrop
          label="CSV file"
          accept=".csv,text/csv"
          disabled={check.isPending || run.isPending}
          onFiles={choose}
          hint={
            <>
              Columns <code>spent_on</code>, <code>amount</code>, <code>currency</code>, <code>category</code>
              , and optionally <code>description</code> and <code>project</code> (a project key). An export
              from here imports as it is. Drop the file here or choose it.
            </>
          }
        />
        {file && (
          <p className="small text-body-secondary mt-2 mb-0">
            {file.name} · {formatBytes(file.size)}
          </p>
        )}
      </div>
      {error !== null && <FormAlert message={describeError(error).detail} />}
      {check.isPending && <Loading label="Checking every row…" />}
      {done ? (
        <div className="alert alert-success" role="status">
          <strong>
            Imported {done.imported} {done.imported === 1 ? "expense" : "expenses"}.
          </strong>
          {done.duplicates > 0 && ` ${done.duplicates} rows were imported before and skipped.`}{" "}
          <Link to="/expenses">See your expenses</Link>
        </div>
      ) : (
        preview && (
          <section className="card" aria-labelledby="preview-title">
            <div className="card-body">
              <h2 id="preview-title" className="h5">
                {preview.valid ? "Ready to import" : "This file can't be imported yet"}
              </h2>
              <ImportPreview report={preview} />
              {preview.valid && (
                <button
                  type="button"
                  className="btn btn-primary"
                  disabled={run.isPending || preview.imported === 0}
                  onClick={importNow}
                >
                  {run.isPending
                    ? "Importing…"
                    : preview.imported === 0
                      ? "Nothing new to import"
                      : `Import ${preview.imported} ${preview.imported === 1 ? "expense" : "expenses"}`}
                </button>
              )}
            </div>
          </section>
        )
      )}
    </>
  );
}

export default ImportPage;
