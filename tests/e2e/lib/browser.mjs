// Headless Chromium (Debian's, installed by scripts/setup.sh) driven by playwright-core, as the
// browser tests launch it; playwright gives every launch a fresh temporary profile.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';

/** Launches Chromium with the common flags plus `extraArgs` (e.g. `--host-resolver-rules=…`). */
export async function launchChromium(extraArgs = []) {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: scripts/setup.sh installs Debian's chromium`);
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run', '--disable-quic', ...extraArgs],
  });
}
