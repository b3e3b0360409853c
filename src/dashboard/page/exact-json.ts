/**
 * `JSON.parse` that keeps every number as the text the server wrote: the API writes money and
 * counters as JSON numbers printed from exact decimals, which a float would round. Each number
 * token outside a string is quoted before parsing, so `{"cost":0.1}` reads `{ cost: "0.1" }`.
 */
export function parseExactJson(text: string): unknown {
  let out = '';
  let start = 0;
  let index = 0;
  while (index < text.length) {
    const char = text[index];
    if (char === '"') {
      index = endOfString(text, index);
      continue;
    }
    if (char === '-' || (char >= '0' && char <= '9')) {
      const end = endOfNumber(text, index);
      out += `${text.slice(start, index)}"${text.slice(index, end)}"`;
      start = index = end;
      continue;
    }
    index += 1;
  }
  return JSON.parse(out + text.slice(start));
}

/** The index just after the string that opens at `open`. */
function endOfString(text: string, open: number): number {
  let index = open + 1;
  while (index < text.length) {
    const char = text[index];
    if (char === '\\') index += 2;
    else if (char === '"') return index + 1;
    else index += 1;
  }
  throw new SyntaxError('Unterminated string in JSON');
}

function endOfNumber(text: string, first: number): number {
  let index = first + 1;
  while (index < text.length && /[0-9eE.+-]/.test(text[index])) index += 1;
  return index;
}
