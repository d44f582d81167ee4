/**
 * A real terminal for the interactive client: a private tmux server (its own
 * socket, so it never touches a user's sessions), `send-keys` to type and
 * `capture-pane` to read. CI installs tmux; without it the test fails saying so.
 * @module
 */

/** A running pane. */
export interface TmuxPane {
  /** Types keys (tmux key names such as `Enter`, `C-c`, or literal text). */
  send(...keys: string[]): Promise<void>;
  /** The pane's text, scrollback included, with soft line wraps joined. */
  capture(): Promise<string>;
  /** Waits until `pattern` appears in the pane; throws with the screen after `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** The exit status once the program has ended, or null while it runs. */
  exitStatus(): Promise<number | null>;
  /** Waits for the program to end and returns its exit status. */
  waitForExit(timeoutMs?: number): Promise<number>;
  /** Kills the tmux server. */
  close(): Promise<void>;
}

async function tmux(socket: string, args: string[]): Promise<string> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command("tmux", { args: ["-L", socket, ...args], stdin: "null" })
      .output();
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new Error("Cannot run tmux: it is not installed (apt-get install -y tmux)");
    }
    throw err;
  }
  if (!out.success) {
    throw new Error(`Cannot run tmux ${args[0]}: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
  return new TextDecoder().decode(out.stdout);
}

/**
 * Starts `command` in a new detached tmux session.
 * @param command the program and its arguments (run without a shell)
 * @param options working directory and environment
 */
export async function startTmux(
  command: string[],
  options: { cwd: string; env?: Record<string, string> },
): Promise<TmuxPane> {
  const socket = `easybackend-cli-test-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  const envArgs = Object.entries(options.env ?? {}).flatMap(([k, v]) => ["-e", `${k}=${v}`]);
  // The session starts a shell first so remain-on-exit can be set before the client runs.
  await tmux(socket, [
    "new-session",
    "-d",
    "-s",
    "t",
    "-x",
    "200",
    "-y",
    "50",
    "-c",
    options.cwd,
    ...envArgs,
    "sleep 600",
  ]);
  await tmux(socket, ["set-option", "-t", "t", "remain-on-exit", "on"]);
  // A shell runs the client and prints its status: tmux may reap a multi-threaded
  // child late, so `pane_dead_status` is not reliable. `trap :` keeps the shell
  // alive through Ctrl-C while the client still gets the default SIGINT disposition.
  const wrapper = 'trap ":" INT; "$0" "$@"; echo "[exit $?]"';
  await tmux(socket, [
    "respawn-pane",
    "-k",
    "-t",
    "t",
    "-c",
    options.cwd,
    ...envArgs,
    "sh",
    "-c",
    wrapper,
    ...command,
  ]);
  const pane: TmuxPane = {
    async send(...keys) {
      await tmux(socket, ["send-keys", "-t", "t", ...keys]);
    },
    capture() {
      return tmux(socket, ["capture-pane", "-p", "-J", "-S", "-500", "-t", "t"]);
    },
    async waitFor(pattern, timeoutMs = 15_000) {
      const end = Date.now() + timeoutMs;
      let screen = "";
      while (Date.now() < end) {
        screen = await pane.capture();
        if (pattern.test(screen)) return screen;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`Cannot see ${pattern} in the terminal after ${timeoutMs} ms:\n${screen}`);
    },
    async exitStatus() {
      const m = /^\[exit (\d+)\]$/m.exec(await pane.capture());
      return m ? Number(m[1]) : null;
    },
    async waitForExit(timeoutMs = 5000) {
      const end = Date.now() + timeoutMs;
      while (Date.now() < end) {
        const status = await pane.exitStatus();
        if (status !== null) return status;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`Cannot see the client exit after ${timeoutMs} ms:\n${await pane.capture()}`);
    },
    async close() {
      await tmux(socket, ["kill-server"]).catch(() => {});
    },
  };
  return pane;
}
