// The few DOM helpers every view uses: look an element up, write text, fill a table row.

/** The element with this id (look each one up once, when the module loads). */
export const byId = (id) => document.getElementById(id);

/** Writes text only when it changes, so that a live region does not announce it again. */
export function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

/** Replaces a row's children with text-only cells; never parses HTML. */
export function fillRow(row, cells) {
  row.replaceChildren(...cells.map((cell) => {
    const td = document.createElement('td');
    if (cell instanceof Node) td.append(cell); else td.textContent = cell;
    return td;
  }));
  return row;
}
