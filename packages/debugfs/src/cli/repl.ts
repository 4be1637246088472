/**
 * The interactive shell: node:readline with debugfs's prompt, history kept
 * in ~/.ext4_debug_history, and tab completion of command names (first
 * word) and of paths inside the open image (later words).
 */
import { appendFileSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { Session } from "../session.js";
import { completePath } from "../shell/complete.js";
import { quoteWord, splitLine } from "../shell/parse.js";

/** debugfs's prompt (two spaces after the colon, as ss prints it). */
export const PROMPT = "debugfs:  ";
/** How many history lines are kept in memory and loaded from the file. */
const HISTORY_SIZE = 1000;

/** Path of the history file: ~/.ext4_debug_history. */
export function historyPath(): string {
  return join(homedir(), ".ext4_debug_history");
}

function loadHistory(path: string): string[] {
  try {
    const lines = readFileSync(path, "utf8")
      .split("\n")
      .filter((l) => l.trim() !== "");
    // readline wants the most recent entry first.
    return lines.slice(-HISTORY_SIZE).reverse();
  } catch {
    return [];
  }
}

/**
 * The readline completer: completes the command name in the first word and
 * a path inside the image in any later word. Returns readline's
 * `[candidates, fragment]`. Never throws (a corrupt directory just offers
 * nothing).
 */
export function completer(session: Session, line: string): [string[], string] {
  const startOfWord = Math.max(line.lastIndexOf(" "), line.lastIndexOf("\t")) + 1;
  const fragment = line.slice(startOfWord);
  const before = line.slice(0, startOfWord);
  let words: string[];
  try {
    words = splitLine(before);
  } catch {
    return [[], fragment];
  }
  if (words.length === 0) {
    return [session.commandNames().filter((n) => n.startsWith(fragment)), fragment];
  }
  if (session.image === null) return [[], fragment];
  try {
    const candidates = completePath(session.image.fs, session.cwd, session.root, fragment);
    return [candidates.map((c) => (c.endsWith("/") ? c : quoteWord(c))), fragment];
  } catch {
    return [[], fragment];
  }
}

/**
 * Reads commands from stdin until `quit`/`q` or end of input and runs each
 * one, printing as debugfs does. Resolves to the exit status, 0: a person
 * at the prompt has seen each error as it happened, so (as with debugfs)
 * failures there do not change it; only -R and -f are strict.
 */
export function runInteractive(session: Session): Promise<number> {
  const histFile = historyPath();
  const interactive = process.stdin.isTTY === true;
  const rl = createInterface({
    input: process.stdin,
    output: process.stdout,
    prompt: PROMPT,
    history: interactive ? loadHistory(histFile) : [],
    historySize: HISTORY_SIZE,
    removeHistoryDuplicates: false,
    terminal: interactive,
    completer: (line: string) => completer(session, line),
  });
  let closed = false;
  return new Promise<number>((resolve) => {
    rl.on("line", (line) => {
      // readline may still hand over lines it had buffered when quit closed it.
      if (closed) return;
      // Only a person's session is history; piped input is not.
      if (interactive && line.trim() !== "") {
        try {
          appendFileSync(histFile, `${line}\n`, { mode: 0o600 });
        } catch {
          // History is a convenience: an unwritable home directory must not stop the shell.
        }
      }
      const outcome = session.execute(line, {
        stdout: (c) => process.stdout.write(typeof c === "string" ? Buffer.from(c, "latin1") : c),
        stderr: (l) => process.stderr.write(l),
      });
      if (outcome.quit) {
        closed = true;
        rl.close();
        return;
      }
      rl.prompt();
    });
    rl.on("close", () => {
      closed = true;
      resolve(0);
    });
    rl.prompt();
  });
}
