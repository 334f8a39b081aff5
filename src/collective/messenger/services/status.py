"""``GET <item>/@messenger-status``: the item's posts with per-channel figures, for editors.

``{"posts": [{post_id, kind, state, created, due, recipients, channels: {<channel>: {queued,
sent, retrying, gone, failed, first_sent, last_sent}}, done, progress, ...}], "public": bool,
"upcoming": {...} (before the first post only: topics, recipients per channel), "active":
bool (worth polling), "waiting": bool}``; times in ISO 8601 (UTC). ``?preview=1`` adds
"preview": the message as each enabled channel would render it now (see @@messenger-preview).
The viewlet's script polls this every 2 s while a post is going out.
"""

from plone.restapi.services import Service

from collective.messenger.browser.preview import item_previews
from collective.messenger.browser.status_item import item_status

TRUE = ("1", "true", "yes", "on")


class StatusGet(Service):
    def reply(self):
        # Per user and changing by the second: no shared or browser cache may keep it.
        self.request.response.setHeader("Cache-Control", "private, no-store")
        body = item_status(self.context, self.request)
        if str(self.request.form.get("preview", "")).lower() in TRUE:
            body["preview"] = item_previews(self.context, "initial", self.request)
        return body
