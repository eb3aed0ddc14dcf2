export {
  type ResilientStoreErrorCode,
  StoreError,
  StoreFailStoppedError,
  StoreInvalidStateError,
  StoreMigrationFailedError,
  StoreMigrationMissingError,
  StoreReadError,
  StoreSchemaTooNewError,
  StoreSerializeError,
  StoreSymlinkError,
  StoreTooLargeError,
  StoreWriteError,
  type StoreWriteStep,
} from "./errors.js";
export { type Migration, RESILIENT_STORE_DEFAULTS, type ResilientStoreOptions } from "./options.js";
export { ResilientJsonStore, type StoreCallOptions } from "./resilient-json-store.js";
export {
  type ResilientStoreConfig,
  ResilientStoreFactory,
  type ResilientStoreFactoryOptions,
} from "./resilient-store-factory.js";
export { MAX_STATE_DEPTH } from "./state-normalizer.js";
export {
  inspectStore,
  type StoreFileHealth,
  type StoreFileReport,
  type StoreInspection,
  type StoreInspectionOptions,
} from "./store-inspection.js";
