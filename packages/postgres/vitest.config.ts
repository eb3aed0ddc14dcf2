import { mergeConfig } from "vitest/config";
import { definePackageTests } from "../../vitest.shared.js";

// One PostgreSQL server per run (embedded, or BEAUVOIR_TEST_DATABASE_URL),
// one database per test file; fault tests wait out short leases.
export default mergeConfig(definePackageTests({ branches: 80, testTimeout: 60_000 }), {
  test: { globalSetup: ["./test/support/global-setup.ts"], hookTimeout: 60_000 },
});
