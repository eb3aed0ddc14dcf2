import type { RedactorPort, WorkflowRunStorePort } from "./ports.js";
import type { WorkflowRunState } from "./workflow-run-state.js";

/**
 * A run store whose states pass the redactor before they are written, as
 * the documents' do (see `redactingStoreFactory`): what a backend's run
 * store keeps is redacted too.
 * @param runs - the store that writes.
 * @param redactor - applied to each state (`redactAny`, a deep copy).
 * @returns the redacting store (`forgetFinished` passed through when `runs` has it).
 */
export function redactingRunStore(
  runs: WorkflowRunStorePort<WorkflowRunState>,
  redactor: RedactorPort,
): WorkflowRunStorePort<WorkflowRunState> {
  const redacted = (state: WorkflowRunState) => redactor.redactAny(state) as WorkflowRunState;
  const store: WorkflowRunStorePort<WorkflowRunState> = {
    create: (state) => runs.create(redacted(state)),
    get: (runId) => runs.get(runId),
    listUnfinished: () => runs.listUnfinished(),
    acquire: (runId) => runs.acquire(runId),
    save: (state, ownership) => runs.save(redacted(state), ownership),
  };
  const forget = runs.forgetFinished;
  if (forget) store.forgetFinished = (runId) => forget.call(runs, runId);
  return store;
}
