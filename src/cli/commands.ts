import type { Command } from "./command.js";

/** Sub-commands by name; each module is loaded only when its command runs. */
export const commands: Record<string, () => Promise<Command>> = {};
