// The only door to the backend: Tauri commands and events, with errors as {code, message}.

const tauri = window.__TAURI__;

/** An error from a command: `code` is stable (see src-tauri/error.rs), `message` says what to do. */
export class CommandError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

/** True when the page runs inside the app (and not, say, opened as a file). */
export const inApp = Boolean(tauri && tauri.core && tauri.event);

/** Calls a command; a failure is always a CommandError. */
export async function call(command, args = {}) {
  if (!inApp) throw new CommandError('not_in_app', 'This page only works inside Stepup Desktop.');
  try {
    return await tauri.core.invoke(command, args);
  } catch (error) {
    if (error && typeof error === 'object' && typeof error.code === 'string') {
      throw new CommandError(error.code, sentence(String(error.message ?? '')));
    }
    throw new CommandError('internal', typeof error === 'string' ? error : 'Something went wrong inside the app: restart it and try again.');
  }
}

/** Listens to a backend event; resolves to the unlisten function. */
export function on(eventName, handler) {
  if (!inApp) return Promise.resolve(() => {});
  return tauri.event.listen(eventName, (event) => handler(event.payload));
}

/** The backend's messages are clauses ("the code is not correct: ..."): make them sentences. */
export function sentence(text) {
  if (!text) return text;
  const capital = text[0].toUpperCase() + text.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}
