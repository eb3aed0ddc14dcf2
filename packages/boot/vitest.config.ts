import { definePackageTests } from "../../vitest.shared.js";

// The crash and torture tests fork children running the built packages;
// the torture test sets its own, longer timeout.
export default definePackageTests({ branches: 85, testTimeout: 30_000 });
