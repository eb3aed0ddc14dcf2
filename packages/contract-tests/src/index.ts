export { auditContract } from "./audit-contract.js";
export { executorContract } from "./executor-contract.js";
export { attemptsOf, readVerifiedHistory } from "./history.js";
export { idempotencyContract, KEY_VECTORS } from "./idempotency-contract.js";
export { limiterContract } from "./limiter-contract.js";
export { locksContract } from "./locks-contract.js";
export { storeContract } from "./store-contract.js";
export type * from "./subjects.js";
