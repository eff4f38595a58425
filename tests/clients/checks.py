"""The check harness of the client-compatibility scripts.

Each check prints `CHECK <name> ... ok|FAIL` on stdout. Without
`--keep-going` (after HOST PORT) the script exits at the first failing check
with `<script>: FAILED: <check>: <reason>`; with it, every check runs, each
failure's reason goes to stderr, and `finish()` exits non-zero if any failed.
"""
import sys
import traceback


class CheckFailed(Exception):
    """A check's expectation that did not hold."""


def expect(cond, message):
    if not cond:
        raise CheckFailed(message)


class Checks:
    def __init__(self, script):
        self.script = script
        self.keep_going = "--keep-going" in sys.argv[3:]
        self.failed = []

    def check(self, name, fn):
        print(f"CHECK {name} ... ", end="", flush=True)
        try:
            fn()
        except CheckFailed as e:
            msg = str(e)
        except Exception as e:  # a driver error fails the check, not the script
            sqlstate = getattr(getattr(e, "diag", None), "sqlstate", None)
            msg = f"{type(e).__module__}.{type(e).__name__} (SQLSTATE {sqlstate}): {e}"
            if "--trace" in sys.argv:
                traceback.print_exc()
        else:
            print("ok")
            return
        print("FAIL")
        self.failed.append(name)
        if self.keep_going:
            print(f"  FAILED: {name}: {msg}", file=sys.stderr)
        else:
            sys.exit(f"{self.script}: FAILED: {name}: {msg}")

    def finish(self):
        if self.failed:
            sys.exit(f"{self.script}: {len(self.failed)} check(s) failed: {self.failed}")
        print(f"{self.script}: all checks passed")
