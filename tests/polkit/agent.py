"""Plays the desktop's polkit authentication agent for tests/polkit/run.sh.

Runs the probe as the test user, registers `pkttyagent --process <probe pid>` for it (as the
same user, on a pty), and answers the password prompts of each authentication in turn: the
right password, a wrong one (every retry of that authentication), the right one. Exits 0 only
if the probe printed OK and exactly three authentications were asked for.
"""
import os
import pty
import select
import subprocess
import sys
import time

user, probe = sys.argv[1], sys.argv[2]
right = os.environ.pop("STEPUP_POLKIT_PASSWORD")
plan = [right, "not-the-password", right]

env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/tmp", "RUST_LOG": "warn",
       "STEPUP_LOOPBACK_ONLY": "1"}
proc = subprocess.Popen(["runuser", "-u", user, "--", probe], stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True)
first = proc.stdout.readline().split()
if len(first) != 2 or first[0] != "pid":
    sys.exit(f"polkit agent: the probe said {first!r}")
probe_pid = first[1]

agent_pid, fd = pty.fork()
if agent_pid == 0:
    os.execvpe("runuser", ["runuser", "-u", user, "--", "pkttyagent", "--process", probe_pid],
               env)
time.sleep(1.0)  # registered before the first ceremony
proc.stdin.write("go\n")
proc.stdin.flush()

transcript = b""
seen = 0        # how far the transcript was read for headers and prompts
sessions = 0
answered = 0
deadline = time.time() + 180
lines = []
prompt_seen = None
typed_at, typed_len, answer, retyped = 0.0, 0, "", 0
os.set_blocking(proc.stdout.fileno(), False)
while time.time() < deadline:
    ready, _, _ = select.select([fd, proc.stdout], [], [], 0.2)
    if fd in ready:
        try:
            transcript += os.read(fd, 4096)
        except OSError:
            break
    if proc.stdout in ready:
        chunk = proc.stdout.read()
        if chunk:
            lines.append(chunk)
    # Answer every prompt not yet answered with the password of the current authentication.
    # pkttyagent turns echo off after printing the prompt, flushing what was typed before:
    # type a moment after the prompt, and again if nothing at all happened for a while.
    sessions = transcript.count(b"==== AUTHENTICATING FOR")
    prompts = transcript.count(b"Password:")
    now = time.time()
    if prompts > answered and sessions > 0:
        if prompt_seen is None:
            prompt_seen = now
        elif now - prompt_seen > 0.5:
            answer = plan[min(sessions, len(plan)) - 1]
            os.write(fd, (answer + "\n").encode())
            answered, prompt_seen = prompts, None
            typed_at, typed_len = now, len(transcript)
    elif typed_at and len(transcript) == typed_len and now - typed_at > 6:
        os.write(fd, (answer + "\n").encode())
        retyped += 1
        typed_at = now
    if proc.poll() is not None:
        break
rest = proc.stdout.read() if proc.poll() is not None else None
if rest:
    lines.append(rest)
os.kill(agent_pid, 15)
if os.environ.get("STEPUP_POLKIT_TRANSCRIPT"):
    shown = transcript
    for word in set(plan):
        shown = shown.replace(word.encode(), b"<typed>")
    sys.stderr.write(shown.decode(errors="replace") + "\n")
out = "".join(lines)
# Only the probe's lines are printed: the agent's transcript may hold what was typed.
print(out, end="")
print(f"polkit agent: {sessions} authentications, {answered} prompts answered ({retyped} retyped)")
if proc.poll() is None:
    proc.kill()
    sys.exit("polkit agent: the probe did not finish")
if proc.returncode != 0 or not out.rstrip().endswith("OK"):
    sys.exit(f"polkit agent: the probe failed ({proc.returncode})")
if sessions != 3:
    sys.exit(f"polkit agent: expected 3 authentications, saw {sessions}")
if b"AUTHENTICATION FAILED" not in transcript and b"Sorry, try again" not in transcript:
    sys.exit("polkit agent: the wrong password was not refused by polkit")
