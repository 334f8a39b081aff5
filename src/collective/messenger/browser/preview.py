"""``<item>/@@messenger-preview``: the message as each enabled channel would send it now.

``?kind=update`` previews "Send update" (title marked as an update). For everyone with
"View delivery status"; it shows the item's own content only, never a subscriber.
"""

from Products.Five.browser import BrowserView
from Products.Five.browser.pagetemplatefile import ViewPageTemplateFile
from zope.i18n import translate

from collective.messenger import _
from collective.messenger.browser.preview_render import previews
from collective.messenger.browser.status_labels import channel_title
from collective.messenger.publishing.snapshot import post_for
from collective.messenger.publishing.snapshot import topics_of
from collective.messenger.settings.access import settings_document

KINDS = ("initial", "update")


def item_previews(item, kind="initial", request=None, lead=""):
    """{"kind", "post": {...}, "channels": [...]}: JSON-ready, also for REST.

    ``lead``: the "what is new" line an update starts with.
    """
    post = post_for(item, kind, lead=lead)
    channels = previews(post, settings_document())
    for preview in channels:
        preview["title"] = channel_title(preview["channel"], request)
    return {
        "kind": kind,
        "post": {
            "title": post.title,
            "url": post.url,
            "teaser": post.teaser,
            "image_url": post.image_url,
            "topics": list(post.topics),
            "urgent": post.urgent,
        },
        "channels": channels,
    }


class PreviewView(BrowserView):
    index = ViewPageTemplateFile("templates/preview.pt")
    channel_macros = ViewPageTemplateFile("templates/preview_channels.pt")

    def __call__(self):
        self.request.response.setHeader("Cache-Control", "private, no-store")
        kind = self.request.form.get("kind") or "initial"
        if kind not in KINDS:
            self.request.response.setStatus(400)
            self.request.response.setHeader("Content-Type", "text/plain; charset=utf-8")
            return translate(
                _(
                    "error_preview_kind",
                    default="There is no preview of this kind; use initial or update.",
                ),
                context=self.request,
            )
        self.kind = kind
        self.preview = item_previews(self.context, kind, self.request)
        return self.index()

    def has_topics(self):
        return bool(topics_of(self.context))

    def item_url(self):
        return self.context.absolute_url()

    def other_kind_url(self):
        other = "initial" if self.kind == "update" else "update"
        return f"{self.item_url()}/@@messenger-preview?kind={other}"
