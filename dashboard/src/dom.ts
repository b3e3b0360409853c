type Attributes = Record<string, string | number | boolean | null | undefined>;
type Child = Node | string | null | undefined | false;

/**
 * One element, built through the DOM (never from HTML text, so no value is ever parsed as
 * markup). `on*` attributes take no strings here: listeners are added by the caller.
 */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    element.setAttribute(name, value === true ? '' : String(value));
  }
  append(element, ...children);
  return element;
}

export function append(parent: Node, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
  }
}

/** A `<label>` and its control, tied by id. */
export function field(
  id: string,
  label: string,
  control: HTMLInputElement | HTMLSelectElement,
): HTMLDivElement {
  control.id = id;
  return h('div', { class: 'field' }, h('label', { for: id }, label), control);
}

export function select(
  options: readonly (readonly [value: string, label: string])[],
  selected: string,
): HTMLSelectElement {
  const element = h('select');
  for (const [value, label] of options) {
    element.appendChild(h('option', { value, selected: value === selected }, label));
  }
  return element;
}

/** A status line for loading and empty states, read out politely. */
export function statusLine(): HTMLParagraphElement {
  return h('p', { role: 'status', class: 'status' });
}

/** An error the user should notice at once. */
export function alertLine(message: string): HTMLParagraphElement {
  return h('p', { role: 'alert', class: 'alert' }, message);
}
