from cuepoint.runtime.migrations import run_env

run_env()
