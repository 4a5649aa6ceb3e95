"""Plays the desktop's polkit authentication agent: `pkttyagent --process <pid>` on a pty,
registered for one process, typed into with the password of each authentication in turn.

  agent.py <user> <probe>
      For tests/polkit/run.sh (as root): runs the probe as the test user, registers the agent
      for it, and answers the right password, a wrong one (every retry of that
      authentication), the right one. Exits 0 only if the probe printed OK and exactly three
      authentications were asked for, the wrong one refused by polkit.

  agent.py --attach <pid> <plan>
      For the E2E tests run as the test user (polkit-tests.mjs): registers the agent for the
      app's process and answers by `plan`, a comma-separated list of `right` or `wrong`, one
      per authentication (the last repeats). Prints `registered`, then `auth N <action id>`
      as authentication N starts and `failed N` when polkit refuses its password, until
      SIGTERM or stdin closes.

The right password comes in STEPUP_POLKIT_PASSWORD. Nothing typed is printed, unless
STEPUP_POLKIT_TRANSCRIPT is set (then the transcript goes to stderr with every password
masked).
"""
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time

WRONG = "not-the-password"


class Agent:
    """pkttyagent for `pid` on a pty; `step()` reads what it printed and types the answers."""

    def __init__(self, pid, plan, runuser=None):
        self.plan = plan
        argv = ["pkttyagent", "--process", str(pid)]
        if runuser:
            argv = ["runuser", "-u", runuser, "--"] + argv
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.execvpe(argv[0], argv, {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/tmp"})
        self.transcript = b""
        self.answered = 0
        self.retyped = 0
        self.prompt_seen = None
        self.typed_at, self.typed_len, self.answer = 0.0, 0, ""

    @property
    def sessions(self):
        return self.transcript.count(b"==== AUTHENTICATING FOR")

    @property
    def failures(self):
        return self.transcript.count(b"AUTHENTICATION FAILED") + self.transcript.count(b"Sorry, try again")

    def actions(self):
        return [m.decode() for m in re.findall(rb"==== AUTHENTICATING FOR ([\w.-]+)", self.transcript)]

    def step(self, ready):
        """One turn: read, then answer a prompt not yet answered. False once the pty closed."""
        if self.fd in ready:
            try:
                self.transcript += os.read(self.fd, 4096)
            except OSError:
                return False
        # pkttyagent turns echo off after printing the prompt, flushing what was typed before:
        # type a moment after the prompt, and again if nothing at all happened for a while.
        prompts = self.transcript.count(b"Password:")
        now = time.time()
        if prompts > self.answered and self.sessions > 0:
            if self.prompt_seen is None:
                self.prompt_seen = now
            elif now - self.prompt_seen > 0.5:
                self.answer = self.plan[min(self.sessions, len(self.plan)) - 1]
                os.write(self.fd, (self.answer + "\n").encode())
                self.answered, self.prompt_seen = prompts, None
                self.typed_at, self.typed_len = now, len(self.transcript)
        elif self.typed_at and len(self.transcript) == self.typed_len and now - self.typed_at > 6:
            os.write(self.fd, (self.answer + "\n").encode())
            self.retyped += 1
            self.typed_at = now
        return True

    def stop(self):
        try:
            os.kill(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        if os.environ.get("STEPUP_POLKIT_TRANSCRIPT"):
            shown = self.transcript
            for word in set(self.plan):
                shown = shown.replace(word.encode(), b"<typed>")
            sys.stderr.write(shown.decode(errors="replace") + "\n")


def attach(pid, plan_words, right):
    plan = [right if w == "right" else WRONG for w in plan_words.split(",")]
    agent = Agent(pid, plan)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    time.sleep(0.5)  # registered before the app's first ceremony
    print("registered", flush=True)
    said_sessions, said_failures = 0, 0
    while not stop:
        try:
            ready, _, _ = select.select([agent.fd, sys.stdin], [], [], 0.2)
        except InterruptedError:
            continue
        if sys.stdin in ready and not sys.stdin.readline():
            break
        if not agent.step(ready):
            break
        actions = agent.actions()
        while said_sessions < len(actions):
            said_sessions += 1
            print(f"auth {said_sessions} {actions[said_sessions - 1]}", flush=True)
        while said_failures < agent.failures:
            said_failures += 1
            print(f"failed {said_sessions}", flush=True)
    agent.stop()


def probe(user, probe_path, right):
    plan = [right, WRONG, right]
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/tmp", "RUST_LOG": "warn",
           "STEPUP_LOOPBACK_ONLY": "1"}
    proc = subprocess.Popen(["runuser", "-u", user, "--", probe_path], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True)
    first = proc.stdout.readline().split()
    if len(first) != 2 or first[0] != "pid":
        sys.exit(f"polkit agent: the probe said {first!r}")
    agent = Agent(first[1], plan, runuser=user)
    time.sleep(1.0)  # registered before the first ceremony
    proc.stdin.write("go\n")
    proc.stdin.flush()
    deadline = time.time() + 180
    lines = []
    os.set_blocking(proc.stdout.fileno(), False)
    while time.time() < deadline:
        ready, _, _ = select.select([agent.fd, proc.stdout], [], [], 0.2)
        if proc.stdout in ready:
            chunk = proc.stdout.read()
            if chunk:
                lines.append(chunk)
        if not agent.step(ready) or proc.poll() is not None:
            break
    rest = proc.stdout.read() if proc.poll() is not None else None
    if rest:
        lines.append(rest)
    agent.stop()
    out = "".join(lines)
    # Only the probe's lines are printed: the agent's transcript may hold what was typed.
    print(out, end="")
    print(f"polkit agent: {agent.sessions} authentications, {agent.answered} prompts answered ({agent.retyped} retyped)")
    if proc.poll() is None:
        proc.kill()
        sys.exit("polkit agent: the probe did not finish")
    if proc.returncode != 0 or not out.rstrip().endswith("OK"):
        sys.exit(f"polkit agent: the probe failed ({proc.returncode})")
    if agent.sessions != 3:
        sys.exit(f"polkit agent: expected 3 authentications, saw {agent.sessions}")
    if agent.failures == 0:
        sys.exit("polkit agent: the wrong password was not refused by polkit")


if __name__ == "__main__":
    password = os.environ.pop("STEPUP_POLKIT_PASSWORD")
    if sys.argv[1] == "--attach":
        attach(sys.argv[2], sys.argv[3], password)
    else:
        probe(sys.argv[1], sys.argv[2], password)
