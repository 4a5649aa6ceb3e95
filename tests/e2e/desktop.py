"""What the Python E2E scripts (bench.py, resident.py) share: X11 commands, the app's window,
and the memory of the app's process tree."""
import subprocess

TITLE = "^Stepup Desktop$"


def x(*args):
    """A command's stdout, stripped; None when it fails."""
    out = subprocess.run(list(args), capture_output=True, text=True, timeout=10)
    return out.stdout.strip() if out.returncode == 0 else None


def app_window():
    """The X id of the app's visible window, or None."""
    out = x("xdotool", "search", "--onlyvisible", "--name", TITLE)
    return int(out.split()[0]) if out else None


def process_tree(pid):
    """`pid` and its descendants: (pid, RSS in KiB, command name) each."""
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid=,rss=,comm="], capture_output=True, text=True).stdout
    children, info = {}, {}
    for line in out.splitlines():
        if not line.strip():
            continue
        p, pp, rss, comm = line.split(None, 3)
        children.setdefault(int(pp), []).append(int(p))
        info[int(p)] = (int(rss), comm)
    todo, seen = [pid], []
    while todo:
        p = todo.pop()
        if p in info:
            seen.append((p, *info[p]))
        todo.extend(children.get(p, []))
    return seen


def pss_kib(pid):
    """Proportional set size: shared pages split between the processes that map them."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0
