/** What an import report says: every bad row by line and reason, and the rows as they'd be stored. */
import type { ImportReport } from "../../api/client";
import { formatMoney } from "../../ui/money";

export function ImportPreview({ report }: { report: ImportReport }) {
  const bad = report.errors.length;
  return (
    <div className="import-preview">
      <dl className="import-counts">
        <div>
          <dt>Rows read</dt>
          <dd>{report.rows}</dd>
        </div>
        <div>
          <dt>{report.dry_run ? "Would be imported" : "Imported"}</dt>
          <dd>{report.valid ? report.imported : 0}</dd>
        </div>
        <div>
          <dt>Already imported (skipped)</dt>
          <dd>{report.duplicates}</dd>
        </div>
        <div>
          <dt>Rows with problems</dt>
          <dd className={bad ? "text-danger" : undefined}>
            {bad}
            {report.errors_truncated && "+"}
          </dd>
        </div>
      </dl>
      {bad > 0 && (
        <section aria-labelledby="import-errors">
          <h3 id="import-errors" className="h6">
            {report.dry_run
              ? "Fix these rows, then check the file again"
              : "Nothing was imported: fix these rows and try again"}
          </h3>
          <div className="table-responsive">
            <table className="table table-sm align-middle import-errors">
              <caption className="visually-hidden">Rows with problems</caption>
              <thead>
                <tr>
                  <th scope="col">Line</th>
                  <th scope="col">Column</th>
                  <th scope="col">Problem</th>
                </tr>
              </thead>
              <tbody>
                {report.errors.map((issue, i) => (
                  <tr key={`${issue.line}-${issue.column ?? ""}-${i}`}>
                    <td>{issue.line}</td>
                    <td>{issue.column ?? <span className="text-body-secondary">whole row</span>}</td>
                    <td>{issue.reason}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {report.errors_truncated && (
            <p className="small text-body-secondary">
              There are more problems than shown; fix these and check again to see the rest.
            </p>
          )}
        </section>
      )}
      {report.preview.length > 0 && (
        <section aria-labelledby="import-rows">
          <h3 id="import-rows" className="h6">
            {report.preview.length < report.rows ? `The first ${report.preview.length} rows` : "The rows"}, as
            they would be stored
          </h3>
          <div className="table-responsive">
            <table className="table table-sm align-middle import-rows">
              <caption className="visually-hidden">Rows as they would be stored</caption>
              <thead>
                <tr>
                  <th scope="col">Line</th>
                  <th scope="col">Date</th>
                  <th scope="col">Category</th>
                  <th scope="col">Description</th>
                  <th scope="col">Project</th>
                  <th scope="col" className="text-end">
                    Amount
                  </th>
                </tr>
              </thead>
              <tbody>
                {report.preview.map((row) => (
                  <tr key={row.line} className={row.duplicate ? "text-body-secondary" : undefined}>
                    <td>{row.line}</td>
                    <td className="text-nowrap">{row.spent_on}</td>
                    <td>{row.category}</td>
                    <td>
                      {row.description}
                      {row.duplicate && (
                        <span className="badge text-bg-light border ms-2">already imported</span>
                      )}
                    </td>
                    <td>{row.project ?? "—"}</td>
                    <td className="text-end text-nowrap money">{formatMoney(row.amount, row.currency)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      )}
    </div>
  );
}
