import { type ProgressBar, progressBarFor } from "@beauvoir/audit-trail";
import type { BeauvoirCliIo } from "./cli-io.js";

/**
 * The progress bar of long work (verifying a large history, building a
 * report): drawn only on a terminal, erased before anything is printed.
 * @param io - the command's streams.
 * @param label - shown before the bar.
 */
export function progressFor(io: BeauvoirCliIo, label: string): ProgressBar {
  return progressBarFor(io, label);
}
