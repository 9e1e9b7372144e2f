/**
 * Text a server chose (an error body's message, a `Warning` header, a token server's error, a `Content-Range`)
 * as one inert line: control characters are shown escaped, so a hostile registry cannot move the cursor, colour
 * the terminal, overwrite a status line with CR, start a line of its own with LF (a fake "Pushed" line, or a
 * GitHub Actions `::command::`), or reorder the text with bidirectional overrides.
 */

/** C0 controls (with TAB, LF, CR, ESC), DEL, C1 controls, line/paragraph separators and bidi embeddings/overrides/isolates. */
const CONTROLS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
/** The same without LF: for lading's own messages, whose lines are lading's. */
const CONTROLS_BUT_LF = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escape(c: string): string {
  const named = NAMED[c];
  if (named) return named;
  const code = c.charCodeAt(0);
  // C0 and DEL as \xHH (ESC: \x1b), everything above as \uHHHH (CSI: \u009b).
  return code <= 0x7f ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** Server-provided text with every control character escaped (`\n`, `\r`, `\t`, `\x1b`, `\x7f`, `\u009b` …). */
export function printable(text: string): string {
  return text.replace(CONTROLS, escape);
}

/**
 * A message about to be printed, line breaks kept: every other control character escaped. Defence in depth at
 * the last step (server text should have gone through `printable` where it was put into the message).
 */
export function printableLines(text: string): string {
  return text.replace(CONTROLS_BUT_LF, escape);
}
