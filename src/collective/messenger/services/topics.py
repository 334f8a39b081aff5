"""``GET @messenger-topics``: what a headless or Volto front end needs to draw the signup form."""

from zope.i18n import translate

from collective.messenger.services.rest_service import MessengerService
from collective.messenger.services.rest_service import not_found
from collective.messenger.signup import offer

SERVICE = "@messenger-topics"


class TopicsGet(MessengerService):
    # The same for every visitor; nothing personal in it.
    private = False

    def answer(self):
        if self.params:
            raise not_found()
        request = self.request
        return {
            "@id": f"{self.context.absolute_url()}/{SERVICE}",
            "topics": [
                {
                    "id": topic["id"],
                    "title": topic["title"],
                    "description": topic["description"],
                }
                for topic in offer.offered_topics()
            ],
            "channels": [
                {
                    "id": channel["id"],
                    "title": translate(channel["title"], context=request),
                    "needs": channel["needs"],
                }
                for channel in offer.offered_channels()
            ],
            "privacy": offer.privacy(),
            "phone_region": offer.phone_region(),
        }
