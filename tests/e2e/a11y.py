#!/usr/bin/python3
"""Dumps the app's accessibility tree as a screen reader sees it (AT-SPI, over the session's
accessibility bus) and checks it: the dialog is exposed as a dialog named by its title, every
rendered control has a name, and no text shows a raw method or scope code.

Run by the a11y E2E test (a11y-tests.mjs) inside run.sh's D-Bus session, with the app's
AT-SPI bridge on (NO_AT_BRIDGE unset). Needs /usr/bin/python3 with python3-gi and
gir1.2-atspi-2.0 (tests/e2e/setup.sh), not a pyenv python without gi.

  a11y.py --window 'Stepup Desktop' --label STATE --out FILE [--dialog TITLE] [--wait-for NAME_RE]
          [--wait-where TAG#ID] [--append]

Appends (or writes) the indented tree under a `== STATE ==` header to FILE, and prints one JSON
object on stdout: {"nodes", "dialogs", "unnamed", "rawCodes", "dump"}; the caller asserts on it.
The tree comes from another process: its size, depth and strings are bounded here. Codes the
sandbox shows (6-digit codes, recovery codes, keys) and every field's value are redacted.
"""

import argparse
import json
import os
import re
import sys
import time

import gi

gi.require_version("Atspi", "2.0")
from gi.repository import Atspi, GLib  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MAX_NODES = 5000
MAX_DEPTH = 64
MAX_CHILDREN = 1000
MAX_TEXT = 2000
OBJECT_REPLACEMENT = "\ufffc"  # an embedded child in a parent's text

# The roles a user acts on: each must have a name when it is rendered.
CONTROL_ROLES = {
    "push button", "toggle button", "radio button", "check box", "entry", "password text",
    "spin button", "combo box", "link", "slider", "menu item", "check menu item",
    "radio menu item", "page tab", "list box", "tree", "switch",
}
DIALOG_ROLES = {"dialog", "alert"}  # <dialog>, role=dialog; role=alertdialog is "alert"

SECRET_PATTERNS = [
    re.compile(r"0x[0-9a-fA-F]{64}"),                 # a private key
    re.compile(r"\b[A-Z2-7]{5}-[A-Z2-7]{5}\b"),       # a sandbox recovery code
    re.compile(r"(?<!\d)\d{6}(?!\d)"),                # a 6-digit code
]


def redact(text):
    for pattern in SECRET_PATTERNS:
        text = pattern.sub("[redacted]", text)
    return text


def raw_codes():
    """The codes a user must never read: every scope's wire string (scope.rs) and every
    method's backend name (ui/methods.js), as whole-word, case-sensitive patterns. `passkey`
    and `wallet` are also English words ("This device (passkey)" is a name, "the private key
    of your wallet" a sentence), so only their code-like uses count: a node whose whole text is
    the word, or `method: passkey`; lowercase `totp` is a code ("TOTP" the acronym is a word)."""
    scope_rs = os.path.join(ROOT, "crates/stepup-protocol/src/scope.rs")
    methods_js = os.path.join(ROOT, "ui/methods.js")
    with open(scope_rs, encoding="utf-8") as f:
        scopes = re.findall(r'=>\s*"([a-z_:]+)"', f.read(200_000))
    with open(methods_js, encoding="utf-8") as f:
        source = f.read(200_000)
    block = source[source.index("export const METHODS"):]
    methods = re.findall(r"^  ([a-z_]+): \{", block, re.MULTILINE)
    if len(scopes) < 10 or len(methods) < 3:
        raise SystemExit(f"a11y.py: could not read the codes ({len(scopes)} scopes, {len(methods)} methods)")
    patterns = {}
    for code in scopes + methods:
        if code in ("passkey", "wallet"):
            patterns[code] = re.compile(rf"^\s*{code}\s*$|\bmethod[:=]\s*{code}\b")
        else:
            patterns[code] = re.compile(r"(?<![\w:])" + re.escape(code) + r"(?![\w:])")
    return patterns


def clip(value):
    value = value or ""
    return value if len(value) <= MAX_TEXT else value[:MAX_TEXT] + "…"


def node_info(acc):
    role = acc.get_role_name() or "?"
    name = clip(acc.get_name())
    description = clip(acc.get_description())
    states = sorted(s.value_nick for s in acc.get_state_set().get_states())
    attrs = acc.get_attributes() or {}
    text = ""
    if "Text" in (acc.get_interfaces() or []):
        count = min(Atspi.Text.get_character_count(acc), MAX_TEXT)
        text = Atspi.Text.get_text(acc, 0, count) or ""
    if role in ("entry", "password text", "spin button"):
        text = "[field value not dumped]" if text else ""  # what the user typed: a code
    text = text.replace(OBJECT_REPLACEMENT, "").strip()
    tag = attrs.get("tag", "")
    ident = attrs.get("id", "")
    where = tag + (f"#{ident}" if ident else "")
    return {
        "role": role, "name": name, "description": description, "text": text,
        "states": states, "where": where,
    }


def walk(acc, depth, path, out, budget, chain=()):
    """Depth-first, bounded: appends (depth, path, info) to out; info["chain"] is the node's
    child indices from the application down."""
    if acc is None or budget[0] <= 0 or depth > MAX_DEPTH:
        return
    budget[0] -= 1
    try:
        info = node_info(acc)
    except GLib.Error as error:
        out.append((depth, path, {"role": "?", "error": str(error), "chain": chain}))
        return
    info["chain"] = chain
    here = path + [f"{info['role']}" + (f"[{info['where']}]" if info["where"] else "")]
    out.append((depth, here, info))
    try:
        count = min(acc.get_child_count(), MAX_CHILDREN)
    except GLib.Error:
        return
    for i in range(count):
        try:
            child = acc.get_child_at_index(i)
        except GLib.Error:
            continue
        walk(child, depth + 1, here, out, budget, chain + (i,))


def find_window(title):
    """The frame titled `title` of a running application (the app; not a second instance
    that forwards a link and exits without a window)."""
    desktop = Atspi.get_desktop(0)
    for i in range(min(desktop.get_child_count(), 200)):
        app = desktop.get_child_at_index(i)
        if app is None:
            continue
        try:
            for j in range(min(app.get_child_count(), 50)):
                frame = app.get_child_at_index(j)
                if frame is not None and frame.get_role_name() == "frame" and frame.get_name() == title:
                    return app, frame
        except GLib.Error:
            continue
    return None, None


def fmt(depth, info):
    if "error" in info:
        return "  " * depth + f"[?] <{info['error']}>"
    parts = [f"[{info['role']}]"]
    if info["where"]:
        parts.append(f"<{info['where']}>")
    parts.append(json.dumps(redact(info["name"]), ensure_ascii=False))
    if info["description"]:
        parts.append("desc=" + json.dumps(redact(info["description"]), ensure_ascii=False))
    if info["text"] and info["text"] != info["name"]:
        parts.append("text=" + json.dumps(redact(info["text"]), ensure_ascii=False))
    parts.append("{" + " ".join(info["states"]) + "}")
    return "  " * depth + " ".join(parts)


def snapshot(title):
    app, frame = find_window(title)
    if frame is None:
        return None, []
    nodes = []
    walk(app, 0, [], nodes, [MAX_NODES])
    return app, nodes


# Toolkit containers that take focus without being controls (the web view's scroller).
UNNAMED_FOCUSABLE_OK = {"scroll pane", "document web", "frame", "filler"}


def is_control(info):
    """A control a user acts on, rendered (visible: showing, or scrolled out of view): a
    control role, or anything else that takes focus inside the page (a custom control)."""
    states = info.get("states", [])
    if "visible" not in states:
        return False
    return info.get("role") in CONTROL_ROLES or ("focusable" in states and info.get("role") not in UNNAMED_FOCUSABLE_OK)


def check(nodes, want_dialog, codes):
    showing = lambda info: "showing" in info.get("states", []) and "visible" in info.get("states", [])  # noqa: E731
    dialogs = [
        {"path": " > ".join(p[-3:]), "role": i["role"], "name": i["name"], "states": i["states"]}
        for _, p, i in nodes if i.get("role") in DIALOG_ROLES and showing(i)
    ]
    unnamed = [
        {"path": " > ".join(p[-4:]), "role": i["role"], "where": i["where"], "states": i["states"]}
        for _, p, i in nodes if is_control(i) and not i["name"].strip()
    ]
    # Raw codes: within the dialog when there is one (the modal dialog is all a screen reader
    # reaches), else in the whole window.
    scope = nodes
    if want_dialog:
        start = next((k for k, (_, _, i) in enumerate(nodes) if i.get("role") in DIALOG_ROLES and showing(i)), None)
        if start is not None:
            depth0 = nodes[start][0]
            end = next((k for k in range(start + 1, len(nodes)) if nodes[k][0] <= depth0), len(nodes))
            scope = nodes[start:end]
    hits = {}  # (chain, code) -> finding; one per node and code
    for _, p, i in scope:
        for field in ("name", "description", "text"):
            value = i.get(field) or ""
            for code, pattern in codes.items():
                if not pattern.search(value):
                    continue
                key = (i["chain"], code)
                if key in hits:
                    hits[key]["field"] += f", {field}"
                else:
                    hits[key] = {"path": " > ".join(p[-4:]), "role": i["role"], "field": field,
                                 "code": code, "value": redact(value)[:200]}
    # A parent's text repeats its children's: report the deepest node that shows the code.
    found = [
        hit for (chain, code), hit in hits.items()
        if not any(c == code and len(other) > len(chain) and other[:len(chain)] == chain for other, c in hits)
    ]
    return dialogs, unnamed, found


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--window", required=True, help="the app window's title")
    parser.add_argument("--label", required=True, help="the state dumped, for the header")
    parser.add_argument("--out", required=True)
    parser.add_argument("--dialog", help="wait until a showing dialog has this name")
    parser.add_argument("--wait-for", help="wait until a showing node's name matches this regex")
    parser.add_argument("--wait-where", help="wait until a showing node is this element (tag#id)")
    parser.add_argument("--timeout", type=float, default=15.0)
    parser.add_argument("--append", action="store_true")
    args = parser.parse_args()
    codes = raw_codes()
    Atspi.set_timeout(2000, 10000)
    deadline = time.monotonic() + args.timeout
    wait_for = re.compile(args.wait_for) if args.wait_for else None
    previous, nodes, why = None, [], "the window was not found on the accessibility bus"
    # Poll until the tree shows what the caller waits for and two walks agree (the a11y tree
    # follows the DOM asynchronously), digits aside (the outbox counts seconds down).
    while True:
        _app, nodes = snapshot(args.window)
        lines = [fmt(d, i) for d, _, i in nodes]
        shape = [re.sub(r"\d+", "#", line) for line in lines]
        ready = bool(nodes)
        if ready and args.dialog:
            ready = any(i.get("role") in DIALOG_ROLES and "showing" in i.get("states", []) and i.get("name") == args.dialog
                        for _, _, i in nodes)
            why = f"no showing dialog named {args.dialog!r}"
        if ready and wait_for:
            ready = any(wait_for.search(i.get("name") or "") and "showing" in i.get("states", []) for _, _, i in nodes)
            why = f"no showing node named /{args.wait_for}/"
        if ready and args.wait_where:
            ready = any(i.get("where") == args.wait_where and "showing" in i.get("states", []) for _, _, i in nodes)
            why = f"no showing <{args.wait_where}>"
        if ready and shape == previous:
            why = ""
            break
        if ready:
            why = "the tree kept changing"
        previous = shape if ready else None
        if time.monotonic() > deadline:
            break
        time.sleep(0.4)
    dialogs, unnamed, found = check(nodes, bool(args.dialog), codes)
    with open(args.out, "a" if args.append else "w", encoding="utf-8") as f:
        f.write(f"== {args.label} ==\n")
        if why:
            f.write(f"(not settled: {why})\n")
        f.write("\n".join(lines) + "\n\n")
    json.dump({"settled": not why, "why": why, "nodes": len(nodes), "dialogs": dialogs, "unnamed": unnamed,
               "rawCodes": found, "dump": args.out}, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
