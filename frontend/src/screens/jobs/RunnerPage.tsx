/** The code runner: a Python editor, stdin and limits, live output, and the history of runs. */
import { useState, type SubmitEvent } from "react";
import { Link, useLocation } from "react-router";

import { ApiError, type Runtime } from "../../api/client";
import { flattenPages } from "../../api/queries";
import { isFinal, useCancelJob, useCreateJob, useJobs, useJobStream, useRuntimes } from "../../api/jobs";
import { PageHeader, Time } from "../../ui/bits";
import { describeError, formErrors } from "../../ui/errors";
import { Field, FormAlert } from "../../ui/forms";
import { useDocumentTitle } from "../../ui/hooks";
import { EmptyState, ErrorState, Loading, SkeletonRows } from "../../ui/states";
import { CodeEditor } from "./CodeEditor";
import { inputProblem, type InputFile, type RunnerDraft } from "./inputFiles";
import { InputFilesField } from "./InputFilesField";
import { JobOriginLabel } from "./jobInput";
import { JobOutputView, JobStatusBadge } from "./jobParts";
import { formatDuration } from "./jobText";

const DRAFT_KEY = "nimbus.runner.source";
const EXAMPLE = `import time

print("Hello from the sandbox")
time.sleep(0.5)
try:
    name = input()  # a line of the standard input below
except EOFError:  # none given
    name = "world"
print(f"Goodbye, {name}!")

with open("result.txt", "w") as f:
    f.write("Files the script writes can be downloaded.\\n")
`;

function loadDraft(): string {
  try {
    return window.localStorage.getItem(DRAFT_KEY) ?? EXAMPLE;
  } catch {
    return EXAMPLE;
  }
}

function saveDraft(source: string): void {
  try {
    window.localStorage.setItem(DRAFT_KEY, source);
  } catch {
    /* storage disabled: the draft lives as long as the page */
  }
}

/** Pick the runtime and see what is in it: its description and its packages with versions. */
function RuntimePicker({
  runtimes,
  value,
  onChange,
}: {
  runtimes: Runtime[];
  value: string;
  onChange: (name: string) => void;
}) {
  const chosen = runtimes.find((r) => r.name === value);
  const packages = Object.entries(chosen?.packages ?? {});
  return (
    <div className="mb-3">
      <label htmlFor="runner-runtime" className="form-label fw-medium">
        Runtime
      </label>
      <select
        id="runner-runtime"
        className="form-select"
        value={value}
        aria-describedby="runner-runtime-about"
        onChange={(event) => onChange(event.target.value)}
      >
        {runtimes.map((r) => (
          <option key={r.name} value={r.name}>
            {r.name}
            {r.available ? "" : " (not available)"}
          </option>
        ))}
      </select>
      {chosen && (
        <div id="runner-runtime-about" className="form-text">
          {chosen.description}
          {packages.length > 0 && (
            <ul className="list-inline mb-0" aria-label={`Packages in ${chosen.name}`}>
              {packages.map(([name, version]) => (
                <li key={name} className="list-inline-item">
                  <code>{name}</code> {version}
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
    </div>
  );
}

export function RunnerPage() {
  useDocumentTitle("Code runner");
  const runtimes = useRuntimes();
  return (
    <>
      <PageHeader
        title="Code runner"
        subtitle="Python 3 in a throw-away sandbox with no network. Output appears as it is written."
      />
      {runtimes.isPending ? (
        <Loading label="Checking the sandbox…" />
      ) : runtimes.isError ? (
        <ErrorState error={runtimes.error} onRetry={() => void runtimes.refetch()} />
      ) : (
        <Runner runtimes={runtimes.data} />
      )}
      <JobHistory />
    </>
  );
}

function Runner({ runtimes }: { runtimes: Runtime[] }) {
  const [runtimeName, setRuntimeName] = useState("python");
  const runtime = runtimes.find((r) => r.name === runtimeName) ?? null;
  const create = useCreateJob();
  const cancel = useCancelJob();
  // "Open in editor" on a past run brings its code, files and stdin here.
  const opened = (useLocation().state as { draft?: RunnerDraft } | null)?.draft;
  const [source, setSource] = useState(() => opened?.source ?? loadDraft());
  const [stdin, setStdin] = useState(opened?.stdin ?? "");
  const [files, setFiles] = useState<InputFile[]>(opened?.files ?? []);
  const problem = runtime
    ? inputProblem("main.py", source, stdin, files, {
        maxBytes: runtime.max_input_bytes,
        maxFiles: runtime.max_input_files,
      })
    : null;
  const defaults = runtime?.default_limits;
  const maxima = runtime?.max_limits;
  const [wallTime, setWallTime] = useState(String(defaults?.wall_time_s ?? 10));
  const [memory, setMemory] = useState(String(defaults?.memory_mb ?? 128));
  const [jobId, setJobId] = useState<string | null>(null);
  const stream = useJobStream(jobId);
  const running = jobId !== null && !isFinal(stream.status) && stream.error === null;
  const errors = formErrors(create.error, ["source", "stdin", "wall_time_s", "memory_mb"]);

  function run() {
    if (create.isPending || running || problem !== null) return;
    saveDraft(source);
    const code = files.length
      ? {
          files: [
            { path: "main.py", content: source },
            ...files.map(({ path, content, encoding }) => ({ path, content, encoding })),
          ],
          entrypoint: "main.py",
        }
      : { source };
    create.mutate(
      {
        runtime: runtimeName,
        ...code,
        stdin,
        limits: {
          wall_time_s: Number(wallTime) || null,
          memory_mb: Number(memory) || null,
        },
      },
      { onSuccess: (job) => setJobId(job.id) },
    );
  }

  function submit(event: SubmitEvent) {
    event.preventDefault();
    run();
  }

  const unavailable = runtime !== null && !runtime.available;
  const busy =
    create.error instanceof ApiError && (create.error.status === 429 || create.error.status === 503);

  return (
    <div className="row g-4 mb-4">
      <form className="col-lg-7" onSubmit={submit} aria-label="Run a script">
        {unavailable && (
          <div className="alert alert-warning" role="alert">
            <strong>
              {runtime.reason && runtime.reason !== runtime.detail
                ? `The ${runtime.name} runtime is not available.`
                : "The sandbox is not available."}
            </strong>{" "}
            <WithCommands text={runtime.reason ?? runtime.detail} />
          </div>
        )}
        {!unavailable && runtime?.notice && (
          <div className="alert alert-info" role="status">
            <strong>Weaker sandbox in use.</strong> <WithCommands text={runtime.notice} />
          </div>
        )}
        <RuntimePicker runtimes={runtimes} value={runtimeName} onChange={setRuntimeName} />
        <div className="d-flex align-items-baseline justify-content-between">
          <span id="editor-label" className="form-label fw-medium">
            Script <code>main.py</code>
          </span>
          <span id="editor-hint" className="small text-body-secondary">
            Ctrl+Enter runs · Tab leaves the editor
          </span>
        </div>
        <CodeEditor
          initialValue={source}
          labelledBy="editor-label"
          describedBy="editor-hint"
          onChange={(value) => {
            setSource(value);
            saveDraft(value);
          }}
          onRun={run}
        />
        <div className="row g-2 mt-2">
          <div className="col-md-6">
            <label htmlFor="runner-stdin" className="form-label">
              Standard input
            </label>
            <textarea
              id="runner-stdin"
              className={`form-control font-monospace${errors.fields.stdin ? " is-invalid" : ""}`}
              rows={3}
              value={stdin}
              onChange={(e) => setStdin(e.target.value)}
              placeholder="What input() reads"
            />
            {errors.fields.stdin && <div className="invalid-feedback">{errors.fields.stdin}</div>}
            <InputFilesField files={files} onChange={setFiles} problem={problem} />
          </div>
          <Field
            className="col-6 col-md-3"
            label="Time limit (s)"
            type="number"
            min={1}
            max={maxima?.wall_time_s}
            step="any"
            value={wallTime}
            onChange={(e) => setWallTime(e.target.value)}
            error={errors.fields.wall_time_s}
            help={maxima ? `At most ${maxima.wall_time_s} s` : undefined}
          />
          <Field
            className="col-6 col-md-3"
            label="Memory (MB)"
            type="number"
            min={16}
            max={maxima?.memory_mb}
            value={memory}
            onChange={(e) => setMemory(e.target.value)}
            error={errors.fields.memory_mb}
            help={maxima ? `At most ${maxima.memory_mb} MB` : undefined}
          />
        </div>
        <FormAlert
          message={
            busy
              ? describeError(create.error).detail
              : create.isError
                ? (errors.summary ??
                  (Object.keys(errors.fields).length ? null : describeError(create.error).detail))
                : null
          }
        />
        <div className="d-flex gap-2 mt-3">
          <button
            type="submit"
            className="btn btn-primary"
            disabled={create.isPending || running || unavailable || problem !== null}
          >
            {create.isPending ? "Starting…" : running ? "Running…" : "Run"}
          </button>
          {running && jobId && (
            <button
              type="button"
              className="btn btn-outline-danger"
              disabled={cancel.isPending}
              onClick={() => cancel.mutate(jobId)}
            >
              Cancel
            </button>
          )}
        </div>
        {cancel.isError && <FormAlert message={describeError(cancel.error).detail} />}
      </form>
      <section className="col-lg-5" aria-labelledby="output-title">
        <div className="d-flex align-items-baseline justify-content-between">
          <h2 id="output-title" className="h6 text-uppercase text-body-secondary">
            Output
          </h2>
          {jobId && (
            <Link className="small" to={`/jobs/${jobId}`}>
              Open this run
            </Link>
          )}
        </div>
        {jobId ? (
          <JobOutputView jobId={jobId} stream={stream} />
        ) : (
          <div className="job-log job-log-idle">
            <span className="text-body-secondary">Run the script to see its output here.</span>
          </div>
        )}
      </section>
    </div>
  );
}

/** The server's advice, its `commands` set as code (the text itself stays escaped). */
function WithCommands({ text }: { text: string }) {
  return <>{text.split("`").map((part, i) => (i % 2 === 1 ? <code key={i}>{part}</code> : part))}</>;
}

function JobHistory() {
  const jobs = useJobs(10);
  const items = flattenPages(jobs.data);
  return (
    <section aria-labelledby="history-title">
      <h2 id="history-title" className="h5">
        Recent runs
      </h2>
      {jobs.isPending ? (
        <SkeletonRows label="Loading your runs…" rows={3} />
      ) : jobs.isError ? (
        <ErrorState error={jobs.error} onRetry={() => void jobs.refetch()} />
      ) : items.length === 0 ? (
        <EmptyState icon="▷" title="No runs yet">
          Scripts you run, and reproductions of bugs, are listed here.
        </EmptyState>
      ) : (
        <div className="card">
          <div className="table-responsive">
            <table className="table align-middle mb-0 jobs-table">
              <caption className="visually-hidden">Your recent runs</caption>
              <thead>
                <tr>
                  <th scope="col">Started</th>
                  <th scope="col">Status</th>
                  <th scope="col" className="d-none d-sm-table-cell">
                    Exit code
                  </th>
                  <th scope="col" className="d-none d-sm-table-cell">
                    Duration
                  </th>
                  <th scope="col">
                    <span className="visually-hidden">Open</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {items.map((job) => (
                  <tr key={job.id}>
                    <td className="small">
                      <Time iso={job.created_at} />
                    </td>
                    <td>
                      <span className="d-inline-flex flex-wrap align-items-center gap-2">
                        <JobStatusBadge status={job.status} />
                        <JobOriginLabel origin={job.origin} />
                      </span>
                    </td>
                    <td className="d-none d-sm-table-cell">{job.exit_code ?? "—"}</td>
                    <td className="d-none d-sm-table-cell">{formatDuration(job.duration_ms)}</td>
                    <td className="text-end">
                      <Link to={`/jobs/${job.id}`}>
                        Output<span className="visually-hidden"> of the run {job.id}</span>
                      </Link>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {jobs.hasNextPage && (
            <div className="card-footer bg-transparent text-center">
              <button
                type="button"
                className="btn btn-sm btn-outline-primary"
                disabled={jobs.isFetchingNextPage}
                onClick={() => void jobs.fetchNextPage()}
              >
                Older runs
              </button>
            </div>
          )}
        </div>
      )}
    </section>
  );
}

export default RunnerPage;
