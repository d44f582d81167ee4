/**
 * Runs `main.ts` so that `--cpu-prof` can write its profile: `main()` returns
 * on SIGTERM and the process ends normally instead of through `Deno.exit`.
 *
 *   deno run -A --cpu-prof --cpu-prof-dir=prof bench/profile_server.ts
 * @module
 */

import { main } from "../main.ts";

await main(Deno.args);
