"""Exit codes shared by `dojo lab run` and `dojo drill …`, so scripts and tests can tell apart
"the lab is broken" from "this machine cannot run it".

Why a distinct code for a missing prerequisite: `tests/labs` turns exactly that code into a
pytest skip with the printed reason; every other non-zero code stays a failure.
"""

OK = 0
FAILED = 1  # a step's expectation unmet, a drill still broken, the stack did not start
BAD_INPUT = 2  # unknown lab or drill, invalid lab.yaml, a second drill (= Typer's usage code)
MISSING_PREREQUISITE = 3  # needs Docker or a cluster this machine does not have
NOT_BUILT = 4  # the lab exists in the plan (status: planned) but has no steps yet
INTERRUPTED = 130  # the learner stopped an interactive run (q or Ctrl-C), as a shell reports SIGINT
