#!/usr/bin/env node
// Committed so that installing the package never warns about a missing bin;
// the command itself is built into dist/.
import "../dist/cli.js";
