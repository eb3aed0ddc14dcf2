import type { AuditPendingIntent } from "./ports.js";

/** Who a step acts on, as its intent records it. */
export interface StepIdentity {
  scope: string;
  resource: string;
  params: Record<string, unknown>;
  target: string;
}

/** The audit target of a step: its own, or `${scope}/${resource}`. */
export function targetOf(request: {
  scope: string;
  resource: string;
  target?: string | undefined;
}): string {
  return request.target ?? `${request.scope}/${request.resource}`;
}

/**
 * What an intent's `params` field holds: the step's scope and resource next
 * to its params, so a reconcile hook after a crash learns what the step was
 * about from the audit trail alone.
 */
export function intentParams(request: {
  scope: string;
  resource: string;
  params: Record<string, unknown>;
}): Record<string, unknown> {
  return { scope: request.scope, resource: request.resource, params: request.params };
}

/**
 * Reads a step's identity back from its intent record (intents recorded by
 * earlier versions hold the bare params: scope and resource are then empty).
 */
export function identityFromIntent(intent: AuditPendingIntent | undefined): StepIdentity {
  const recorded = intent?.params ?? {};
  const { scope, resource, params } = recorded as Record<string, unknown>;
  const nested =
    typeof scope === "string" &&
    typeof resource === "string" &&
    typeof params === "object" &&
    params !== null;
  return {
    scope: nested ? scope : "",
    resource: nested ? resource : "",
    params: nested ? (params as Record<string, unknown>) : recorded,
    target: intent?.target ?? "",
  };
}

/** The action part of a key `{action}:{scope}/{resource}:{hash}`. */
export function actionOfKey(key: string): string {
  const colon = key.indexOf(":");
  return colon === -1 ? key : key.slice(0, colon);
}
