"""The bench itself (run by bench.sh inside a D-Bus session, Xvfb and an unlocked keyring)."""
import json, os, re, shutil, statistics, subprocess, tempfile, time

from desktop import app_window, pss_kib, process_tree as descendants, x

APP, RUNS, OUT = os.environ["APP"], int(os.environ["RUNS"]), os.environ["OUT"]
LINK = "com.stepup.desktop://step-up?scope=wallet:export&requester=Bench"
READY = re.compile(r"ui ready")
DIALOG = re.compile(r"dialog ready request=\d+ scope=\S+ at_ms=(\d+)")


def now_ms():
    return int(time.time() * 1000)


def wait_line(path, pattern, timeout=30.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        with open(path, errors="replace") as f:
            m = pattern.search(f.read())
        if m:
            return m
        time.sleep(0.005)
    raise TimeoutError(f"{pattern.pattern} not seen in {path}")


def webkit_left():
    """Processes of an earlier run that still map WebKit: they would share its pages with the
    next app and lower its PSS, so every run starts without them."""
    left = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/maps") as f:
                if "libwebkit2gtk" in f.read():
                    left.append(int(p))
        except OSError:
            pass
    return left


def name_free():
    deadline = time.time() + 15
    while webkit_left() and time.time() < deadline:
        time.sleep(0.05)
    if webkit_left():
        raise RuntimeError(f"processes of an earlier run still map WebKit: {webkit_left()}")
    deadline = time.time() + 15
    while time.time() < deadline:
        r = subprocess.run(["dbus-send", "--session", "--print-reply", "--dest=org.freedesktop.DBus", "/org/freedesktop/DBus",
                            "org.freedesktop.DBus.NameHasOwner", "string:com.stepup.desktop.SingleInstance"], capture_output=True, text=True)
        if "boolean false" in r.stdout:
            return
        time.sleep(0.05)


def close_window():
    """The user closes the app's window: focus it, Alt+F4 (openbox's Close)."""
    win = app_window()
    if win is None:
        raise RuntimeError("no app window to close")
    x("xdotool", "windowactivate", "--sync", str(win))
    x("xdotool", "key", "alt+F4")


def count(path, pattern):
    with open(path, errors="replace") as f:
        return len(pattern.findall(f.read()))


GONE = re.compile(r"the window is gone")


def start(args, log):
    return subprocess.Popen([APP, *args], stdout=subprocess.DEVNULL, stderr=open(log, "w"))


def stop(proc):
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


results = {"binary": APP, "binary_bytes": os.path.getsize(APP)}
with tempfile.TemporaryDirectory() as tmp:
    stripped = os.path.join(tmp, "stripped")
    subprocess.run(["strip", "-o", stripped, APP], check=True)
    results["binary_stripped_bytes"] = os.path.getsize(stripped)

warm, cold, rss, second_exit_codes = [], [], [], []
windowless, windowless_pss, background_pss = [], [], []
# Resident from the start (`--background`: never a window), idle.
for i in range(RUNS):
    log = os.path.join(OUT, f"background-{i}.log")
    name_free()
    app = start(["--sandbox", "--background"], log)
    try:
        wait_line(log, re.compile(r"backend ready"))
        time.sleep(3)
        background_pss.append(sum(pss_kib(p) for p, _, _ in descendants(app.pid)))
        with open(f"/proc/{app.pid}/smaps_rollup") as f:
            results["background_smaps_last_run"] = {l.split()[0].rstrip(":"): int(l.split()[1]) for l in f if l.split()[0] in ("Rss:", "Pss:", "Pss_Anon:", "Pss_File:")}
        results["background_webkit_mappers_last_run"] = webkit_left()
    finally:
        stop(app)
# A window manager for the resident runs: closing the window is the user's Alt+F4.
wm = subprocess.Popen(["openbox", "--sm-disable"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
time.sleep(1)
for i in range(RUNS):
    log = os.path.join(OUT, f"warm-{i}.log")
    name_free()
    app = start(["--sandbox"], log)
    try:
        wait_line(log, READY)
        time.sleep(3)  # idle
        procs = descendants(app.pid)
        rss.append({"total_kib": sum(r for _, r, _ in procs), "pss_kib": sum(pss_kib(p) for p, _, _ in procs),
                    "processes": {c: r for _, r, c in procs}})
        t0 = now_ms()
        # The second process forwards the link over D-Bus and exits; its exit status is
        # recorded (tauri-plugin-single-instance exits with process::exit inside setup).
        second_exit_codes.append(subprocess.run([APP, LINK], timeout=15, stderr=subprocess.DEVNULL).returncode)
        warm.append(int(wait_line(log, DIALOG).group(1)) - t0)
        # Resident: the window closed (its request cancelled), idle, then a link.
        close_window()
        deadline = time.time() + 15
        while count(log, GONE) < 1 and time.time() < deadline:
            time.sleep(0.01)
        time.sleep(3)
        windowless_pss.append(sum(pss_kib(p) for p, _, _ in descendants(app.pid)))
        dialogs = count(log, DIALOG)
        t0 = now_ms()
        subprocess.run([APP, LINK], timeout=15, stderr=subprocess.DEVNULL)
        deadline = time.time() + 30
        while count(log, DIALOG) <= dialogs and time.time() < deadline:
            time.sleep(0.005)
        with open(log, errors="replace") as f:
            windowless.append(int(DIALOG.findall(f.read())[-1]) - t0)
    finally:
        stop(app)

wm.terminate()

for i in range(RUNS):
    log = os.path.join(OUT, f"cold-{i}.log")
    name_free()
    t0 = now_ms()
    app = start(["--sandbox", LINK], log)
    try:
        cold.append(int(wait_line(log, DIALOG).group(1)) - t0)
    finally:
        stop(app)

summary = lambda xs: {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "runs": xs}
results["deep_link_to_running_instance_ms"] = summary(warm)
results["deep_link_cold_start_ms"] = summary(cold)
results["second_instance_exit_codes"] = second_exit_codes
results["idle_rss_kib"] = summary([r["total_kib"] for r in rss])
results["idle_pss_kib"] = summary([r["pss_kib"] for r in rss])
results["deep_link_to_windowless_instance_ms"] = summary(windowless)
results["idle_pss_windowless_kib"] = summary(windowless_pss)
results["idle_pss_background_start_kib"] = summary(background_pss)
results["idle_rss_processes_last_run"] = rss[-1]["processes"]
with open(os.path.join(OUT, "bench.json"), "w") as f:
    json.dump(results, f, indent=2)
print(json.dumps(results, indent=2))
