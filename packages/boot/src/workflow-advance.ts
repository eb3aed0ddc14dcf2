import type { WorkflowRunOwnership, WorkflowRunRecord } from "./ports.js";

/**
 * What the workflow engine hands the executor with a step, so that a backend
 * writing a step's settlement in one transaction advances the run in the
 * same one. Kept off the public request type: only the engine attaches it.
 */
export interface PendingAdvance {
  runId: string;
  ownership: WorkflowRunOwnership;
  /** The run's state once the step completed with this recorded (JSON-safe) result. */
  next(recorded: unknown): WorkflowRunRecord;
  /** Set by the executor when the settlement advanced the run too. */
  saved: boolean;
}

const advances = new WeakMap<object, PendingAdvance>();

/** Attaches the run advance that goes with a step request. */
export function attachAdvance(request: object, advance: PendingAdvance): void {
  advances.set(request, advance);
}

/** The run advance attached to a step request, if any. */
export function advanceOf(request: object): PendingAdvance | undefined {
  return advances.get(request);
}
