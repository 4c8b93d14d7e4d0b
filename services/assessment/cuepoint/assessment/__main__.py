from cuepoint.runtime.service import entry

from .bootstrap import spec

entry(spec)
