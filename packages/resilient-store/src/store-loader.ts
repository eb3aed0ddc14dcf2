import { basename } from "node:path";
import {
  StoreMigrationFailedError,
  StoreMigrationMissingError,
  StoreSchemaTooNewError,
  StoreSerializeError,
  StoreWriteError,
} from "./errors.js";
import {
  composeFileText,
  RESERVED_KEYS,
  type SerializedState,
  serializeState,
} from "./serialization.js";
import { isPlainObject } from "./state-normalizer.js";
import type { StoreContext } from "./store-context.js";
import type { StoreFileOperations } from "./store-file-operations.js";
import { type LoadedFile, listTmpFiles, readStoreFile } from "./store-file-reader.js";
import { quarantineFile } from "./store-quarantine.js";
import type { StoreWriter } from "./store-writer.js";

/** Where a state came from on read. */
type SourceKind = "primary" | "bak" | "tmp";

/** A file whose content was accepted as the current state. */
interface AcceptedSource {
  readonly kind: SourceKind;
  readonly file: LoadedFile;
  readonly writeEpoch: number;
  /** The file text to serve `get()` from. */
  readonly stateText: string;
  /** Set when the state had to be rewritten (migrated, or `__proto__` keys dropped). */
  readonly serialized: SerializedState | undefined;
  readonly migrated: boolean;
  /** A parsed copy nobody else holds, for the `get()` that triggered the load. */
  readonly freshState: Record<string, unknown> | undefined;
}

/**
 * @internal The read fallback and recovery of one store instance: reads the
 * primary, the bak and every tmp file (so the epoch is learnt from all of
 * them before the first write), picks the source (primary, else bak, else the
 * newest complete tmp file above both), and repairs: damaged files are
 * quarantined byte for byte, a recovered tmp is promoted, torn and superseded
 * tmp files are removed, a migrated state is written back.
 */
export class StoreLoader {
  readonly #context: StoreContext;
  readonly #operations: StoreFileOperations;
  readonly #writer: StoreWriter;

  constructor(context: StoreContext, operations: StoreFileOperations, writer: StoreWriter) {
    this.#context = context;
    this.#operations = operations;
    this.#writer = writer;
  }

  /**
   * Loads the state once (later calls do nothing until the instance loses track).
   * @param writeBackMigration - whether a migrated state is written back now
   *   (a `set()` writes its own state right after, so it passes false).
   * @returns a parsed copy of the state nobody else holds, when there is one.
   */
  async ensureLoaded(writeBackMigration: boolean): Promise<Record<string, unknown> | undefined> {
    const { options, names, memory, failStop } = this.#context;
    if (memory.loaded) return undefined;
    failStop.throwIfStopped();
    const { fs, path, maxSizeBytes, logger } = options;
    const primary = await readStoreFile(fs, path, names.primary, maxSizeBytes);
    const bak = await readStoreFile(fs, path, names.bak, maxSizeBytes);
    const tmps: LoadedFile[] = [];
    for (const file of await listTmpFiles(fs, path, names)) {
      const loaded = await readStoreFile(fs, path, file, maxSizeBytes);
      if (loaded) tmps.push(loaded);
    }

    if (primary || bak || tmps.length > 0) await this.#makeNamesDurable();

    let source = await this.#firstAccepted([
      ["primary", primary],
      ["bak", bak],
    ]);
    if (!source) {
      // A tmp file is only newer than both when its write got past the fsync.
      const floor = Math.max(primary?.epoch ?? -1, bak?.epoch ?? -1);
      const newerTmps = tmps.filter((tmp) => tmp.epoch > floor).sort((a, b) => b.epoch - a.epoch);
      source = await this.#firstAccepted(newerTmps.map((tmp) => ["tmp", tmp] as const));
    }
    // Every file's epoch counts, so the next write is above all of them.
    let highestEpoch = memory.epoch;
    for (const loaded of [primary, bak, ...tmps]) {
      if (loaded) highestEpoch = Math.max(highestEpoch, loaded.epochHint);
    }

    const sourceEpoch = source ? source.writeEpoch : Number.NEGATIVE_INFINITY;
    let primaryBytes = primary?.bytes ?? null;
    let bakBytes = bak?.bytes ?? null;
    const setAside: string[] = [];
    if (primary && source?.file !== primary) {
      setAside.push(await quarantineFile(this.#context, this.#operations, primary, ""));
      primaryBytes = null;
    }
    if (bak && source?.kind !== "primary" && source?.file !== bak) {
      setAside.push(await quarantineFile(this.#context, this.#operations, bak, "bak"));
      bakBytes = null;
    }
    if (source?.kind === "tmp") {
      await this.#promote(source.file);
      primaryBytes = source.file.bytes;
    }
    memory.staleTmps.clear();
    for (const tmp of tmps) {
      if (tmp === source?.file) continue;
      const { parsed } = tmp;
      if (!parsed.ok && !parsed.complete) {
        // A torn write from a crash, not damage: nothing to keep.
        await this.#operations.removeQuietly(tmp.file, "Could not delete a leftover tmp file");
      } else if (!parsed.ok || !source) {
        const origin = `tmp${names.tmpPid(basename(tmp.file))}`;
        setAside.push(await quarantineFile(this.#context, this.#operations, tmp, origin));
      } else if (tmp.epoch <= sourceEpoch) {
        await this.#operations.removeQuietly(tmp.file, "Could not delete a leftover tmp file");
      } else {
        memory.staleTmps.add(tmp.file);
      }
    }
    if (!source && setAside.length > 0) {
      logger.error("Every store file is damaged or rejected; no state to serve", {
        path,
        quarantined: setAside,
      });
    }
    if (source && source.kind !== "primary") {
      logger.warn(`Recovered state from the ${source.kind} file`, {
        path,
        file: source.file.file,
        writeEpoch: source.writeEpoch,
      });
    }
    if (source?.file.parsed.ok && source.file.parsed.checksum === "absent") {
      logger.info("Store file has no checksum (previous format); the next set() adds one", {
        path,
        file: source.file.file,
      });
    }

    memory.epoch = highestEpoch;
    memory.primaryBytes = primaryBytes;
    memory.bakBytes = bakBytes;
    memory.stateText = source ? source.stateText : null;
    memory.loaded = true;

    // Files the store keeps but did not write itself may be readable by others.
    if (source?.kind === "primary" && primary?.loose) await this.#makePrivate(primary);
    if (bak && bakBytes !== null && bak.loose) await this.#makePrivate(bak);

    if (source?.migrated && source.serialized && writeBackMigration) {
      try {
        await this.#writer.write(source.serialized);
      } catch (error) {
        logger.warn("Could not write the migrated state back; serving it anyway", {
          path,
          error,
        });
      }
    }
    return source?.freshState;
  }

  /** The first candidate whose content is accepted (checked, parsed, migrated, valid). */
  async #firstAccepted(
    candidates: ReadonlyArray<readonly [SourceKind, LoadedFile | null]>,
  ): Promise<AcceptedSource | undefined> {
    for (const [kind, file] of candidates) {
      if (!file) continue;
      const accepted = await this.#accept(kind, file);
      if (accepted) return accepted;
    }
    return undefined;
  }

  /**
   * Checks one file: checksum, parse, schema version, migrations, `validate`.
   * @returns the accepted source, or undefined when the file is damaged or rejected.
   * @throws when the file is fine but this code cannot use it (newer schema, missing or failing migration).
   */
  async #accept(kind: SourceKind, file: LoadedFile): Promise<AcceptedSource | undefined> {
    const { parsed } = file;
    const { path, schemaVersion, migrations, validate, logger } = this.#context.options;
    if (!parsed.ok) {
      logger.warn("Store file is corrupt", { path, file: file.file, reason: parsed.reason });
      return undefined;
    }
    if (parsed.schemaVersion > schemaVersion) {
      throw new StoreSchemaTooNewError(path, file.file, parsed.schemaVersion, schemaVersion);
    }
    if (parsed.droppedProtoKeys > 0) {
      logger.warn("Ignored __proto__ keys in a store file", {
        path,
        file: file.file,
        count: parsed.droppedProtoKeys,
      });
    }
    let state: unknown = parsed.state;
    for (let version = parsed.schemaVersion; version < schemaVersion; version++) {
      const migration = migrations.get(version);
      if (!migration) {
        throw new StoreMigrationMissingError(path, version, parsed.schemaVersion, schemaVersion);
      }
      try {
        state = await migration(state);
      } catch (error) {
        throw new StoreMigrationFailedError(path, version, "the migration threw", error);
      }
      if (!isPlainObject(state)) {
        throw new StoreMigrationFailedError(path, version, "it did not return a plain object");
      }
      const reserved = RESERVED_KEYS.find((key) => Object.hasOwn(state as object, key));
      if (reserved) {
        throw new StoreMigrationFailedError(
          path,
          version,
          `it returned the reserved key ${reserved}`,
        );
      }
    }
    const migrated = parsed.schemaVersion < schemaVersion;
    // The file's own text is served as is, unless the state had to change.
    let serialized: SerializedState | undefined;
    let stateText = file.text;
    if (migrated || parsed.droppedProtoKeys > 0) {
      try {
        serialized = serializeState(state as Record<string, unknown>, schemaVersion, path);
      } catch (error) {
        if (!StoreSerializeError.isInstance(error)) throw error;
        throw new StoreMigrationFailedError(path, schemaVersion - 1, error.message, error);
      }
      stateText = composeFileText(serialized, parsed.writeEpoch);
    }
    if (validate) {
      // Validated after the text was taken, so validate cannot change what is served.
      let valid = false;
      let reason = "validate returned false";
      try {
        valid = validate(state);
      } catch (error) {
        reason = `validate threw: ${(error as Error)?.message ?? String(error)}`;
      }
      if (!valid) {
        logger.warn("Store file failed validation", { path, file: file.file, reason });
        return undefined;
      }
    }
    return {
      kind,
      file,
      writeEpoch: parsed.writeEpoch,
      stateText,
      serialized,
      migrated,
      // Migrations and validate saw this object and may keep a reference to it.
      freshState: migrated || validate ? undefined : (state as Record<string, unknown>),
    };
  }

  /**
   * Fsyncs the directory before anything found in it is served: the process
   * that wrote last may have died between a rename and its directory fsync,
   * and a state served now must not be taken back by a power cut.
   * @throws {@link StoreWriteError} (`fsync-directory`) when the directory
   *   could not be opened to fsync, or the fail-stop error when the fsync failed.
   */
  async #makeNamesDurable(): Promise<void> {
    const { options, failStop } = this.#context;
    try {
      await this.#operations.fsyncDirectory("fsync-directory");
    } catch (error) {
      if (failStop.stopped) throw failStop.error();
      throw new StoreWriteError(options.path, "fsync-directory", true, error);
    }
  }

  /**
   * Makes a recovered tmp file the primary, so the state no longer lives
   * under a tmp name. Its writer may have died before its fsync (the page
   * cache still shows the whole file): the data is fsynced before the rename,
   * or a power cut would leave the primary empty after it was served.
   */
  async #promote(file: LoadedFile): Promise<void> {
    const { options, names, memory, failStop } = this.#context;
    try {
      await this.#operations.fsyncFile(file.file, "promote-tmp");
      await options.fs.rename(file.file, names.primary);
      await this.#operations.fsyncDirectory("promote-tmp");
    } catch (error) {
      memory.loaded = false;
      if (failStop.stopped) throw failStop.error();
      throw new StoreWriteError(options.path, "promote-tmp", true, error);
    }
  }

  /**
   * Replaces a kept file whose mode lets others read it (one the store did
   * not create) with a private copy of the same bytes: tmp (0600, fsynced),
   * renamed over it, directory fsynced. Not being able to is only logged.
   */
  async #makePrivate(file: LoadedFile): Promise<void> {
    const { options, names } = this.#context;
    const tmp = names.tmp();
    try {
      await this.#operations.writeNewFile(tmp, file.bytes, "private-copy");
      await options.fs.rename(tmp, file.file);
      await this.#operations.fsyncDirectory("private-copy");
    } catch (error) {
      await this.#operations.removeQuietly(tmp, "Could not delete a leftover tmp file");
      options.logger.warn("Could not replace a store file readable by others with a private copy", {
        path: options.path,
        file: file.file,
        error,
      });
    }
  }
}
