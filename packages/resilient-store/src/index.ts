export {
  type ResilientStoreErrorCode,
  StoreError,
  StoreInvalidStateError,
  StoreMigrationFailedError,
  StoreMigrationMissingError,
  StoreReadError,
  StoreSchemaTooNewError,
  StoreSerializeError,
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
