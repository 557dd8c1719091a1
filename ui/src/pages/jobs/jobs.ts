/** What the Sync jobs page knows about jobs, apart from React. */

export const JOB_TYPES = [
  "dead_letter_replay",
  "projection_rebuild",
  "chain_verification",
] as const;

export const JOB_STATUSES = [
  "PENDING",
  "RUNNING",
  "SUCCEEDED",
  "FAILED",
  "CANCELLED",
] as const;

export type JobStatusName = (typeof JOB_STATUSES)[number];

const LABELS: Record<string, string> = {
  dead_letter_replay: "Dead-letter replay",
  projection_rebuild: "Read-model rebuild",
  chain_verification: "Log verification",
};

/** A job type as a label. */
export function jobTypeLabel(type: string): string {
  return LABELS[type] ?? type.replace(/_/g, " ");
}

/** Whether a job has finished (it will not change any more). */
export function isFinished(status: string): boolean {
  return (
    status === "SUCCEEDED" || status === "FAILED" || status === "CANCELLED"
  );
}

/**
 * The total to draw progress against: a succeeded job is complete whatever
 * total it recorded (a job with nothing to do has done 0 of 0).
 */
export function progressTotalOf(job: {
  status: string;
  progressDone: number;
  progressTotal?: number | null;
}): number | null {
  if (job.status === "SUCCEEDED")
    return Math.max(job.progressTotal ?? 0, job.progressDone);
  return job.progressTotal ?? null;
}

/** Parses the status filter from the query string (unknown values: none). */
export function parseStatus(
  value: string | undefined,
): JobStatusName | undefined {
  return (JOB_STATUSES as readonly string[]).includes(value ?? "")
    ? (value as JobStatusName)
    : undefined;
}
