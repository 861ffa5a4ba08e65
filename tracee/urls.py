"""Public addresses of a tracker, built on ``tracee.public_url``."""

from markupsafe import escape


class PublicUrls:
    def __init__(self, public_url: str):
        self.base = public_url.rstrip("/")

    def tracking(self, token) -> str:
        return f"{self.base}/track/{token}"

    def embed(self, token) -> str:
        return f"{self.base}/embed/{token}/"

    def public_qr(self, token) -> str:
        return f"{self.base}/track/{token}/qr.png"

    def api(self, tracker_id: int) -> str:
        return f"{self.base}/api/v1/trackers/{tracker_id}/"

    def api_qr(self, tracker_id: int) -> str:
        return f"{self.base}/api/v1/trackers/{tracker_id}/qr/"

    def embed_code(self, token) -> str:
        return (
            f'<iframe src="{escape(self.embed(token))}" width="100%" height="400" '
            'frameborder="0" title="Order tracking" loading="lazy" '
            'style="border:0;border-radius:12px;box-shadow:0 2px 8px rgba(0,0,0,0.1);">'
            "</iframe>"
        )


def includeme(config):
    urls = PublicUrls(config.get_settings()["tracee.public_url"])
    config.registry["urls"] = urls
    config.add_request_method(lambda request: request.registry["urls"], "urls", reify=True)
