"""Job, queue and sandbox metrics, exposed by /metrics with the HTTP ones."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

_SECONDS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

JOBS_TOTAL = Counter("nimbus_jobs", "Jobs that ended, by final status", ["status"])
JOB_DURATION = Histogram(
    "nimbus_job_duration_seconds", "Run time of ended jobs inside the sandbox", buckets=_SECONDS
)
_MIB = 1024 * 1024
JOB_CPU = Histogram(
    "nimbus_job_cpu_seconds",
    "CPU time (user + system) of ended jobs' scripts and their children",
    buckets=_SECONDS,
)
JOB_PEAK_MEMORY = Histogram(
    "nimbus_job_peak_memory_bytes",
    "Peak memory of ended jobs' scripts and their children",
    buckets=tuple(n * _MIB for n in (8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096)),
)
QUEUE_WAIT = Histogram(
    "nimbus_job_queue_wait_seconds", "Time from queued to started", buckets=_SECONDS
)
QUEUE_DEPTH = Gauge("nimbus_job_queue_depth", "Jobs waiting in the queue")
JOBS_RUNNING = Gauge("nimbus_jobs_running", "Jobs the workers of this process are running now")
POOL_AVAILABLE = Gauge(
    "nimbus_sandbox_pool_available", "Pre-started sandbox containers ready for a job"
)
JOB_ROWS = Gauge(
    "nimbus_job_rows", "Job rows stored, by whether their output is kept or purged", ["output"]
)
JOB_EVENT_ROWS = Gauge("nimbus_job_event_rows", "Job events stored (output and status)")
JOB_STORED_BYTES = Gauge(
    "nimbus_job_stored_bytes", "Input, output text, files and events stored for ended jobs"
)
JOB_FILE_BYTES = Gauge("nimbus_job_file_bytes", "Output files stored (part of stored bytes)")
