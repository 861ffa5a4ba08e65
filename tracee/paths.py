"""Which resource a request's path names, as traversal will resolve it.

Traversal skips empty and ``.`` segments and lets ``..`` drop the one before,
so ``/./track/<t>``, ``/x/../track/<t>`` and ``//track/<t>`` all serve the
tracking page. Anything that decides by path before traversal runs (the
per-address limit, the referrer rule) must read the path the same way, or a
respelling of the path would slip past it.
"""

from pyramid.traversal import split_path_info


def first_segment(path_info: str) -> str:
    """The first segment of ``path_info`` once resolved ('' for the root).

    Takes the raw ``PATH_INFO``: the segments compared against are ASCII, and
    a path that is not UTF-8 is refused elsewhere (tracee.encoding).
    """
    # Nearly every path is already canonical; only a respelled one is split in full.
    if path_info.startswith("/") and "//" not in path_info and "/." not in path_info:
        return path_info[1:].split("/", 1)[0]
    segments = split_path_info(path_info)  # the function traversal itself uses
    return segments[0] if segments else ""
