"""Errors of code-execution jobs."""

from __future__ import annotations

from api.errors import AppError, Conflict, NotFound, ServiceUnavailable, TooManyRequests


class JobNotFound(NotFound):
    code = "job_not_found"
    title = "No such job, or it is not yours"


class JobFileNotFound(NotFound):
    code = "job_file_not_found"
    title = "The job wrote no such file"


class JobOutputPurged(AppError):
    status = 410
    code = "job_output_purged"
    title = "The job's output was removed by the retention policy"


class JobAlreadyFinished(Conflict):
    code = "job_finished"
    title = "The job has already finished"


class IdempotencyKeyReused(Conflict):
    code = "idempotency_key_reused"
    title = "This Idempotency-Key was used with a different request"


class JobTooLarge(AppError):
    status = 413
    code = "job_too_large"
    title = "The job's files and stdin are too large"


class ExecutorUnavailable(ServiceUnavailable):
    code = "executor_unavailable"
    title = "No sandbox is available to run jobs"


class QueueFull(ServiceUnavailable):
    code = "queue_full"
    title = "The job queue is full; try again shortly"


class TooManyJobs(TooManyRequests):
    code = "too_many_jobs"
    title = "You have too many jobs queued or running"


class SubmissionRateLimited(TooManyRequests):
    code = "rate_limited"
    title = "Too many job submissions; slow down"


class TooManyStreams(TooManyRequests):
    code = "too_many_streams"
    title = "Too many event streams are open"
