"""The WSGI application: three fronts that answer a few GETs before Pyramid, and Pyramid.

Each front answers repeats of one kind of address without the framework (a
keyed QR image, tracee.api.qr_front; an idle live-page poll,
tracee.progress_front; a kept file, tracee.front_cache) and hands anything
else on. Stacked as wrappers, every request passed through all three, and a
keyed read or a tracking page paid for three calls, a closure and a lock
that could never answer it. Here one look at the method and the address's
end picks the one front that may answer, and every other request goes
straight to the framework.
"""

from tracee.api.qr_front import KeyedQrFront
from tracee.front_cache import FrontCache, is_file_path
from tracee.progress_front import ProgressFront


class Fronts:
    def __init__(self, router, registry):
        self.app = router
        self.registry = registry  # scripts and tests reach it here
        self.keyed_qr = KeyedQrFront(router, registry)
        self.progress = ProgressFront(router, registry["progress_versions"])
        self.files = FrontCache(router)

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") == "GET":
            path = environ.get("PATH_INFO", "")
            if path.endswith("/qr/"):
                return self.keyed_qr(environ, start_response)
            if path.endswith("/progress.json"):
                return self.progress(environ, start_response)
            if is_file_path(path):
                return self.files(environ, start_response)
        return self.app(environ, start_response)
